"""Streaming scoring: record batches → the same losses as the one-liners → one accumulator.

The accumulator follows the update/merge/compute split: ``update`` folds in one batch's
result, ``merge`` folds in another accumulator (partial results computed elsewhere), and
``compute`` reduces.  Sums are exact (:class:`~cecli.numerics.ExactSum`: the result is the
exact total rounded once, whatever the batches or the order of merges); memory does not grow
with the file, except for the per-row values kept for exact percentiles up to
``EXACT_PERCENTILE_ROWS`` rows, after which percentiles come from a log-spaced histogram.
Nothing here prints: progress and per-row output go through callbacks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from cecli.files import Batch, Columns, KeyColumn, Table
from cecli.inputs import InputError, parse_number
from cecli.numerics import UNITS, Base, ExactSum, FloatArray
from cecli.results import JsonValue, LossResult, Reduction, RowLosses, json_number

if TYPE_CHECKING:  # imported when a file is scored as an evaluation (not for -q)
    from cecli.evaluation import Accuracy, Breakdown, Evaluation

Scored = RowLosses | LossResult
"""A batch's result: per-row values only, or the full result when per-term arrays are needed."""
ComputeFn = Callable[[FloatArray, FloatArray], Scored]
RowSink = Callable[[Batch, npt.NDArray[np.bool_], Scored], None]
ProgressFn = Callable[[int], None]
SkipSink = Callable[[Batch, "list[Problem]"], None]
"""Receives each batch's skipped rows, one :class:`Problem` per row, in row order."""

WORST_ROWS = 5
REASONS_KEPT = 5
EXACT_PERCENTILE_ROWS = 1_000_000
PERCENTILES = (50, 90, 99)
# Beyond EXACT_PERCENTILE_ROWS, per-row losses are counted in bins 0.46 % wide (500 per
# decade from 1e-12 to 1e6, plus one below and one above): percentiles within ±0.23 %.
_BINS_PER_DECADE = 500
_LOWEST_DECADE, _HIGHEST_DECADE = -12, 6
_BIN_COUNT = (_HIGHEST_DECADE - _LOWEST_DECADE) * _BINS_PER_DECADE + 2


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class WorstRow:
    """One of the rows with the largest loss."""

    line: int
    """Line in the CSV file (the header is line 1), or row in a Parquet file."""
    identifier: str
    loss: float
    file: str = ""
    """The file the row is in, when several were scored."""


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class FileSummary:
    """One input's share when several were scored (``by_file``)."""

    source: str
    loss: float
    """NaN when the file has no row to score."""
    rows: int
    skipped: int


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class BatchSummary:
    """A whole file scored: the reduced loss and statistics of the per-row values."""

    name: str
    source: str
    loss: float
    base: Base
    reduction: Reduction
    rows: int
    classes: int
    extras: dict[str, float]
    """The other reduced values of the subcommand (``entropy``, ``positive``, ``ce``…)."""
    row_mean: float
    row_min: float
    row_max: float
    percentiles: dict[int, float]
    percentiles_exact: bool
    worst: tuple[WorstRow, ...]
    clipped: int
    """Every prediction clipping changed (JSON ``clipped``)."""
    unnormalized: int
    unnormalized_lines: tuple[int, ...]
    skipped: int
    skipped_reasons: tuple[str, ...]
    blank_lines: int = 0
    """Empty lines of a CSV file: not records, so neither scored nor skipped."""
    accuracy: Accuracy | None = None
    """Accuracy beside the loss (ce, focal, smooth, bce, multilabel)."""
    per_class: tuple[Breakdown, ...] | None = None
    """One row per class (per output for binary losses), in class order, if asked for."""
    groups: tuple[Breakdown, ...] | None = None
    """One row per distinct value of the ``group_by`` columns, the largest loss first."""
    group_by: tuple[str, ...] = ()
    weighted: bool = False
    """Rows or classes carry weights: the loss is a weighted mean (or sum)."""
    notes: tuple[str, ...] = ()
    """What was guessed from the file's layout (columns taken as weights, class names…)."""
    files: tuple[FileSummary, ...] = ()
    """One summary per input, when asked for (``by_file``)."""
    clipped_terms: int = 0
    """The clipped predictions that changed a term of the loss (a class whose target is 0
    adds 0 clipped or not); JSON ``clipped_terms``."""
    independent: bool = False
    """The outputs are independent 0/1 outcomes (bce, multilabel, focal --binary, grad
    --sigmoid): a row of them need not sum to 1."""
    ignored: int | None = None
    """Rows whose label is the ignore index (not in ``rows``, the mean or accuracy); None
    when no ignore index was given."""
    logits: bool = False
    """Every input's predictions were read as logits: nothing was clipped, and a row need
    not sum to 1 (``clipped``, ``clipped_terms`` and ``unnormalized`` are 0)."""
    unnormalized_targets: int = 0
    """Rows of targets that do not sum to 1 (kl's P), used as given; JSON
    ``unnormalized_target_rows``."""
    unnormalized_target_lines: tuple[int, ...] = ()
    unnormalized_files: tuple[str, ...] = ()
    """The file of each of ``unnormalized_lines``, when several inputs were scored (else
    empty); ``unnormalized_target_files`` the same for ``unnormalized_target_lines``."""
    unnormalized_target_files: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        return UNITS[self.base]

    def to_json(self) -> dict[str, JsonValue]:
        document: dict[str, JsonValue] = {
            "loss": json_number(self.loss),
            "base": self.base,
            "unit": self.unit,
            "reduction": self.reduction,
            "rows": self.rows,
            "classes": self.classes,
        }
        document.update({key: json_number(value) for key, value in self.extras.items()})
        document["per_row_stats"] = {
            "mean": json_number(self.row_mean),
            "min": json_number(self.row_min),
            "max": json_number(self.row_max),
            **{f"p{q}": json_number(v) for q, v in self.percentiles.items()},
            "percentiles_exact": self.percentiles_exact,
        }
        document["worst"] = [
            {**({"file": row.file} if row.file else {}), "line": row.line,
             **({"id": row.identifier} if row.identifier else {}), "loss": json_number(row.loss)}
            for row in self.worst
        ]  # fmt: skip
        document["clipped"] = self.clipped
        document["clipped_terms"] = self.clipped_terms
        document["unnormalized_rows"] = self.unnormalized
        document["unnormalized_target_rows"] = self.unnormalized_targets
        document["skipped"] = self.skipped
        document["blank_lines"] = self.blank_lines
        document["source"] = self.source
        document["weighted"] = self.weighted
        if self.ignored is not None:
            document["ignored_rows"] = self.ignored
        if self.accuracy is not None:
            document.update(self.accuracy.to_json())
        if self.per_class is not None:
            document["per_class"] = {row.name: row.to_json() for row in self.per_class}
        if self.groups is not None:
            document["group_by"] = list(self.group_by)
            document["groups"] = [row.to_json(self.group_by) for row in self.groups]
        if self.notes:
            document["notes"] = list(self.notes)
        if self.files:
            document["files"] = [
                {"source": file.source, "loss": json_number(file.loss), "rows": file.rows,
                 "skipped": file.skipped}
                for file in self.files
            ]  # fmt: skip
        return document


