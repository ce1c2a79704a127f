"""Results to text: rich tables, JSON or the bare number.  The only module that prints results.

``Output`` is the sink a command writes through: results and nothing else go to stdout,
warnings go to stderr.  rich is imported only when a table is drawn, so ``-q`` and ``--json``
never pay for it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Literal, ParamSpec, TextIO

import numpy as np
import numpy.typing as npt

from cecli.numerics import FloatArray
from cecli.results import (
    BinaryResult,
    CrossEntropyResult,
    FocalResult,
    GradResult,
    KLResult,
    LossResult,
    MultilabelResult,
    RowLosses,
    SmoothingResult,
    json_array,
    json_number,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.table import Table
    from rich.text import Text

    from cecli.batch import BatchSummary
    from cecli.explain import Comparison
    from cecli.files import Batch
    from cecli.frameworks import FrameworksComparison, Missing, Reproduction
    from cecli.tour import Stop

Mode = Literal["table", "explain", "json", "quiet"]
"""``explain`` is the table followed by a few plain-language sentences."""

ROW_BLOCKS = 5
"""Rows of a batch shown term by term; the rest appear in the per-row table only."""
PER_ROW_LINES = 50
"""Rows listed in a batch's per-row table before it is cut short."""
CLASS_LINES = 40
"""Classes listed term by term; wider rows show the first ones and every labelled class."""


WARNING_CONTINUATION = "  "
"""How a line that continues the warning above it (one reason of a list) begins."""


_P = ParamSpec("_P")


def _floats_as_computed(function: Callable[_P, None]) -> Callable[_P, None]:
    """Rendering only lays out what the library computed; a total or ratio it forms beside
    those numbers (Σ of terms with weights of 1e308) that overflows float64 is shown as inf,
    the value float arithmetic gives, and never with NumPy's warning on stderr."""

    @functools.wraps(function)
    def quietly(*args: _P.args, **kwargs: _P.kwargs) -> None:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            function(*args, **kwargs)

    return quietly


@dataclass(slots=True)
class Output:
    """Where a command's result and warnings go."""

    mode: Mode = "table"
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def warn(self, message: str) -> None:
        """One warning line; a message indented by two spaces continues the warning above it
        (one reason of a list) and is printed as it is, without the prefix."""
        line = safe_text(message)
        say(
            line if line.startswith(WARNING_CONTINUATION) else f"cecli: warning: {line}",
            self.stderr,
        )

    @_floats_as_computed
    def emit_comparison(self, comparison: Comparison) -> None:
        """Two predictions for the same labels, side by side (``--vs``)."""
        from cecli.explain import compare

        for result in (comparison.a, comparison.b):
            for message in warnings_for(result):
                self.warn(message)
        if self.mode == "json":
            import json

            self.stdout.write(json.dumps(comparison.to_json(), allow_nan=False) + "\n")
        elif self.mode == "quiet":
            self.stdout.write(quiet_text(comparison.a) + quiet_text(comparison.b))
        else:
            console = _console(self.stdout)
            for renderable in comparison_tables(comparison):
                console.print(renderable)
            for sentence in compare(comparison):
                console.print(_conclusion(sentence))
        self.stdout.flush()

    def text(self, text: str) -> None:
        """Already laid-out text (plots) to stdout."""
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def colour(self) -> bool:
        """Whether stdout takes colours: a terminal, and no NO_COLOR."""
        return self.stdout.isatty() and "NO_COLOR" not in os.environ

    def hint(self, message: str) -> None:
        say(f"cecli: {safe_text(message)}", self.stderr)

    def error(self, message: str) -> None:
        # One line, whatever the message quotes: a file name, column name or value with a line
        # break or an escape sequence is shown, not obeyed.
        say(f"cecli: error: {safe_text(message)}", self.stderr)

    @_floats_as_computed
    def emit(self, result: LossResult) -> None:
        """Print warnings about ``result`` to stderr, then the result in this mode to stdout."""
        for message in warnings_for(result):
            self.warn(message)
        if self.mode == "quiet":
            self.stdout.write(quiet_text(result))
        elif self.mode == "json":
            self.stdout.write(json_text(result))
        else:
            console = _console(self.stdout)
            for renderable in tables_for(result):
                console.print(renderable)
            if self.mode == "explain":
                from cecli.explain import explain

                for sentence in explain(result):
                    console.print(_conclusion(sentence))
        self.stdout.flush()


def say(line: str, stderr: TextIO | None) -> None:
    """One line to stderr.  A standard error that is closed or cannot be written (a full disk)
    loses the line but not the run's exit code: nothing is left to raise at exit either."""
    if stderr is None:  # closed by the shell (`2>&-`); print(file=None) would go to stdout
        return
    try:
        print(line, file=stderr, flush=True)
    except OSError:
        discard_unwritten(stderr)


def discard_unwritten(stream: IO[str]) -> None:
    """Point ``stream``'s descriptor at the null device, so the text still buffered for it is
    dropped instead of failing again when Python flushes it at exit."""
    with contextlib.suppress(OSError, ValueError):
        descriptor = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, descriptor)
        os.close(null)


class ClosedStdout(io.TextIOBase):
    """Standard output when the shell closed it (``>&-``): every write fails, as it would on a
    closed descriptor, so the run ends in the same one-line error as a full disk."""

    def write(self, text: str) -> int:
        import errno

        raise OSError(errno.EBADF, os.strerror(errno.EBADF))


def stdout_failed(stdout: IO[str] | None, error: OSError) -> bool:
    """Whether ``error`` is standard output refusing text: it is closed, still holds text it
    could not deliver, or ``error`` is a write error that names no file (the file modules turn
    their own failures into input errors that name the file)."""
    import errno

    if stdout is None or isinstance(stdout, ClosedStdout):
        return True
    write_errors = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF, errno.EROFS}
    if error.filename is None and error.errno in write_errors:
        return True
    try:
        stdout.flush()
    except (OSError, ValueError):
        return True
    return False


def quiet_text(result: LossResult) -> str:
    """The headline value(s), one per line, each as ``repr(float)`` (``inf`` for infinity);
    for ``grad``, the gradient ∂L/∂z, one row per line (as ``--like … -q`` prints it)."""
    if isinstance(result, GradResult):
        return quiet_values(result.grad)
    return "".join(f"{value!r}\n" for value in result.headline())


