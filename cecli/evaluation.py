"""A scored file as a model evaluation: accuracy beside the loss, per class and per group.

:class:`Evaluation` rides along with :class:`cecli.batch.Accumulator` and follows the same
update/merge/compute split.  Every total is an :class:`~cecli.numerics.ExactSum` (weighted
counts of correct rows, probabilities of the true class, losses), so the numbers reported do
not depend on how the file was cut into batches or in which order partial states were merged.
A state holds a few sums per class and per group, never per-row values: it grows with the
number of distinct groups (at most :data:`GROUP_LIMIT`), not with the number of rows.

Accuracy is read from the predictions as given:

- one true class per row (``ce``, ``focal``, ``smooth``): the class of the label column, or the
  largest value of a row of per-class labels.  Classes are ranked by their prediction (logits
  rank as their softmax does); among equal predictions the lower index ranks first, so top-1
  is the row's arg-max.  The probability of the true class is the prediction itself (scaled
  to sum 1 with ``normalize``) or the softmax of the logits.
- one 0/1 outcome per output (``bce``, ``multilabel``, ``focal --binary``): an output is
  predicted positive when its probability is above ``threshold`` (from logits, when
  σ(z) > threshold), and a label is positive from 0.5 up.  Accuracy counts outputs; a
  multi-output row is an exact match when every output is right.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from cecli.inputs import InputError
from cecli.numerics import (
    ExactSum,
    FloatArray,
    GroupSums,
    group_counts,
    group_products,
    group_sums,
    log_softmax,
    sigmoid,
)
from cecli.results import JsonValue, LossResult, Reduction, RowLosses, json_number

if TYPE_CHECKING:
    from cecli.files import KeyColumn

Kind = Literal["categorical", "binary"]
IndexArray = npt.NDArray[np.intp]

GROUP_LIMIT = 100_000
"""Distinct groups kept at most: each holds about 3 KB of exact sums (300 MB at the cap)."""
DEFAULT_TOP_K = 5
"""Top-k reported by default when there are more classes than this."""
ROW_COLUMNS = ("label", "pred", "p_true", "rank", "correct")
"""What :meth:`Evaluation.row_details` can add to each row of the per-row output."""


def _weighted(values: FloatArray, weights: FloatArray | None) -> ExactSum:
    """Σ w·v exactly (Σ v without weights); a row of several values has its weight on each."""
    total = ExactSum()
    if weights is None and values.size and values.ndim == 1 and _constant(values):
        total.add_constant(float(values[0]), values.size)  # 1 per row: counted, not added
    elif weights is None:
        total.add(values)
    elif values.ndim == 2:
        total.add_products(np.repeat(weights, values.shape[1]), values)
    else:
        total.add_products(weights, values)
    return total


def _constant(values: FloatArray) -> bool:
    return bool(values[0] == values[-1] and (values == values[0]).all())


def _whole(counts: FloatArray, weights: FloatArray | None) -> ExactSum:
    """Σ w·c for whole numbers c (how many right): without weights, one integer sum."""
    if weights is not None:
        return _weighted(counts, weights)
    total = ExactSum()
    total.add_constant(1.0, int(counts.sum()))  # whole numbers below 2^53 add exactly
    return total


def _counted(mask: npt.NDArray[np.bool_], weights: FloatArray | None) -> ExactSum:
    """Σ w over the rows of ``mask`` (how many, without weights), exactly."""
    total = ExactSum()
    if weights is None:
        total.add_constant(1.0, int(np.count_nonzero(mask)))
    else:
        total.add(weights[mask])
    return total


@dataclass(eq=False)
class RowValues:
    """What one batch's kept rows contribute, row by row (arrays of one length)."""

    totals: FloatArray
    """Each row's share of the summed loss."""
    divisors: FloatArray
    """Each row's share of the mean's denominator."""
    per_row: FloatArray
    lines: npt.NDArray[np.int64]
    weights: FloatArray | None
    correct: FloatArray
    """Top-1 right (0/1), or how many outputs are right (binary)."""
    top_k: FloatArray | None
    p_true: FloatArray
    """Probability of the true class; for binary outputs one per output, which with
    ``p_offset`` gives the probability of the true outcome."""
    exact: FloatArray | None
    """Every output right (0/1), for rows of several binary outputs."""
    p_offset: FloatArray | None = None
    """Outputs whose probability of the true outcome is 1 - p: ``p_true`` holds -p there and
    this counts them, so Σ (1 - p) is formed exactly, never rounded value by value."""

    def take(self, rows: IndexArray | slice) -> RowValues:
        def pick(array: FloatArray | None) -> FloatArray | None:
            return None if array is None else array[rows]

        return RowValues(
            self.totals[rows], self.divisors[rows], self.per_row[rows], self.lines[rows],
            pick(self.weights), self.correct[rows], pick(self.top_k), self.p_true[rows],
            pick(self.exact), pick(self.p_offset),
        )  # fmt: skip


