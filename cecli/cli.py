"""The ``cecli`` command: seven thin subcommands over :mod:`cecli.losses`.

Each command parses its two vectors (:mod:`cecli.inputs`), calls one loss function and hands
the result to :class:`cecli.render.Output`.  ``main`` is the error boundary: every bad input
ends as one ``cecli: error: …`` line on stderr and exit code 2, with nothing on stdout.
With ``--csv``/``--parquet`` the same loss functions score a file through :mod:`cecli.batch`.
"""

# No `from __future__ import annotations` here: Typer would then evaluate every parameter's
# annotation string of all seven commands on each run, which measurably slowed start-up.
import contextlib
import contextvars
import difflib
import functools
import inspect
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import IO, TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TextIO, cast

import typer

from cecli import __version__, losses
from cecli.inputs import (
    InputError,
    parse_class_names,
    parse_matrix,
    parse_number,
    parse_vector,
    read_argument,
)
from cecli.numerics import FloatArray
from cecli.render import Mode, Output, TourMove
from cecli.results import LossResult

if TYPE_CHECKING:
    from cecli.frameworks import Command, Library

LossFn = Callable[[FloatArray, FloatArray, tuple[str, ...] | None], LossResult]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# `-h` too, as in most commands; without it `cecli ce -h` read `-h` as LABELS.
_HELP_OPTIONS = ["-h", "--help"]

app = typer.Typer(
    name="cecli",
    help=(
        "Compute, check and explain classification losses.\n\n"
        'Give LABELS and PREDS as numbers: a row is `1,0,0` or `"[1 0 0]"`, a batch is rows '
        'split by `;` (`"1,0;0,1"`) or nested brackets; one label per row is a class index '
        '(`"0;2;1"`); `-` reads the argument from standard input.\n\n'
        "`--frameworks` shows what PyTorch, Keras, scikit-learn and optax return for the same "
        "input, and why they differ; `--like LIB` prints one library's number."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": _HELP_OPTIONS},
)


def _print_version(requested: bool) -> None:
    if requested:
        Output().text(f"cecli {__version__}")
        raise typer.Exit()


@app.callback()
def _app_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    # Only the full app (`cecli --version`, `cecli --help`) runs this; `main` builds a
    # subcommand's own app without it.
    pass


# Negative numbers (`-1.2,0.3`) must reach the arguments instead of being read as options.
# Options typed after `--` (`cecli ce -- 0 -1.2,0.3 --logits`) arrive as extra arguments, which
# `_with_file_options` hands back to the parser once.
_COMMAND_SETTINGS: dict[str, Any] = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": _HELP_OPTIONS,
}
_NUMBER_LIKE = re.compile(r"^-[\d.]")
_reparsing: contextvars.ContextVar[bool] = contextvars.ContextVar("reparsing", default=False)

# --- options shared by the commands --------------------------------------------------------


class OptionNotANumber(Exception):
    """A number option's value outside the number grammar of typed values and files.

    Not a ValueError, which Click would rewrite as "Invalid value for …"; ``main`` prints its
    message as one error line and exits with its code, as for Click's own usage errors."""

    exit_code = EXIT_USAGE

    def format_message(self) -> str:
        return str(self)


def _number(option: str) -> Callable[[Any], float]:
    """The parser of a number option: the grammar of :func:`cecli.inputs.parse_number`, not
    Python's ``float`` (which takes ``1_0``, ``٠.١`` and, through Click, not ``0x1p-3``)."""

    def parse(value: Any) -> float:
        if isinstance(value, float | int):  # a default
            return float(value)
        number = parse_number(str(value))
        if number is None:
            raise OptionNotANumber(f"{option}: {str(value)!r} is not a number")
        return number

    parse.__name__ = "float"
    return parse


Labels = Annotated[
    str | None,
    typer.Argument(
        metavar="LABELS",
        help="Targets: one-hot or soft rows like 1,0,0, or one class index per row (0;2;1).",
        show_default=False,
    ),
]
Preds = Annotated[
    str | None,
    typer.Argument(
        metavar="PREDS",
        help="Predictions: probability rows like 0.7,0.2,0.1 (logits with --logits).",
        show_default=False,
    ),
]
Logits = Annotated[
    bool, typer.Option("--logits", help="PREDS are raw scores (logits), not probabilities.")
]
Eps = Annotated[
    float,
    typer.Option(
        "--eps",
        parser=_number("--eps"),
        help="Clip probabilities to [eps, 1-eps]; 0 turns clipping off.",
        rich_help_panel="Numerics",
    ),
]
BaseOpt = Annotated[
    str,
    typer.Option(
        "--base", help="Unit of every value: e (nats), 2 (bits) or 10.", rich_help_panel="Numerics"
    ),
]
ReductionOpt = Annotated[
    str,
    typer.Option("--reduction", help="Across rows: mean, sum or none.", rich_help_panel="Numerics"),
]
Normalize = Annotated[
    bool,
    typer.Option("--normalize", help="Renormalise PREDS rows to sum to 1 before clipping."),
]
Classes = Annotated[
    str | None,
    typer.Option(
        "--classes", help="Class names, a,b,c; LABELS may then be names.", show_default=False
    ),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print one JSON object.", rich_help_panel="Output")
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Print the loss alone, at full precision.", rich_help_panel="Output"
    ),
]

