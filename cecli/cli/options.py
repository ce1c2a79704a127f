"""The command line's options, declared once, in groups.

A group is a frozen dataclass whose fields are Typer options (``Annotated`` with
``typer.Option``).  :func:`with_groups` writes a group's fields into a command's signature,
which is where Typer reads options from, and hands the command one instance of the group,
so the seven loss commands share one declaration of each of their ~25 common options.
"""

# No `from __future__ import annotations`: Typer reads these annotations at run time, and
# evaluating strings for every parameter of a command measurably slowed start-up.
import contextvars
import difflib
import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any, TypeVar, cast, get_args, get_type_hints

import typer

from cecli.inputs import InputError, parse_number
from cecli.losses import DEFAULT_EPS
from cecli.numerics import Base, parse_base
from cecli.results import Reduction


class OptionError(Exception):
    """An option's value the command cannot take, found while the command line is parsed.

    Not a ValueError, which Click would rewrite as "Invalid value for …"; ``main`` prints its
    message as one ``cecli: error:`` line and exits 2, as for Click's own usage errors."""

    exit_code = 2

    def format_message(self) -> str:
        return str(self)


def number(option: str) -> Callable[[Any], float]:
    """The parser of a number option: the grammar of :func:`cecli.inputs.parse_number`, not
    Python's ``float`` (which takes ``1_0`` and ``٠.١``)."""

    def parse(value: Any) -> float:
        if isinstance(value, float | int):  # a default
            return float(value)
        parsed = parse_number(str(value))
        if parsed is None:
            raise OptionError(f"{option}: {str(value)!r} is not a number")
        return parsed

    parse.__name__ = "float"
    return parse


def _base(value: Any) -> Base:
    canonical = parse_base(str(value))
    if canonical is None:
        raise OptionError(f"--base must be e, 2 or 10 (or nats, bits), got {str(value)!r}")
    return canonical


def _reduction(value: Any) -> Reduction:
    text = str(value).strip().lower()
    for reduction in get_args(Reduction):
        if text == reduction:
            return cast(Reduction, reduction)
    raise OptionError(f"--reduction must be mean, sum or none, got {str(value)!r}")


def _library(value: Any) -> str:
    """A library ``--like`` knows, by any of its names; checked here so that a wrong name is
    refused before any input is read."""
    from cecli.frameworks import library_named
    from cecli.inputs import InputError

    try:
        return library_named(str(value))
    except InputError as error:
        raise OptionError(with_flags(str(error), error.named)) from None


# --- arguments -----------------------------------------------------------------------------

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
Normalize = Annotated[
    bool,
    typer.Option("--normalize", help="Renormalise PREDS rows to sum to 1 before clipping."),
]
Smoothing = Annotated[
    float,
    typer.Option(parser=number("--smoothing"), help="Label smoothing ε: y' = (1-ε)·y + ε/C."),
]
IgnoreIndex = Annotated[
    int | None,
    typer.Option(
        "--ignore-index",
        metavar="K",
        help="Rows labelled K count for nothing (PyTorch's ignore_index, e.g. -100).",
        show_default=False,
    ),
]
ClassWeights = Annotated[
    str | None, typer.Option(help="Class weights w1,…,wC (weighted mean as PyTorch).")
]
BinaryLabels = Annotated[
    str | None,
    typer.Argument(
        metavar="LABELS",
        help="Targets, one per prediction: 0/1 or soft rows like 1,0,1, the shape of PREDS.",
        show_default=False,
    ),
]
OutputWeights = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="Class weights w1,…,wC: both terms of each output times its class's weight "
        "(PyTorch's weight=), not a weighted mean.",
        show_default=False,
    ),
]
PosWeight = Annotated[
    float,
    typer.Option(parser=number("--pos-weight"), help="Weight of the positive (y=1) terms."),
]

# --- the groups ----------------------------------------------------------------------------

_NUMERICS = "Numerics"
_OUTPUT = "Output"
_COMPARE = "Compare"
_FILES = "Files"
_EVALUATION = "Evaluation"