@dataclass(eq=False)
class Tally:
    """Exact running sums over a set of rows (a class, a group, or all of them)."""

    rows: int = 0
    weight: ExactSum = field(default_factory=ExactSum)
    """Σ w (the number of rows without weights)."""
    loss: ExactSum = field(default_factory=ExactSum)
    divisor: ExactSum = field(default_factory=ExactSum)
    correct: ExactSum = field(default_factory=ExactSum)
    top_k: ExactSum = field(default_factory=ExactSum)
    p_true: ExactSum = field(default_factory=ExactSum)
    exact: ExactSum = field(default_factory=ExactSum)
    worst: tuple[float, int] | None = None
    """(loss, -line) of the row with the largest loss; the earlier line on a tie."""

    def add(self, values: RowValues) -> None:
        count = values.totals.size
        if count == 0:
            return
        weights = values.weights
        self.rows += count
        ones = ExactSum()
        if weights is None:
            ones.add_constant(1.0, count)
        else:
            ones.add(weights)
        self.weight += ones
        self.loss += _weighted(values.totals, weights)
        self.divisor += _weighted(values.divisors, weights)
        self.correct += _whole(values.correct, weights)
        if values.top_k is not None:
            self.top_k += _whole(values.top_k, weights)
        self.p_true += _weighted(values.p_true, weights)
        if values.p_offset is not None:
            self.p_true += _whole(values.p_offset, weights)
        if values.exact is not None:
            self.exact += _whole(values.exact, weights)
        self._keep_worst(values.per_row, values.lines)

    def _keep_worst(self, per_row: FloatArray, lines: npt.NDArray[np.int64]) -> None:
        candidates = per_row[~np.isnan(per_row)]
        if candidates.size == 0:
            return
        largest = float(candidates.max())
        first = int(np.flatnonzero(per_row == largest)[0])
        self._offer((largest, -int(lines[first])))

    def _offer(self, entry: tuple[float, int]) -> None:
        if self.worst is None or entry > self.worst:
            self.worst = entry

    def merge(self, other: Tally) -> None:
        self.rows += other.rows
        self.weight += other.weight
        self.loss += other.loss
        self.divisor += other.divisor
        self.correct += other.correct
        self.top_k += other.top_k
        self.p_true += other.p_true
        self.exact += other.exact
        if other.worst is not None:
            self._offer(other.worst)


@dataclass(frozen=True, eq=False)
class GroupBatch:
    """What one batch adds to each group's :class:`Tally`, formed for every group at once.

    :meth:`Tally.add` per group costs several small NumPy passes per group and batch, which
    with many small groups is most of a file's time; here each sum is one pass over the batch
    (:func:`~cecli.numerics.group_sums`), and :meth:`add_to` adds integers.  The sums are the
    same exact integers, so the state is what per-group :meth:`Tally.add` calls would make.
    """

    rows: list[int]
    weight: GroupSums
    loss: GroupSums
    divisor: GroupSums
    correct: GroupSums
    top_k: GroupSums | None
    p_true: GroupSums
    p_offset: GroupSums | None
    exact: GroupSums | None
    worst: list[tuple[float, int] | None]

    @classmethod
    def of(cls, values: RowValues, codes: IndexArray, count: int) -> GroupBatch:
        """The sums of the rows of each code 0…``count - 1`` (``codes`` one per row)."""
        weights = values.weights
        rows = np.bincount(codes, minlength=count)

        def whole(counts: FloatArray) -> GroupSums:
            if weights is not None:
                return _group_weighted(counts, weights, codes, count)
            # Whole numbers below 2^53 add exactly in float64.
            return group_counts(np.bincount(codes, weights=counts, minlength=count))

        return cls(
            rows=rows.tolist(),
            weight=group_counts(rows) if weights is None else group_sums(weights, codes, count),
            loss=_group_weighted(values.totals, weights, codes, count),
            divisor=_group_weighted(values.divisors, weights, codes, count),
            correct=whole(values.correct),
            top_k=None if values.top_k is None else whole(values.top_k),
            p_true=_group_weighted(values.p_true, weights, codes, count),
            p_offset=None if values.p_offset is None else whole(values.p_offset),
            exact=None if values.exact is None else whole(values.exact),
            worst=_group_worst(values.per_row, values.lines, codes, count),
        )

    def add_to(self, code: int, tally: Tally) -> None:
        """Fold the rows of ``code`` into ``tally``, as ``tally.add`` of those rows would."""
        tally.rows += self.rows[code]
        for mine, theirs in _INTO_TALLY:
            sums: GroupSums | None = getattr(self, mine)
            if sums is not None:
                sums.add_to(code, getattr(tally, theirs))
        worst = self.worst[code]
        if worst is not None:
            tally._offer(worst)

    def add_all(self, tallies: Sequence[Tally]) -> None:
        """Fold the rows of every code into ``tallies[code]``: a loop of integer additions
        per sum, not a call per group and sum."""
        for tally, rows in zip(tallies, self.rows, strict=True):
            tally.rows += rows
        for mine, theirs in _INTO_TALLY:
            sums: GroupSums | None = getattr(self, mine)
            if sums is not None:
                sums.add_all(list(map(attrgetter(theirs), tallies)))
        for tally, worst in zip(tallies, self.worst, strict=True):
            if worst is not None:
                tally._offer(worst)


