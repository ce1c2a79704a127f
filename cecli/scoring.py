"""Scoring a file from Python: the same pipeline as ``cecli ce --csv FILE``, without argv.

:func:`score_file` opens a CSV (``.csv.gz`` too) or Parquet file, or a labels file beside a
predictions file, picks the columns, scores every record batch with the loss's own function
and returns the :class:`~cecli.batch.BatchSummary` that ``--json`` prints.  Per-row values and
progress reach the caller through callbacks; nothing here prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import inspect
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from cecli import losses
from cecli.batch import (
    Accumulator,
    BatchSummary,
    FileSummary,
    Problem,
    Rejected,
    Skip,
    rejected_rows,
    score_table,
    skip_of,
)
from cecli.files import Batch, Columns, Family, Table, open_table, select_columns
from cecli.inputs import InputError, check_ignore_index_value, class_name_tuple
from cecli.numerics import FloatArray
from cecli.registry import LOSSES, Command
from cecli.results import LossResult, Reduction, RowLosses
from cecli.sources import InputFile, expand_all, fetch, kind_of

if TYPE_CHECKING:  # imported when a file is scored as an evaluation (not for -q)
    from cecli.evaluation import Evaluation

LossName = Command
FileKind = Literal["csv", "parquet"]
PathLike = str | os.PathLike[str]

LOSS_FUNCTIONS: dict[LossName, Callable[..., LossResult]] = {
    name: loss.function for name, loss in LOSSES.items()
}
"""Each loss's function (:data:`cecli.registry.LOSSES`); its keyword arguments are the
options :func:`score_file` takes."""


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
    source: str = ""
    """The file (or labels file + predictions file) the rows are in."""
    ignore_index: int | None = None
    """Rows labelled so are kept with a loss of 0 (left out of every sum)."""

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
        if self.ignore_index is None:
            return self.evaluation.row_details(labels, preds)
        # An ignored row has no true class: its details are empty.
        scored = labels[:, 0] != self.ignore_index
        found = self.evaluation.row_details(labels[scored], preds[scored])
        details: dict[str, list[object]] = {}
        for name, values in found.items():
            column: list[object] = [None] * len(scored)
            for position, value in zip(np.flatnonzero(scored).tolist(), values, strict=True):
                column[position] = value
            details[name] = column
        return details

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
    tasks_done: int | None = None
    """On a cluster: the tasks finished so far (None on one machine)."""
    tasks: int | None = None
    """On a cluster: the tasks in all."""


Paths = PathLike | Sequence[PathLike]
"""One argument (a file, a folder of parts, a glob or a URL) or a list of them."""

_LINE_BITS = 40
"""Lines of different inputs are told apart while merged: ``(input << 40) | line``."""


def score_file(
    path_or_table: Paths | tuple[Paths, Paths],
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
    ignore_index: int | None = None,
    class_names: Sequence[str] | None = None,
    label_col: str | None = None,
    label_cols: str | None = None,
    pred_cols: str | None = None,
    weight_col: str | None = None,
    id_col: str | None = None,
    delimiter: str | None = None,
    kind: FileKind | None = None,
    skip_invalid: bool = False,
    by_file: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    dask: str | None = None,
    on_rows: Callable[[ScoredRows], None] | None = None,
    on_progress: Callable[[ScoringProgress], None] | None = None,
    stdin: IO[bytes] | None = None,
    per_class: bool = False,
    by: str | Sequence[str] | None = None,
    top_k: int | None = None,
    threshold: float = 0.5,
    keep: str | Sequence[str] | None = None,
    on_rejects: Callable[[Rejected], None] | None = None,
    details: bool = True,
    output: PathLike | None = None,
    output_format: str | None = None,
    row_columns: Sequence[str] = (),
) -> BatchSummary:
    """Score every row of a file with ``loss`` and summarise, as ``cecli LOSS --csv FILE``.

    ``path_or_table`` is one file, a list of them, or ``(labels_path, preds_path)``.  A
    ``.parquet`` name is read as Parquet and any other as CSV (``.gz`` too), unless ``kind``
    says; ``"-"`` reads ``stdin`` (default: standard input).  The loss options (``logits``,
    ``eps``, ``base``, ``weights``, ``smoothing``, ``gamma``…) are those of the loss's function,
    e.g. :func:`cecli.ce`; None leaves the function's default, and an option the loss does not
    take raises :class:`~cecli.InputError`.  ``label_col`` (one column of class indices or
    names), ``label_cols`` and ``pred_cols`` (names or globs such as ``"p*"``), ``weight_col``
    and ``id_col`` pick the columns.  With ``skip_invalid`` invalid rows are counted and left
    out instead of raising.  ``ignore_index`` (a class index, as :func:`cecli.ce` takes it)
    leaves out the rows labelled so: they count in the summary's ``ignored`` and nowhere else,
    and their per-row value is 0.

    Many inputs: a list of paths, a glob (``"preds/part-*.csv.gz"``) or a folder of parts
    (see :mod:`cecli.sources`) are scored as one table, each file with its own header; worst
    rows and messages name the file.  In two-file mode each side may be such a list, and the
    files are paired in order.  ``by_file`` adds one :class:`~cecli.batch.FileSummary` per
    input.  URLs (``s3://…``, ``gs://…``, ``az://…``, ``https://…``, ``file://…``) are read
    through fsspec with ``storage_options``.  ``dask`` scores on a Dask cluster:
    ``"local"`` or ``"local:N"`` starts N worker processes here, ``"auto"`` takes the
    scheduler of Dask's configuration (``DASK_SCHEDULER_ADDRESS``), any other value is a
    scheduler's address (``tcp://host:8786``); see :mod:`cecli.distributed`.  The result is
    the same as on one machine, to the last bit.

    ``on_rows`` receives each batch's scored rows in file order (:class:`ScoredRows`),
    ``on_progress`` a :class:`ScoringProgress` before the first batch and after each one.
    ``details=False`` computes the loss, its extras and the counts only (what ``cecli … -q``
    prints): no percentiles, worst rows or accuracy, and a faster pass.
    ``output`` writes each row's loss (and ``row_columns`` of :meth:`ScoredRows.details`)
    to a folder of part files (a name ending in ``/``; CSV, or Parquet by ``output_format``)
    or to one CSV file, on one machine or on a cluster; see :mod:`cecli.parts`.
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
    check_ignore_index(loss, options, ignore_index)
    if reduction not in get_args(Reduction):
        raise InputError(
            f"reduction must be mean, sum or none, got {reduction!r}", parameter="reduction"
        )
    job = Job(
        loss=loss, options=options,
        names=class_name_tuple(class_names),
        label_col=label_col, label_cols=label_cols, pred_cols=pred_cols,
        weight_col=weight_col, id_col=id_col, delimiter=delimiter, kind=kind,
        skip_invalid=skip_invalid, storage_options=dict(storage_options or {}),
        per_class=per_class, group_by=_column_list(by, "by"), top_k=top_k, threshold=threshold,
        keep=_column_list(keep, "keep"), details=details or bool(row_columns),
        ignore_index=ignore_index,
    )  # fmt: skip
    specs, inputs = expand_inputs(path_or_table, job.storage_options)
    display = describe_inputs(specs, inputs)
    rows_out = None
    if output is not None:
        from cecli.parts import row_output

        rows_out = row_output(
            os.fspath(output), output_format, details=row_columns, grad=loss == "grad"
        )
    if dask is not None:
        if on_rows is not None:
            raise InputError(
                "per-row values from a cluster go to output (a file, or a folder ending in /), "
                "not to stdout",
                parameter="output",
            )
        from cecli.distributed import score_on_dask

        return score_on_dask(
            job, inputs, display, address=dask, by_file=by_file, on_progress=on_progress,
            rows=rows_out,
        )  # fmt: skip
    reader = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
    if on_rejects is not None and len(inputs) != 1:
        raise InputError("the rejected rows are written for one input only", parameter="rejects")

    def run(on_rows: Callable[[ScoredRows], None] | None) -> BatchSummary:
        if len(inputs) == 1 and not by_file:
            accumulator, _ = job.score_input(inputs[0], reader, on_rows, on_progress, on_rejects)
            summary = accumulator.compute(reduction=reduction, source=display)
            return job.finish(summary, accumulator)
        return _score_inputs(job, inputs, display, reader, by_file, on_rows, on_progress)

    if rows_out is not None:
        from cecli.parts import score_to_parts

        return score_to_parts(run, rows_out, local_paths(inputs), on_rows)
    return run(on_rows)


def local_paths(inputs: list[tuple[InputFile, ...]]) -> list[str]:
    """The local files among the inputs (an output must not be one of them)."""
    return [file.path for files in inputs for file in files if not file.remote]


def expand_inputs(
    path_or_table: Paths | tuple[Paths, Paths], storage_options: Mapping[str, Any]
) -> tuple[list[str], list[tuple[InputFile, ...]]]:
    """The arguments as given, and the inputs they name: one file each, or a labels file
    and a predictions file each (two-file mode, paired in order)."""

    def as_list(paths: Paths) -> list[str]:
        if isinstance(paths, str | os.PathLike):
            return [os.fspath(paths)]
        try:
            return [os.fspath(p) for p in paths]
        except TypeError:
            raise InputError(
                "path_or_table takes a path, a list of paths or globs, or a (labels, "
                f"predictions) pair of them, not {paths!r}",
                parameter="path_or_table",
            ) from None

    if isinstance(path_or_table, tuple) and len(path_or_table) == 2:
        labels, preds = (as_list(side) for side in path_or_table)
        label_files = expand_all(labels, storage_options)
        pred_files = expand_all(preds, storage_options)
        if len(label_files) != len(pred_files):
            raise InputError(
                f"{len(label_files)} labels file(s) but {len(pred_files)} predictions file(s); "
                "two-file mode pairs them in order"
            )
        pairs = list(zip(label_files, pred_files, strict=True))
        return [f"{', '.join(labels)} + {', '.join(preds)}"], [(a, b) for a, b in pairs]
    specs = as_list(path_or_table)
    if not specs:
        raise InputError("no input file given")
    return specs, [(file,) for file in expand_all(specs, storage_options)]


def describe_inputs(specs: list[str], inputs: list[tuple[InputFile, ...]]) -> str:
    """What the summary's ``source`` says: the file, or the arguments and how many files."""
    if len(inputs) == 1:
        return " + ".join(file.display for file in inputs[0])
    given = ", ".join(specs)
    what = "pairs of files" if len(inputs[0]) == 2 else "files"
    return given if len(specs) == len(inputs) else f"{given} ({len(inputs):,} {what})"


@dataclass(frozen=True)
class Job:
    """What to score and how, apart from the inputs: sent as it is to cluster workers."""

    loss: LossName
    options: dict[str, Any]
    names: tuple[str, ...] | None
    label_col: str | None
    label_cols: str | None
    pred_cols: str | None
    weight_col: str | None
    id_col: str | None
    delimiter: str | None
    kind: FileKind | None
    skip_invalid: bool
    storage_options: dict[str, Any]
    per_class: bool = False
    group_by: tuple[str, ...] = ()
    top_k: int | None = None
    threshold: float = 0.5
    keep: tuple[str, ...] = ()
    details: bool = True
    """Percentiles, worst rows and accuracy beside the loss (``score_file(details=…)``)."""
    ignore_index: int | None = None

    @property
    def reduction(self) -> Reduction:
        reduction: Reduction = self.options["reduction"]
        return reduction

    def kind_of(self, file: InputFile) -> FileKind:
        return self.kind or ("parquet" if kind_of(file.display) == "parquet" else "csv")

    def columns(self, table: Table) -> Columns:
        columns = select_columns(
            table.columns, _family(self.loss, self.options), label_col=self.label_col,
            label_cols=self.label_cols, pred_cols=self.pred_cols, weight_col=self.weight_col,
            id_col=self.id_col, group_by=self.group_by, keep=self.keep, shared=table.shared,
        )  # fmt: skip
        if self.names is not None and columns.class_names is not None:
            return _in_given_order(self.names, columns)
        return columns

    def finish(self, summary: BatchSummary, accumulator: Accumulator) -> BatchSummary:
        """``summary`` saying whether weights applied and what was guessed from the layout."""
        weighted = accumulator.weighted or self.options.get("weights") is not None
        independent = _family(self.loss, self.options) == "binary"
        ignored = None if self.ignore_index is None else accumulator.ignored
        return dataclasses.replace(
            summary,
            weighted=weighted,
            notes=tuple(accumulator.notes),
            independent=independent,
            ignored=ignored,
            logits=not accumulator.probabilities,
        )

    @contextlib.contextmanager
    def opened(
        self,
        files: tuple[InputFile, ...],
        stdin: IO[bytes] | None,
        local: tuple[str, ...] | None = None,
        names: Sequence[str] | None = None,
    ) -> Iterator[Table]:
        """The input as a table; a remote file is read from a local copy.  ``local`` replaces
        the files' paths (a block of a file, say); ``names`` are what messages call the files
        (their paths or URLs, unless given)."""
        with contextlib.ExitStack() as stack:
            paths = local or tuple(
                str(fetch(stack, f.location, self.kind_of(f), self.storage_options))
                if f.remote else f.path
                for f in files
            )  # fmt: skip
            kinds = {self.kind_of(f) for f in files}
            kind = self.kind or (kinds.pop() if len(kinds) == 1 else None)
            with open_table(
                *paths, kind=kind, delimiter=self.delimiter, stdin=stdin,
                names=list(names) if names is not None else [f.display for f in files],
            ) as table:  # fmt: skip
                yield table

    def score_table(
        self,
        table: Table,
        on_rows: Callable[[ScoredRows], None] | None = None,
        report: Callable[[int], None] | None = None,
        on_rejects: Callable[[Rejected], None] | None = None,
    ) -> Accumulator:
        """Every row of ``table`` scored into one accumulator."""
        columns = self.columns(table)
        if self.ignore_index is not None and not columns.label_index:
            raise InputError(
                "ignore_index needs one label column of class indices, not per-class columns "
                f"({', '.join(columns.labels[:3])}{', …' if len(columns.labels) > 3 else ''})",
                parameter=("ignore_index",),
            )
        options, said = self.options, list(columns.notes)
        if logits_by_name(self.loss, options, columns):
            options = {**options, "logits": True}
            said.append(
                f"the prediction columns {', '.join(columns.preds[:3])}"
                f"{', …' if len(columns.preds) > 3 else ''} hold logits: read as with logits=True"
            )
        names = self.names
        if names is None and columns.class_names is not None:
            names = columns.class_names  # from the prediction columns' names (p_<class>)
        class_labels = names if names is not None else tuple(columns.preds)
        evaluation = None
        if self.details:
            evaluation = evaluation_for(
                self.loss, options, class_labels, per_class=self.per_class,
                by=self.group_by, top_k=self.top_k, threshold=self.threshold,
            )  # fmt: skip
        full = self.per_class and evaluation is not None and evaluation.kind == "binary"

        def hand_on(
            batch: Batch, keep: npt.NDArray[np.bool_], result: RowLosses | LossResult
        ) -> None:
            if on_rows is not None:
                on_rows(ScoredRows(batch, keep, result, columns, class_labels, evaluation,
                                   table.display, self.ignore_index))  # fmt: skip

        skipped: dict[int, Skip] = {}

        def note_skipped(batch: Batch, problems: list[Problem]) -> None:
            for problem in problems:
                skipped[int(batch.lines[problem.row])] = skip_of(batch, problem)

        probs = options.get("probs")
        probabilities = not options.get("logits") if probs is None else bool(probs)
        accumulator = score_table(
            table, columns, _batch_function(self.loss, options, names, full=full),
            probabilities=probabilities,
            class_names=list(names) if names is not None else None,
            skip_invalid=self.skip_invalid,
            on_rows=hand_on if on_rows is not None else None, on_progress=report,
            evaluation=evaluation, on_skipped=note_skipped if on_rejects is not None else None,
            details=self.details,
            ignore_label=None if self.ignore_index is None else float(self.ignore_index),
            softmax_rows=_family(self.loss, self.options) != "binary",
            # ce's per-row function refuses every value find_problems would (tests check it),
            # but for one class: its one label per row is then a target probability, 0 to 1.
            compute_checks_values=self.loss == "ce" and not full and len(columns.preds) > 1,
        )  # fmt: skip
        accumulator.weighted = columns.weight is not None
        accumulator.class_names = columns.class_names if self.names is None else None
        accumulator.probabilities = probabilities
        accumulator.notes = said
        if on_rejects is not None:
            on_rejects(rejected_rows(table, skipped))
        return accumulator

    def score_input(
        self,
        files: tuple[InputFile, ...],
        stdin: IO[bytes] | None,
        on_rows: Callable[[ScoredRows], None] | None,
        on_progress: Callable[[ScoringProgress], None] | None,
        on_rejects: Callable[[Rejected], None] | None = None,
        *,
        before: tuple[int, int] = (0, 0),
        rows_per_byte: float | None = None,
        total_bytes: int | None = None,
    ) -> tuple[Accumulator, int]:
        """One input scored, and how many bytes it has; progress counts on from ``before``
        (rows, bytes already read) towards an estimate of all inputs."""
        with self.opened(files, stdin) as table:
            size = table.size
            expected = table.estimated_rows()
            if total_bytes is not None:
                per_byte = rows_per_byte if rows_per_byte is not None else expected / max(size, 1)
                expected = before[0] + expected + int(per_byte * (total_bytes - before[1] - size))
            read = before[0]

            def report(rows: int) -> None:
                nonlocal read
                read += rows
                if on_progress is not None:
                    on_progress(ScoringProgress(read, rows, expected, total_bytes or size))

            if before == (0, 0):
                report(0)
            return self.score_table(table, on_rows, report, on_rejects), size


def _score_inputs(
    job: Job,
    inputs: list[tuple[InputFile, ...]],
    display: str,
    stdin: IO[bytes] | None,
    by_file: bool,
    on_rows: Callable[[ScoredRows], None] | None,
    on_progress: Callable[[ScoringProgress], None] | None,
) -> BatchSummary:
    """Inputs scored one after the other into one accumulator, in input order."""
    total = Accumulator()
    shares: list[FileSummary] = []
    names = [" + ".join(file.display for file in files) for files in inputs]
    total_bytes = sum(_size(files) for files in inputs)
    rows = done = 0
    classes: tuple[int, str] | None = None
    named: tuple[tuple[str, ...], str] | None = None
    for index, files in enumerate(inputs):
        try:
            accumulator, size = job.score_input(
                files, stdin, on_rows, on_progress, before=(rows, done),
                rows_per_byte=rows / done if done else None, total_bytes=total_bytes,
            )  # fmt: skip
        except InputError as error:
            raise _naming_input(error, files, names[index], len(inputs)) from error
        rows, done = rows + accumulator.rows + accumulator.skipped, done + size
        if accumulator.rows:
            if classes is not None and classes[0] != accumulator.classes:
                raise InputError(
                    f"{names[index]}: {accumulator.classes} classes, but {classes[1]} has "
                    f"{classes[0]}; score them apart"
                )
            classes = (accumulator.classes, names[index])
            found = accumulator.class_names
            if found is not None:
                if named is not None and named[0] != found:
                    # Merged by position, one input's rows would count as another class's.
                    raise InputError(
                        f"{names[index]}: the prediction columns name the classes "
                        f"{_shown_names(found)}, but those of {named[1]} name "
                        f"{_shown_names(named[0])}; put the columns in one order, or score "
                        "the files apart"
                    )
                named = (found, names[index])
        if by_file:
            shares.append(file_summary(accumulator, job.reduction, names[index]))
        tag_lines(accumulator, index)
        total.merge(accumulator)
    summary = job.finish(total.compute(reduction=job.reduction, source=display), total)
    return untag_lines(summary, lambda key, line: (names[key], line), tuple(shares))


def _shown_names(names: Sequence[str]) -> str:
    return ", ".join(names[:5]) + (", …" if len(names) > 5 else "")


def _in_given_order(given: Sequence[str], columns: Columns) -> Columns:
    """The prediction columns that name their classes (``p_<class>``) in the order
    ``class_names`` gives the classes: the column ``p_cat`` holds cat's prediction whatever
    place cat is given.  Names that are other than the columns' rename them, in order; names
    that are some of the columns' in other places are refused, as are the columns' names in
    another order beside one label column per class (whose order the names cannot change)."""
    named = columns.class_names
    assert named is not None
    if tuple(given) == named or len(given) != len(named):
        return columns  # a count that differs is refused with the counts
    position = {name: number for number, name in enumerate(named)}
    if columns.label_index and sorted(given) == sorted(named):
        preds = tuple(columns.preds[position[name]] for name in given)
        return dataclasses.replace(columns, preds=preds, class_names=tuple(given))
    for number, name in enumerate(given):
        column = position.get(name)
        if column is not None and column != number:
            raise InputError(
                f"class_names gives {name!r} as class {number}, but the prediction column "
                f"{columns.preds[column]!r} is class {column}: give the names in the columns' "
                f"order ({_shown_names(named)}), or choose the columns with pred_cols",
                parameter=("class_names", "pred_cols"),
            )
    return columns


def _naming_input(
    error: InputError, files: tuple[InputFile, ...], name: str, inputs: int
) -> InputError:
    """``error``, led by the input it is about when there are several and it names none of
    them (a column missing from the second file, say): else the message could be any file's."""
    message = str(error)
    located = message.startswith(
        (*(file.display for file in files), *(file.location for file in files), "standard input")
    )
    if inputs == 1 or located:
        return error
    return InputError(f"{name}: {message}", parameter=error.named)


def _size(files: tuple[InputFile, ...]) -> int:
    """Bytes of local files (for progress); 0 for what has no size at hand."""
    total = 0
    for file in files:
        with contextlib.suppress(OSError):
            if not file.remote and file.path != "-":
                total += os.stat(file.path).st_size
    return total


def file_summary(accumulator: Accumulator, reduction: Reduction, source: str) -> FileSummary:
    """One input's loss, rows and skipped rows; its loss is NaN if it has nothing to score."""
    return FileSummary(
        source=source, loss=share_loss(accumulator, reduction), rows=accumulator.rows,
        skipped=accumulator.skipped,
    )  # fmt: skip


def share_loss(accumulator: Accumulator, reduction: Reduction) -> float:
    """The loss ``compute`` gives for these rows, or NaN where it has none (no rows, or
    weights that sum to 0 under a mean)."""
    if accumulator.rows == 0:
        return math.nan
    if reduction == "sum":
        return accumulator.total.value()
    if accumulator.divisor.is_zero():
        return math.nan
    return accumulator.total.ratio(accumulator.divisor)


def tag_lines(accumulator: Accumulator, key: int) -> None:
    """Mark the lines an accumulator keeps (worst rows, unnormalized rows) with ``key``, so
    that merged with other inputs' they stay apart and ties go to the earlier input."""
    accumulator.worst = [
        (value, -((key << _LINE_BITS) | -line), identifier)
        for value, line, identifier in accumulator.worst
    ]
    heapq.heapify(accumulator.worst)
    tag = key << _LINE_BITS
    accumulator.unnormalized_lines = [tag | line for line in accumulator.unnormalized_lines]
    accumulator.unnormalized_target_lines = [
        tag | line for line in accumulator.unnormalized_target_lines
    ]


def untag_lines(
    summary: BatchSummary,
    locate: Callable[[int, int], tuple[str, int]],
    files: tuple[FileSummary, ...] = (),
) -> BatchSummary:
    """``summary`` with the tagged lines back as (file, line), through ``locate(key, line)``."""
    mask = (1 << _LINE_BITS) - 1

    def where(tagged: int) -> tuple[str, int]:
        return locate(tagged >> _LINE_BITS, tagged & mask)

    worst = tuple(
        dataclasses.replace(row, file=file, line=line)
        for row in summary.worst
        for file, line in [where(row.line)]
    )
    places = [where(tagged) for tagged in summary.unnormalized_lines]
    target_places = [where(tagged) for tagged in summary.unnormalized_target_lines]
    return dataclasses.replace(
        summary, worst=worst, files=files,
        unnormalized_lines=tuple(line for _, line in places),
        unnormalized_files=_named_files(places),
        unnormalized_target_lines=tuple(line for _, line in target_places),
        unnormalized_target_files=_named_files(target_places),
    )  # fmt: skip


def _named_files(places: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """The files of ``places``, or none if they name none (one input)."""
    named = tuple(file for file, _ in places)
    return named if any(named) else ()


def logits_by_name(loss: LossName, options: Mapping[str, Any], columns: Columns) -> bool:
    """Whether the prediction columns are read as logits for their names alone: columns
    named ``logit_<class>`` hold logits, unless the caller said how to read them."""
    return (
        _logit_columns(columns)
        and "logits" in inspect.signature(LOSS_FUNCTIONS[loss]).parameters
        and "logits" not in options
        and not options.get("probs")
    )


def _logit_columns(columns: Columns) -> bool:
    """Whether the prediction columns were found by their names ``logit_<class>``."""
    named = columns.class_names is not None
    return named and all(name.startswith("logit_") for name in columns.preds)


def _column_list(by: str | Sequence[str] | None, parameter: str) -> tuple[str, ...]:
    """``by`` as column names: a string is names separated by commas.  Given, but naming no
    column (``""``, ``","``), it is refused: left out, the rows asked for would go unsaid."""
    if by is None:
        return ()
    if isinstance(by, str):
        parts = [by]
    elif isinstance(by, Iterable):
        parts = list(by)
    else:
        raise InputError(
            f"{parameter} takes column names (a list, or one string of them separated by "
            f"commas), not {by!r}",
            parameter=parameter,
        )
    names = [name.strip() for part in parts for name in str(part).split(",") if name.strip()]
    if parts and not names:
        raise InputError(
            f"{parameter} names no column: {', '.join(repr(str(part)) for part in parts)}",
            parameter=parameter,
        )
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
    from cecli.evaluation import Evaluation, kind_of_loss

    kind = kind_of_loss(loss, binary=bool(options.get("binary")))
    if kind is None and not (by or per_class or top_k is not None):
        return None
    return Evaluation.create(
        kind, class_labels, logits=bool(options.get("logits")),
        normalize=bool(options.get("normalize")), top_k=top_k, threshold=threshold,
        per_class=per_class, by=by,
    )  # fmt: skip


def check_ignore_index(loss: LossName, options: dict[str, Any], ignore_index: int | None) -> None:
    """Refuse an ignore index where the loss has no class-index labels, as typed input does."""
    if ignore_index is None:
        return
    if "ignore_index" not in inspect.signature(LOSS_FUNCTIONS[loss]).parameters:
        raise InputError(f"ignore_index does not go with loss {loss!r}", parameter="ignore_index")
    if _family(loss, options) != "categorical":
        raise InputError(
            f"ignore_index needs class-index labels; {loss} with {_family(loss, options)} "
            "labels takes 0/1 labels",
            parameter="ignore_index",
        )
    check_ignore_index_value(ignore_index)


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