@dataclass(frozen=True, repr=False, eq=False)
class LossOptions:
    """How PREDS are read and the loss is reduced: the loss functions' own keywords."""

    logits: Annotated[
        bool,
        typer.Option("--logits", help="PREDS (kl: Q) are raw scores (logits), not probabilities."),
    ] = False
    classes: Annotated[
        str | None,
        typer.Option(
            "--classes",
            help="Class names, a,b,c, for the tables; a class-index label may then be a name.",
            show_default=False,
        ),
    ] = None
    eps: Annotated[
        float,
        typer.Option(
            "--eps",
            parser=number("--eps"),
            help="Clip probabilities to [eps, 1-eps]; 0 turns clipping off.",
            rich_help_panel=_NUMERICS,
        ),
    ] = DEFAULT_EPS
    base: Annotated[
        Base,
        typer.Option(
            "--base",
            parser=_base,
            metavar="[e|2|10]",
            help="Unit of every value: e (nats), 2 (bits) or 10.",
            rich_help_panel=_NUMERICS,
        ),
    ] = "e"
    reduction: Annotated[
        Reduction,
        typer.Option(
            "--reduction",
            parser=_reduction,
            metavar="[mean|sum|none]",
            help="Across rows: mean, sum or none (one value per row).",
            rich_help_panel=_NUMERICS,
        ),
    ] = "mean"
    sample_weights: Annotated[
        str | None,
        typer.Option(
            "--sample-weights",
            metavar="W",
            help="One weight per row (1.2;3.4), or one for all; the mean is Σw·ℓ/Σw.",
            rich_help_panel=_NUMERICS,
            show_default=False,
        ),
    ] = None

    def keywords(self) -> dict[str, Any]:
        """The keyword arguments every loss function takes, as the library names them."""
        keywords: dict[str, Any] = {
            "logits": self.logits, "eps": self.eps, "base": self.base,
            "reduction": self.reduction,
        }  # fmt: skip
        if self.sample_weights is not None:
            from cecli.inputs import parse_matrix

            weights = parse_matrix(self.sample_weights, "--sample-weights").reshape(-1)
            keywords["sample_weights"] = weights
        return keywords


@dataclass(frozen=True, repr=False, eq=False)
class OutputOptions:
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object.", rich_help_panel=_OUTPUT)
    ] = False
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Print the loss alone, at full precision.",
            rich_help_panel=_OUTPUT,
        ),
    ] = False
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="After the table, say what the numbers mean.", rich_help_panel=_OUTPUT
        ),
    ] = False
    rows: Annotated[
        str | None,
        typer.Option(
            "--rows",
            metavar="N|all",
            help="Rows of a batch shown term by term (default 5); all shows every row.",
            rich_help_panel=_OUTPUT,
            show_default=False,
        ),
    ] = None

    def rows_shown(self) -> int | None:
        """``--rows`` as a count (None for all), 5 when not given."""
        from cecli.render import ROW_BLOCKS

        if self.rows is None:
            return ROW_BLOCKS
        if self.rows.strip().lower() == "all":
            return None
        text = self.rows.strip()
        if not (text.isascii() and text.isdigit()):
            raise InputError(f"--rows takes a whole number or all, got {self.rows!r}")
        return int(text)


@dataclass(frozen=True, repr=False, eq=False)
class CompareOptions:
    vs: Annotated[
        str | None,
        typer.Option(
            "--vs",
            help="A second PREDS to compare with, side by side.",
            rich_help_panel=_COMPARE,
            show_default=False,
        ),
    ] = None
    like: Annotated[
        str | None,
        typer.Option(
            "--like",
            parser=_library,
            metavar="LIB",
            help="Print what torch, keras, tf-keras, sklearn or optax returns for this input.",
            rich_help_panel=_COMPARE,
            show_default=False,
        ),
    ] = None
    frameworks: Annotated[
        bool,
        typer.Option(
            "--frameworks",
            help="Compare with PyTorch, Keras, tf.keras, scikit-learn, optax; say why they differ.",
            rich_help_panel=_COMPARE,
        ),
    ] = False


