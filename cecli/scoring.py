"""Scoring a file from Python: the same pipeline as ``cecli ce --csv FILE``, without argv.

:func:`score_file` opens a CSV (``.csv.gz`` too) or Parquet file, or a labels file beside a
predictions file, picks the columns, scores every record batch with the loss's own function
and returns the :class:`~cecli.batch.BatchSummary` that ``--json`` prints.  Per-row values and
progress reach the caller through callbacks; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from cecli import losses
from cecli.batch import BatchSummary, Problem, Rejected, rejected_rows, score_table
from cecli.evaluation import Evaluation, Kind
from cecli.files import Batch, Columns, Family, open_table, select_columns
from cecli.inputs import InputError
from cecli.numerics import FloatArray
from cecli.results import LossResult, Reduction, RowLosses

LossName = Literal["ce", "bce", "multilabel", "kl", "grad", "smooth", "focal"]
FileKind = Literal["csv", "parquet"]
PathLike = str | os.PathLike[str]

LOSS_FUNCTIONS: dict[LossName, Callable[..., LossResult]] = {
    "ce": losses.categorical_cross_entropy,
    "bce": losses.binary_cross_entropy,
    "multilabel": losses.multilabel_cross_entropy,
    "kl": losses.kl_divergence,
    "grad": losses.logit_gradient,
    "smooth": losses.label_smoothing,
    "focal": losses.focal_loss,
}
"""Each loss's function; its keyword arguments are the options :func:`score_file` takes."""


@dataclass(frozen=True, eq=False)
class ScoredRows:
    """One record batch's scored rows, handed to ``on_rows`` in file order."""

    batch: Batch
    keep: npt.NDArray[np.bool_]
    """Which of the batch's rows were scored (the others were blank or skipped as invalid)."""
    result: RowLosses | LossResult
    """The loss of the kept rows; a :class:`~cecli.results.GradResult` for ``grad``."""
    columns: Columns
    class_labels: tuple[str, ...]
    """The class names given, else the prediction columns' names."""
    evaluation: Evaluation | None = None

    def kept(self) -> dict[str, list[str]]:
        """Each ``keep`` column's text for the scored rows."""
        found = self.batch.kept or []
        return {
            name: [column.values[code] for code in column.codes[self.keep].tolist()]
            for name, column in zip(self.columns.keep, found, strict=True)
        }

    def details(self) -> dict[str, list[object]]:
        """Per-row label, pred, p_true, rank and correct of the scored rows
        (:meth:`cecli.evaluation.Evaluation.row_details`)."""
        if self.evaluation is None:
            raise InputError("per-row details need a true class or outcome (not kl or grad)")
        labels, preds = self.batch.labels[self.keep], self.batch.preds[self.keep]
        return self.evaluation.row_details(labels, preds)

    @property
    def lines(self) -> npt.NDArray[np.int64]:
        """CSV line (the header is line 1) or Parquet row of each scored row."""
        kept: npt.NDArray[np.int64] = np.asarray(self.batch.lines)[self.keep]
        return kept

    @property
    def ids(self) -> list[str] | None:
        """The ``id_col`` value of each scored row, if an id column was named."""
        if self.batch.ids is None:
            return None
        return [i for i, k in zip(self.batch.ids, self.keep, strict=True) if k]

    @property
    def losses(self) -> FloatArray:
        """Each scored row's loss."""
        return self.result.per_row


@dataclass(frozen=True)
class ScoringProgress:
    """How far scoring has come: sent once before the first batch, then after each batch."""

    rows_read: int
    rows_added: int
    """Rows read since the previous report (blank and skipped rows count)."""
    rows_expected: int
    """An estimate from the file's size (CSV) or its metadata (Parquet)."""
    size_bytes: int


