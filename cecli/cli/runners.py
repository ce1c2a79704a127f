"""One runner per way a loss command is run: each is a library call and a render call.

:func:`run` checks the request (:func:`cecli.cli.request.check`) and hands it to the runner
of its route.  Errors are raised (:class:`cecli.inputs.InputError`) and become an exit code
in :func:`cecli.cli.main` only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from typing import IO, TYPE_CHECKING, Any

from cecli.cli.options import with_flags
from cecli.cli.request import Request, check
from cecli.inputs import InputError, parse_class_names, parse_matrix, read_argument
from cecli.render import Output

if TYPE_CHECKING:
    from cecli.batch import BatchSummary, Rejected
    from cecli.frameworks import Missing, Reproduction
    from cecli.numerics import FloatArray
    from cecli.render import RowMarks
    from cecli.scoring import ScoredRows, ScoringProgress


def run(request: Request) -> None:
    route = check(request)
    names = (
        parse_class_names(request.common.loss.classes)
        if request.common.loss.classes is not None
        else None
    )
    if route == "file":
        compare = request.common.compare
        if compare.like is not None or compare.frameworks:
            run_file_frameworks(request, names)
        else:
            run_file(request, names)
        return
    labels, preds = _typed(request, names)
    if route == "frameworks":
        run_frameworks(request, labels, preds)
    elif route == "versus":
        run_versus(request, labels, preds, names)
    else:
        run_typed(request, labels, preds, names)


def _typed(request: Request, names: tuple[str, ...] | None) -> tuple[FloatArray, FloatArray]:
    """LABELS and PREDS as matrices, with ``-`` read from standard input (once)."""
    assert request.labels is not None
    assert request.preds is not None
    label_text, pred_text = request.labels.strip(), request.preds.strip()
    if label_text == "-" and pred_text == "-":
        raise InputError("only one of LABELS and PREDS can be '-' (standard input)")
    if "-" in (label_text, pred_text) and sys.stdin is not None and sys.stdin.isatty():
        name = "LABELS" if label_text == "-" else "PREDS"
        Output().hint(f"reading {name} from standard input (end with Ctrl-D)")
    labels = read_argument(request.labels, sys.stdin)
    preds = read_argument(request.preds, sys.stdin)
    # -inf is read where it means something: a masked logit, a log-probability of 0.
    log_targets = bool(request.options.get("log_targets"))
    return (
        parse_matrix(labels, "LABELS", class_names=names, masks=log_targets),
        parse_matrix(preds, "PREDS", masks=request.common.loss.logits),
    )


def run_typed(
    request: Request, labels: FloatArray, preds: FloatArray, names: tuple[str, ...] | None
) -> None:
    from cecli.registry import compute

    result = compute(request.command, labels, preds, class_names=names, **request.keywords)
    accuracy = None
    keywords = request.keywords
    if request.mode != "quiet" and keywords.get("ignore_index") is None:
        from cecli.evaluation import evaluate

        accuracy = evaluate(
            result, labels, preds, loss=request.command, logits=bool(keywords.get("logits")),
            normalize=bool(keywords.get("normalize")), binary=bool(keywords.get("binary")),
            sample_weights=keywords.get("sample_weights"),
        )  # fmt: skip
    Output(mode=request.mode, rows=request.common.output.rows_shown()).emit(
        result, accuracy, _row_marks(request, labels, result.rows)
    )


def _row_marks(request: Request, labels: FloatArray, rows: int) -> RowMarks | None:
    """Each typed row's sample weight and the ignored rows, for the term tables."""
    from cecli.losses import sample_weight_vector
    from cecli.render import RowMarks

    keywords = request.keywords
    weights = sample_weight_vector(keywords.get("sample_weights"), rows)
    ignore_index = keywords.get("ignore_index")
    ignored = None
    if ignore_index is not None and labels.size == rows:  # one class index per row
        ignored = labels.reshape(-1) == float(ignore_index)
    if weights is None and ignored is None:
        return None
    return RowMarks(weights, ignored, ignore_index)


def run_versus(
    request: Request, labels: FloatArray, preds: FloatArray, names: tuple[str, ...] | None
) -> None:
    from cecli.registry import versus

    assert request.common.compare.vs is not None
    other = parse_matrix(
        read_argument(request.common.compare.vs, sys.stdin),
        "--vs",
        masks=request.common.loss.logits,
    )
    if other.shape != preds.shape:
        raise InputError(
            f"--vs has {other.shape[0]} row(s) of {other.shape[1]} values but PREDS has "
            f"{preds.shape[0]} row(s) of {preds.shape[1]}"
        )
    comparison = versus(
        request.command, labels, preds, other, class_names=names, **request.keywords
    )
    Output(mode=request.mode, rows=request.common.output.rows_shown()).emit_comparison(comparison)