_FILES = "Files"
CsvFile = Annotated[
    str | None,
    typer.Option(
        "--csv", help="Score a CSV file (.csv.gz too; - reads stdin).", rich_help_panel=_FILES
    ),
]
ParquetFile = Annotated[
    str | None, typer.Option("--parquet", help="Score a Parquet file.", rich_help_panel=_FILES)
]
LabelCol = Annotated[
    str | None,
    typer.Option(
        help="Column of class indices or names (default: 'label').", rich_help_panel=_FILES
    ),
]
LabelCols = Annotated[
    str | None,
    typer.Option(
        help="Columns of per-class targets, names or globs (default: y0…yK).",
        rich_help_panel=_FILES,
    ),
]
PredCols = Annotated[
    str | None,
    typer.Option(
        help="Prediction columns, names or globs like 'p*' (default: p0…pK).",
        rich_help_panel=_FILES,
    ),
]
WeightCol = Annotated[
    str | None, typer.Option(help="Column of per-row sample weights.", rich_help_panel=_FILES)
]
IdCol = Annotated[
    str | None, typer.Option(help="Column to copy into the per-row output.", rich_help_panel=_FILES)
]
Delimiter = Annotated[
    str | None, typer.Option(help="CSV delimiter (default: detected).", rich_help_panel=_FILES)
]
SkipInvalid = Annotated[
    bool,
    typer.Option(
        "--skip-invalid", help="Score the valid rows, report the rest.", rich_help_panel=_FILES
    ),
]
OutputFile = Annotated[
    str | None,
    typer.Option(
        "--output", "-o", help="Write one loss per row to this CSV file.", rich_help_panel=_FILES
    ),
]
LabelsFile = Annotated[
    str | None,
    typer.Option("--labels", help="A file of labels, beside --preds FILE.", rich_help_panel=_FILES),
]
PredsFile = Annotated[
    str | None,
    typer.Option(
        "--preds", help="A file of predictions, beside --labels FILE.", rich_help_panel=_FILES
    ),
]
NoProgress = Annotated[
    bool, typer.Option("--no-progress", help="Hide the progress bar.", rich_help_panel=_FILES)
]


@dataclass(frozen=True)
class FileOptions:
    """How to read a file; ``source`` is None when LABELS and PREDS are typed instead."""

    csv: str | None = None
    parquet: str | None = None
    label_col: str | None = None
    label_cols: str | None = None
    pred_cols: str | None = None
    weight_col: str | None = None
    id_col: str | None = None
    delimiter: str | None = None
    skip_invalid: bool = False
    output: str | None = None
    no_progress: bool = False
    labels_file: str | None = None
    preds_file: str | None = None

    @property
    def sources(self) -> list[str]:
        """The files to read: one, or the labels file and the predictions file."""
        given = [self.csv, self.parquet, self.labels_file, self.preds_file]
        return [source for source in given if source is not None]


_FILE_OPTIONS: dict[str, tuple[Any, Any]] = {
    "csv": (CsvFile, None),
    "parquet": (ParquetFile, None),
    "label_col": (LabelCol, None),
    "label_cols": (LabelCols, None),
    "pred_cols": (PredCols, None),
    "weight_col": (WeightCol, None),
    "id_col": (IdCol, None),
    "delimiter": (Delimiter, None),
    "skip_invalid": (SkipInvalid, False),
    "output": (OutputFile, None),
    "no_progress": (NoProgress, False),
    "labels_file": (LabelsFile, None),
    "preds_file": (PredsFile, None),
}


_COMMANDS: dict[str, Callable[..., None]] = {}


def _command(function: Callable[..., None]) -> Callable[..., None]:
    """Register a subcommand with the app, and by name for ``main``'s one-command app."""
    _COMMANDS[function.__name__] = function
    return app.command(context_settings=_COMMAND_SETTINGS)(function)


def _one_command_app(name: str) -> typer.Typer:
    """An app holding only ``name``: Typer builds every command's options on each run, and
    building the eight of the full app cost about 12 ms of a one-liner's start-up."""
    single = typer.Typer(
        add_completion=False, rich_markup_mode="markdown", pretty_exceptions_enable=False
    )
    single.command(name=name, context_settings=_COMMAND_SETTINGS)(_COMMANDS[name])
    return single