def _weighted_sum(values: FloatArray, weights: FloatArray | None) -> ExactSum:
    """Σ w·v exactly: every product w·v exact, their sum exact; rounded only when reported."""
    total = ExactSum()
    if values.size and values[0] == values[-1] and bool((values == values[0]).all()):
        # A constant column (an unweighted mean's divisors): counted, not added value by value.
        if weights is None:
            total.add_constant(float(values[0]), values.size)
        elif values[0] == 1.0:
            total.add(weights)
        else:
            total.add_products(weights, values)
    elif weights is None:
        total.add(values)
    else:
        total.add_products(weights, values)
    return total


def _bin_of(values: FloatArray) -> npt.NDArray[np.intp]:
    """Histogram bin of each finite value: 0 below 1e-12 (zeros too), the last above 1e6."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = (np.log10(values) - _LOWEST_DECADE) * _BINS_PER_DECADE
    bins: npt.NDArray[np.intp] = np.clip(np.floor(scaled), -1, _BIN_COUNT - 2).astype(np.intp) + 1
    return bins


def _bin_centre(index: int) -> float:
    """The geometric centre of an inner bin."""
    return float(10.0 ** (_LOWEST_DECADE + (index - 1 + 0.5) / _BINS_PER_DECADE))


@dataclass(frozen=True, eq=False)
class Problem:
    """One invalid value: where it is and what is wrong with it."""

    row: int
    column: str
    reason: str


@dataclass(eq=False)
class Accumulator:
    """Running totals over batches; ``compute`` turns them into a :class:`BatchSummary`."""

    total: ExactSum = field(default_factory=ExactSum)
    divisor: ExactSum = field(default_factory=ExactSum)
    extras: dict[str, ExactSum] = field(default_factory=dict)
    rows: int = 0
    row_sum: ExactSum = field(default_factory=ExactSum)
    minimum: float = math.inf
    maximum: float = -math.inf
    worst: list[tuple[float, int, str]] = field(default_factory=list)
    values: list[FloatArray] | None = field(default_factory=list)
    histogram: npt.NDArray[np.int64] | None = None
    """Bin counts, started once there are too many rows to keep their values."""
    clipped: int = 0
    clipped_terms: int = 0
    unnormalized: int = 0
    unnormalized_lines: list[int] = field(default_factory=list)
    unnormalized_targets: int = 0
    unnormalized_target_lines: list[int] = field(default_factory=list)
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)
    blank_lines: int = 0
    classes: int = 0
    class_names: tuple[str, ...] | None = None
    """The classes the prediction columns of one input name (``p_<class>``), in their order;
    inputs merged must agree on them."""
    name: str = "loss"
    base: Base = "e"
    evaluation: Evaluation | None = None
    """Accuracy, per-class and per-group sums, when the file is scored as an evaluation."""
    weighted: bool = False
    """A weight column was read (the loss is a weighted mean)."""
    notes: list[str] = field(default_factory=list)
    """What was guessed from the files' layout, each said once."""
    details: bool = True
    """Keep the worst rows and the values behind the percentiles; without them (what ``-q``
    prints) a row costs its loss and the exact sums only."""
    ignored: int = 0
    """Rows left out for their label, the ignore index."""
    probabilities: bool = False
    """Some table's predictions were read as probabilities (clipped, and checked for rows
    summing to 1), not as logits."""

    def update(
        self,
        result: Scored,
        lines: npt.NDArray[np.int64],
        ids: list[str] | None = None,
        sample_weights: FloatArray | None = None,
        *,
        labels: FloatArray | None = None,
        preds: FloatArray | None = None,
        keys: list[KeyColumn] | None = None,
    ) -> None:
        """Fold in one batch's result (rows in file order, with their line numbers); the
        evaluation, if any, also needs the rows' labels, predictions and group keys."""
        if self.evaluation is not None:
            if labels is None or preds is None:
                raise ValueError("an evaluation needs the rows' labels and predictions")
            self.evaluation.update(result, labels, preds, lines, sample_weights, keys)
        per_row = result.per_row
        batch_total = _weighted_sum(result.row_totals, sample_weights)
        self.total += batch_total
        self.divisor += _weighted_sum(result.row_divisors, sample_weights)
        for name, shares in result.row_extras.items():
            self.extras[name] = self.extras.get(name, ExactSum()) + _weighted_sum(
                shares, sample_weights
            )
        self.rows += result.rows
        self.classes = result.classes
        self.name, self.base = result.name, result.base
        unweighted_totals = sample_weights is None and result.row_totals is per_row
        self.row_sum += batch_total if unweighted_totals else _weighted_sum(per_row, None)
        low, high = float(per_row.min()), float(per_row.max())
        self.minimum, self.maximum = min(self.minimum, low), max(self.maximum, high)
        if self.details:
            self._keep_worst(per_row, lines, ids)
            self._keep_values(per_row, finite=math.isfinite(low) and math.isfinite(high))
        self.clipped += result.clipped_count
        terms = result.clipped_terms
        self.clipped_terms += result.clipped_count if terms is None else terms
        self.unnormalized += len(result.unnormalized_rows)
        self.unnormalized_lines = _first(
            self.unnormalized_lines, (int(lines[r]) for r in result.unnormalized_rows)
        )
        self.unnormalized_targets += len(result.unnormalized_p_rows)
        self.unnormalized_target_lines = _first(
            self.unnormalized_target_lines, (int(lines[r]) for r in result.unnormalized_p_rows)
        )

    def skip(self, problems: Iterable[str], count: int) -> None:
        self.skipped += count
        self.reasons += list(problems)[: REASONS_KEPT - len(self.reasons)]

    def _keep_worst(
        self, per_row: FloatArray, lines: npt.NDArray[np.int64], ids: list[str] | None
    ) -> None:
        # Once the heap is full only a larger loss can enter (a later line with an equal loss
        # would lose the tie): one comparison per row instead of partitioning every batch.
        floor = self.worst[0][0] if len(self.worst) == WORST_ROWS else -math.inf
        candidates = np.flatnonzero(per_row > floor)  # NaN is never a candidate
        if candidates.size > WORST_ROWS:
            # The cut is the fifth largest value; of the rows equal to it, the earliest lines
            # (candidates are in row order).  argpartition alone picks among ties at random.
            values = per_row[candidates]
            cut = np.partition(values, -WORST_ROWS)[-WORST_ROWS]
            above = candidates[values > cut]
            at_cut = candidates[values == cut][: WORST_ROWS - above.size]
            candidates = np.concatenate([above, at_cut])
        for index in candidates:
            value = float(per_row[index])
            entry = (value, -int(lines[index]), ids[index] if ids is not None else "")
            if len(self.worst) < WORST_ROWS:
                heapq.heappush(self.worst, entry)
            else:
                heapq.heappushpop(self.worst, entry)

    def _keep_values(self, per_row: FloatArray, *, finite: bool) -> None:
        if self.values is not None:
            self.values.append(per_row.copy())
            if self.rows <= EXACT_PERCENTILE_ROWS:
                return
            per_row, self.values = np.concatenate(self.values), None
            finite = False
        self._count(per_row if finite else per_row[np.isfinite(per_row)])

    def _all_counts(self) -> npt.NDArray[np.int64]:
        """Bin counts of every row seen, kept values included."""
        counts = np.zeros(_BIN_COUNT, dtype=np.int64) if self.histogram is None else self.histogram
        for part in self.values or []:
            finite = part[np.isfinite(part)]
            counts = counts + np.bincount(_bin_of(finite), minlength=_BIN_COUNT)
        return counts

    def _count(self, finite: FloatArray) -> None:
        counts = np.bincount(_bin_of(finite), minlength=_BIN_COUNT).astype(np.int64)
        self.histogram = counts if self.histogram is None else self.histogram + counts

    def merge(self, other: Accumulator) -> None:
        """Fold in an accumulator of other rows (scored elsewhere, in any order).  Rows of
        other classes are refused: merged by position, they would count as the wrong ones."""
        if self.rows and other.rows:
            if self.classes != other.classes:
                raise InputError(
                    f"rows of {other.classes} classes cannot be scored with rows of "
                    f"{self.classes}; score the files apart"
                )
            mine, theirs = self.class_names, other.class_names
            if mine is not None and theirs is not None and mine != theirs:
                raise InputError(
                    f"prediction columns naming the classes {', '.join(theirs[:5])} cannot be "
                    f"scored with columns naming {', '.join(mine[:5])}; put the columns in one "
                    "order, or score the files apart"
                )
        if other.rows and self.class_names is None:
            self.class_names = other.class_names
        self.total += other.total
        self.divisor += other.divisor
        for name, extra in other.extras.items():
            self.extras[name] = self.extras.get(name, ExactSum()) + extra
        self.rows += other.rows
        self.details = self.details and other.details
        self.classes = self.classes or other.classes
        if other.rows:
            self.name, self.base = other.name, other.base
        self.row_sum += other.row_sum
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        for entry in other.worst:
            if len(self.worst) < WORST_ROWS:
                heapq.heappush(self.worst, entry)
            else:
                heapq.heappushpop(self.worst, entry)
        if (
            self.values is not None
            and other.values is not None
            and self.rows <= EXACT_PERCENTILE_ROWS
        ):
            self.values += other.values
        else:
            self.histogram = self._all_counts() + other._all_counts()
            self.values = None
        self.clipped += other.clipped
        self.clipped_terms += other.clipped_terms
        self.unnormalized += other.unnormalized
        self.unnormalized_lines = _first(self.unnormalized_lines, other.unnormalized_lines)
        self.unnormalized_targets += other.unnormalized_targets
        self.unnormalized_target_lines = _first(
            self.unnormalized_target_lines, other.unnormalized_target_lines
        )
        self.skip(other.reasons, other.skipped)
        self.blank_lines += other.blank_lines
        self.ignored += other.ignored
        self.weighted = self.weighted or other.weighted
        self.probabilities = self.probabilities or other.probabilities
        self.notes += [note for note in other.notes if note not in self.notes]
        if self.evaluation is not None and other.evaluation is not None:
            self.evaluation.merge(other.evaluation)
        elif self.evaluation is None:
            self.evaluation = other.evaluation

    def compute(self, *, reduction: Reduction, source: str) -> BatchSummary:
        """Reduce: the sum, or the sum over the summed denominators (the mean)."""
        if self.rows == 0 and self.skipped and self.reasons:
            raise InputError(
                f"{source}: no rows to score: all {self.skipped:,} records were invalid and "
                f"skipped (first: {self.reasons[0]})"
            )
        if self.rows == 0 and self.ignored:
            raise InputError(
                f"{source}: every row is ignored ({self.ignored:,} with the ignore index); "
                "the mean is undefined",
                parameter="ignore_index",
            )
        if self.rows == 0:
            raise InputError(f"{source}: no rows to score")
        if reduction == "sum":
            total = self.total.value()
            extras = {key: extra.value() for key, extra in self.extras.items()}
        else:
            if self.divisor.is_zero():
                raise InputError(f"{source}: the weights sum to 0; the mean is undefined")
            total = self.total.ratio(self.divisor)
            extras = {key: extra.ratio(self.divisor) for key, extra in self.extras.items()}
        report = None if self.evaluation is None else self.evaluation.compute(reduction)
        return BatchSummary(
            name=self.name,
            source=source,
            loss=total,
            base=self.base,
            reduction=reduction,
            rows=self.rows,
            classes=self.classes,
            extras=extras,
            row_mean=self.row_sum.mean(self.rows),
            row_min=self.minimum,
            row_max=self.maximum,
            percentiles=self._percentiles() if self.details else {},
            percentiles_exact=self.values is not None,
            worst=tuple(
                WorstRow(line=-line, identifier=identifier, loss=value)
                for value, line, identifier in sorted(self.worst, reverse=True)
            ),
            clipped=self.clipped,
            clipped_terms=self.clipped_terms,
            unnormalized=self.unnormalized,
            unnormalized_lines=tuple(self.unnormalized_lines),
            unnormalized_targets=self.unnormalized_targets,
            unnormalized_target_lines=tuple(self.unnormalized_target_lines),
            skipped=self.skipped,
            skipped_reasons=tuple(self.reasons),
            blank_lines=self.blank_lines,
            accuracy=None if report is None else report.accuracy,
            per_class=None if report is None else report.per_class,
            groups=None if report is None else report.groups,
            group_by=() if report is None else report.group_by,
        )

    def _percentiles(self) -> dict[int, float]:
        if self.values is not None:
            values = np.concatenate(self.values)
            with np.errstate(invalid="ignore"):
                found = np.percentile(values, PERCENTILES)  # one partition for all three
            if not np.isnan(values).any():
                # Beside an infinite loss NumPy's interpolation meets inf - inf or 0 · inf: a
                # percentile that falls on one row is that row's value, else between a finite
                # and an infinite value it is inf.
                ranks = [q / 100 * (len(values) - 1) for q in PERCENTILES]
                exact = [int(rank) for rank in ranks if rank == int(rank)]
                ordered = np.partition(values, exact) if exact else values
                found = np.array(
                    [
                        ordered[int(rank)] if rank == int(rank) else np.inf if np.isnan(v) else v
                        for rank, v in zip(ranks, found, strict=True)
                    ]
                )
            return {q: float(v) for q, v in zip(PERCENTILES, found, strict=True)}
        assert self.histogram is not None
        counts = np.cumsum(self.histogram)
        result = {}
        for q in PERCENTILES:
            rank = q / 100 * (counts[-1] - 1)
            position = int(np.searchsorted(counts, rank, side="right"))
            if position == 0:
                result[q] = max(self.minimum, 0.0)
            elif position >= _BIN_COUNT - 1:
                result[q] = self.maximum
            else:
                result[q] = _bin_centre(position)
        return result