_INTO_TALLY = (("weight", "weight"), ("loss", "loss"), ("divisor", "divisor"),
               ("correct", "correct"), ("top_k", "top_k"), ("p_true", "p_true"),
               ("p_offset", "p_true"), ("exact", "exact"))  # fmt: skip
"""Each sum of a :class:`GroupBatch` and the total of a :class:`Tally` it goes into (the
ones of ``p_offset`` too go into ``p_true``: 1 - p is added as (-p) + 1)."""


def _group_weighted(
    values: FloatArray, weights: FloatArray | None, codes: IndexArray, count: int
) -> GroupSums:
    """Σ w·v per group (Σ v without weights), as :func:`_weighted` forms each."""
    if values.ndim == 2:  # a row of several values has its group and its weight on each
        codes = np.repeat(codes, values.shape[1])
        weights = None if weights is None else np.repeat(weights, values.shape[1])
    if weights is None:
        return group_sums(values, codes, count)
    return group_products(weights, values, codes, count)


def _group_worst(
    per_row: FloatArray, lines: npt.NDArray[np.int64], codes: IndexArray, count: int
) -> list[tuple[float, int] | None]:
    """Each code's (largest loss, -line) as :meth:`Tally._keep_worst` finds it: NaN losses
    left out, the first row of the batch on a tie; None for a code without such a row."""
    worst: list[tuple[float, int] | None] = [None] * count
    if per_row.size == 0:
        return worst
    # File order within each code; a stable sort of 16-bit codes is a radix sort (as in _split).
    order = np.argsort(codes.astype(np.uint16) if count <= 1 << 16 else codes, kind="stable")
    ordered_codes = codes[order]
    losses = per_row[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered_codes[1:] != ordered_codes[:-1]]))
    sizes = np.diff(np.append(starts, losses.size))
    candidate = ~np.isnan(losses)
    largest = np.maximum.reduceat(np.where(candidate, losses, -np.inf), starts)
    found = np.logical_or.reduceat(candidate, starts)
    positions = np.where(losses == np.repeat(largest, sizes), np.arange(losses.size), losses.size)
    first = np.minimum.reduceat(positions, starts)
    first_lines = lines[order][np.minimum(first, losses.size - 1)]
    for code, loss, line, defined in zip(
        ordered_codes[starts].tolist(),
        largest.tolist(),
        first_lines.tolist(),
        found.tolist(),
        strict=True,
    ):
        if defined:
            worst[code] = (loss, -line)
    return worst


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Accuracy:
    """Accuracy beside the loss, over every scored row (weighted by the row weights)."""

    accuracy: float
    """Top-1 accuracy, or the share of binary outputs right at ``threshold``."""
    mean_p_true: float
    """Mean probability of the true class (binary: of each output's true outcome)."""
    top_k: int | None = None
    top_k_accuracy: float | None = None
    threshold: float | None = None
    exact_match: float | None = None
    """Rows with every output right (several binary outputs only)."""

    def to_json(self) -> dict[str, JsonValue]:
        document: dict[str, JsonValue] = {"accuracy": json_number(self.accuracy)}
        if self.top_k is not None and self.top_k_accuracy is not None:
            document["top_k"] = self.top_k
            document["top_k_accuracy"] = json_number(self.top_k_accuracy)
        document["mean_p_true"] = json_number(self.mean_p_true)
        if self.threshold is not None:
            document["threshold"] = self.threshold
        if self.exact_match is not None:
            document["exact_match"] = json_number(self.exact_match)
        return document


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Breakdown:
    """One row of a per-class or per-group table; None where a value is undefined (no rows,
    or weights summing to 0)."""

    name: str
    """The class name, or the group's values joined by ``/``."""
    key: tuple[str, ...]
    """The group's value in each ``by`` column (the class name alone, per class)."""
    rows: int
    weight: float
    """Σ of the row weights (the row count without weights)."""
    loss: float | None
    """The class's or group's loss, reduced as the file's (mean, or sum)."""
    share: float | None
    """Its part of the file's summed loss."""
    accuracy: float | None
    top_k_accuracy: float | None
    mean_p_true: float | None
    worst_line: int | None
    worst_loss: float | None
    positives: int | None = None
    """Rows whose label is positive (binary outputs, per output)."""
    positive_loss: float | None = None
    """The part of ``loss`` from positive labels (binary outputs, per output)."""
    negative_loss: float | None = None
    top_k: int | None = None
    """The k of ``top_k_accuracy`` when top-k accuracy is reported: its key is then in every
    row's JSON, null where undefined, as the other values are."""

    def to_json(self, by: Sequence[str] = ()) -> dict[str, JsonValue]:
        def number(value: float | None) -> JsonValue:
            return None if value is None else json_number(value)

        # The group's values under a key of their own: a column may be named "loss".
        document: dict[str, JsonValue] = {"by": dict(zip(by, self.key, strict=True))} if by else {}
        document.update({
            "rows": self.rows, "weight": json_number(self.weight), "loss": number(self.loss),
            "share": number(self.share), "accuracy": number(self.accuracy),
        })  # fmt: skip
        if self.top_k is not None or self.top_k_accuracy is not None:
            document["top_k_accuracy"] = number(self.top_k_accuracy)
        document["mean_p_true"] = number(self.mean_p_true)
        if self.positives is not None:
            document["positives"] = self.positives
            document["positive_loss"] = number(self.positive_loss)
            document["negative_loss"] = number(self.negative_loss)
        if self.positives is None:  # a class or group of rows: none for a binary output
            document["worst_line"] = self.worst_line
            document["worst_loss"] = number(self.worst_loss)
        return document


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class EvaluationReport:
    """What :meth:`Evaluation.compute` gives :class:`~cecli.batch.BatchSummary`."""

    accuracy: Accuracy | None
    per_class: tuple[Breakdown, ...] | None
    groups: tuple[Breakdown, ...] | None
    group_by: tuple[str, ...]