@dataclass(frozen=True, repr=False, eq=False)
class FileOptions:
    """How to read a file; no ``sources`` when LABELS and PREDS are typed instead."""

    csv: Annotated[
        list[str] | None,
        typer.Option(
            "--csv",
            help="Score a CSV file (.csv.gz too; - reads stdin); repeat it, or give a quoted "
            "glob, a folder of parts or a URL, for many.",
            rich_help_panel=_FILES,
        ),
    ] = None
    parquet: Annotated[
        list[str] | None,
        typer.Option(
            "--parquet",
            help="Score a Parquet file; repeat it, or give a quoted glob, a folder or a URL.",
            rich_help_panel=_FILES,
        ),
    ] = None
    label_col: Annotated[
        str | None,
        typer.Option(
            help="Column of class indices or names (default: 'label').", rich_help_panel=_FILES
        ),
    ] = None
    label_cols: Annotated[
        str | None,
        typer.Option(
            help="Columns of per-class targets, names or globs (default: y0…yK).",
            rich_help_panel=_FILES,
        ),
    ] = None
    pred_cols: Annotated[
        str | None,
        typer.Option(
            help="Prediction columns, names or globs like 'p*' (default: p0…pK, else "
            "p_CLASS, prob_CLASS or logit_CLASS, else the other columns).",
            rich_help_panel=_FILES,
        ),
    ] = None
    weight_col: Annotated[
        str | None,
        typer.Option(
            help="Column of per-row sample weights (default: 'weight' or 'sample_weight').",
            rich_help_panel=_FILES,
        ),
    ] = None
    id_col: Annotated[
        str | None,
        typer.Option(
            help="Column naming the rows (default: 'id'): copied to the per-row output, and "
            "matching the rows of --labels and --preds.",
            rich_help_panel=_FILES,
        ),
    ] = None
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected).", rich_help_panel=_FILES)
    ] = None
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Score the valid rows, report the rest.", rich_help_panel=_FILES
        ),
    ] = False
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Write one loss per row to this CSV file (- for standard output), or to a "
            "folder of part files (a name ending in /).",
            rich_help_panel=_FILES,
        ),
    ] = None
    output_format: Annotated[
        str | None,
        typer.Option(
            "--output-format", metavar="csv|parquet",
            help="Format of the parts in an --output folder (default: by its name, else csv).",
            rich_help_panel=_FILES, show_default=False,
        ),
    ] = None  # fmt: skip
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Hide the progress bar.", rich_help_panel=_FILES)
    ] = False
    labels_file: Annotated[
        list[str] | None,
        typer.Option(
            "--labels",
            help="A file of labels, beside --preds FILE (several: paired in order).",
            rich_help_panel=_FILES,
        ),
    ] = None
    preds_file: Annotated[
        list[str] | None,
        typer.Option(
            "--preds", help="A file of predictions, beside --labels FILE.", rich_help_panel=_FILES
        ),
    ] = None
    rejects: Annotated[
        str | None,
        typer.Option(
            "--rejects", help="With --skip-invalid: write the skipped rows, line and reason.",
            rich_help_panel=_FILES, show_default=False,
        ),
    ] = None  # fmt: skip
    per_class: Annotated[
        bool,
        typer.Option(
            "--per-class", help="A row per class (per output for bce, multilabel).",
            rich_help_panel=_EVALUATION,
        ),
    ] = False  # fmt: skip
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by", help="A row per value of these columns (repeat, or a,b).",
            rich_help_panel=_EVALUATION, show_default=False,
        ),
    ] = None  # fmt: skip
    top_k: Annotated[
        int | None,
        typer.Option(
            "--top-k", help="Top-k accuracy (default: 5 past 5 classes).",
            rich_help_panel=_EVALUATION, show_default=False,
        ),
    ] = None  # fmt: skip
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold", parser=number("--threshold"),
            help="bce/multilabel: positive above this probability (0.5).",
            rich_help_panel=_EVALUATION, show_default=False,
        ),
    ] = None  # fmt: skip
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", help="Per-row output: add label,pred,p_true,rank,correct.",
            rich_help_panel=_EVALUATION, show_default=False,
        ),
    ] = None  # fmt: skip
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep", help="Per-row output: copy these input columns (repeat, or a,b).",
            rich_help_panel=_EVALUATION, show_default=False,
        ),
    ] = None  # fmt: skip
    by_file: Annotated[
        bool,
        typer.Option(
            "--by-file", help="Add one summary row per input file.", rich_help_panel=_FILES
        ),
    ] = False
    storage_option: Annotated[
        list[str] | None,
        typer.Option(
            "--storage-option",
            metavar="KEY=VALUE",
            help="A setting for reading URLs through fsspec, e.g. endpoint_url=http://host:9000.",
            rich_help_panel=_FILES,
        ),
    ] = None
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            metavar="ADDRESS",
            help="Score on a Dask cluster: a scheduler's address, local[:N] worker processes "
            "here, or auto (DASK_SCHEDULER_ADDRESS).",
            rich_help_panel=_FILES,
        ),
    ] = None

    @property
    def sources(self) -> list[str]:
        """The files (globs, folders, URLs) given, in the order of the options."""
        given = [self.csv, self.parquet, self.labels_file, self.preds_file]
        return [source for sources in given if sources for source in sources]

    def given(self) -> list[str]:
        """The flags of the file options that were set, in declaration order."""
        return [
            FLAGS.get(f.name, "--" + f.name.replace("_", "-"))
            for f in fields(self)
            if getattr(self, f.name) not in (None, False)
        ]