def run_frameworks(request: Request, labels: FloatArray, preds: FloatArray) -> None:
    from cecli import render
    from cecli.frameworks import compare_frameworks, library_named

    like = request.common.compare.like
    comparison = compare_frameworks(
        request.command,
        labels,
        preds,
        library=None if like is None else library_named(like),
        **request.keywords,
    )
    comparison = dataclasses.replace(comparison, found=_found_with_flags(comparison.found))
    render.emit_frameworks_comparison(Output(mode=request.mode), comparison)


def run_file_frameworks(request: Request, names: tuple[str, ...] | None) -> None:
    from cecli import render
    from cecli.frameworks import compare_frameworks_on_file, library_named

    like = request.common.compare.like
    inputs, keywords = _file_call(request, names)
    comparison = compare_frameworks_on_file(
        inputs,
        request.command,
        library=None if like is None else library_named(like),
        **keywords,
    )
    for note in comparison.summary.notes:
        Output().hint(with_flags(note, None))
    comparison = dataclasses.replace(comparison, found=_found_with_flags(comparison.found))
    render.emit_file_frameworks(Output(mode=request.mode), comparison)


def _found_with_flags(
    found: tuple[Reproduction | Missing, ...],
) -> tuple[Reproduction | Missing, ...]:
    """What each library lacks, as the command line says it."""
    from cecli.frameworks import Missing

    return tuple(
        dataclasses.replace(item, message=with_flags(item.message, item.parameter))
        if isinstance(item, Missing)
        else item
        for item in found
    )


def run_file(request: Request, names: tuple[str, ...] | None) -> None:
    from contextlib import ExitStack

    from cecli import render
    from cecli.files import atomic_writer
    from cecli.scoring import score_file
    from cecli.sources import parse_storage_options

    files, mode = request.common.files, request.mode
    rows_to_stdout = files.output == "-" or (
        request.common.loss.reduction == "none" and files.output is None
    )
    details = _row_columns(files.columns)
    # A folder of parts, or a file put together from a cluster's parts: the library writes it.
    in_parts = files.output not in (None, "-") and (
        files.dask is not None or files.output_format is not None or _is_folder(files.output)
    )
    # What an output must not be: every local file the inputs name, globs and folders too.
    inputs_read = _local_inputs(files.sources)
    with ExitStack() as stack:
        # The output first: a name that cannot be written is refused before any input is read.
        stream: IO[str] | None = None
        if rows_to_stdout:
            stream = sys.stdout
        elif files.output is not None and not in_parts:
            from cecli.parts import row_output

            if files.output:  # an empty name is atomic_writer's to refuse
                row_output(files.output, None, folder=False)  # out.parquet, as the library does
            stream = stack.enter_context(atomic_writer(files.output, inputs_read))
        writer: render.RowWriter | None = None
        bar: render.Advance | None = None
        rejects: IO[str] | None = None
        if files.rejects is not None:
            # The two files are never one, as an input and an output are never one.
            per_row = files.output if files.output not in (None, "-") else None
            rejects = stack.enter_context(
                atomic_writer(files.rejects, inputs_read, "rejects", per_row)
            )

        def write_rows(rows: ScoredRows) -> None:
            nonlocal writer
            if writer is None:
                assert stream is not None
                # --output writes CSV, to a file or (``-``) to standard output, whatever the mode.
                row_mode = mode if files.output is None else "table"
                grad_names = list(rows.class_labels) if request.command == "grad" else None
                writer = render.RowWriter(stream, row_mode, rows.columns.identifier, grad_names)
            extra: dict[str, list[object]] = {}
            if details:
                extra = {name: values for name, values in rows.details().items() if name in details}
            for name, texts in rows.kept().items():
                extra[name] = list(texts)
            writer(rows.batch, rows.keep, rows.result, extra)

        def advance(step: ScoringProgress) -> None:
            nonlocal bar
            if bar is None:
                # Rows written to the terminal show the progress themselves; a bar drawn on
                # the same screen would be cut into by them.
                rows_on_screen = (
                    stream is not None and stream is sys.stdout and render.is_terminal(stream)
                )
                shown = not files.no_progress and not rows_on_screen
                progress = render.progress(
                    sys.stderr, step.rows_expected, step.size_bytes, shown, step.tasks
                )
                bar = stack.enter_context(progress)
            bar(step.rows_added, step.tasks_done)

        inputs, keywords = _file_call(request, names)
        summary = score_file(
            inputs, request.command, by_file=files.by_file, dask=files.dask,
            storage_options=parse_storage_options(files.storage_option or []),
            **keywords, on_rows=write_rows if stream is not None else None,
            on_progress=advance, per_class=files.per_class, by=files.by, top_k=files.top_k,
            threshold=0.5 if files.threshold is None else files.threshold, keep=files.keep,
            on_rejects=(
                (lambda found: render.write_rejects(rejects, _rejects_with_flags(found)))
                if rejects else None
            ),
            # -q prints the loss and the warnings only: nothing else is computed for it.
            details=mode != "quiet" or stream is not None or in_parts,
            output=files.output if in_parts else None, output_format=files.output_format,
            row_columns=details,
        )  # fmt: skip
    summary = _with_flags(summary)
    if rows_to_stdout:
        for note in summary.notes:
            Output().hint(note)
        for message in render.summary_warnings(summary):
            Output().warn(message)
        return
    render.emit_summary(summary, mode, sys.stdout, sys.stderr)