def find_problems(
    batch: Batch,
    columns: Columns,
    *,
    probabilities: bool,
    classes: int,
    every_row: bool = False,
    ignore_label: float | None = None,
    softmax_rows: bool = True,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], list[Problem]]:
    """Empty lines, invalid rows and what is wrong with the first few invalid ones (with
    ``every_row``, with each of them, in row order).  A class-index label equal to
    ``ignore_label`` is valid (its row is left out later).  A logit of -inf is a mask, but
    with ``softmax_rows`` a row of nothing else is invalid.

    Only an empty line is not a record; any other row, whatever its fields hold (nothing
    that reads as a number included), is scored or invalid.
    """
    labels, preds = batch.labels, batch.preds
    nothing = np.zeros(len(labels), dtype=np.bool_)
    blank = nothing if batch.blank is None else np.asarray(batch.blank, dtype=np.bool_)
    ignoring = ignore_label is not None and columns.label_index
    if _all_valid(
        batch, columns, probabilities=probabilities, classes=classes,
        ignore_label=ignore_label if ignoring else None, softmax_rows=softmax_rows,
    ):  # fmt: skip
        return blank, nothing, []
    not_number = "is not a number"
    if columns.preds_guessed:
        shown = ", ".join(columns.preds[:5]) + (", …" if len(columns.preds) > 5 else "")
        not_number += (
            f" (the prediction columns were guessed as {shown}; choose them with pred_cols)"
        )
    # From logits, -inf is a mask (probability 0); a row needs one class that is not masked.
    not_finite = np.isinf(preds) if probabilities else np.isposinf(preds)
    checks: list[tuple[npt.NDArray[np.bool_], tuple[str, ...], str]] = []
    if batch.unmatched is not None and columns.identifier is not None:
        # First: the row's other half is missing, not merely a value of it.
        checks.append(
            (batch.unmatched[:, np.newaxis], (columns.identifier,), batch.unmatched_reason)
        )
    checks += [
        (np.isnan(preds), columns.preds, not_number),
        (not_finite, columns.preds, "is not a finite number"),
        (
            np.isnan(labels),
            columns.labels,
            "is not a number nor a class name" if columns.label_index else "is not a number",
        ),
        (np.isinf(labels), columns.labels, "is not a finite number"),
    ]
    if not probabilities and softmax_rows:
        every_masked = np.zeros(preds.shape, dtype=np.bool_)
        every_masked[:, 0] = np.all(preds == -np.inf, axis=1)
        checks.append(
            (every_masked, columns.preds,
             "is masked, as is every logit of its row; softmax needs one class that is not")
        )  # fmt: skip
    with np.errstate(invalid="ignore"):
        if probabilities:
            checks.append(
                ((preds < 0) | (preds > 1), columns.preds,
                 "is not a probability in [0, 1]; for raw scores use logits=True")
            )  # fmt: skip
        if columns.label_index:
            not_index = (labels != np.floor(labels)) | (labels < 0) | (labels >= classes)
            if ignoring:
                not_index &= labels != ignore_label
            checks.append(
                (not_index, columns.labels,
                 f"is not a class index 0 to {classes - 1} (nor a class name)")
            )  # fmt: skip
        else:
            checks.append(((labels < 0) | (labels > 1), columns.labels, "is not a label in [0, 1]"))
        if batch.weights is not None and columns.weight is not None:
            weight = batch.weights[:, np.newaxis]
            checks.append(
                (~np.isfinite(weight) | (weight < 0), (columns.weight,), "is not a weight ≥ 0")
            )
    bad = np.zeros(len(blank), dtype=np.bool_)
    problems: list[Problem] = []
    for row, (_, fields, header) in (batch.ragged or {}).items():
        # A record cut or padded to the header's width: its values are not to be trusted.
        problems.append(Problem(row, "record", f"{fields} fields, but the header has {header}"))
        bad[row] = True
    for mask, names, reason in checks:
        mask = mask & ~blank[:, np.newaxis]
        rows_hit = mask.any(axis=1)
        first = np.flatnonzero(rows_hit & ~bad)
        for row in first if every_row else first[:REASONS_KEPT]:
            problems.append(Problem(int(row), names[int(np.argmax(mask[row]))], reason))
        bad |= rows_hit
    problems.sort(key=lambda problem: problem.row)
    return blank, bad, problems if every_row else problems[:REASONS_KEPT]