def score_file(
    path_or_table: PathLike | tuple[PathLike, PathLike],
    loss: LossName = "ce",
    *,
    logits: bool | None = None,
    probs: bool | None = None,
    sigmoid: bool | None = None,
    binary: bool | None = None,
    eps: float | None = None,
    base: str | None = None,
    reduction: Reduction = "mean",
    weights: npt.ArrayLike | None = None,
    smoothing: float | None = None,
    normalize: bool | None = None,
    pos_weight: float | None = None,
    neg_weight: float | None = None,
    gamma: float | None = None,
    alpha: float | None = None,
    class_names: Sequence[str] | None = None,
    label_col: str | None = None,
    label_cols: str | None = None,
    pred_cols: str | None = None,
    weight_col: str | None = None,
    id_col: str | None = None,
    delimiter: str | None = None,
    kind: FileKind | None = None,
    skip_invalid: bool = False,
    on_rows: Callable[[ScoredRows], None] | None = None,
    on_progress: Callable[[ScoringProgress], None] | None = None,
    stdin: IO[bytes] | None = None,
    per_class: bool = False,
    by: str | Sequence[str] | None = None,
    top_k: int | None = None,
    threshold: float = 0.5,
    keep: str | Sequence[str] | None = None,
    on_rejects: Callable[[Rejected], None] | None = None,
) -> BatchSummary:
    """Score every row of a file with ``loss`` and summarise, as ``cecli LOSS --csv FILE``.

    ``path_or_table`` is one file, or ``(labels_path, preds_path)``.  A ``.parquet`` name is
    read as Parquet and any other as CSV (``.gz`` too), unless ``kind`` says; ``"-"`` reads
    ``stdin`` (default: standard input).  The loss options (``logits``, ``eps``, ``base``,
    ``weights``, ``smoothing``, ``gamma``…) are those of the loss's function, e.g.
    :func:`cecli.ce`; None leaves the function's default, and an option the loss does not
    take raises :class:`~cecli.InputError`.  ``label_col`` (one column of class indices or
    names), ``label_cols`` and ``pred_cols`` (names or globs such as ``"p*"``), ``weight_col``
    and ``id_col`` pick the columns.  With ``skip_invalid`` invalid rows are counted and left
    out instead of raising.

    ``on_rows`` receives each batch's scored rows in file order (:class:`ScoredRows`),
    ``on_progress`` a :class:`ScoringProgress` before the first batch and after each one.

    Accuracy comes beside the loss for ``ce``, ``focal``, ``smooth`` (top-1, top-``top_k``
    with 5 by default past 5 classes, mean probability of the true class) and ``bce``,
    ``multilabel`` (at ``threshold``); see :mod:`cecli.evaluation`.  ``per_class`` adds one
    row per class (per output for binary losses), ``by`` (column names, or one string of
    names separated by commas) one row per distinct value of those columns.  ``keep`` columns
    reach ``on_rows`` as text (:meth:`ScoredRows.kept`), beside :meth:`ScoredRows.details`.
    With ``skip_invalid``, ``on_rejects`` receives the skipped rows read again from the file
    (one file only), each with its line and reason, once every row is scored.
    """
    if loss not in LOSS_FUNCTIONS:
        known = ", ".join(LOSS_FUNCTIONS)
        raise InputError(f"loss must be one of {known}, got {loss!r}", parameter="loss")
    given = {
        "logits": logits, "probs": probs, "sigmoid": sigmoid, "binary": binary, "eps": eps,
        "base": base, "weights": weights, "smoothing": smoothing, "normalize": normalize,
        "pos_weight": pos_weight, "neg_weight": neg_weight, "gamma": gamma, "alpha": alpha,
    }  # fmt: skip
    options = loss_options(loss, {k: v for k, v in given.items() if v is not None})
    options["reduction"] = reduction
    if reduction not in get_args(Reduction):
        raise InputError(
            f"reduction must be mean, sum or none, got {reduction!r}", parameter="reduction"
        )
    names = tuple(class_names) if class_names is not None else None
    compute = _batch_function(loss, options, names)
    group_by = _column_list(by)
    probabilities = not logits if probs is None else probs
    sources = (
        [os.fspath(path_or_table[0]), os.fspath(path_or_table[1])]
        if isinstance(path_or_table, tuple)
        else [os.fspath(path_or_table)]
    )
    reader = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
    with open_table(*sources, kind=kind, delimiter=delimiter, stdin=reader) as table:
        columns = select_columns(
            table.columns, _family(loss, options), label_col=label_col, label_cols=label_cols,
            pred_cols=pred_cols, weight_col=weight_col, id_col=id_col, group_by=group_by,
            keep=_column_list(keep),
        )  # fmt: skip
        if names is None and columns.class_names is not None:
            names = columns.class_names  # from the prediction columns' names (p_<class>)
            compute = _batch_function(loss, options, names)
        class_labels = names if names is not None else tuple(columns.preds)
        evaluation = evaluation_for(
            loss, options, class_labels, per_class=per_class, by=group_by, top_k=top_k,
            threshold=threshold,
        )  # fmt: skip
        if per_class and evaluation is not None and evaluation.kind == "binary":
            compute = _batch_function(loss, options, names, full=True)
        expected, size = table.estimated_rows(), table.size
        read = 0

        def report(rows: int) -> None:
            nonlocal read
            read += rows
            if on_progress is not None:
                on_progress(ScoringProgress(read, rows, expected, size))

        def hand_on(
            batch: Batch, keep: npt.NDArray[np.bool_], result: RowLosses | LossResult
        ) -> None:
            if on_rows is not None:
                on_rows(ScoredRows(batch, keep, result, columns, class_labels, evaluation))

        skipped: dict[int, str] = {}

        def note_skipped(batch: Batch, problems: list[Problem]) -> None:
            for problem in problems:
                skipped[int(batch.lines[problem.row])] = f"{problem.column}: {problem.reason}"

        report(0)
        accumulator = score_table(
            table, columns, compute, probabilities=probabilities,
            class_names=list(names) if names is not None else None, skip_invalid=skip_invalid,
            on_rows=hand_on if on_rows is not None else None, on_progress=report,
            evaluation=evaluation, on_skipped=note_skipped if on_rejects is not None else None,
        )  # fmt: skip
        summary = accumulator.compute(reduction=reduction, source=table.display)
        if on_rejects is not None:
            on_rejects(rejected_rows(table, skipped))
        weighted = columns.weight is not None or options.get("weights") is not None
        return dataclasses.replace(summary, weighted=weighted, notes=columns.notes)