def _with_file_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the file options, gathered into its ``files: FileOptions`` parameter.

    Typer reads a command's options from its signature; this writes the thirteen shared ones
    into each signature once, instead of into seven parameter lists by hand.  It also takes
    the command's context, to re-read options that came after ``--``.
    """
    signature = inspect.signature(command)
    own = [p for name, p in signature.parameters.items() if name != "files"]
    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint)
        for name, (hint, default) in _FILE_OPTIONS.items()
    ]

    @functools.wraps(command)
    def with_files(ctx: typer.Context, **values: Any) -> None:
        if ctx.args:
            positionals = [values[name] for name in ("labels", "preds") if values[name] is not None]
            _reparse_trailing_options(ctx, positionals)
            return
        files = FileOptions(**{name: values.pop(name) for name in _FILE_OPTIONS})
        try:
            command(files=files, **values)
        except InputError as error:  # the commands' error boundary
            _fail(_with_flags(error))

    parameters = [context, *own, *shared]
    with_files.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_files.__annotations__ = {p.name: p.annotation for p in parameters}
    return with_files


def _reparse_trailing_options(ctx: typer.Context, positionals: list[str]) -> None:
    """Run the command again with the extra arguments first, if they are its options."""
    extras = list(ctx.args)
    known = sorted({o for p in ctx.command.params for o in [*p.opts, *p.secondary_opts]})
    if _reparsing.get() or not extras[0].startswith("-"):
        _fail(f"unexpected extra argument(s): {' '.join(extras)}")
    for token in extras:
        name = token.split("=", 1)[0]
        if token.startswith("-") and not _NUMBER_LIKE.match(token) and name not in known:
            close = difflib.get_close_matches(name, [k for k in known if k.startswith("-")], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            _fail(f"no such option: {name}{hint}")
    reparsing = _reparsing.set(True)
    try:
        code = ctx.command.main(
            args=[*extras, "--", *positionals], prog_name=ctx.command_path, standalone_mode=False
        )
    finally:
        _reparsing.reset(reparsing)
    if isinstance(code, int) and code:
        raise typer.Exit(code)


Versus = Annotated[
    str | None,
    typer.Option(
        "--vs",
        help="A second PREDS to compare with, side by side.",
        rich_help_panel="Output",
        show_default=False,
    ),
]
_FRAMEWORKS = "Frameworks"
Like = Annotated[
    str | None,
    typer.Option(
        "--like",
        help="Print what torch, keras, sklearn or optax returns for this input instead.",
        rich_help_panel=_FRAMEWORKS,
        show_default=False,
    ),
]
Frameworks = Annotated[
    bool,
    typer.Option(
        "--frameworks",
        help="Compare with PyTorch, Keras, scikit-learn and optax, and say why they differ.",
        rich_help_panel=_FRAMEWORKS,
    ),
]


@dataclass(frozen=True)
class FrameworkRequest:
    """``--like LIB`` (``library``) or ``--frameworks`` (``library`` None)."""

    library: "Library | None"


def _frameworks_request(like: str | None, frameworks: bool) -> FrameworkRequest | None:
    """None unless asked for; an unknown library is refused before any input is read."""
    if like is None and not frameworks:
        return None
    if like is not None and frameworks:
        _fail("use either --like LIB or --frameworks, not both")
    if like is None:
        return FrameworkRequest(None)
    from cecli.frameworks import library_named

    return FrameworkRequest(library_named(like))


Explain = Annotated[
    bool,
    typer.Option(
        "--explain", help="After the table, say what the numbers mean.", rich_help_panel="Output"
    ),
]


# --- the error boundary --------------------------------------------------------------------


_FLAGS: dict[str, str] = {
    "eps": "--eps", "base": "--base", "reduction": "--reduction", "logits": "--logits",
    "weights": "--weights", "smoothing": "--smoothing", "pos_weight": "--pos-weight",
    "neg_weight": "--neg-weight", "gamma": "--gamma", "alpha": "--alpha",
    "class_names": "--classes", "library": "--like", "label_col": "--label-col",
    "label_cols": "--label-cols", "pred_cols": "--pred-cols", "weight_col": "--weight-col",
    "id_col": "--id-col", "delimiter": "--delimiter", "skip_invalid": "--skip-invalid",
}  # fmt: skip
"""Each library parameter, as the command line names it."""


def _with_flags(error: InputError) -> str:
    """The library's message, with the parameter it names written as the option instead
    (``eps must be…`` reads ``--eps must be…``, ``use logits=True`` reads ``use --logits``)."""
    message = str(error)
    flag = _FLAGS.get(error.parameter or "")
    if error.parameter is None or flag is None:
        return message
    spelled = rf"(?<![\w-]){re.escape(error.parameter)}(?:=True)?(?![\w-])"
    return re.sub(spelled, flag, message)


def _fail(message: str) -> NoReturn:
    Output().error(message)
    raise typer.Exit(EXIT_USAGE)


def _output_mode(json_output: bool, quiet: bool, explain: bool = False) -> Mode:
    if json_output and quiet:
        _fail("use either --json or --quiet, not both")
    if json_output:
        return "json"
    if quiet:
        return "quiet"
    return "explain" if explain else "table"


class _Arguments:
    """LABELS and PREDS text, with ``-`` read from standard input (once)."""

    def __init__(self, labels: str, preds: str) -> None:
        if labels.strip() == "-" and preds.strip() == "-":
            raise InputError("only one of LABELS and PREDS can be '-' (standard input)")
        if "-" in (labels.strip(), preds.strip()) and sys.stdin is not None and sys.stdin.isatty():
            name = "LABELS" if labels.strip() == "-" else "PREDS"
            Output().hint(f"reading {name} from standard input (end with Ctrl-D)")
        self.labels = read_argument(labels, sys.stdin)
        self.preds = read_argument(preds, sys.stdin)

    def parse(self, names: tuple[str, ...] | None) -> tuple[FloatArray, FloatArray]:
        return (
            parse_matrix(self.labels, "LABELS", class_names=names),
            parse_matrix(self.preds, "PREDS"),
        )


def _dispatch(
    mode: Mode,
    labels: str | None,
    preds: str | None,
    classes: str | None,
    files: FileOptions,
    loss: LossFn,
    *,
    command: "Command",
    options: dict[str, Any],
    vs: str | None = None,
    gradient: Callable[[FloatArray, FloatArray], FloatArray | None] | None = None,
    compare: FrameworkRequest | None = None,
) -> None:
    """Score typed vectors or a file; bad input raises :class:`InputError`, which ``main``
    turns into one error line and exit code 2.

    ``options`` are the keyword arguments of ``command``'s loss function, named as the
    library names them; a file is scored with them by :func:`cecli.scoring.score_file`.
    """
    names = parse_class_names(classes) if classes is not None else None
    if not files.sources:
        given = [f.name for f in fields(files) if getattr(files, f.name) not in (None, False)]
        if given:
            option = "--" + given[0].replace("_", "-")
            raise InputError(f"{option} goes with --csv FILE, --parquet FILE or --labels FILE")
        if labels is None or preds is None:
            missing = "LABELS and PREDS" if labels is None else "PREDS"
            raise InputError(f"missing {missing} (or score a file with --csv FILE)")
        label_matrix, pred_matrix = _Arguments(labels, preds).parse(names)
        result = loss(label_matrix, pred_matrix, names)
        if compare is not None:
            if vs is not None:
                raise InputError("--vs does not go with --like or --frameworks")
            _emit_frameworks(mode, compare, command, label_matrix, pred_matrix, options)
            return
        if vs is None:
            Output(mode=mode).emit(result)
            return
        other = parse_matrix(read_argument(vs, sys.stdin), "--vs")
        if other.shape != pred_matrix.shape:
            raise InputError(
                f"--vs has {other.shape[0]} row(s) of {other.shape[1]} values but PREDS has "
                f"{pred_matrix.shape[0]} row(s) of {pred_matrix.shape[1]}"
            )
        from cecli.explain import Comparison

        other_result = loss(label_matrix, other, names)
        grad_a = gradient(label_matrix, pred_matrix) if gradient else None
        grad_b = gradient(label_matrix, other) if gradient else None
        Output(mode=mode).emit_comparison(
            Comparison(a=result, b=other_result, grad_a=grad_a, grad_b=grad_b)
        )
        return
    if labels is not None or preds is not None:
        raise InputError("give either LABELS and PREDS or a file (--csv/--parquet), not both")
    if vs is not None:
        raise InputError("--vs compares typed PREDS; it does not go with a file")
    if compare is not None:
        option = "--like" if compare.library else "--frameworks"
        raise InputError(f"{option} compares typed LABELS and PREDS; it does not go with a file")
    if files.csv is not None and files.parquet is not None:
        raise InputError("use either --csv or --parquet, not both")
    if (files.labels_file is None) != (files.preds_file is None):
        raise InputError("--labels FILE and --preds FILE go together")
    if len(files.sources) > 2:
        raise InputError("use either --csv/--parquet or --labels with --preds, not both")
    _score_file(mode, files, command, options, names)


def _emit_frameworks(
    mode: Mode, request: FrameworkRequest, command: "Command", labels: FloatArray,
    preds: FloatArray, options: dict[str, Any],
) -> None:  # fmt: skip
    from cecli import render
    from cecli.frameworks import compare_frameworks

    comparison = compare_frameworks(command, labels, preds, library=request.library, **options)
    output = Output(mode="table" if mode == "explain" else mode)
    render.emit_frameworks_comparison(output, comparison)


def _score_file(
    mode: Mode,
    files: FileOptions,
    command: "Command",
    options: dict[str, Any],
    names: tuple[str, ...] | None,
) -> None:
    from contextlib import ExitStack

    from cecli import render
    from cecli.files import atomic_writer
    from cecli.scoring import ScoredRows, ScoringProgress, score_file

    kind: Literal["csv", "parquet"] | None = None
    if files.csv is not None:
        kind = "csv"
    elif files.parquet is not None:
        kind = "parquet"
    rows_to_stdout = files.output == "-" or (
        options["reduction"] == "none" and files.output is None
    )
    with ExitStack() as stack:
        # The output first: a name that cannot be written is refused before any input is read.
        stream: IO[str] | None = None
        if rows_to_stdout:
            stream = sys.stdout
        elif files.output is not None:
            stream = stack.enter_context(atomic_writer(files.output, files.sources))
        writer: render.RowWriter | None = None
        bar: Callable[[int], None] | None = None

        def write_rows(rows: ScoredRows) -> None:
            nonlocal writer
            if writer is None:
                assert stream is not None
                # --output writes CSV, to a file or (``-``) to standard output, whatever the mode.
                row_mode: Mode = mode if files.output is None else "table"
                grad_names = list(rows.class_labels) if command == "grad" else None
                writer = render.RowWriter(stream, row_mode, rows.columns.identifier, grad_names)
            writer(rows.batch, rows.keep, rows.result)

        def advance(step: ScoringProgress) -> None:
            nonlocal bar
            if bar is None:
                shown = not files.no_progress
                progress = render.progress(sys.stderr, step.rows_expected, step.size_bytes, shown)
                bar = stack.enter_context(progress)
            bar(step.rows_added)

        sources = files.sources
        summary = score_file(
            sources[0] if len(sources) == 1 else (sources[0], sources[1]), command, **options,
            class_names=names, label_col=files.label_col, label_cols=files.label_cols,
            pred_cols=files.pred_cols, weight_col=files.weight_col, id_col=files.id_col,
            delimiter=files.delimiter, kind=kind, skip_invalid=files.skip_invalid,
            on_rows=write_rows if stream is not None else None, on_progress=advance,
            stdin=getattr(sys.stdin, "buffer", None),  # None when standard input is closed
        )  # fmt: skip
    if rows_to_stdout:
        for message in render.summary_warnings(summary):
            Output().warn(message)
        return
    render.emit_summary(summary, mode, sys.stdout, sys.stderr)


def _logit_gradient(
    *, probs: bool, sigmoid: bool, eps: float, base: str, reduction: str
) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """Cross-entropy's ∂L/∂z (softmax, or sigmoid per class), for ``--vs``."""

    def gradient(y: FloatArray, p: FloatArray) -> FloatArray:
        return losses.logit_gradient(
            y, p, probs=probs, sigmoid=sigmoid, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
        ).grad  # fmt: skip

    return gradient