def _all_valid(
    batch: Batch,
    columns: Columns,
    *,
    probabilities: bool,
    classes: int,
    ignore_label: float | None = None,
    softmax_rows: bool = True,
    values: bool = True,
) -> bool:
    """The common case, decided from minima and maxima (NaN fails every comparison);
    without ``values``, only the layout and the weights (the loss checks labels and
    predictions itself)."""
    if batch.blank is not None or batch.unmatched is not None or batch.ragged:
        return False
    if not values:
        return _weights_valid(batch.weights)
    preds, labels = batch.preds, batch.labels
    low, high = (0.0, 1.0) if probabilities else (-math.inf, math.inf)
    smallest, largest = float(preds.min()), float(preds.max())
    # A masked logit (-inf) with no nan or +inf beside it (either would make the maximum so).
    masked = not probabilities and smallest == -math.inf and largest < math.inf
    if masked:
        if softmax_rows and bool(np.any(np.all(preds == -np.inf, axis=1))):
            return False
    elif not (low <= smallest and largest <= high and math.isfinite(largest - smallest)):
        return False
    if ignore_label is not None:
        labels = labels[labels != ignore_label]
        if not labels.size:
            return _weights_valid(batch.weights)
    top = classes - 1 if columns.label_index else 1.0
    if not (labels.min() >= 0.0 and labels.max() <= top):
        return False
    if columns.label_index and not np.array_equal(labels, np.floor(labels)):
        return False
    return _weights_valid(batch.weights)