@dataclass(frozen=True, repr=False, eq=False)
class Common:
    """The option groups every loss command has, gathered for the command's body."""

    loss: LossOptions
    output: OutputOptions
    compare: CompareOptions
    files: FileOptions


GROUPS: dict[str, type[Any]] = {
    "loss": LossOptions,
    "output": OutputOptions,
    "compare": CompareOptions,
    "files": FileOptions,
}

FLAGS: dict[str, str] = {
    "eps": "--eps", "base": "--base", "reduction": "--reduction", "logits": "--logits",
    "weights": "--weights", "smoothing": "--smoothing", "pos_weight": "--pos-weight",
    "neg_weight": "--neg-weight", "gamma": "--gamma", "alpha": "--alpha",
    "class_names": "--classes", "classes": "--classes", "library": "--like", "like": "--like",
    "label_col": "--label-col", "label_cols": "--label-cols", "pred_cols": "--pred-cols",
    "weight_col": "--weight-col", "id_col": "--id-col", "delimiter": "--delimiter",
    "skip_invalid": "--skip-invalid", "labels_file": "--labels", "preds_file": "--preds",
    "json_output": "--json", "no_progress": "--no-progress", "sigmoid": "--sigmoid",
    "binary": "--binary", "normalize": "--normalize", "vs": "--vs",
    "frameworks": "--frameworks", "explain": "--explain", "quiet": "--quiet", "csv": "--csv",
    "parquet": "--parquet", "output": "--output", "rows": "--rows", "at": "--at",
    "temperature": "--temperature", "num_classes": "--num-classes", "width": "--width",
    "height": "--height", "rejects": "--rejects", "per_class": "--per-class", "by": "--by",
    "top_k": "--top-k", "threshold": "--threshold", "columns": "--columns", "keep": "--keep",
    "by_file": "--by-file", "dask": "--dask", "output_format": "--output-format",
    "storage_options": "--storage-option", "storage_option": "--storage-option",
    "sample_weights": "--sample-weights", "ignore_index": "--ignore-index",
    "log_targets": "--log-targets", "generalized": "--generalized", "on_rejects": "--rejects",
}  # fmt: skip
"""Each library parameter (and option group field), as the command line names it."""