# --- the seven commands --------------------------------------------------------------------


@_command
@_with_file_options
def ce(
    labels: Labels = None,
    preds: Preds = None,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    weights: Annotated[
        str | None, typer.Option(help="Class weights w1,…,wC (weighted mean as PyTorch).")
    ] = None,
    smoothing: Annotated[
        float,
        typer.Option(parser=_number("--smoothing"), help="Label smoothing ε: y' = (1-ε)y + ε/C."),
    ] = 0.0,
    normalize: Normalize = False,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
    explain: Explain = False,
    vs: Versus = None,
    like: Like = None,
    frameworks: Frameworks = False,
    files: FileOptions = FileOptions(),
) -> None:
    """Categorical cross-entropy: L = -Σ y·log p, term by term.

    Example: `cecli ce 1,0,0,0,0 0.1,0.5,0.1,0.1,0.2` (add `-q` for the number alone);
    a file: `cecli ce --csv sample_data/iris3_index.csv`.
    """
    mode = _output_mode(json_output, quiet, explain)
    try:
        class_weights = None if weights is None else parse_vector(weights, "--weights")
    except InputError as error:
        _fail(str(error))

    def loss(y: FloatArray, p: FloatArray, names: tuple[str, ...] | None) -> LossResult:
        return losses.categorical_cross_entropy(
            y, p, logits=logits, eps=eps, base=base, reduction=reduction,  # type: ignore[arg-type]
            weights=class_weights, smoothing=smoothing, normalize=normalize, class_names=names,
        )  # fmt: skip

    options: dict[str, Any] = {
        "logits": logits, "eps": eps, "base": base, "reduction": reduction,
        "weights": class_weights, "smoothing": smoothing, "normalize": normalize,
    }  # fmt: skip
    compare = _frameworks_request(like, frameworks)
    gradient = _logit_gradient(
        probs=not logits, sigmoid=False, eps=eps, base=base, reduction=reduction
    )

    _dispatch(
        mode, labels, preds, classes, files, loss,
        command="ce", options=options,
        vs=vs, gradient=gradient, compare=compare,
    )  # fmt: skip