def json_text(result: LossResult) -> str:
    """One strict RFC 8259 JSON object and a newline."""
    import json

    return json.dumps(result.to_json(), allow_nan=False) + "\n"


def warnings_for(result: LossResult) -> list[str]:
    """Plain-language warnings about the input or the value (never printed to stdout)."""
    messages: list[str] = []
    if isinstance(result, KLResult) and result.unnormalized_p_rows:
        messages.append(_unnormalized_message("LABELS", result.unnormalized_p_rows))
    if result.unnormalized_rows:
        messages.append(_unnormalized_message("PREDS", result.unnormalized_rows))
    values = np.asarray(result.headline())
    if np.any(np.isinf(values)):
        messages.append(_infinite_message(result))
    elif np.any(np.isnan(values)):
        messages.append("the loss is not a number (nan)")
    return messages


def _infinite_message(result: LossResult) -> str:
    # From logits nothing is clipped and no probability is 0 exactly: the value is finite in
    # exact arithmetic but beyond float64 (a gap of 2e308 between two logits).
    if result.logits:
        return (
            "the loss is infinite: it overflowed float64 (a gap between logits is too large; "
            "the largest float is about 1.8e308)"
        )
    if result.eps == 0.0:
        return (
            "the loss is infinite: a target has probability 0 and log 0 = -inf "
            "(--eps 0 turned clipping off)"
        )
    return "the loss is infinite: it overflowed float64 (the largest float is about 1.8e308)"


def _unnormalized_message(name: str, rows: Sequence[int]) -> str:
    shown = ", ".join(str(r + 1) for r in rows[:5]) + (", …" if len(rows) > 5 else "")
    noun = "row" if len(rows) == 1 else "rows"
    verb, pronoun = ("does", "it is") if len(rows) == 1 else ("do", "they are")
    return (
        f"{name} {noun} {shown} {verb} not sum to 1 (within 1e-4); {pronoun} used as given "
        f"(--normalize renormalises)"
    )


# --- text from data ------------------------------------------------------------------------

_NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNSHOWABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Unicode categories a terminal acts on or cannot show: control characters (C0, DEL, C1),
format characters (bidi overrides, zero-width characters), lone surrogates (undecodable bytes
in a file name) and line and paragraph separators."""
_JOINERS = frozenset({"\u200c", "\u200d"})
"""Format characters that some scripts and emoji need to be written correctly: kept."""


def safe_text(text: str) -> str:
    """``text`` as it can be shown on a terminal: every control, format or separator character
    written as its escape (``\\x1b``, ``\\u202e``, ``\\n``), so an identifier, class name, column
    or file name can neither move the cursor, retitle the window, reorder what follows nor
    break a line.  Printable text (and a backslash) is left as it is."""
    if text.isprintable():
        return text
    return "".join(_escape_character(character) for character in text)


def _escape_character(character: str) -> str:
    if character in _JOINERS or unicodedata.category(character) not in _UNSHOWABLE:
        return character
    if character in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[character]
    code = ord(character)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _data(text: str) -> Text:
    """Text from data or arguments as a table cell or line: escaped, and never read as rich
    markup (an id ``[/x]`` is shown as typed, ``[link=…]`` makes no hyperlink)."""
    from rich.text import Text

    return Text(safe_text(text))


def _conclusion(sentence: str) -> Text:
    """A sentence of ``--explain``, ``--vs`` or the tour after its arrow; the sentence quotes
    class names, so it is shown as written rather than read as markup."""
    from rich.text import Text

    return Text.assemble(("→", "bold"), " ", safe_text(sentence))


# --- numbers -------------------------------------------------------------------------------


def fmt(value: float) -> str:
    """A number for a person: 7 significant digits, ``inf``/``nan`` spelled out."""
    number = float(value)
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if number == 0.0:
        return "0"
    return f"{number:.7g}"


_LOG_NAMES = {"e": "log", "2": "log₂", "10": "log₁₀"}


def _log(result: LossResult) -> str:
    return _LOG_NAMES[result.base]


def _element_wise(result: LossResult) -> bool:
    """Whether the loss reduces over every element rather than over rows."""
    if isinstance(result, BinaryResult):
        return not isinstance(result, MultilabelResult)
    if isinstance(result, FocalResult):
        return result.binary
    return isinstance(result, GradResult) and result.sigmoid


def _reduction_words(result: LossResult) -> str:
    if result.reduction == "none":
        return f"per row, {result.rows} row{'s' if result.rows != 1 else ''}"
    count, what = result.rows, "row"
    if _element_wise(result):
        count, what = result.rows * result.classes, "element"
    return f"{result.reduction} over {count} {what}{'s' if count != 1 else ''}"


# --- rich helpers --------------------------------------------------------------------------


def _console(stream: TextIO) -> Console:
    from rich.console import Console

    console = Console(file=stream, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped output would be cut to 80 columns, and a cut number is a wrong number.
        console.width = 160
    return console


def _table(title: str, columns: Sequence[str]) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title or None, box=box.SIMPLE_HEAD, title_justify="left", show_footer=False)
    for index, name in enumerate(columns):
        if index == 0:
            table.add_column(name, no_wrap=True)
        else:
            table.add_column(name, justify="right", no_wrap=True)
    return table


def _flagged(value: float, flag: bool) -> str:
    return f"[yellow]{fmt(value)}*[/]" if flag else fmt(value)


def _class_label(result: LossResult, index: int) -> RenderableType:
    if result.class_names is not None:
        return _data(result.class_names[index])
    return str(index)


def _shown_classes(targets: FloatArray) -> tuple[list[int], int]:
    """Which classes of a row to list, and how many are left out."""
    classes = targets.shape[0]
    if classes <= CLASS_LINES:
        return list(range(classes)), 0
    shown = sorted(set(range(CLASS_LINES // 2)) | set(np.flatnonzero(targets).tolist()))
    return shown, classes - len(shown)


_EIGHTHS = " ▏▎▍▌▋▊▉█"
SHARE_WIDTH = 10


def _share(value: float, terms: FloatArray) -> str:
    """``value``'s share of the terms' total as a bar and a percentage, so the dominant term is
    seen before it is read (magnitudes, for terms of both signs)."""
    total = float(np.sum(np.abs(terms)))
    if not (math.isfinite(total) and total > 0 and math.isfinite(value)):
        return ""
    fraction = abs(value) / total
    eighths = round(fraction * SHARE_WIDTH * 8)
    bar = "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")
    return f"[cyan]{bar:<{SHARE_WIDTH}}[/] {fraction:4.0%}"


def _text(markup: str) -> RenderableType:
    from rich.text import Text

    return Text.from_markup(markup)


def _row_title(name: str, result: LossResult, row: int) -> str:
    return name if result.rows == 1 else f"{name} — row {row + 1}"


def _sum_terms(values: Iterable[str], limit: int = 6) -> str:
    items = list(values)
    if len(items) > limit:
        items = [*items[: limit - 1], "…"]
    return " + ".join(items)


def _clip_note(result: LossResult) -> RenderableType | None:
    if result.clipped_count == 0:
        return None
    eps = result.eps
    return _text(
        f"[yellow]*[/] clipped to [{fmt(eps)}, 1 − {fmt(eps)}] before taking the log "
        f"({result.clipped_count} value{'s' if result.clipped_count != 1 else ''})"
    )


def _summary(result: LossResult, name: str) -> list[RenderableType]:
    """Per-row table for batches, then the headline with its unit and reduction."""
    out: list[RenderableType] = []
    if result.rows > 1:
        table = _table("Per row", ["row", f"loss ({result.unit})"])
        for row in range(min(result.rows, PER_ROW_LINES)):
            table.add_row(str(row + 1), fmt(result.per_row[row]))
        if result.rows > PER_ROW_LINES:
            table.add_row("…", f"({result.rows - PER_ROW_LINES} more rows)")
        out.append(table)
    if result.reduction == "none":
        out.append(
            _text(
                f"[bold]{name}[/] per row ({result.unit}): "
                + ", ".join(fmt(v) for v in result.headline()[:PER_ROW_LINES])
            )
        )
    else:
        out.append(
            _text(
                f"[bold]{name}: {fmt(result.headline()[0])} {result.unit}[/] "
                f"({_reduction_words(result)})"
            )
        )
    return out


def _scalar(value: float | FloatArray) -> float:
    return float(np.sum(value)) if isinstance(value, np.ndarray) else float(value)


def _blocks(result: LossResult) -> range:
    return range(min(result.rows, ROW_BLOCKS))


# --- one builder per result type -----------------------------------------------------------


def tables_for(result: LossResult) -> list[RenderableType]:
    """The renderables that teach ``result``: term tables, formulas, totals, headline."""
    builders: list[tuple[type[LossResult], Callable[[LossResult], list[RenderableType]]]] = [
        (SmoothingResult, _smooth_tables),  # type: ignore[list-item]
        (CrossEntropyResult, _ce_tables),  # type: ignore[list-item]
        (MultilabelResult, _multilabel_tables),  # type: ignore[list-item]
        (BinaryResult, _bce_tables),  # type: ignore[list-item]
        (KLResult, _kl_tables),  # type: ignore[list-item]
        (GradResult, _grad_tables),  # type: ignore[list-item]
        (FocalResult, _focal_tables),  # type: ignore[list-item]
    ]
    for kind, builder in builders:
        if isinstance(result, kind):
            return builder(result)
    raise TypeError(f"no table for {type(result).__name__}")


def _ce_tables(result: CrossEntropyResult) -> list[RenderableType]:
    log = _log(result)
    weighted = result.weights is not None
    out: list[RenderableType] = []
    for row in _blocks(result):
        columns = ["class", "y"]
        if weighted:
            columns.append("w")
        columns += ["z (logit)", "p = softmax(z)"] if result.logits else ["p", "p clipped"]
        columns += [f"{log} p", "−w·y·log p" if weighted else "−y·log p", "share"]
        table = _table(_row_title("Categorical cross-entropy", result, row), columns)
        shown, hidden = _shown_classes(result.targets[row])
        for c in shown:
            cells: list[RenderableType] = [_class_label(result, c), fmt(result.targets[row, c])]
            if weighted and result.weights is not None:
                cells.append(fmt(result.weights[c]))
            cells += [
                fmt(result.preds[row, c]),
                _flagged(result.probs[row, c], bool(result.clipped[row, c])),
                fmt(result.log_probs[row, c]),
                fmt(result.terms[row, c]),
                _share(result.terms[row, c], result.terms[row]),
            ]
            table.add_row(*cells)
        if hidden:
            table.add_row("…", f"{hidden} more classes", *[""] * (len(columns) - 2))
        table.add_row(
            "[bold]Σ[/]", *[""] * (len(columns) - 3), f"[bold]{fmt(result.per_row[row])}[/]", ""
        )
        out.append(table)
        coefficient = (
            result.targets[row]
            if result.weights is None
            else (result.targets[row] * result.weights)
        )
        formula = _sum_terms(
            f"{fmt(coefficient[c])}×{log} {fmt(result.probs[row, c])}" for c in shown
        )
        out.append(_text(f"L = −({formula}) = {fmt(result.per_row[row])} {result.unit}"))
        note = _clip_note(result)
        if note is not None and result.clipped[row].any():
            out.append(note)
    if weighted and result.reduction == "mean":
        out.append(
            _text(
                f"weighted mean: Σ loss / Σ w·y = {fmt(sum(result.per_row.tolist()))} / "
                f"{fmt(sum(result.row_divisors.tolist()))}"
            )
        )
    out.extend(_summary(result, "Cross-entropy"))
    return out


def _smooth_tables(result: SmoothingResult) -> list[RenderableType]:
    log = _log(result)
    out: list[RenderableType] = []
    for row in _blocks(result):
        columns = ["class", "y (hard)", "y′ (smoothed)", "p", f"{log} p", "−y·log p", "−y′·log p"]
        columns.append("share")
        table = _table(_row_title("Label smoothing", result, row), columns)
        shown, hidden = _shown_classes(result.hard_targets[row])
        for c in shown:
            table.add_row(
                _class_label(result, c),
                fmt(result.hard_targets[row, c]),
                fmt(result.targets[row, c]),
                _flagged(result.probs[row, c], bool(result.clipped[row, c])),
                fmt(result.log_probs[row, c]),
                fmt(result.hard_terms[row, c]),
                fmt(result.terms[row, c]),
                _share(result.terms[row, c], result.terms[row]),
            )
        if hidden:
            table.add_row("…", f"{hidden} more classes", *[""] * 6)
        table.add_row(
            "[bold]Σ[/]",
            "",
            "",
            "",
            "",
            fmt(result.per_row_hard[row]),
            f"[bold]{fmt(result.per_row[row])}[/]",
            "",
        )
        out.append(table)
    eps, classes = result.smoothing, result.classes
    out.append(
        _text(
            f"y′ = (1 − ε)·y + ε/C = {fmt(1 - eps)}·y + {fmt(eps / classes)}  (ε = {fmt(eps)}, "
            f"C = {classes})"
        )
    )
    hard = result.loss_hard if not isinstance(result.loss_hard, np.ndarray) else None
    if hard is not None:
        out.append(
            _text(
                f"hard targets: {fmt(hard)} {result.unit}; smoothed: "
                f"{fmt(result.headline()[0])} {result.unit}"
            )
        )
    out.extend(_summary(result, "Smoothed cross-entropy"))
    return out


def _bce_rows(
    result: BinaryResult, title: str, positive_header: str, negative_header: str
) -> list[RenderableType]:
    log = _log(result)
    out: list[RenderableType] = []
    for row in _blocks(result):
        columns = [
            "class",
            "y",
            *(["z (logit)", "p = σ(z)"] if result.logits else ["p", "p clipped"]),
            positive_header,
            negative_header,
            "term",
            "share",
        ]
        table = _table(_row_title(title, result, row), columns)
        shown, hidden = _shown_classes(result.targets[row])
        for c in shown:
            table.add_row(
                _class_label(result, c),
                fmt(result.targets[row, c]),
                fmt(result.preds[row, c]),
                _flagged(result.probs[row, c], bool(result.clipped[row, c])),
                fmt(result.positive_terms[row, c]),
                fmt(result.negative_terms[row, c]),
                fmt(result.terms[row, c]),
                _share(result.terms[row, c], result.terms[row]),
            )
        if hidden:
            table.add_row("…", f"{hidden} more classes", *[""] * 6)
        table.add_row(
            "[bold]Σ[/]",
            "",
            "",
            "",
            fmt(result.positive_terms[row].sum()),
            fmt(result.negative_terms[row].sum()),
            f"[bold]{fmt(result.terms[row].sum())}[/]",
            "",
        )
        out.append(table)
        shown_terms = _sum_terms(
            (
                f"({fmt(result.targets[row, c])}×{log} {fmt(result.probs[row, c])} + "
                f"{fmt(1 - result.targets[row, c])}×{log} {fmt(1 - result.probs[row, c])})"
                for c in shown
            ),
            limit=3,
        )
        out.append(_text(f"Σ terms = −[{shown_terms}] = {fmt(result.terms[row].sum())}"))
        note = _clip_note(result)
        if note is not None and result.clipped[row].any():
            out.append(note)
    return out


def _bce_tables(result: BinaryResult) -> list[RenderableType]:
    weight = "" if result.pos_weight == 1.0 else f"{fmt(result.pos_weight)}·"
    out = _bce_rows(result, "Binary cross-entropy", f"−{weight}y·log p", "−(1−y)·log(1−p)")
    terms = result.rows * result.classes
    total = float(np.sum(result.terms))
    if result.reduction == "sum":
        out.append(_text(f"L = Σ of all {terms} terms = {fmt(total)} {result.unit}"))
    else:
        out.append(
            _text(
                f"L = Σ terms / {terms} = {fmt(total)} / {terms} = "
                f"{fmt(total / terms)} {result.unit}  (per row: the mean of its "
                f"{result.classes} term{'s' if result.classes != 1 else ''})"
            )
        )
    out.extend(_summary(result, "Binary cross-entropy"))
    return out


def _multilabel_tables(result: MultilabelResult) -> list[RenderableType]:
    out = _bce_rows(result, "Multi-label BCE", "positive −y·log p", "negative −(1−y)·log(1−p)")
    positive = float(np.sum(result.positive_terms))
    negative = float(np.sum(result.negative_terms))
    total = positive + negative
    if total > 0 and math.isfinite(total):
        n_pos = int(np.count_nonzero(result.targets > 0.5))
        n_neg = result.targets.size - n_pos
        out.append(
            _text(
                f"positive classes ({n_pos}) contribute {fmt(positive)} ({positive / total:.1%}); "
                f"negative classes ({n_neg}) contribute {fmt(negative)} ({negative / total:.1%})"
            )
        )
    if result.reduction != "none":
        out.append(
            _text(
                f"positive: {fmt(_scalar(result.positive))}, negative: "
                f"{fmt(_scalar(result.negative))} ({result.unit}, "
                f"{_reduction_words(result)})"
            )
        )
    out.extend(_summary(result, "Multi-label loss"))
    return out


def _kl_tables(result: KLResult) -> list[RenderableType]:
    log = _log(result)
    out: list[RenderableType] = []
    for row in _blocks(result):
        columns = [
            "class",
            "p",
            *(["z (logit)", "q = softmax(z)"] if result.logits else ["q", "q clipped"]),
            "p·log(p/q)",
            "−p·log p",
            "−p·log q",
            "share of D_KL",
        ]
        table = _table(_row_title("KL divergence", result, row), columns)
        shown, hidden = _shown_classes(result.p[row])
        for c in shown:
            table.add_row(
                _class_label(result, c),
                fmt(result.p[row, c]),
                fmt(result.q_given[row, c]),
                _flagged(result.q[row, c], bool(result.clipped[row, c])),
                fmt(result.terms[row, c]),
                fmt(result.entropy_terms[row, c]),
                fmt(result.cross_entropy_terms[row, c]),
                _share(result.terms[row, c], result.terms[row]),
            )
        if hidden:
            table.add_row("…", f"{hidden} more classes", *[""] * 6)
        table.add_row(
            "[bold]Σ[/]",
            "",
            "",
            "",
            f"[bold]{fmt(result.per_row[row])}[/]",
            fmt(result.per_row_entropy[row]),
            fmt(result.per_row_cross_entropy[row]),
            "",
        )
        out.append(table)
        out.append(
            _text(
                f"H(P,Q) = H(P) + D_KL(P‖Q): {fmt(result.per_row_cross_entropy[row])} = "
                f"{fmt(result.per_row_entropy[row])} + {fmt(result.per_row[row])} {result.unit}"
                f"   ({log}, 0·log 0 = 0)"
            )
        )
        note = _clip_note(result)
        if note is not None and result.clipped[row].any():
            out.append(note)
    if result.reduction != "none":
        out.append(
            _text(
                f"H(P) = {fmt(_scalar(result.entropy))}, H(P,Q) = "
                f"{fmt(_scalar(result.cross_entropy))} {result.unit}"
            )
        )
    out.extend(_summary(result, "KL divergence D_KL(P‖Q)"))
    return out


def _grad_tables(result: GradResult) -> list[RenderableType]:
    out: list[RenderableType] = []
    activation = "σ(z)" if result.sigmoid else "softmax(z)"
    for row in _blocks(result):
        columns = ["class", "y"]
        if not result.logits:
            columns.append("p")
        columns += [
            "z" if result.logits else ("z = logit p" if result.sigmoid else "z = log p"),
            activation,
            f"∂L/∂z = {activation} − y",
        ]
        if result.grad_probs is not None:
            columns.append("∂L/∂p")
        table = _table(_row_title("Gradient w.r.t. the logits", result, row), columns)
        shown, hidden = _shown_classes(result.targets[row])
        for c in shown:
            cells: list[RenderableType] = [_class_label(result, c), fmt(result.targets[row, c])]
            if not result.logits:
                cells.append(_flagged(result.preds[row, c], bool(result.clipped[row, c])))
            cells += [
                fmt(result.logits_used[row, c]),
                fmt(result.probs[row, c]),
                f"[bold]{fmt(result.grad[row, c])}[/]",
            ]
            if result.grad_probs is not None:
                cells.append(fmt(result.grad_probs[row, c]))
            table.add_row(*cells)
        if hidden:
            table.add_row("…", f"{hidden} more classes", *[""] * (len(columns) - 2))
        out.append(table)
    scale = []
    count = result.rows * result.classes if result.sigmoid else result.rows
    if result.reduction == "mean" and count > 1:
        scale.append(f"divided by {count} for the mean")
    if result.base != "e":
        scale.append(f"divided by ln {result.base} for {result.unit}")
    if scale:
        out.append(_text("The gradient is " + " and ".join(scale) + "."))
    out.append(_text("Negative entries push their logit up, positive ones push it down."))
    loss_name = "Binary cross-entropy" if result.sigmoid else "Cross-entropy"
    out.extend(_summary(result, loss_name))
    return out


def _focal_tables(result: FocalResult) -> list[RenderableType]:
    out: list[RenderableType] = []
    gamma = fmt(result.gamma)
    for row in _blocks(result):
        columns = ["class", "y", "p", "p_t", f"(1−p_t)^{gamma}"]
        if result.alpha_t is not None:
            columns.append("α_t" if result.binary else "α")
        columns += ["CE term", "focal term", "down-weighted", "share"]
        title = "Binary focal loss" if result.binary else "Focal loss"
        table = _table(_row_title(title, result, row), columns)
        shown, hidden = _shown_classes(result.targets[row])
        for c in shown:
            ce_term, focal_term = result.ce_terms[row, c], result.terms[row, c]
            cells: list[RenderableType] = [
                _class_label(result, c),
                fmt(result.targets[row, c]),
                _flagged(result.probs[row, c], bool(result.clipped[row, c])),
                fmt(result.p_t[row, c]),
                fmt(result.modulating[row, c]),
            ]
            if result.alpha_t is not None:
                cells.append(fmt(result.alpha_t[row, c]))
            ratio = (
                ""
                if ce_term == 0 or math.isinf(ce_term)  # inf / inf: no ratio to show
                else ("all" if focal_term == 0 else f"×{fmt(ce_term / focal_term)}")
            )
            cells += [fmt(ce_term), fmt(focal_term), ratio, _share(focal_term, result.terms[row])]
            table.add_row(*cells)
        if hidden:
            table.add_row("…", f"{hidden} more classes", *[""] * (len(columns) - 2))
        pad = [""] * (len(columns) - 5)
        table.add_row(
            "[bold]Σ[/]",
            *pad,
            fmt(result.ce_terms[row].sum()),
            f"[bold]{fmt(result.terms[row].sum())}[/]",
            "",
            "",
        )
        out.append(table)
    alpha = (
        "α_t·"
        if result.binary and result.alpha is not None
        else ("α·" if result.alpha is not None else "")
    )
    out.append(
        _text(f"focal term = −{alpha}(1 − p_t)^γ·log p_t with γ = {gamma}; plain CE = −log p_t")
    )
    if result.reduction != "none":
        out.append(
            _text(f"cross-entropy on the same input: {fmt(_scalar(result.ce))} {result.unit}")
        )
    out.extend(_summary(result, "Focal loss"))
    return out


# --- file mode -----------------------------------------------------------------------------


class RowWriter:
    """Per-row output of a scored file, in file order: CSV, bare numbers (-q) or JSON lines."""

    def __init__(
        self, stream: IO[str], mode: Mode, id_name: str | None, grad_names: list[str] | None
    ) -> None:
        self.stream = stream
        self.mode = mode
        # On a terminal, ids and column names are shown, not obeyed (an id "\x1b[2J" would
        # clear the screen); piped or to a file they stay as they are, quoted as CSV needs.
        self.shown: Callable[[str], str] = safe_text if _isatty(stream) else str
        self.key = self.shown(id_name or "line")
        self.grad_names = grad_names
        self.header_written = False

    def __call__(
        self, batch: Batch, keep: npt.NDArray[np.bool_], result: LossResult | RowLosses
    ) -> None:
        import polars as pl

        keys: Sequence[object] = (
            batch.lines[keep].tolist() if batch.ids is None
            else [i for i, k in zip(batch.ids, keep, strict=True) if k]
        )  # fmt: skip
        if self.mode == "json":
            import json

            gradients = result.grad if isinstance(result, GradResult) else None
            for index, (key, value) in enumerate(zip(keys, result.per_row.tolist(), strict=True)):
                document: dict[str, object] = {self.key: key, "loss": json_number(value)}
                if gradients is not None:  # ∂L/∂z of the row, as the CSV form has it
                    document["grad"] = json_array(gradients[index])
                self.stream.write(json.dumps(document, allow_nan=False) + "\n")
            return
        if self.mode == "quiet":
            self.stream.write("".join(f"{value!r}\n" for value in result.per_row.tolist()))
            return
        shown = [self.shown(key) if isinstance(key, str) else key for key in keys]
        frame = {self.key: shown, "loss": result.per_row}
        if self.grad_names is not None and isinstance(result, GradResult):
            frame.update(
                {self.shown(f"dL/dz_{n}"): result.grad[:, c] for c, n in enumerate(self.grad_names)}
            )
        self.stream.write(pl.DataFrame(frame).write_csv(include_header=not self.header_written))
        self.header_written = True


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def summary_warnings(summary: BatchSummary) -> list[str]:
    messages = []
    if summary.unnormalized:
        where = ", ".join(str(line) for line in summary.unnormalized_lines)
        messages.append(
            f"{summary.unnormalized} row(s) of predictions do not sum to 1 (within 1e-4), first "
            f"at line(s) {where}; they are used as given (--normalize renormalises)"
        )
    if summary.skipped:
        reasons = summary.skipped_reasons
        cut = (
            f"; the first {len(reasons)} of {summary.skipped:,}"
            if len(reasons) < summary.skipped
            else ""
        )
        messages.append(f"skipped {summary.skipped:,} invalid row(s) (--skip-invalid){cut}:")
        messages.extend(f"{WARNING_CONTINUATION}{reason}" for reason in reasons)
    if not math.isfinite(summary.loss):
        # A summary does not record whether PREDS were logits: both causes are named.
        messages.append(
            "the loss is not finite: a target has probability 0 (--eps 0), or, from logits, "
            "it overflowed float64 (a gap between logits is too large)"
        )
    return messages


def summary_tables(summary: BatchSummary) -> list[RenderableType]:
    """What a scored file looks like: the loss, the spread of per-row losses, the worst rows."""
    unit = summary.unit
    table = _table("", ["", unit])
    table.add_row(f"[bold]loss ({summary.reduction})[/]", f"[bold]{fmt(summary.loss)}[/]")
    for key, value in summary.extras.items():
        table.add_row(key.replace("_", " "), fmt(value))
    approx = "" if summary.percentiles_exact else "≈ "
    table.add_row("per-row mean", fmt(summary.row_mean))
    table.add_row("per-row min", fmt(summary.row_min))
    for q, value in summary.percentiles.items():
        table.add_row(f"per-row p{q}", approx + fmt(value))
    table.add_row("per-row max", fmt(summary.row_max))
    table.add_row("clipped predictions", f"{summary.clipped:,}")
    table.add_row("rows not summing to 1", f"{summary.unnormalized:,}")
    if summary.skipped:
        table.add_row("invalid rows skipped", f"{summary.skipped:,}")
    if summary.blank_lines:
        table.add_row("blank lines", f"{summary.blank_lines:,}")
    from rich.text import Text

    heading = Text.assemble(
        (safe_text(summary.source), "bold"), f": {summary.rows:,} rows scored ({summary.name})"
    )
    out: list[RenderableType] = [heading, table]
    if summary.worst:
        with_ids = any(row.identifier for row in summary.worst)
        with_files = any(row.file for row in summary.worst)
        worst = _table(
            "Worst rows",
            [*(["file"] if with_files else []), "line", *(["id"] if with_ids else []),
             f"loss ({unit})"],
        )  # fmt: skip
        for row in summary.worst:
            identifier = [_data(row.identifier)] if with_ids else []
            file = [_data(row.file)] if with_files else []
            worst.add_row(*file, str(row.line), *identifier, fmt(row.loss))
        out.append(worst)
    if summary.files:
        shares = _table("By file", ["file", f"loss ({summary.reduction})", "rows", "skipped"])
        for share in summary.files:
            shares.add_row(
                _data(share.source), fmt(share.loss), f"{share.rows:,}", f"{share.skipped:,}"
            )
        out.append(shares)
    return out


@_floats_as_computed
def emit_summary(summary: BatchSummary, mode: Mode, stdout: TextIO, stderr: TextIO) -> None:
    """Warnings to stderr, then the summary in ``mode`` to stdout."""
    warnings = Output(stderr=stderr)
    for message in summary_warnings(summary):
        warnings.warn(message)
    if mode == "quiet":
        stdout.write(f"{summary.loss!r}\n")
    elif mode == "json":
        import json

        stdout.write(json.dumps(summary.to_json(), allow_nan=False) + "\n")
    else:
        console = _console(stdout)
        for renderable in summary_tables(summary):
            console.print(renderable)
    stdout.flush()


@contextlib.contextmanager
def progress(
    stderr: TextIO, expected_rows: int, size_bytes: int, enabled: bool
) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr, only on a terminal: yields the callback that advances it."""
    if not enabled or not stderr.isatty():
        yield lambda rows: None  # and rich stays unimported
        return
    from rich.console import Console

    console = Console(file=stderr)
    if not console.is_terminal:
        yield lambda rows: None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RowCount(ProgressColumn):
        """Rows done of rows expected, with thousands separators like the speed beside it."""

        def render(self, task: Task) -> Text:
            total = "?" if task.total is None else f"{int(task.total):,}"
            # Padded to the total's width, so the bar beside it does not jitter as digits appear.
            done = f"{int(task.completed):,}"
            return Text(f"{done:>{len(total)}}/{total}", style="progress.download")

    class RowSpeed(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed or 0:,.0f} rows/s", style="progress.data.speed")

    columns = (
        TextColumn(f"scoring {size_bytes / 1e6:,.1f} MB"),
        BarColumn(),
        RowCount(),
        RowSpeed(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("scoring", total=max(expected_rows, 1))
        yield lambda rows: bar.advance(task, rows)


# --- the tour ------------------------------------------------------------------------------


TourMove = Literal["next", "back", "quit"]
"""What a key pressed during ``tour --pause`` asks for."""
TOUR_KEYS = "Enter/space next · b back · q quit"


@_floats_as_computed
def emit_stops(stops: Sequence[tuple[int, Stop]], total: int, stdout: TextIO) -> None:
    """Print tour stops one after another: heading, explanation, tables, conclusions."""
    console = _console(stdout)
    for number, stop in stops:
        _print_stop(console, stdout, number, total, stop)
    stdout.flush()


def page_stops(
    stops: Sequence[tuple[int, Stop]], total: int, stdout: TextIO, move: Callable[[], TourMove]
) -> None:
    """The tour at a terminal: each stop on a cleared alternate screen, a screenful at a time,
    its heading on every screenful; ``move`` reads the key that says where to go next.  The
    terminal's own screen comes back however this ends (the last stop, q, or Ctrl-C)."""
    console = _console(stdout)
    width, height = console.size
    rows = max(height - 1, 3)  # the last line names the keys
    pages: list[tuple[str, list[str]]] = []  # where the screenful is, and its lines
    for number, stop in stops:
        screenfuls = _screenfuls(_stop_blocks(stdout, number, total, stop), width, rows)
        for part, lines in enumerate(screenfuls, start=1):
            more = f" (screen {part} of {len(screenfuls)})" if len(screenfuls) > 1 else ""
            pages.append((f"stop {number}/{total}{more}", lines))
    index = 0
    with console.screen(hide_cursor=True):
        while 0 <= index < len(pages):
            where, lines = pages[index]
            console.clear()
            stdout.write("\n".join(lines) + "\n" * (rows - _rows(lines, width) + 1))
            keys = TOUR_KEYS if index < len(pages) - 1 else TOUR_KEYS.replace("next", "end")
            console.print(f"[dim]{where} · {keys}[/]", end="")
            stdout.flush()
            step = move()
            if step == "quit":
                break
            index = max(index - 1, 0) if step == "back" else index + 1


class _LaidOutLike(io.StringIO):
    """A buffer that answers ``isatty`` as ``stream`` does, so rich lays text out and styles it
    in the buffer exactly as it would on ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._terminal = stream.isatty()

    def isatty(self) -> bool:
        return self._terminal


def _stop_blocks(stdout: TextIO, number: int, total: int, stop: Stop) -> list[list[str]]:
    """A stop as the lines it prints on ``stdout``, styles included, in blocks (the heading, the
    explanation, each table, each conclusion) that a screenful should not cut."""
    buffer = _LaidOutLike(stdout)
    ends: list[int] = []
    _print_stop(_console(buffer), buffer, number, total, stop, lambda: ends.append(buffer.tell()))
    text, starts = buffer.getvalue(), [0, *ends]
    blocks = [text[start:end].splitlines() for start, end in zip(starts, ends, strict=False)]
    return [block for block in blocks if any(line.strip() for line in block)]


def _rows(lines: Sequence[str], width: int) -> int:
    """Screen rows ``lines`` take at ``width`` columns, counting those the terminal wraps."""
    from rich.text import Text

    return sum(max(1, -(-Text.from_ansi(line).cell_len // width)) for line in lines)


def _screenfuls(blocks: list[list[str]], width: int, rows: int) -> list[list[str]]:
    """Blocks packed into screenfuls of ``rows`` rows, each starting with the heading (the first
    block); a block cut only when it is taller than a screenful itself."""
    heading, *body = blocks
    pages: list[list[str]] = [list(heading)]
    for block in body:
        fits_a_fresh_one = _rows(heading, width) + _rows(block, width) <= rows
        if fits_a_fresh_one and _rows([*pages[-1], *block], width) > rows:
            pages.append(list(heading))
        for line in block:
            if _rows([*pages[-1], line], width) > rows and len(pages[-1]) > len(heading):
                pages.append(list(heading))
            pages[-1].append(line)
    return pages


def _print_stop(
    console: Console,
    stdout: TextIO,
    number: int,
    total: int,
    stop: Stop,
    block_done: Callable[[], None] = lambda: None,
) -> None:
    from rich.rule import Rule
    from rich.text import Text

    def show(renderable: RenderableType) -> None:
        console.print(renderable)
        block_done()

    title = Text.assemble(
        (safe_text(f"{number}/{total} · {stop.title}"), "bold"), style="rule.text"
    )
    show(Rule(title, align="left"))
    show(_data(stop.intro))
    for result in stop.results:
        for renderable in tables_for(result):
            show(_narrowed(console, renderable))
    if stop.frameworks is not None:
        view = stop.frameworks
        emit_frameworks(
            Output(stdout=stdout), view.title, view.exact, view.found, like=False, note=view.note
        )
        block_done()
    for line in stop.conclusions:
        show(_conclusion(line))
    console.print()


def _narrowed(console: Console, renderable: RenderableType) -> RenderableType:
    """A table too wide for the console, made to fit without cutting a number: first without
    its share column (a picture of the terms beside it), then with headers and notes that
    hold spaces on two lines.  A table that fits is returned as it is."""
    from rich.measure import Measurement
    from rich.table import Table

    def too_wide() -> bool:
        assert isinstance(renderable, Table)
        unbounded = console.options.update_width(10_000)
        return Measurement.get(console, unbounded, renderable).maximum > console.width

    if not isinstance(renderable, Table) or not too_wide():
        return renderable
    renderable.columns = [c for c in renderable.columns if not str(c.header).startswith("share")]
    if too_wide():
        for column in renderable.columns:
            column.header = _two_lines(column.header)
            # rich keeps a column's cells in a list of its own, read here before drawing.
            column._cells[:] = [_two_lines(cell) for cell in column._cells]
    return renderable


def _two_lines(cell: RenderableType) -> RenderableType:
    """Plain text with spaces, broken at the space nearest its middle."""
    if not isinstance(cell, str) or "[" in cell or " " not in cell.strip():
        return cell
    middle = min(
        (i for i, character in enumerate(cell) if character == " "),
        key=lambda i: abs(2 * i - len(cell)),
    )
    return cell[:middle] + "\n" + cell[middle + 1 :]


# --- side by side (--vs) -------------------------------------------------------------------


def _per_class(result: LossResult) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Targets, the model's probabilities and each class's term, whatever the loss."""
    if isinstance(result, KLResult):
        return result.p, result.q, result.terms
    if isinstance(result, GradResult):
        return result.targets, result.probs, result.grad
    assert isinstance(result, CrossEntropyResult | BinaryResult | FocalResult)
    return result.targets, result.probs, result.terms


def _pair(x: float, y: float) -> list[str]:
    """Two cells, highlighted where A and B differ."""
    if bool(np.isclose(x, y)):
        return [fmt(x), fmt(y)]
    return [f"[bold yellow]{fmt(x)}[/]", f"[bold yellow]{fmt(y)}[/]"]


def comparison_tables(comparison: Comparison) -> list[RenderableType]:
    """One table per row: A's and B's probabilities, terms and gradients next to each other."""
    a, b = comparison.a, comparison.b
    targets, probs_a, terms_a = _per_class(a)
    _, probs_b, terms_b = _per_class(b)
    with_grad = comparison.grad_a is not None and comparison.grad_b is not None
    # KL compares distributions P and Q, not labels and predictions: its columns say so.
    truth, model = ("P", "Q") if isinstance(a, KLResult) else ("y", "p")
    out: list[RenderableType] = []
    for row in _blocks(a):
        columns = ["class", truth, f"{model} (A)", f"{model} (B)", "term (A)", "term (B)"]
        if with_grad:
            columns += ["∂L/∂z (A)", "∂L/∂z (B)"]
        table = _table(_row_title("A and B side by side", a, row), columns)
        for c in range(a.classes):
            cells: list[RenderableType] = [_class_label(a, c), fmt(targets[row, c])]
            cells += _pair(probs_a[row, c], probs_b[row, c])
            cells += _pair(terms_a[row, c], terms_b[row, c])
            if with_grad and comparison.grad_a is not None and comparison.grad_b is not None:
                cells += _pair(comparison.grad_a[row, c], comparison.grad_b[row, c])
            table.add_row(*cells)
        table.add_row(
            "[bold]Σ[/]", "", "", "", fmt(float(np.sum(terms_a[row]))),
            fmt(float(np.sum(terms_b[row]))), *([""] * (2 if with_grad else 0)),
        )  # fmt: skip
        out.append(table)
    totals = (
        f"loss A = {fmt(float(np.sum(a.headline())))}, loss B = "
        f"{fmt(float(np.sum(b.headline())))} {a.unit} ({_reduction_words(a)})"
    )
    out.append(_WhenStyled(_text(totals), _text(f"{totals}; values that differ are highlighted")))
    return out


class _WhenStyled:
    """One of two renderables, chosen as it is drawn: ``styled`` where the console draws styles,
    ``plain`` where it does not (piped output shows no highlighting, so it must not mention any)."""

    def __init__(self, plain: RenderableType, styled: RenderableType) -> None:
        self.plain, self.styled = plain, styled

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.styled if console.color_system is not None else self.plain


# --- frameworks (--like, --frameworks) ---------------------------------------------------


def _values_text(value: FloatArray, limit: int = 6) -> str:
    """A value for a table cell: a scalar in full, an array's first values."""
    if value.ndim == 0:
        return _full(float(value))
    flat = [fmt(v) for v in value.ravel()[:limit]]
    more = ", …" if value.size > limit else ""
    return "[" + ", ".join(flat) + more + "]"


def _full(number: float) -> str:
    return repr(number) if math.isfinite(number) else fmt(number)


def _difference(value: FloatArray, exact: FloatArray) -> str:
    """How far a library's value lies from cecli's: relative, or its shape if it differs."""
    if value.shape != exact.shape:
        return "shape " + "×".join(str(n) for n in value.shape)
    with np.errstate(all="ignore"):
        if bool(np.all((value == exact) | (np.isnan(value) & np.isnan(exact)))):
            return "="
        if not bool(np.all(np.isfinite(value))) or not bool(np.all(np.isfinite(exact))):
            return "≠"
        if bool(np.all(exact == 0)):
            worst = float(value.ravel()[int(np.argmax(np.abs(value)))])
            return f"{worst:+.1e} (abs)"
        scale = np.maximum(np.abs(exact), np.finfo(np.float64).tiny)
        relative = (value - exact) / scale
    worst = float(relative.ravel()[int(np.argmax(np.abs(relative)))])
    return f"{worst:+.1e}"


def quiet_values(value: FloatArray) -> str:
    """A value for scripts, as ``-q`` prints cecli's own: one number per line (per-row values
    too), a matrix's rows comma-separated."""
    rows = value.reshape(-1, 1) if value.ndim < 2 else value
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def _flat(value: FloatArray) -> str:
    return ",".join(repr(float(v)) for v in value.ravel())


@_floats_as_computed
def emit_frameworks(
    output: Output,
    title: str,
    exact: FloatArray,
    found: Sequence[Reproduction | Missing],
    *,
    like: bool,
    note: str = "",
) -> None:
    """cecli's value beside the libraries': a table, JSON or the bare numbers."""
    import json

    from cecli.frameworks import IMPORTS, Missing

    out = output.stdout
    if output.mode == "json":
        if like:
            (single,) = found
            document: dict[str, Any] = {"cecli": json_array(exact), **single.to_json()}
        else:
            document = {
                "cecli": json_array(exact),
                "frameworks": {item.library: item.to_json() for item in found},
            }
        out.write(json.dumps(document, allow_nan=False) + "\n")
    elif output.mode == "quiet":
        if like:
            (single,) = found
            assert not isinstance(single, Missing)
            out.write(quiet_values(single.value))
        else:
            out.write(f"cecli {_flat(exact)}\n")
            for item in found:
                value = "-" if isinstance(item, Missing) else _flat(item.value)
                out.write(f"{item.library} {value}\n")
    else:
        from rich import box
        from rich.table import Table

        console = _console(out)
        table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        table.add_column("library", no_wrap=True)
        table.add_column("value", no_wrap=True, justify="right")
        table.add_column("vs cecli", no_wrap=True)
        table.add_column("why it differs", overflow="fold")
        table.add_row("cecli", _values_text(exact), "", note)
        for item in found:
            if isinstance(item, Missing):
                table.add_row(item.library, "[dim]—[/]", "", f"[dim]{item.message}[/]")
                continue
            difference = _difference(item.value, exact)
            reasons = "; ".join(item.conventions) if difference != "=" else ""
            table.add_row(item.library, _values_text(item.value), difference, reasons)
        console.print(table)
        calls = [item for item in found if not isinstance(item, Missing)]
        if calls:
            console.print("To reproduce:")
        for item in calls:
            console.print(f"  [bold]{item.library}[/] ({item.function})")
            console.print(f"    [dim]{IMPORTS[item.library]}[/]", soft_wrap=True)
            console.print(f"    {item.call}", soft_wrap=True, markup=False)
    out.flush()


@_floats_as_computed
def emit_frameworks_comparison(output: Output, comparison: FrameworksComparison) -> None:
    """A :class:`~cecli.frameworks.FrameworksComparison`: its JSON, or the table of
    :func:`emit_frameworks` titled by what was asked."""
    if output.mode == "json":
        import json

        output.stdout.write(json.dumps(comparison.to_json(), allow_nan=False) + "\n")
        output.stdout.flush()
        return
    if comparison.library is not None:
        title = f"cecli {comparison.command} --like {comparison.library}"
    else:
        title = f"cecli {comparison.command} and the frameworks (nats)"
    clipped = comparison.result.clipped_count
    note = (
        f"clips {clipped} value{'s' if clipped != 1 else ''} at {comparison.result.eps:g}"
        if clipped
        else ""
    )
    emit_frameworks(
        output, title, comparison.value, comparison.found,
        like=comparison.library is not None, note=note,
    )  # fmt: skip