def _first(kept: list[int], more: Iterable[int]) -> list[int]:
    """``kept``, then ``more`` up to ``REASONS_KEPT`` lines in all: the first few places a
    count of rows is about (``more`` is read no further)."""
    return kept + list(itertools.islice(more, max(REASONS_KEPT - len(kept), 0)))


def _weights_valid(weights: FloatArray | None) -> bool:
    """No weight column, or every weight finite and ≥ 0 (NaN fails both comparisons)."""
    return weights is None or bool(weights.min() >= 0.0 and math.isfinite(weights.max()))


def describe(table: Table, batch: Batch, problem: Problem, *, fatal: bool = False) -> str:
    """``file:line:column: 'value' <reason>``, with the value as written in the file; for
    the error that stops a run (``fatal``), a row in one of two files only also says how many
    rows each has."""
    if batch.ragged and problem.row in batch.ragged:
        return f"{batch.ragged[problem.row][0]}: {problem.reason}"
    line = int(batch.lines[problem.row])
    said = _worded(table.raw_value(line, problem.column), problem.reason)
    if fatal and batch.unmatched is not None and batch.unmatched[problem.row]:
        said = f"{said.removesuffix(')')}; {table.row_counts()})"
    return f"{table.location(line, problem.column)}: {said}"


def _worded(raw: str | None, reason: str) -> str:
    """``'value' <reason>``: a field as written (``an empty value`` for nothing but spaces,
    ``the value`` when it could not be read again), then what is wrong with it."""
    value = "an empty value" if raw is not None and not raw.strip() else repr(raw)
    if raw is None:
        value = "the value"
    if reason.startswith("is not a number") and raw is not None:
        number = parse_number(raw)
        if number is not None and math.isnan(number):
            reason = "is not a finite number"  # 'nan' is read, and refused, as typed it is
    return f"{value} {reason}"