@dataclass(eq=False)
class OutputTally:
    """Exact sums of one binary output over every row: its positives and its terms."""

    positives: int = 0
    loss: ExactSum = field(default_factory=ExactSum)
    positive_loss: ExactSum = field(default_factory=ExactSum)
    correct: ExactSum = field(default_factory=ExactSum)
    p_true: ExactSum = field(default_factory=ExactSum)
    split: bool = True
    """Whether the loss's terms come apart into positive and negative labels' (not focal's)."""

    def merge(self, other: OutputTally) -> None:
        self.split = self.split and other.split
        self.positives += other.positives
        self.loss += other.loss
        self.positive_loss += other.positive_loss
        self.correct += other.correct
        self.p_true += other.p_true


@dataclass(eq=False)
class Evaluation:
    """Running evaluation state of one file: settings, then exact sums (small, picklable)."""

    kind: Kind | None
    """What accuracy means here; None when it means nothing (``kl``, ``grad``): groups only."""
    classes: int
    class_names: tuple[str, ...]
    logits: bool = False
    normalize: bool = False
    top_k: int | None = None
    threshold: float = 0.5
    per_class: bool = False
    by: tuple[str, ...] = ()
    overall: Tally = field(default_factory=Tally)
    class_tallies: list[Tally] = field(default_factory=list)
    output_tallies: list[OutputTally] = field(default_factory=list)
    output_weight: ExactSum = field(default_factory=ExactSum)
    """Σ w over every row, the denominator of each output's mean (binary per output)."""
    groups: dict[tuple[str, ...], Tally] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        kind: Kind | None,
        class_names: Sequence[str],
        *,
        logits: bool = False,
        normalize: bool = False,
        top_k: int | None = None,
        threshold: float = 0.5,
        per_class: bool = False,
        by: Sequence[str] = (),
    ) -> Evaluation:
        """Checked settings; ``top_k`` None is 5 when there are more than 5 classes."""
        classes = len(class_names)
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)):
            raise InputError(f"top_k must be a whole number ≥ 1, got {top_k!r}", parameter="top_k")
        if top_k is not None and top_k < 1:
            raise InputError(f"top_k must be ≥ 1, got {top_k}", parameter="top_k")
        if not (isinstance(threshold, float | int) and 0.0 < threshold < 1.0):
            raise InputError(
                f"threshold must be a probability strictly between 0 and 1, got {threshold!r}",
                parameter="threshold",
            )
        if kind is None and per_class:
            raise InputError(
                "per-class results need one true class or outcome per row (ce, focal, smooth, "
                "bce, multilabel)",
                parameter="per_class",
            )
        if kind != "categorical" and top_k is not None:
            raise InputError("top_k ranks the classes of ce, focal and smooth", parameter="top_k")
        if kind == "categorical" and top_k is not None and top_k >= classes:
            # Every row's true class is among the top K of K classes: a top-K accuracy of 100%
            # would say nothing about the model.
            raise InputError(
                f"top_k must be below the number of classes ({classes}), got {top_k}",
                parameter="top_k",
            )
        chosen_top_k = top_k
        if kind == "categorical" and top_k is None and classes > DEFAULT_TOP_K:
            chosen_top_k = DEFAULT_TOP_K
        evaluation = cls(
            kind, classes, tuple(class_names), logits=logits, normalize=normalize,
            top_k=chosen_top_k, threshold=float(threshold), per_class=per_class, by=tuple(by),
        )  # fmt: skip
        if per_class and kind == "categorical":
            evaluation.class_tallies = [Tally() for _ in range(classes)]
        if per_class and kind == "binary":
            evaluation.output_tallies = [OutputTally() for _ in range(classes)]
        return evaluation

    # --- update ---------------------------------------------------------------------------

    def update(
        self,
        result: RowLosses | LossResult,
        labels: FloatArray,
        preds: FloatArray,
        lines: npt.NDArray[np.int64],
        weights: FloatArray | None,
        keys: Sequence[KeyColumn] | None = None,
    ) -> None:
        """Fold in one batch's kept rows: their result, labels, predictions and group keys."""
        if result.rows == 0:
            return
        true_class: IndexArray | None = None
        if self.kind == "categorical":
            values, true_class = self._categorical(result, labels, preds, lines, weights)
        elif self.kind == "binary":
            values = self._binary(result, labels, preds, lines, weights)
        else:
            zeros = np.zeros(result.rows)
            values = RowValues(
                result.row_totals, result.row_divisors, result.per_row, lines, weights,
                zeros, None, zeros, None,
            )  # fmt: skip
        self.overall.add(values)
        if true_class is not None and self.class_tallies:
            for code, rows in _split(values, true_class, self.classes):
                self.class_tallies[code].add(rows)
        if self.by:
            if keys is None:
                raise ValueError("group keys are needed for by")
            self._update_groups(values, keys)

    def _categorical(
        self,
        result: RowLosses | LossResult,
        labels: FloatArray,
        scores: FloatArray,
        lines: npt.NDArray[np.int64],
        weights: FloatArray | None,
    ) -> tuple[RowValues, IndexArray]:
        true_class, rank, p_true = self._ranked(labels, scores)
        correct = (rank == 0).astype(np.float64)
        top_k = None if self.top_k is None else (rank < self.top_k).astype(np.float64)
        values = RowValues(
            result.row_totals, result.row_divisors, result.per_row, lines, weights, correct,
            top_k, p_true, None,
        )  # fmt: skip
        return values, true_class

    def _ranked(
        self, labels: FloatArray, scores: FloatArray
    ) -> tuple[IndexArray, IndexArray, FloatArray]:
        """Each row's true class, its rank (0 for the top class) and its probability."""
        rows = np.arange(scores.shape[0])
        # One label per row is a class index, but for one class: a one-hot column then.
        if labels.shape[1] == 1 and scores.shape[1] > 1:
            true_class: IndexArray = labels[:, 0].astype(np.intp)
        else:
            true_class = np.argmax(labels, axis=1).astype(np.intp)
        true_score = scores[rows, true_class][:, np.newaxis]
        rank: IndexArray = np.count_nonzero(scores > true_score, axis=1)
        # Rows where another class ties with the true one (few): the lower index ranks first.
        tied = np.flatnonzero(np.count_nonzero(scores == true_score, axis=1) > 1)
        if tied.size:
            level = scores[tied] == true_score[tied]
            before = np.arange(scores.shape[1]) < true_class[tied, np.newaxis]
            rank[tied] += np.count_nonzero(level & before, axis=1)
        if self.logits:
            p_true: FloatArray = np.exp(log_softmax(scores)[rows, true_class])
        elif self.normalize:
            p_true = scores[rows, true_class] / scores.sum(axis=1)
        else:
            p_true = scores[rows, true_class]
        return true_class, rank, p_true

    def row_details(self, labels: FloatArray, scores: FloatArray) -> dict[str, list[object]]:
        """Per-row columns for the per-row output, in :data:`ROW_COLUMNS`: the true and the
        predicted class (binary outputs: the positive ones, joined by ``|``), the probability
        of the true class (binary: its mean over the outputs), the true class's rank (1 for
        the top class; empty for binary outputs) and whether the row is right (binary: every
        output right), as 1 or 0."""
        names = self.class_names
        if self.kind == "categorical":
            true_class, rank, p_true = self._ranked(labels, scores)
            predicted = np.argmax(scores, axis=1)  # the first of equal maxima, as ranks do
            return {
                "label": [names[c] for c in true_class.tolist()],
                "pred": [names[c] for c in predicted.tolist()],
                "p_true": p_true.tolist(),
                "rank": (rank + 1).tolist(),
                "correct": (rank == 0).astype(np.int64).tolist(),
            }
        if self.kind != "binary":
            raise InputError("per-row details need a true class or outcome (not kl or grad)")
        positive = labels >= 0.5
        if self.logits:
            cut = math.log(self.threshold / (1.0 - self.threshold))
            predicted_positive = scores > cut
            p_outcome = sigmoid(np.where(positive, scores, -scores))
        else:
            predicted_positive = scores > self.threshold
            p_outcome = np.where(positive, scores, 1.0 - scores)

        def joined(mask: npt.NDArray[np.bool_]) -> list[object]:
            return ["|".join(n for n, on in zip(names, row, strict=True) if on) for row in mask]

        return {
            "label": joined(positive),
            "pred": joined(predicted_positive),
            "p_true": p_outcome.mean(axis=1).tolist(),
            "rank": [""] * scores.shape[0],
            "correct": (predicted_positive == positive).all(axis=1).astype(np.int64).tolist(),
        }

    def _binary(
        self,
        result: RowLosses | LossResult,
        labels: FloatArray,
        scores: FloatArray,
        lines: npt.NDArray[np.int64],
        weights: FloatArray | None,
    ) -> RowValues:
        positive = labels >= 0.5
        offset: FloatArray | None = None
        if self.logits:
            # σ(z) > t exactly when z > log(t / (1 - t)); 0 for t = 1/2, with no rounding.
            cut = math.log(self.threshold / (1.0 - self.threshold))
            predicted = scores > cut
            # The true outcome's probability is σ(z) or σ(-z): both accurate in the tails.
            p_outcome = sigmoid(np.where(positive, scores, -scores))
        else:
            predicted = scores > self.threshold
            p_outcome = np.where(positive, scores, -scores)  # 1 - p = (-p) + 1, added exactly
            offset = np.count_nonzero(~positive, axis=1).astype(np.float64)
        right = predicted == positive
        outputs = scores.shape[1]
        correct = np.count_nonzero(right, axis=1).astype(np.float64)
        exact = right.all(axis=1).astype(np.float64) if outputs > 1 else None
        if self.output_tallies:
            self._update_outputs(result, positive, right, p_outcome, weights)
        return RowValues(
            result.row_totals, result.row_divisors, result.per_row, lines, weights, correct,
            None, p_outcome, exact, offset,
        )  # fmt: skip

    def _update_outputs(
        self,
        result: RowLosses | LossResult,
        positive: npt.NDArray[np.bool_],
        right: npt.NDArray[np.bool_],
        p_outcome: FloatArray,
        weights: FloatArray | None,
    ) -> None:
        terms, positive_terms = _output_terms(result)
        ones = ExactSum()
        if weights is None:
            ones.add_constant(1.0, positive.shape[0])
        else:
            ones.add(weights)
        self.output_weight += ones
        for column, tally in enumerate(self.output_tallies):
            tally.positives += int(np.count_nonzero(positive[:, column]))
            tally.loss += _weighted(terms[:, column], weights)
            if positive_terms is not None:
                tally.positive_loss += _weighted(positive_terms[:, column], weights)
            else:
                tally.split = False
            tally.correct += _counted(right[:, column], weights)
            tally.p_true += _weighted(p_outcome[:, column], weights)
            if not self.logits:
                tally.p_true += _counted(~positive[:, column], weights)

    def _update_groups(self, values: RowValues, keys: Sequence[KeyColumn]) -> None:
        codes, found = _group_codes(keys)
        batch = GroupBatch.of(values, codes, len(found))
        tallies = []
        for key in found:  # each found in the batch: every code has rows
            tally = self.groups.get(key)
            if tally is None:
                if len(self.groups) >= GROUP_LIMIT:
                    raise InputError(
                        f"more than {GROUP_LIMIT:,} distinct values of {', '.join(self.by)}: "
                        "group by a column with fewer distinct values"
                    )
                tally = self.groups[key] = Tally()
            tallies.append(tally)
        batch.add_all(tallies)

    # --- merge and compute ----------------------------------------------------------------

    def merge(self, other: Evaluation) -> None:
        """Fold in the state of other rows of the same file, scored with the same settings."""
        settings = (self.kind, self.classes, self.top_k, self.threshold, self.per_class, self.by)
        if settings != (
            other.kind,
            other.classes,
            other.top_k,
            other.threshold,
            other.per_class,
            other.by,
        ):
            raise ValueError("cannot merge evaluations made with different settings")
        self.overall.merge(other.overall)
        for mine, theirs in zip(self.class_tallies, other.class_tallies, strict=True):
            mine.merge(theirs)
        for output, their_output in zip(self.output_tallies, other.output_tallies, strict=True):
            output.merge(their_output)
        self.output_weight += other.output_weight
        for key, tally in other.groups.items():
            if key not in self.groups:
                if len(self.groups) >= GROUP_LIMIT:
                    raise InputError(
                        f"more than {GROUP_LIMIT:,} distinct values of {', '.join(self.by)}: "
                        "group by a column with fewer distinct values"
                    )
                self.groups[key] = Tally()
            self.groups[key].merge(tally)

    def compute(self, reduction: Reduction) -> EvaluationReport:
        total = self.overall
        accuracy = None
        if self.kind is not None and total.rows and not total.weight.is_zero():
            outputs = self.classes if self.kind == "binary" else 1
            elements = _times(total.weight, outputs)
            several = self.kind == "binary" and outputs > 1
            accuracy = Accuracy(
                accuracy=total.correct.ratio(elements),
                mean_p_true=total.p_true.ratio(elements),
                top_k=self.top_k,
                top_k_accuracy=total.top_k.ratio(total.weight) if self.top_k else None,
                threshold=self.threshold if self.kind == "binary" else None,
                exact_match=total.exact.ratio(total.weight) if several else None,
            )
        per_class = None
        if self.class_tallies:
            per_class = tuple(
                self._row(tally, (name,), reduction)
                for name, tally in zip(self.class_names, self.class_tallies, strict=True)
            )
        elif self.output_tallies:
            per_class = tuple(
                self._output_row(name, tally, reduction)
                for name, tally in zip(self.class_names, self.output_tallies, strict=True)
            )
        groups = None
        if self.by:
            rows = [self._row(tally, key, reduction) for key, tally in self.groups.items()]
            # Worst first; NaN losses last, groups without a loss after them; then by value.
            rows.sort(key=lambda row: (_loss_order(row.loss), row.key))
            groups = tuple(rows)
        return EvaluationReport(
            accuracy=accuracy, per_class=per_class, groups=groups, group_by=self.by
        )

    def _row(self, tally: Tally, key: tuple[str, ...], reduction: Reduction) -> Breakdown:
        weighted = tally.rows > 0 and not tally.weight.is_zero()
        outputs = self.classes if self.kind == "binary" else 1
        loss: float | None = None
        if tally.rows:
            if reduction == "sum":
                loss = tally.loss.value()
            elif not tally.divisor.is_zero():
                loss = tally.loss.ratio(tally.divisor)
        share = None
        if tally.rows and not self.overall.loss.is_zero():
            share = tally.loss.ratio(self.overall.loss)
        accuracy = mean_p = top_k = None
        if self.kind is not None and weighted:
            elements = _times(tally.weight, outputs)
            accuracy = tally.correct.ratio(elements)
            mean_p = tally.p_true.ratio(elements)
            top_k = tally.top_k.ratio(tally.weight) if self.top_k else None
        worst_line = worst_loss = None
        if tally.worst is not None:
            worst_loss, worst_line = tally.worst[0], -tally.worst[1]
        return Breakdown(
            name="/".join(key), key=key, rows=tally.rows, weight=tally.weight.value(),
            loss=loss, share=share, accuracy=accuracy, top_k_accuracy=top_k,
            mean_p_true=mean_p, worst_line=worst_line, worst_loss=worst_loss, top_k=self.top_k,
        )  # fmt: skip

    def _output_row(self, name: str, tally: OutputTally, reduction: Reduction) -> Breakdown:
        rows = self.overall.rows
        weight = self.output_weight
        defined = rows > 0 and not weight.is_zero()

        def reduced(part: ExactSum) -> float | None:
            if reduction == "sum":
                return part.value()
            return part.ratio(weight) if defined else None

        negative = tally.loss + _negated(tally.positive_loss)
        share = None if self.overall.loss.is_zero() else tally.loss.ratio(self.overall.loss)
        return Breakdown(
            name=name, key=(name,), rows=rows, weight=weight.value(), loss=reduced(tally.loss),
            share=share, accuracy=tally.correct.ratio(weight) if defined else None,
            top_k_accuracy=None,
            mean_p_true=tally.p_true.ratio(weight) if defined else None,
            worst_line=None, worst_loss=None, positives=tally.positives,
            positive_loss=reduced(tally.positive_loss) if tally.split else None,
            negative_loss=reduced(negative) if tally.split else None,
        )  # fmt: skip