KEYWORD_FLAGS = {
    "use logits=True": "use --logits",
    "read as with logits=True": "read as with --logits",
    "choose them with pred_cols)": "choose them with --pred-cols)",
    "(id_col to choose)": "(--id-col to choose)",
    "(pred_cols, class_names to choose)": "(--pred-cols, --classes to choose)",
    "(weight_col to choose another)": "(--weight-col to choose another)",
    "use kind='parquet'": "use --parquet",
    "is also output;": "is also --output;",
}
"""Hints the library gives inside notes and a record's reason, which carry no parameter:
each is rewritten whole, so that a column or a class named like a parameter stays as it is."""


def _mention(parameter: str, *, marked: bool = False) -> re.Pattern[str]:
    """``parameter`` as a message names it: a whole word outside quotes, alone, as
    ``parameter=True`` or as ``parameter='value'`` (only these two when ``marked``); not
    a part of a path or an address (``runs/output/``, ``dask.csv``, ``tcp://dask:8786``)."""
    name = re.escape(parameter)
    value = "" if marked else "?"
    return re.compile(
        rf"(?<![\w'./\\-]){name}(?:=True|='(?P<value>[^']*)'){value}(?![\w'/\\-])(?!\.\w)"
    )


def with_flags(message: str, parameter: str | tuple[str, ...] | None) -> str:
    """A library message with the parameter it names written as the option instead
    (``eps must be…`` reads ``--eps must be…``, ``use logits=True`` reads ``use --logits``,
    ``library='keras'`` reads ``--like keras``).

    ``parameter`` as a string: every mention of it.  As a tuple: one mention each, in the
    order the message makes them, so that the same word elsewhere in the message (a column
    named ``by``, PyTorch's own ``pos_weight``) is left as it is; the next marked spelling
    (``binary=True``) is the mention where there is one, not the word in prose before it
    ("the sigmoid (binary) one: add binary=True").
    """
    for keyword, spelled_out in KEYWORD_FLAGS.items():  # a hint that names no parameter
        message = message.replace(keyword, spelled_out)
    if parameter is None:
        return message
    if isinstance(parameter, str):
        only = FLAGS.get(parameter)
        if only is None:
            return message
        return _mention(parameter).sub(lambda found: _spelled(only, found), message)
    start = 0
    for name in parameter:
        flag = FLAGS.get(name)
        found = _mention(name, marked=True).search(message, start) or _mention(name).search(
            message, start
        )
        if flag is None or found is None:
            continue
        spelled = _spelled(flag, found)
        message = message[: found.start()] + spelled + message[found.end() :]
        start = found.start() + len(spelled)
    return message


def _spelled(flag: str, found: re.Match[str]) -> str:
    value = found.group("value")
    return flag if value is None else f"{flag} {value}"


_Command = TypeVar("_Command", bound=Callable[..., None])


@functools.cache
def _group_parameters() -> tuple[list[inspect.Parameter], dict[str, list[str]]]:
    """Every group's fields as keyword parameters, and each group's field names: worked out
    once for the seven commands (reading the type hints seven times cost start-up time)."""
    shared: list[inspect.Parameter] = []
    members: dict[str, list[str]] = {}
    for group_name, group in GROUPS.items():
        hints = get_type_hints(group, include_extras=True)
        members[group_name] = []
        for field in fields(group):
            members[group_name].append(field.name)
            shared.append(
                inspect.Parameter(
                    field.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=field.default,
                    annotation=hints[field.name],
                )
            )
    return shared, members