@_command
@_with_file_options
def bce(
    labels: Labels = None,
    preds: Preds = None,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    pos_weight: Annotated[
        float, typer.Option(parser=_number("--pos-weight"), help="Weight W of the positive term.")
    ] = 1.0,
    smoothing: Annotated[
        float,
        typer.Option(parser=_number("--smoothing"), help="Binary label smoothing: y(1-ε) + ε/2."),
    ] = 0.0,
    json_output: Json = False,
    quiet: Quiet = False,
    explain: Explain = False,
    vs: Versus = None,
    like: Like = None,
    frameworks: Frameworks = False,
    files: FileOptions = FileOptions(),
) -> None:
    """Binary cross-entropy: -(y·log p + (1-y)·log(1-p)) per element, mean over all.

    Example: `cecli bce 1,0,1 0.9,0.2,0.7`.
    """
    mode = _output_mode(json_output, quiet, explain)

    def loss(y: FloatArray, p: FloatArray, names: tuple[str, ...] | None) -> LossResult:
        return losses.binary_cross_entropy(
            y, p, logits=logits, eps=eps, base=base, reduction=reduction,  # type: ignore[arg-type]
            pos_weight=pos_weight, smoothing=smoothing,
        )  # fmt: skip

    options: dict[str, Any] = {
        "logits": logits, "eps": eps, "base": base, "reduction": reduction,
        "pos_weight": pos_weight, "smoothing": smoothing,
    }  # fmt: skip
    compare = _frameworks_request(like, frameworks)
    gradient = _logit_gradient(
        probs=not logits, sigmoid=True, eps=eps, base=base, reduction=reduction
    )

    _dispatch(
        mode, labels, preds, None, files, loss,
        command="bce", options=options,
        vs=vs, gradient=gradient, compare=compare,
    )  # fmt: skip


@_command
@_with_file_options
def multilabel(
    labels: Labels = None,
    preds: Preds = None,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    pos_weight: Annotated[
        float,
        typer.Option(parser=_number("--pos-weight"), help="Weight of the positive classes' terms."),
    ] = 1.0,
    neg_weight: Annotated[
        float,
        typer.Option(parser=_number("--neg-weight"), help="Weight of the negative classes' terms."),
    ] = 1.0,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
    explain: Explain = False,
    like: Like = None,
    frameworks: Frameworks = False,
    files: FileOptions = FileOptions(),
) -> None:
    """Multi-label loss: one sigmoid BCE per class, summed over classes, mean over rows.

    Example: `cecli multilabel 1,0,0,1 0.8,0.1,0.3,0.6`.
    """
    mode = _output_mode(json_output, quiet, explain)

    def loss(y: FloatArray, p: FloatArray, names: tuple[str, ...] | None) -> LossResult:
        return losses.multilabel_cross_entropy(
            y, p, logits=logits, eps=eps, base=base, reduction=reduction,  # type: ignore[arg-type]
            pos_weight=pos_weight, neg_weight=neg_weight, class_names=names,
        )  # fmt: skip

    options: dict[str, Any] = {
        "logits": logits, "eps": eps, "base": base, "reduction": reduction,
        "pos_weight": pos_weight, "neg_weight": neg_weight,
    }  # fmt: skip
    compare = _frameworks_request(like, frameworks)
    _dispatch(
        mode, labels, preds, classes, files, loss,
        command="multilabel", options=options, compare=compare,
    )  # fmt: skip


@_command
@_with_file_options
def kl(
    labels: Annotated[
        str | None, typer.Argument(metavar="P", help="The true distribution(s) P.")
    ] = None,
    preds: Annotated[
        str | None, typer.Argument(metavar="Q", help="The model's distribution(s) Q.")
    ] = None,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    normalize: Annotated[
        bool, typer.Option("--normalize", help="Renormalise P and Q rows to sum to 1.")
    ] = False,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
    explain: Explain = False,
    vs: Versus = None,
    like: Like = None,
    frameworks: Frameworks = False,
    files: FileOptions = FileOptions(),
) -> None:
    """KL divergence D_KL(P‖Q) = Σ p·log(p/q), with H(P) and H(P,Q) = H(P) + D_KL.

    Example: `cecli kl 0.5,0.5 0.9,0.1 --base 2`. From a file, P is read from the label
    columns (y0…yK) and Q from the prediction columns (p0…pK).
    """
    mode = _output_mode(json_output, quiet, explain)

    def loss(y: FloatArray, p: FloatArray, names: tuple[str, ...] | None) -> LossResult:
        return losses.kl_divergence(
            y, p, logits=logits, eps=eps, base=base, reduction=reduction,  # type: ignore[arg-type]
            normalize=normalize, class_names=names,
        )  # fmt: skip

    options: dict[str, Any] = {
        "logits": logits, "eps": eps, "base": base, "reduction": reduction, "normalize": normalize,
    }  # fmt: skip
    compare = _frameworks_request(like, frameworks)
    gradient = _logit_gradient(
        probs=not logits, sigmoid=False, eps=eps, base=base, reduction=reduction
    )

    _dispatch(
        mode, labels, preds, classes, files, loss,
        command="kl", options=options,
        vs=vs, gradient=gradient, compare=compare,
    )  # fmt: skip