def _times(total: ExactSum, count: int) -> ExactSum:
    """``total · count`` exactly (count ≥ 1); ``total`` itself for 1, as only read."""
    if count == 1:  # one output per row: no copy for each of many groups
        return total
    product = total + ExactSum()
    product.scaled *= count
    return product


def _negated(total: ExactSum) -> ExactSum:
    negative = ExactSum()
    negative.scaled = -total.scaled
    negative.positive_infinite = total.negative_infinite
    negative.negative_infinite = total.positive_infinite
    negative.nan = total.nan
    return negative


def _loss_order(loss: float | None) -> tuple[int, float]:
    if loss is None:
        return (2, 0.0)
    if math.isnan(loss):
        return (1, 0.0)
    return (0, -loss)


def _split(values: RowValues, codes: IndexArray, count: int) -> Iterator[tuple[int, RowValues]]:
    """The rows of each code present, in file order within each.

    The rows are put in code order once; each code's rows are then a slice of them (a view),
    not a copy of every array per code."""
    # A stable sort of 16-bit codes is a radix sort: linear, several times quicker.
    narrow = codes.astype(np.uint16) if count <= 1 << 16 else codes
    ordered = values.take(np.argsort(narrow, kind="stable"))
    ends = np.cumsum(np.bincount(codes, minlength=count)).tolist()
    start = 0
    for code, end in enumerate(ends):
        if end > start:
            yield code, ordered.take(slice(start, end))
        start = end