def with_groups(command: _Command) -> _Command:
    """Give ``command`` (whose last parameter is ``common: Common``) every group's options.

    Typer reads a command's options from its signature; this writes each group's fields into
    the signature once, instead of into seven parameter lists by hand, and calls the command
    with the values gathered back into their groups.
    """
    signature = inspect.signature(command)
    own = [p for name, p in signature.parameters.items() if name != "common"]
    shared, members = _group_parameters()
    clash = {p.name for p in own} & {p.name for p in shared}
    assert not clash, f"{command.__name__}: {clash} declared twice"

    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )

    @functools.wraps(command)
    def with_options(ctx: typer.Context, **values: Any) -> None:
        # A misspelt option (--word, or -letter) lands in LABELS or PREDS (unknown options are
        # let through for negative numbers): name it, rather than the arguments it displaced.
        for name in ("labels", "preds"):
            value = values[name]
            if value is not None and _OPTION_LIKE.match(value):
                option, known = value.split("=", 1)[0], known_options(ctx)
                if option not in known:
                    raise unknown_option(option, known)
        if ctx.args:
            positionals = [values[name] for name in ("labels", "preds") if values[name] is not None]
            reparse_trailing_options(ctx, positionals)
            return
        groups = {
            name: GROUPS[name](**{field: values.pop(field) for field in names})
            for name, names in members.items()
        }
        command(common=Common(**groups), **values)

    parameters = [context, *own, *shared]
    setattr(with_options, "__signature__", signature.replace(parameters=parameters))  # noqa: B010
    with_options.__annotations__ = {p.name: p.annotation for p in parameters}
    return cast(_Command, with_options)


# --- options typed after the arguments -------------------------------------------------------

# Negative numbers (`-1.2,0.3`) must reach the arguments instead of being read as options, so
# the loss commands take unknown options and extra arguments; options typed after `--`
# (`cecli ce -- 0 -1.2,0.3 --logits`) arrive as extra arguments, handed back to the parser once.
COMMAND_SETTINGS: dict[str, Any] = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": ["-h", "--help"],
}
NUMBER_LIKE = re.compile(r"^-[\d.]")
_OPTION_LIKE = re.compile(r"^--[A-Za-z]|^-[A-Za-z]$")
_NUMBERS = re.compile(r"^[-+\d.eE,;\[\] ]+$")
_reparsing: contextvars.ContextVar[bool] = contextvars.ContextVar("reparsing", default=False)


def _extra_arguments(extras: list[str]) -> OptionError:
    shown = " ".join(extras)
    if all(_NUMBERS.match(token) for token in extras):
        return OptionError(
            f"unexpected extra argument(s): {shown} (a vector is one argument: separate its "
            'values with commas, 0.7,0.2,0.1, or quote them, "0.7 0.2 0.1")'
        )
    return OptionError(f"unexpected extra argument(s): {shown}")


def reparse_trailing_options(
    ctx: typer.Context, positionals: list[str], extras: list[str] | None = None
) -> None:
    """Run the command again with the extra arguments (``extras``, default: the context's)
    first, if they are its options."""
    extras = list(ctx.args) if extras is None else extras
    known = known_options(ctx)
    if _reparsing.get() or not extras[0].startswith("-") or NUMBER_LIKE.match(extras[0]):
        raise _extra_arguments(extras)
    for token in extras:
        name = token.split("=", 1)[0]
        if token.startswith("-") and not NUMBER_LIKE.match(token) and name not in known:
            raise unknown_option(name, known)
    reparsing = _reparsing.set(True)
    try:
        code = ctx.command.main(
            args=[*extras, "--", *positionals], prog_name=ctx.command_path, standalone_mode=False
        )
    finally:
        _reparsing.reset(reparsing)
    if isinstance(code, int) and code:
        raise typer.Exit(code)


def known_options(ctx: typer.Context) -> list[str]:
    """The command's option names, help's included."""
    names = {o for p in ctx.command.params for o in [*p.opts, *p.secondary_opts]}
    return sorted(names | set(ctx.help_option_names))


def looks_like_an_option(token: str) -> bool:
    return token.startswith("-") and token != "-" and not NUMBER_LIKE.match(token)


def unknown_option(name: str, known: list[str]) -> OptionError:
    close = difflib.get_close_matches(name, [k for k in known if k.startswith("-")], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return OptionError(f"no such option: {name}{hint}")