@_command
@_with_file_options
def grad(
    labels: Labels = None,
    preds: Annotated[
        str | None, typer.Argument(metavar="PREDS", help="Logits (probabilities with --probs).")
    ] = None,
    probs: Annotated[
        bool, typer.Option("--probs", help="PREDS are probabilities; the logits are log p.")
    ] = False,
    logits: Annotated[
        bool, typer.Option("--logits", help="PREDS are logits (the default; for symmetry).")
    ] = False,
    sigmoid: Annotated[
        bool, typer.Option("--sigmoid", help="Per-class sigmoid + BCE instead of softmax + CE.")
    ] = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
    explain: Explain = False,
    vs: Versus = None,
    like: Like = None,
    frameworks: Frameworks = False,
    files: FileOptions = FileOptions(),
) -> None:
    """Gradient of the loss w.r.t. the logits: ∂L/∂z = softmax(z) − y.

    Example: `cecli grad 0 2,1,0.1`. From a file, `--output` writes each row's own gradient.
    """
    if logits and probs:
        _fail("use either --logits or --probs, not both")
    mode = _output_mode(json_output, quiet, explain)

    def loss(y: FloatArray, p: FloatArray, names: tuple[str, ...] | None) -> LossResult:
        return losses.logit_gradient(
            y, p, probs=probs, sigmoid=sigmoid, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            class_names=names,
        )  # fmt: skip

    options: dict[str, Any] = {
        "probs": probs, "sigmoid": sigmoid, "eps": eps, "base": base, "reduction": reduction,
    }  # fmt: skip
    compare = _frameworks_request(like, frameworks)
    gradient = _logit_gradient(
        probs=probs, sigmoid=sigmoid, eps=eps, base=base, reduction=reduction
    )

    _dispatch(
        mode, labels, preds, classes, files, loss,
        command="grad", options=options,
        vs=vs, gradient=gradient, compare=compare,
    )  # fmt: skip


@_command
@_with_file_options
def smooth(
    labels: Labels = None,
    preds: Preds = None,
    smoothing: Annotated[
        float, typer.Option(parser=_number("--smoothing"), help="ε in y' = (1-ε)·y + ε/C.")
    ] = 0.1,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    normalize: Normalize = False,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
    explain: Explain = False,
    like: Like = None,
    frameworks: Frameworks = False,
    files: FileOptions = FileOptions(),
) -> None:
    """Label smoothing: hard and smoothed targets side by side, with both losses.

    Example: `cecli smooth 0 0.7,0.2,0.1 --smoothing 0.1`.
    """
    mode = _output_mode(json_output, quiet, explain)

    def loss(y: FloatArray, p: FloatArray, names: tuple[str, ...] | None) -> LossResult:
        return losses.label_smoothing(
            y, p, smoothing=smoothing, logits=logits, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            normalize=normalize, class_names=names,
        )  # fmt: skip

    options: dict[str, Any] = {
        "smoothing": smoothing, "logits": logits, "eps": eps, "base": base, "reduction": reduction,
        "normalize": normalize,
    }  # fmt: skip
    compare = _frameworks_request(like, frameworks)
    _dispatch(
        mode, labels, preds, classes, files, loss,
        command="smooth", options=options, compare=compare,
    )  # fmt: skip


@_command
@_with_file_options
def focal(
    labels: Labels = None,
    preds: Preds = None,
    gamma: Annotated[
        float,
        typer.Option(parser=_number("--gamma"), help="Focusing parameter γ ≥ 0 (0 gives CE)."),
    ] = 2.0,
    alpha: Annotated[
        float | None,
        typer.Option(
            parser=_number("--alpha"),
            help="α weighting (default: none). With --binary, α for y=1, 1-α for y=0.",
        ),
    ] = None,
    binary: Annotated[
        bool, typer.Option("--binary", help="Per-element sigmoid focal loss (like bce).")
    ] = False,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    normalize: Normalize = False,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
    explain: Explain = False,
    vs: Versus = None,
    like: Like = None,
    frameworks: Frameworks = False,
    files: FileOptions = FileOptions(),
) -> None:
    """Focal loss: -α·(1-p_t)^γ·log p_t, next to plain cross-entropy.

    Example: `cecli focal 0 0.7,0.2,0.1 --gamma 2`.
    """
    mode = _output_mode(json_output, quiet, explain)

    def loss(y: FloatArray, p: FloatArray, names: tuple[str, ...] | None) -> LossResult:
        return losses.focal_loss(
            y, p, gamma=gamma, alpha=alpha, binary=binary, logits=logits, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            normalize=normalize, class_names=names,
        )  # fmt: skip

    def gradient(y: FloatArray, p: FloatArray) -> FloatArray:
        return losses.focal_gradient(
            y, p, gamma=gamma, alpha=alpha, binary=binary, logits=logits, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
        )  # fmt: skip

    options: dict[str, Any] = {
        "gamma": gamma, "alpha": alpha, "binary": binary, "logits": logits, "eps": eps,
        "base": base, "reduction": reduction, "normalize": normalize,
    }  # fmt: skip
    compare = _frameworks_request(like, frameworks)
    _dispatch(
        mode, labels, preds, classes, files, loss,
        command="focal", options=options,
        vs=vs, gradient=gradient, compare=compare,
    )  # fmt: skip