def prefetched(batches: Iterable[Batch], depth: int = 2) -> Iterator[Batch]:
    """Read the next batches in a thread while this one is scored.

    Parsing (polars) and scoring (NumPy) both release the GIL, so on two cores reading ahead
    takes about a quarter off the wall time of a large file; ``depth`` bounds the memory.

    When the consumer stops early (an error, an interrupt), the reader stops after the batch
    in hand and closes ``batches`` in its own thread, and the consumer waits for it: nothing
    is left running, or left to a finalizer, once this generator is closed.
    """
    slots: queue.Queue[tuple[Batch | None, BaseException | None]] = queue.Queue(maxsize=depth)
    consumer = _Consumer()

    def offer(item: tuple[Batch | None, BaseException | None]) -> bool:
        """Put ``item`` in a slot, unless the consumer has stopped; whether it went in."""
        while not consumer.stopped:
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        iterator = iter(batches)
        try:
            for batch in iterator:
                if not offer((batch, None)):
                    return
            offer((None, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            offer((None, error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                # The reading that failed, or was stopped, is reported by the consumer;
                # a second failure while it shuts down would only hide it.
                with contextlib.suppress(Exception):
                    close()

    reader = threading.Thread(target=read, name="cecli-reader", daemon=True)
    reader.start()
    try:
        while True:
            batch, error = slots.get()
            if error is not None:
                raise error
            if batch is None:
                return
            yield batch
    finally:
        # An assignment, not a call: an interrupt cannot land between it and the reader
        # seeing it, even when this runs in a finalizer.
        consumer.stopped = True
        reader.join()


class _Consumer:
    """Whether the consumer of :func:`prefetched` has stopped, read by its reader thread."""

    stopped = False


@dataclass(frozen=True, eq=False)
class Rejected:
    """The rows skipped as invalid, read again from the file as they are written."""

    header: list[str]
    rows: Iterator[tuple[int, str, list[str]]]
    """(line, reason, fields) of each skipped row, in file order."""


@dataclass(frozen=True, eq=False)
class Skip:
    """Why one row was skipped: a field of ``column`` (``of_field``), or the whole record
    (a ragged record, an id in one of two files only)."""

    column: str
    reason: str
    of_field: bool


def skip_of(batch: Batch, problem: Problem) -> Skip:
    """What :func:`rejected_rows` needs to word why ``problem``'s row was skipped."""
    ragged = problem.row in (batch.ragged or {})
    unmatched = batch.unmatched is not None and bool(batch.unmatched[problem.row])
    return Skip(problem.column, problem.reason, of_field=not (ragged or unmatched))


def rejected_rows(table: Table, skipped: dict[int, Skip]) -> Rejected:
    """The records at the lines of ``skipped``, each with its reason: a field's reason
    words its value as the error would (``p0: 'abc' is not a number``), from the record
    read again, so that no field is looked up one read of the file at a time."""
    header = table.record_header()
    positions: dict[str, int] = {}
    for position, name in enumerate(header):
        positions.setdefault(name, position)  # of two matched files, only the id repeats

    def reason(skip: Skip, fields: list[str]) -> str:
        if not skip.of_field:
            return f"{skip.column}: {skip.reason}"
        position = positions.get(skip.column)
        raw = fields[position] if position is not None and position < len(fields) else None
        return f"{skip.column}: {_worded(raw, skip.reason)}"

    # A row only in the second of two matched files has minus its line there.
    found = (
        (abs(line), reason(skipped[line], fields), fields)
        for line, fields in table.records(skipped)
    )
    return Rejected(header, found)


def _one_class_indices(compute: ComputeFn) -> ComputeFn:
    """``compute`` for one class whose label column holds class indices: index 0 is that class,
    a target of 1 (a one-hot row of one value).  Handed on as it is, the column of 0s was
    taken for target probabilities of 0, and every row scored 0."""

    def one_hot(labels: FloatArray, preds: FloatArray) -> Scored:
        return compute(np.where(labels == 0.0, 1.0, 0.0), preds)

    return one_hot


def score_table(
    table: Table,
    columns: Columns,
    compute: ComputeFn,
    *,
    probabilities: bool,
    class_names: list[str] | None,
    skip_invalid: bool,
    on_rows: RowSink | None = None,
    on_progress: ProgressFn | None = None,
    evaluation: Evaluation | None = None,
    on_skipped: SkipSink | None = None,
    details: bool = True,
    ignore_label: float | None = None,
    softmax_rows: bool = True,
    compute_checks_values: bool = False,
) -> Accumulator:
    """Score every batch of ``table``; per-row results go to ``on_rows`` in file order.

    A row whose class-index label is ``ignore_label`` is counted as ignored and not scored:
    it is left out of every sum, and ``on_rows`` receives 0 for it.

    ``compute_checks_values`` says that ``compute`` refuses (:class:`InputError`) every label
    and prediction that :func:`find_problems` would: a batch is then handed to it unchecked,
    and its values are checked one by one only when it refuses them."""
    accumulator = Accumulator(evaluation=evaluation, details=details)
    classes = len(columns.preds)
    if columns.label_index and classes == 1:
        compute = _one_class_indices(compute)
    trusting = compute_checks_values and ignore_label is None
    # Held by name: without it, one Ctrl-C in four landed in the generator's finally block
    # run as a finalizer, where Python can only print it ("Exception ignored in …").
    batches = prefetched(table.batches(columns, class_names))
    for batch in batches:
        unchecked: Scored | None = None
        if trusting and _all_valid(
            batch, columns, probabilities=probabilities, classes=classes, values=False
        ):
            # The common case in one pass fewer over the values: the loss checks them anyway.
            with contextlib.suppress(InputError):  # found again below, with its place
                unchecked = compute(batch.labels, batch.preds)
        if unchecked is not None:
            blank = bad = np.zeros(len(batch.lines), dtype=np.bool_)
            problems: list[Problem] = []
        else:
            every_row = on_skipped is not None and skip_invalid
            blank, bad, problems = find_problems(
                batch, columns, probabilities=probabilities, classes=classes,
                every_row=every_row, ignore_label=ignore_label, softmax_rows=softmax_rows,
            )  # fmt: skip
        accumulator.blank_lines += int(blank.sum())
        if problems and not skip_invalid:
            raise InputError(describe(table, batch, problems[0], fatal=True))
        if bad.any():
            first = problems[:REASONS_KEPT]
            accumulator.skip((describe(table, batch, p) for p in first), int(bad.sum()))
            if on_skipped is not None:
                on_skipped(batch, problems)
        keep = ~(blank | bad)
        ignored: npt.NDArray[np.bool_] | None = None
        if ignore_label is not None and columns.label_index:
            ignored = keep & (batch.labels[:, 0] == ignore_label)
            if ignored.any():
                accumulator.ignored += int(ignored.sum())
                with_ignored, keep = keep, keep & ~ignored
            else:
                ignored = None
        if keep.all():
            result = compute(batch.labels, batch.preds) if unchecked is None else unchecked
            accumulator.update(
                result, batch.lines, batch.ids, batch.weights,
                labels=batch.labels, preds=batch.preds, keys=batch.keys,
            )  # fmt: skip
        elif keep.any():
            labels, preds = batch.labels[keep], batch.preds[keep]
            result = compute(labels, preds)
            ids = batch.ids and [i for i, k in zip(batch.ids, keep, strict=True) if k]
            weights = None if batch.weights is None else batch.weights[keep]
            keys = None if batch.keys is None else [column.take(keep) for column in batch.keys]
            accumulator.update(
                result, batch.lines[keep], ids, weights, labels=labels, preds=preds, keys=keys
            )
        if ignored is not None and on_rows is not None:
            scored = keep[with_ignored]
            if not keep.any():  # nothing scored: the rows' shape of result, all 0
                labels = np.zeros_like(batch.labels[with_ignored])
                result = compute(labels, batch.preds[with_ignored])
            on_rows(batch, with_ignored, _with_zero_rows(result, scored))
        elif keep.any() and on_rows is not None:
            on_rows(batch, keep, result)
        if on_progress is not None:
            on_progress(len(batch.lines))
    return accumulator


def _with_zero_rows(result: Scored, scored: npt.NDArray[np.bool_]) -> Scored:
    """The per-row values of ``result`` with 0 for the rows not ``scored``, which an ignore
    index left out: what the per-row output writes for them.  ``result`` holds the scored
    rows, or every row (a batch of ignored rows only, scored as if labelled 0).  Only the
    per-row arrays are widened (and a gradient's rows: 0 for an ignored row)."""
    rows = len(scored)

    def widened(values: FloatArray) -> FloatArray:
        if values.shape[0] == rows:
            wide = values.copy()
            wide[~scored] = 0.0
            return wide
        wide = np.zeros((rows, *values.shape[1:]))
        wide[scored] = values
        return wide

    if isinstance(result, RowLosses):
        return RowLosses(
            name=result.name, base=result.base, classes=result.classes,
            per_row=widened(result.per_row), row_totals=widened(result.row_totals),
            row_divisors=widened(result.row_divisors),
            row_extras={name: widened(values) for name, values in result.row_extras.items()},
            clipped_count=result.clipped_count, unnormalized_rows=(),
        )  # fmt: skip
    changes: dict[str, Any] = {
        "per_row": widened(result.per_row),
        "row_totals": widened(result.row_totals),
        "row_divisors": widened(result.row_divisors),
        "row_extras": {name: widened(values) for name, values in result.row_extras.items()},
    }
    gradient = getattr(result, "grad", None)
    if isinstance(gradient, np.ndarray) and gradient.ndim == 2:
        changes["grad"] = widened(gradient)
    return dataclasses.replace(result, **changes)