def _file_call(request: Request, names: tuple[str, ...] | None) -> tuple[Any, dict[str, Any]]:
    """The inputs and the keywords every file route passes on: the loss's options, the class
    names, the columns, the format and standard input."""
    files = request.common.files
    given = files.csv or files.parquet
    inputs: Any = (
        (list(files.labels_file or []), list(files.preds_file or [])) if given is None
        else given[0] if len(given) == 1 else list(given)
    )  # fmt: skip
    # --logits not given leaves the choice open: columns named logit_<class> are logits.
    keywords = {k: v for k, v in request.keywords.items() if k != "logits" or v}
    keywords.update(
        class_names=names, label_col=files.label_col, label_cols=files.label_cols,
        pred_cols=files.pred_cols, weight_col=files.weight_col, id_col=files.id_col,
        delimiter=files.delimiter, skip_invalid=files.skip_invalid,
        kind="csv" if files.csv else "parquet" if files.parquet else None,
        stdin=getattr(sys.stdin, "buffer", None),  # None when standard input is closed
    )  # fmt: skip
    return inputs, keywords


def _local_inputs(sources: list[str]) -> list[str]:
    """The arguments, and the local files each names: a glob's matches and a folder's parts
    (``--csv '*.csv' -o out.csv`` run again would read out.csv, then write over it).  A URL
    other than ``file://`` names no local file and is not listed; an argument that names
    nothing is left for the reading to refuse."""
    from cecli.sources import expand, is_url

    paths: list[str] = []
    for source in sources:
        paths.append(source)
        if source == "-" or (is_url(source) and not source.startswith("file://")):
            continue
        with contextlib.suppress(InputError):
            paths += [file.path for file in expand(source)]
    return paths


def _is_folder(output: str | None) -> bool:
    from cecli.parts import is_folder

    return output is not None and is_folder(output)


def _with_flags(summary: BatchSummary) -> BatchSummary:
    """The summary's notes and reasons for skipped rows as the command line says them."""
    reasons = tuple(with_flags(reason, None) for reason in summary.skipped_reasons)
    notes = tuple(with_flags(note, None) for note in summary.notes)
    return dataclasses.replace(summary, skipped_reasons=reasons, notes=notes)


def _rejects_with_flags(rejected: Rejected) -> Rejected:
    """The rejected rows' reasons as the command line says them, as the warnings are."""
    rows = ((line, with_flags(reason, None), fields) for line, reason, fields in rejected.rows)
    return dataclasses.replace(rejected, rows=rows)


def _row_columns(columns: str | None) -> tuple[str, ...]:
    """The ``--columns`` asked for, each one that :meth:`ScoredRows.details` gives."""
    if columns is None:
        return ()
    names = tuple(name.strip() for name in columns.split(",") if name.strip())
    if not names:
        raise InputError(f"--columns names no column: {columns!r}")
    from cecli.evaluation import ROW_COLUMNS

    unknown = [name for name in names if name not in ROW_COLUMNS]
    if unknown:
        raise InputError(
            f"--columns: no column {unknown[0]!r}; choose among {', '.join(ROW_COLUMNS)}"
        )
    return names