PlotKind = Literal["ce", "bce", "focal", "smooth", "softmax"]
# Bounds on what a plot draws: its text grows with each (a width of 1,000,000 took 2.2 GB).
PLOT_WIDTH = (20, 500)
PLOT_HEIGHT = (5, 200)
PLOT_MAX_CLASSES = 1000
PLOT_MAX_GROUPS = 10


@_command
def plot(
    kind: Annotated[
        PlotKind, typer.Argument(help="What to draw: ce, bce, focal, smooth or softmax.")
    ],
    at: Annotated[
        str | None, typer.Option(help="Probabilities to mark on the ce/bce curve, e.g. 0.1,0.9.")
    ] = None,
    gamma: Annotated[
        str, typer.Option(help="Focal: the γ values, one curve each.")
    ] = "0,0.5,1,2,5",
    smoothing: Annotated[
        float, typer.Option(parser=_number("--smoothing"), help="Smooth: ε.")
    ] = 0.1,
    num_classes: Annotated[
        int,
        typer.Option(min=2, max=PLOT_MAX_CLASSES, help="Smooth: the number of classes C."),
    ] = 5,
    logits: Annotated[
        str, typer.Option(help=f"Softmax: the logits z (at most {PLOT_MAX_CLASSES}).")
    ] = "2,1,0.1",
    temperature: Annotated[
        str, typer.Option(help=f"Softmax: temperatures T (at most {PLOT_MAX_GROUPS}).")
    ] = "0.5,1,2",
    width: Annotated[
        int | None,
        typer.Option(
            min=PLOT_WIDTH[0],
            max=PLOT_WIDTH[1],
            help="Width in characters (default: the terminal's).",
        ),
    ] = None,
    height: Annotated[
        int,
        typer.Option(
            min=PLOT_HEIGHT[0],
            max=PLOT_HEIGHT[1],
            help="Height of the plot in lines.",
        ),
    ] = 18,
) -> None:
    """Draw a loss curve or a distribution in the terminal.

    Examples: `cecli plot ce --at 0.1,0.57,0.9`, `cecli plot bce`,
    `cecli plot focal --gamma 0,0.5,1,2,5`, `cecli plot smooth --smoothing 0.1`,
    `cecli plot softmax --logits 2,1,0.1 --temperature 0.5,1,2`.
    """
    import shutil

    from cecli import plot as plots

    terminal = shutil.get_terminal_size((100, 24)).columns
    columns = width or min(max(terminal, PLOT_WIDTH[0]), PLOT_WIDTH[1])
    out = Output()
    try:
        if kind in ("smooth", "softmax"):
            bars = (
                plots.smooth_bars(num_classes, smoothing)
                if kind == "smooth"
                else plots.softmax_bars(
                    _at_most(parse_vector(logits, "--logits"), PLOT_MAX_CLASSES, "--logits"),
                    _at_most(
                        parse_vector(temperature, "--temperature"), PLOT_MAX_GROUPS, "--temperature"
                    ),
                )
            )
            out.text(plots.draw_bars(bars, columns))
            return
        points = [] if at is None else _at_most(parse_vector(at, "--at"), 100, "--at")
        figure = {
            "ce": lambda: plots.ce_plot(points),
            "bce": lambda: plots.bce_plot(points),
            "focal": lambda: plots.focal_plot(
                _at_most(parse_vector(gamma, "--gamma"), PLOT_MAX_GROUPS, "--gamma")
            ),
        }[kind]()
        canvas = max(20, columns - 24)  # the axes and their labels take the rest
        out.text(plots.draw(figure, canvas, max(5, height), color=out.colour()))
    except InputError as error:
        _fail(str(error))


def _at_most(values: FloatArray, limit: int, option: str) -> list[float]:
    if values.size > limit:
        raise InputError(f"{option}: at most {limit} values, got {values.size}")
    return [float(value) for value in values]


@_command
def tour(
    ctx: typer.Context,
    stop: Annotated[int | None, typer.Argument(help="Show only this stop (1-based).")] = None,
    list_stops: Annotated[bool, typer.Option("--list", help="List the stops.")] = False,
    pause: Annotated[
        bool, typer.Option("--pause", help="Wait for Enter between stops (at a terminal).")
    ] = False,
) -> None:
    """A guided tour of worked examples, each computed live: `cecli tour`, `cecli tour 5`."""
    from cecli import render
    from cecli.tour import STOPS

    if ctx.args:
        # The commands take extra arguments so that options may follow `--`; the tour has none.
        _fail(f"unexpected extra argument(s): {' '.join(ctx.args)}")
    total = len(STOPS)
    if stop is not None and not 1 <= stop <= total:
        _fail(f"there are {total} stops; choose 1 to {total} (cecli tour --list)")
    chosen = [(n, STOPS[n - 1]()) for n in ([stop] if stop else range(1, total + 1))]
    if list_stops:
        Output().text("\n".join(f"{n:>2}. {s.title}" for n, s in chosen))
        return
    if pause and sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty():
        with _keys_as_pressed() as read_move:
            render.page_stops(chosen, total, sys.stdout, read_move)
    else:
        render.emit_stops(chosen, total, sys.stdout)


_TOUR_MOVES: dict[str, TourMove] = {
    "\n": "next", "\r": "next", " ": "next", "\x1b[B": "next", "\x1b[C": "next", "\x1b[6~": "next",
    "b": "back", "\x1b[A": "back", "\x1b[D": "back", "\x1b[5~": "back",
    "q": "quit", "\x04": "quit", "": "quit",
}  # fmt: skip
"""Keys of ``tour --pause``; the arrow and page keys arrive as escape sequences. Ctrl-D and the
end of input quit."""
_KEY = re.compile(r"\x1b\[[0-9;]*[~A-Za-z]|.", re.DOTALL)
"""One key in what the terminal sends: an escape sequence or one character."""