def _group_codes(keys: Sequence[KeyColumn]) -> tuple[IndexArray, list[tuple[str, ...]]]:
    """A code per row for its combination of key values, and the combinations found."""
    codes: npt.NDArray[np.int64] = np.zeros(len(keys[0].codes), dtype=np.int64)
    found: list[tuple[str, ...]] = [()]
    for column in keys:
        width = len(column.values)
        combined = codes * width + column.codes.astype(np.int64)
        # Renumbered after each column: the codes stay below the number of rows.
        present, inverse = _renumbered(combined)
        found = [found[code // width] + (column.values[code % width],) for code in present.tolist()]
        codes = inverse.reshape(-1)
    return codes.astype(np.intp), found


def _renumbered(codes: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], IndexArray]:
    """The distinct codes in order, and each row's index among them (``np.unique`` with
    ``return_inverse``): by counting when the codes span little more than the rows, which
    is linear where a sort is not."""
    span = int(codes.max()) + 1 if codes.size else 0
    if not codes.size or span > max(1 << 16, 4 * codes.size):
        present, inverse = np.unique(codes, return_inverse=True)
        return present, inverse.reshape(-1)
    seen = np.bincount(codes, minlength=span) > 0
    renumber = np.cumsum(seen) - 1
    return np.flatnonzero(seen).astype(np.int64), renumber[codes]


def _output_terms(result: RowLosses | LossResult) -> tuple[FloatArray, FloatArray | None]:
    """Each binary output's term of the loss, and the part of it from positive labels."""
    positive = getattr(result, "positive_terms", None)
    negative = getattr(result, "negative_terms", None)
    if isinstance(positive, np.ndarray) and isinstance(negative, np.ndarray):
        total: FloatArray = positive + negative  # one of the two is 0 for a 0/1 label
        return total, positive
    terms = getattr(result, "terms", None)
    if isinstance(terms, np.ndarray):
        return terms, None
    raise ValueError("per-output results need the loss's per-term values")


def kind_of_loss(loss: str, *, binary: bool = False) -> Kind | None:
    """How a loss's predictions are judged right: one true class per row (``ce``, ``smooth``,
    ``focal``), one 0/1 outcome per output (``bce``, ``multilabel``, ``focal --binary``), or
    not at all (``kl``, ``grad``)."""
    if loss in ("ce", "smooth") or (loss == "focal" and not binary):
        return "categorical"
    if loss in ("bce", "multilabel", "focal"):
        return "binary"
    return None


def evaluate(
    result: LossResult,
    labels: FloatArray,
    preds: FloatArray,
    *,
    loss: str,
    logits: bool = False,
    normalize: bool = False,
    binary: bool = False,
    top_k: int | None = None,
    threshold: float = 0.5,
    sample_weights: FloatArray | None = None,
) -> Accuracy | None:
    """Accuracy beside a typed input's loss, as a file's summary has it: top-1, top-k and the
    mean probability of the true class (``ce``, ``smooth``, ``focal``), or accuracy at
    ``threshold`` (``bce``, ``multilabel``, ``focal`` with ``binary``); None for ``kl`` and
    ``grad``, and for rows whose weights sum to 0."""
    kind = kind_of_loss(loss, binary=binary)
    if kind is None:
        return None
    # The targets the loss used (one-hot rows for class indices), so that labels are read
    # the way the loss read them whatever their form.
    matrix = np.atleast_2d(np.asarray(result.preds, dtype=np.float64))
    targets = np.atleast_2d(np.asarray(result.targets, dtype=np.float64))
    if targets.shape != matrix.shape or (kind == "categorical" and matrix.shape[1] < 2):
        return None  # one class: nothing to rank
    names = [str(c) for c in range(matrix.shape[1])]
    evaluation = Evaluation.create(
        kind, names, logits=logits, normalize=normalize, top_k=top_k, threshold=threshold
    )
    lines = np.arange(1, matrix.shape[0] + 1, dtype=np.int64)
    weights = None if sample_weights is None else np.asarray(sample_weights, dtype=np.float64)
    if weights is not None and weights.size == 1:
        weights = np.full(matrix.shape[0], float(weights.reshape(-1)[0]))
    evaluation.update(result, targets, matrix, lines, weights)
    return evaluation.compute(result.reduction).accuracy