def _column_list(by: str | Sequence[str] | None) -> tuple[str, ...]:
    """``by`` as column names: a string is names separated by commas."""
    if by is None:
        return ()
    parts = [by] if isinstance(by, str) else list(by)
    names = [name.strip() for part in parts for name in str(part).split(",") if name.strip()]
    return tuple(dict.fromkeys(names))


def evaluation_for(
    loss: LossName,
    options: dict[str, Any],
    class_labels: Sequence[str],
    *,
    per_class: bool = False,
    by: Sequence[str] = (),
    top_k: int | None = None,
    threshold: float = 0.5,
) -> Evaluation | None:
    """The evaluation state a loss's file is scored with: accuracy where the loss has a true
    class or outcome, groups for any loss; None for ``kl`` and ``grad`` without groups."""
    kind: Kind | None = None
    if loss in ("ce", "smooth") or (loss == "focal" and not options.get("binary")):
        kind = "categorical"
    elif loss in ("bce", "multilabel") or loss == "focal":
        kind = "binary"
    if kind is None and not (by or per_class or top_k is not None):
        return None
    return Evaluation.create(
        kind, class_labels, logits=bool(options.get("logits")),
        normalize=bool(options.get("normalize")), top_k=top_k, threshold=threshold,
        per_class=per_class, by=by,
    )  # fmt: skip


def loss_options(loss: LossName, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` after checking that ``loss``'s function takes every one of them."""
    accepted = inspect.signature(LOSS_FUNCTIONS[loss]).parameters
    for name in given:
        if name not in accepted or name in ("labels", "preds"):
            raise InputError(f"{name} does not go with loss {loss!r}", parameter=name)
    return dict(given)


def _family(loss: LossName, options: dict[str, Any]) -> Family:
    """Which columns the loss reads: class indices or one-hot rows, 0/1 columns, or P and Q."""
    if loss == "kl":
        return "kl"
    if loss in ("bce", "multilabel"):
        return "binary"
    if loss == "grad":
        return "binary" if options.get("sigmoid") else "categorical"
    if loss == "focal":
        return "binary" if options.get("binary") else "categorical"
    return "categorical"


def _batch_function(
    loss: LossName, options: dict[str, Any], names: tuple[str, ...] | None, *, full: bool = False
) -> Callable[[FloatArray, FloatArray], RowLosses | LossResult]:
    """What scores one batch: per-row values only, except ``grad``'s per-row gradients and,
    with ``full``, the whole result (per-output terms, for a per-output breakdown)."""
    function = LOSS_FUNCTIONS[loss]
    takes_names = "class_names" in inspect.signature(function).parameters
    named: dict[str, Any] = {"class_names": names} if takes_names else {}
    if full:

        def full_result(y: FloatArray, p: FloatArray) -> LossResult:
            return function(y, p, **options, **named)

        return full_result
    if loss == "ce":
        # Faster than the full result: the true class's probability alone, by index.
        row_options = {k: v for k, v in options.items() if k != "reduction"}

        def ce_rows(y: FloatArray, p: FloatArray) -> RowLosses:
            return losses.categorical_cross_entropy_rows(y, p, **row_options, **named)

        return ce_rows
    if loss == "grad":
        # Each row's own gradient, not its share of the mean's.
        own = {**options, "reduction": "sum" if options["reduction"] == "sum" else "none"}

        def grad_rows(y: FloatArray, p: FloatArray) -> LossResult:
            return function(y, p, **own, **named)

        return grad_rows

    def rows(y: FloatArray, p: FloatArray) -> RowLosses:
        return function(y, p, **options, **named).row_losses()

    return rows