@contextlib.contextmanager
def _keys_as_pressed() -> Iterator[Callable[[], TourMove]]:
    """The terminal reading keys as they are pressed, not echoed, for as long as the tour
    pages (keys pressed while a screen is drawn wait their turn); its settings come back
    however the tour ends.  Yields the function that reads the next tour key."""
    import termios
    import tty

    descriptor = sys.stdin.fileno()
    saved = termios.tcgetattr(descriptor)

    pending: list[str] = []  # keys read but not yet acted on: one read may bring several

    def read_move() -> TourMove:
        while True:
            if not pending:
                typed = os.read(descriptor, 64).decode(errors="replace")
                pending.extend(_KEY.findall(typed) if typed else [""])
            key = pending.pop(0)
            move = _TOUR_MOVES.get(key.lower() if len(key) == 1 else key)
            if move is not None:
                return move

    try:
        tty.setcbreak(descriptor, termios.TCSANOW)  # Ctrl-C still interrupts
        yield read_move
    finally:
        termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)


# --- entry point ---------------------------------------------------------------------------


class _Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that a run unwinds as on Ctrl-C:
    staging and spooled files are removed, and the target is left as it was."""


class _Interrupts:
    """Handlers for SIGINT, SIGTERM and SIGHUP while ``main`` runs.

    The first signal raises in the main thread (KeyboardInterrupt, or :class:`_Signalled`);
    later ones are noted but do not raise, so that the clean-up the first one started runs to
    its end.  One that lands in a finalizer, where Python can only print it ("Exception
    ignored in …") and go on, is kept quiet, and the exit code still says what stopped the
    run.  Signals that are ignored when the run starts (``nohup``) stay ignored.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.signum: int | None = None
        self.caught = False
        self.previous: dict[int, Any] = {}
        self.previous_hook = sys.unraisablehook

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for name in self.NAMES:
            number = getattr(signal, name, None)
            if number is None:
                continue
            current = signal.getsignal(number)
            if current is None or current == signal.SIG_IGN:
                continue
            self.previous[number] = current
            signal.signal(number, self.handle)
        sys.unraisablehook = self.unraisable

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        sys.unraisablehook = self.previous_hook

    def ignore(self) -> None:
        for number in self.previous:
            signal.signal(number, signal.SIG_IGN)

    def handle(self, number: int, frame: object) -> None:
        if self.signum is not None or self.caught:
            return
        self.signum = number
        if number == signal.SIGINT:
            raise KeyboardInterrupt
        raise _Signalled(number)

    def unraisable(self, info: "sys.UnraisableHookArgs") -> None:
        if isinstance(info.exc_value, KeyboardInterrupt) and self.signum is not None:
            return  # the run stops, quietly, with 128 + the signal's number
        self.previous_hook(info)

    def exit_code(self) -> int:
        self.caught = True
        return EXIT_INTERRUPTED if self.signum is None else 128 + self.signum


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cecli`` with ``argv`` (default: the command line); return the exit code.

    SIGINT, SIGTERM and SIGHUP stop a run quietly, with nothing left behind, and exit 130,
    143 and 129 (128 + the signal's number).
    """
    interrupts = _Interrupts()
    if sys.stdout is None:  # closed by the shell (`>&-`): writing to it is an error, not a crash
        from cecli.render import ClosedStdout

        sys.stdout = cast(TextIO, ClosedStdout())
    try:
        interrupts.install()
        code = _run(argv, interrupts)
    except KeyboardInterrupt:  # one that arrived before the run's own error boundary
        code = EXIT_INTERRUPTED
    finally:
        interrupts.caught = True  # from here on, a late signal does not raise
        if argv is not None:
            interrupts.restore()  # a call from Python gets its own handlers back
        else:
            # The run is over: a signal from here to the process's end changes nothing.
            # Ignored, not handled: Python's shutdown puts the default action back on signals
            # with a Python handler, and a SIGHUP in those last moments would kill the process.
            interrupts.ignore()
    # Typer turns KeyboardInterrupt into its own exit 130, whatever the signal was.
    return code if interrupts.signum is None else 128 + interrupts.signum


def _run(argv: Sequence[str] | None, interrupts: _Interrupts) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in _COMMANDS:
            target, prog_name, args = _one_command_app(args[0]), f"cecli {args[0]}", args[1:]
        else:
            target, prog_name = app, "cecli"
        code = target(args=args, prog_name=prog_name, standalone_mode=False)
    except BrokenPipeError:
        # The reader went away (`cecli … | head`): stop quietly, and keep Python's final
        # flush of stdout from raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as error:
        from cecli.render import discard_unwritten, stdout_failed

        if not stdout_failed(sys.stdout, error):
            raise
        # A full disk (`>/dev/full`) or a closed descriptor: one line, and the text Python
        # still holds for standard output is dropped instead of failing again at exit.
        discard_unwritten(sys.stdout)
        Output().error(f"cannot write to standard output ({error.strerror or error})")
        return EXIT_USAGE
    except (KeyboardInterrupt, typer.Abort):
        return interrupts.exit_code()
    except typer.Exit as done:
        return int(done.exit_code)
    except InputError as error:
        Output().error(_with_flags(error))
        return EXIT_USAGE
    except Exception as error:
        # Typer's own usage errors (missing argument, unknown option, bad option value) carry
        # a message and an exit code; their class is private to Typer's vendored Click.
        message = getattr(error, "format_message", None)
        exit_code = getattr(error, "exit_code", None)
        if message is None or exit_code is None:
            raise
        text = " ".join(str(message()).split())
        if text:
            Output().error(text)
        return int(exit_code)
    return code if isinstance(code, int) else 0
