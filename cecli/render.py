"""Results to text: rich tables, JSON or the bare number.  The only module that prints results.

``Output`` is the sink a command writes through: results and nothing else go to stdout,
warnings go to stderr.  rich is imported only when a table is drawn, so ``-q`` and ``--json``
never pay for it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import io
import math
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any, Literal, ParamSpec, Protocol, TextIO, TypeAlias

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
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    from cecli.batch import BatchSummary, Rejected
    from cecli.evaluation import Accuracy
    from cecli.explain import Comparison
    from cecli.files import Batch
    from cecli.frameworks import FileComparison, FrameworksComparison, Missing, Reproduction
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
    rows: int | None = ROW_BLOCKS
    """Rows of a batch shown term by term (None: every row); the rest are counted."""

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

        # Each warning says which predictions it is about (B's are --vs, not PREDS), and one
        # about the shared LABELS is given once.
        said: set[str] = set()
        for result, preds_name, loss_name in (
            (comparison.a, "PREDS", "loss A"),
            (comparison.b, "--vs", "loss B"),
        ):
            for message in warnings_for(result, preds_name=preds_name, loss_name=loss_name):
                if message not in said:
                    said.add(message)
                    self.warn(message)
        if self.mode == "json":
            self.stdout.write(json_line(comparison.to_json()))
        elif self.mode == "quiet":
            self.stdout.write(quiet_text(comparison.a) + quiet_text(comparison.b))
        else:
            console = _console(self.stdout)
            for renderable in comparison_tables(comparison, self.rows):
                console.print(renderable)
            for sentence in compare(comparison):
                console.print(_conclusion(sentence))
        self.stdout.flush()

    def text(self, text: str) -> None:
        """Already laid-out text (plots) to stdout."""
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def colour(self) -> bool:
        """Whether a plot on stdout is coloured: as the tables are (rich's conventions: a
        terminal or FORCE_COLOR, and no NO_COLOR), where plotille colours too (it takes
        FORCE_COLOR=0 for off, which rich takes for on; without colour the curves get
        markers of their own)."""
        console = _console(self.stdout)
        if not console.is_terminal or console.no_color or console.color_system is None:
            return False
        forced = os.environ.get("FORCE_COLOR", "").strip().lower()
        return self.stdout.isatty() or forced not in ("", "0", "false", "none")

    def hint(self, message: str) -> None:
        say(f"cecli: {safe_text(message)}", self.stderr)

    def error(self, message: str) -> None:
        # One line, whatever the message quotes: a file name, column name or value with a line
        # break or an escape sequence is shown, not obeyed.
        say(f"cecli: error: {safe_text(message)}", self.stderr)

    @_floats_as_computed
    def emit(
        self, result: LossResult, accuracy: Accuracy | None = None, marks: RowMarks | None = None
    ) -> None:
        """Print warnings about ``result`` to stderr, then the result in this mode to stdout;
        ``accuracy`` is a line under the tables and keys beside the loss in JSON; ``marks``
        the rows' sample weights and ignored rows, for the tables."""
        for message in warnings_for(result):
            self.warn(message)
        if self.mode == "quiet":
            self.stdout.write(quiet_text(result))
        elif self.mode == "json":
            document = result.to_json()
            if accuracy is not None:
                document.update(accuracy.to_json())
            self.stdout.write(json_line(document))
        else:
            console = _console(self.stdout)
            for renderable in tables_for(result, self.rows, marks):
                console.print(renderable)
            if accuracy is not None:
                console.print(_text(accuracy_line(accuracy, result.rows)))
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


def accuracy_line(accuracy: Accuracy, rows: int) -> str:
    """One line of what the loss's reader asks next: how often the prediction was right."""
    if accuracy.threshold is not None:
        line = f"accuracy at p > {accuracy.threshold:g}: {accuracy.accuracy:.1%} of outputs"
        if accuracy.exact_match is not None:
            line += f", all right in {accuracy.exact_match:.1%} of rows"
        return line
    line = f"top-1 accuracy: {accuracy.accuracy:.1%} of {rows:,} row{'s' if rows != 1 else ''}"
    if accuracy.top_k is not None and accuracy.top_k_accuracy is not None:
        line += f", top-{accuracy.top_k}: {accuracy.top_k_accuracy:.1%}"
    return line + f"; mean p of the true class {fmt(accuracy.mean_p_true)}"


def json_text(result: LossResult) -> str:
    """One strict RFC 8259 JSON object and a newline."""
    return json_line(result.to_json())


def json_line(document: dict[str, Any]) -> str:
    """``document`` as one line of strict RFC 8259 JSON (no NaN or Infinity literals): the
    one JSON writer behind every ``--json``."""
    import json

    return json.dumps(document, allow_nan=False) + "\n"


def warnings_for(
    result: LossResult, *, preds_name: str = "PREDS", loss_name: str = "the loss"
) -> list[str]:
    """Plain-language warnings about the input or the value (never printed to stdout), its
    predictions called ``preds_name`` and its value ``loss_name``."""
    messages: list[str] = []
    if result.unnormalized_p_rows:
        messages.append(_unnormalized_message("LABELS", result.unnormalized_p_rows))
    if result.unnormalized_rows:
        messages.append(_unnormalized_message(preds_name, result.unnormalized_rows))
    values = np.asarray(result.headline())
    if np.any(np.isinf(values)):
        messages.append(loss_name + _infinite_message(result).removeprefix("the loss"))
    elif np.any(np.isnan(values)):
        messages.append(f"{loss_name} is not a number (nan)")
    return messages


def _infinite_message(result: LossResult) -> str:
    # From logits nothing is clipped and no probability is 0 exactly, except behind a mask
    # (-inf) where the target is not 0; otherwise the value is finite in exact arithmetic but
    # beyond float64 (a gap of 2e308 between two logits).
    if result.logits and bool(np.any(np.isneginf(result.preds) & (result.targets != 0))):
        return (
            "the loss is infinite: a logit of -inf (masked: probability 0, log 0 = -inf) where "
            "the target is not 0"
        )
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


def fmt(value: float, digits: int = 7) -> str:
    """A number for a person: ``digits`` significant digits, ``inf``/``nan`` spelled out."""
    number = float(value)
    if math.isnan(number):
        return "nan"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if number == 0.0:
        return "0"
    return f"{number:.{digits}g}"


_LOG_NAMES = {"e": "log", "2": "log₂", "10": "log₁₀"}


def _log(result: LossResult) -> str:
    return _LOG_NAMES[result.base]


def _reduction_words(result: LossResult) -> str:
    if result.reduction == "none":
        return f"per row, {result.rows} row{'s' if result.rows != 1 else ''}"
    count, what = result.reduced_elements, "element" if result.element_wise else "row"
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


def _class_label(result: LossResult, index: int) -> Text:
    if result.class_names is not None:
        return _data(result.class_names[index])
    return _data(str(index))


def _text(markup: str) -> RenderableType:
    from rich.text import Text

    return Text.from_markup(markup)


@dataclass(frozen=True, eq=False)
class RowMarks:
    """What the term tables say of typed rows beyond their terms: each row's sample weight,
    and the rows whose label is the ignore index (shown as ignored, not as zero targets)."""

    weights: FloatArray | None = None
    ignored: npt.NDArray[np.bool_] | None = None
    ignore_index: int | None = None

    def is_ignored(self, row: int) -> bool:
        return self.ignored is not None and bool(self.ignored[row])


_NO_MARKS = RowMarks()
# A frozen dataclass: the shared default cannot be changed.
_MARKS: contextvars.ContextVar[RowMarks] = contextvars.ContextVar("marks", default=_NO_MARKS)
"""The marks of the result whose tables are being built (set by :func:`tables_for`)."""


def _row_title(name: str, result: LossResult, row: int) -> str:
    title = name if result.rows == 1 else f"{name} — row {row + 1}"
    weights = _MARKS.get().weights
    if weights is None:
        return title
    return f"{title}{',' if result.rows > 1 else ' —'} weight {fmt(float(weights[row]))}"


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


def _scalar(value: float | FloatArray) -> float:
    return float(np.sum(value)) if isinstance(value, np.ndarray) else float(value)


# --- term tables from column specs ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """A number in a term table, drawn at the precision the table fits with."""

    value: float
    style: str = ""
    star: bool = False
    """Marks a probability that clipping changed."""
    prefix: str = ""


def _clipped_cell(value: float, clipped: bool) -> Cell:
    return Cell(float(value), style="yellow", star=True) if clipped else Cell(float(value))


CellContent: TypeAlias = "float | str | Cell | Text"
"""What a column spec gives for a class: a number, markup, a styled number or data text."""

ColumnRole = Literal["label", "value", "clipped", "share", "derived"]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a term table: its header, its cell for a class, and its Σ (the footer).

    ``role`` says what fitting may do to it (:data:`FITS`): a ``share`` column loses its bars
    and then goes, a ``clipped`` column (the probabilities after clipping) goes when clipping
    changed none of them, since it then repeats the column before it, a ``derived`` one goes
    last; a ``label`` column folds long names."""

    header: str
    cell: Callable[[int, int], CellContent]
    """(row, class) → the cell."""
    footer: Callable[[int], CellContent] | None = None
    """row → the Σ cell."""
    role: ColumnRole = "value"


def _share_column(terms: FloatArray, header: str = "share") -> ColumnSpec:
    """Each term's part of its row's total magnitude, so the dominant term is seen before it is
    read (magnitudes, for terms of both signs)."""

    def fraction(row: int, c: int) -> float:
        total, value = float(np.sum(np.abs(terms[row]))), float(terms[row, c])
        if not (math.isfinite(total) and total > 0 and math.isfinite(value)):
            return math.nan
        return abs(value) / total

    return ColumnSpec(header, fraction, role="share")


@dataclass(frozen=True, slots=True)
class Fit:
    """How much of a term table is drawn: the steps taken, in order, to fit a width."""

    share: Literal["bar", "percent", "none"] = "bar"
    clipped_column: bool = True
    two_line_headers: bool = False
    fold_names: bool = False
    """Class names longer than :data:`NAME_WIDTH` go on several lines."""
    digits: int = 7
    derived_column: bool = True
    """A column computed from two others beside it (focal's down-weighting)."""
    fold_numbers: bool = False
    """The last resort: a number too long for its column goes on on the next line, whole."""


def _cumulative(first: Fit, *steps: dict[str, Any]) -> tuple[Fit, ...]:
    """``first``, then each step applied to the fit before it."""
    fits = [first]
    for changes in steps:
        fits.append(replace(fits[-1], **changes))
    return tuple(fits)


FITS = _cumulative(
    Fit(),
    {"share": "percent"},
    {"share": "none"},
    {"clipped_column": False},
    {"two_line_headers": True},
    {"fold_names": True},
    {"digits": 6},
    {"digits": 5},
    {"digits": 4},
    {"derived_column": False},
    {"fold_numbers": True},
)
"""The fixed order in which a table gives way to a narrow terminal, each step keeping the ones
before it: the share bars (the percentages stay), then the share column, then the clipped-
probability column where nothing was clipped, then headers on two lines, then long class names
on several lines, then digits, down to 4 significant ones, then a column derived from two
others; and if that is still too wide, numbers go on on the next line rather than be cut."""
NAME_WIDTH = 16

FULL = FITS[0]
_EIGHTHS = " ▏▎▍▌▋▊▉█"
SHARE_WIDTH = 10
WIDE = 20
"""Classes beyond which a row shows only the classes that matter."""


@dataclass(frozen=True, slots=True)
class Others:
    """The classes a wide row leaves out, and what their terms add up to."""

    count: int
    sums: str
    """``their terms = 0.01``: the Σ the line names."""


def _fmt_cell(content: CellContent, digits: int) -> Text:
    from rich.text import Text

    if isinstance(content, Text):
        return content
    if isinstance(content, str):
        return Text.from_markup(content)
    if isinstance(content, Cell):
        number = content.prefix + fmt(content.value, digits) + ("*" if content.star else "")
        return Text(number, style=content.style)
    return Text(fmt(content, digits))


def _share_cell(fraction: float, share: Literal["bar", "percent", "none"]) -> Text:
    from rich.text import Text

    if math.isnan(fraction):
        return Text("")
    percent = f"{fraction:4.0%}"
    if share == "percent":
        return Text(percent)
    eighths = round(fraction * SHARE_WIDTH * 8)
    bar = "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")
    return Text.assemble((f"{bar:<{SHARE_WIDTH}}", "cyan"), f" {percent}")


def _two_lines(header: str) -> str:
    """A header broken in two at the space (or after the hyphen) nearest its middle."""
    breaks = [i for i, character in enumerate(header) if character in " -" and i > 0]
    if not breaks:
        return header
    middle = min(breaks, key=lambda i: abs(2 * i - len(header)))
    if header[middle] == "-":
        return header[: middle + 1] + "\n" + header[middle + 1 :]
    return header[:middle] + "\n" + header[middle + 1 :]


class TermTable:
    """A row's terms, class by class, drawn to fit the width it is given.

    A renderable: rich hands it the width it may use, and it draws the fullest layout of
    :data:`FITS` that fits there without cutting a number, then one line saying what it left
    out (every digit stays in ``--json`` and ``-q``)."""

    def __init__(
        self,
        title: str,
        columns: Sequence[ColumnSpec],
        row: int,
        classes: Sequence[int],
        *,
        others: Others | None = None,
        clipped: bool = False,
    ) -> None:
        self.title = title
        self.columns = list(columns)
        self.row = row
        self.classes = list(classes)
        self.others = others
        self.clipped = clipped
        """Whether clipping changed a probability of this row (its column then stays)."""

    def _columns(self, fit: Fit) -> list[ColumnSpec]:
        """The columns drawn at ``fit``."""
        return [
            spec
            for spec in self.columns
            if not (spec.role == "share" and fit.share == "none")
            and not (spec.role == "clipped" and not fit.clipped_column and not self.clipped)
            and not (spec.role == "derived" and not fit.derived_column)
        ]

    def _cells(self, fit: Fit) -> tuple[list[ColumnSpec], list[str], list[list[Text]], list[Text]]:
        """The columns drawn at ``fit``, their headers, their cells row by row, their Σ."""
        columns = self._columns(fit)
        headers = [_two_lines(s.header) if fit.two_line_headers else s.header for s in columns]
        rows = [[self._cell(spec, c, fit) for spec in columns] for c in self.classes]
        footers = [
            _fmt_cell("" if spec.footer is None else spec.footer(self.row), fit.digits)
            for spec in columns
        ]
        return columns, headers, rows, footers

    def width(self, fit: Fit) -> int:
        """The widest line of the table drawn at ``fit``, counted as rich lays it out: each
        column as wide as its widest cell, plus a space of padding either side, a space
        between columns and one at either edge.  Counting it here, instead of asking rich to
        measure a whole table for each step, keeps a thousand-row ``--rows all`` quick."""
        from rich.cells import cell_len

        columns, headers, rows, footers = self._cells(fit)
        widths = []
        for index, spec in enumerate(columns):
            widest = max(
                *(cell_len(line) for line in headers[index].split("\n")),
                *(row[index].cell_len for row in rows),
                footers[index].cell_len,
            )
            if fit.fold_names and spec.role == "label":
                widest = max(min(widest, NAME_WIDTH), len("class"))
            widths.append(widest)
        return sum(widths) + 3 * len(widths) + 1

    def layout(self, fit: Fit) -> Table:
        """The rich table drawn at ``fit``."""
        from rich.box import Box
        from rich.table import Table

        box = Box("    \n    \n ── \n    \n    \n ── \n    \n    \n")  # a rule above the Σ row
        columns, headers, rows, footers = self._cells(fit)
        show_footer = any(spec.footer is not None for spec in columns)
        table = Table(
            title=self.title or None, box=box, title_justify="left", show_footer=show_footer
        )
        for spec, header, footer in zip(columns, headers, footers, strict=True):
            label = spec.role == "label"
            fold = (fit.fold_names and label) or fit.fold_numbers
            table.add_column(
                header,
                footer=footer,
                justify="left" if label else "right",
                no_wrap=not fold,
                overflow="fold" if fold else "ellipsis",
                max_width=NAME_WIDTH if fit.fold_names and label else None,
                min_width=len("class") if label else None,
            )
        for row in rows:
            table.add_row(*row)
        return table

    def _cell(self, spec: ColumnSpec, c: int, fit: Fit) -> Text:
        content = spec.cell(self.row, c)
        if spec.role == "share" and isinstance(content, float):
            return _share_cell(content, fit.share)
        return _fmt_cell(content, fit.digits)

    def fitted(self, width: int) -> tuple[Table, Fit]:
        """The fullest layout whose widest line fits ``width`` columns (the last one if none)."""
        fit = next((fit for fit in FITS if self.width(fit) <= width), FITS[-1])
        return self.layout(fit), fit

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        table, _ = self.fitted(options.max_width)
        return Measurement.get(console, options, table)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table, fit = self.fitted(options.max_width)
        yield table
        if self.others is not None:
            others = self.others
            yield _text(f"… {others.count:,} other classes (Σ {others.sums})")
        left_out = self.left_out(fit)
        if left_out:
            yield _text(f"[dim]To fit {options.max_width} columns: {left_out}.[/]")

    def left_out(self, fit: Fit) -> str:
        """What ``fit`` leaves out of the full table, in words ("" for nothing)."""
        parts: list[str] = []
        has = {spec.role for spec in self.columns}
        if "share" in has and fit.share == "percent":
            parts.append("no share bars")
        elif "share" in has and fit.share == "none":
            parts.append("no share column")
        if "clipped" in has and not fit.clipped_column and not self.clipped:
            clipped = next(spec.header for spec in self.columns if spec.role == "clipped")
            parts.append(f"no {clipped} column (nothing was clipped)")
        if fit.fold_names and any(len(name) > NAME_WIDTH for name in self._names()):
            parts.append("long class names folded")
        if fit.digits < FULL.digits:
            parts.append(f"{fit.digits} digits (--json has all)")
        if "derived" in has and not fit.derived_column:
            derived = next(spec.header for spec in self.columns if spec.role == "derived")
            parts.append(f"no {derived} column")
        if fit.fold_numbers:
            parts.append("long numbers go on on the next line")
        return ", ".join(parts)

    def _names(self) -> list[str]:
        """The class labels the table lists, as text."""
        labels = [spec for spec in self.columns if spec.role == "label"]
        return [str(_fmt_cell(spec.cell(self.row, c), 7)) for spec in labels for c in self.classes]


def _shown_classes(
    result: LossResult, row: int, targets: FloatArray, terms: FloatArray, what: str = "terms"
) -> tuple[list[int], Others | None]:
    """The classes of a row to list, in class order, and what the rest add up to.  Up to
    :data:`WIDE` classes, all of them; wider rows show the true class(es), the highest
    predictions and the largest terms."""
    classes = result.classes
    if classes <= WIDE:
        return list(range(classes)), None
    truth = [int(c) for c in np.flatnonzero(targets[row] > 0)]
    if len(truth) > 10:  # soft or many labels: the largest targets
        truth = _top(targets[row], 10)
    top_predictions = _top(result.probs[row], 5)
    magnitudes = np.abs(terms[row])
    largest_terms = _top(np.where(np.isnan(magnitudes), np.inf, magnitudes), 5)  # nan is news
    shown = sorted({int(c) for c in (*truth, *top_predictions, *largest_terms)})
    return shown, _others(classes, shown, [(what, terms[row])])


def _top(values: FloatArray, count: int) -> list[int]:
    """The classes of the ``count`` largest values, less those tied with the first value left
    out (a tie among 998 classes names none of them)."""
    order = np.argsort(-values, kind="stable")
    if values.size <= count:
        return [int(c) for c in order]
    cut = values[order[count]]
    return [int(c) for c in order[:count] if values[c] > cut]


def _others(classes: int, shown: Sequence[int], sums: Sequence[tuple[str, FloatArray]]) -> Others:
    """The classes not in ``shown``, with the Σ of each named row of terms over them."""
    hidden = np.ones(classes, dtype=bool)
    hidden[list(shown)] = False
    text = ", ".join(
        f"their {what} = {fmt(float(np.sum(values[hidden])))}" for what, values in sums
    )
    return Others(int(hidden.sum()), text)


def _summary(result: LossResult, name: str, rows: int | None) -> list[RenderableType]:
    """Per-row table for batches, then the headline with its unit and reduction."""
    out: list[RenderableType] = []
    listed = result.rows if rows is None else max(rows, PER_ROW_LINES)
    marks = _MARKS.get()
    if result.rows > 1:
        weight_column = ["weight"] if marks.weights is not None else []
        table = _table("Per row", ["row", *weight_column, f"loss ({result.unit})"])
        for row in range(min(result.rows, listed)):
            loss = "ignored" if marks.is_ignored(row) else fmt(result.per_row[row])
            weight = [fmt(float(marks.weights[row]))] if marks.weights is not None else []
            table.add_row(str(row + 1), *weight, loss)
        out.append(table)
        if result.rows > listed:
            out.append(
                _text(
                    f"… {result.rows - listed:,} more rows (--rows all lists them, --json "
                    f"gives every value)"
                )
            )
    if result.reduction == "none":
        values = result.headline()[: min(result.rows, listed)]
        out.append(
            _text(
                f"[bold]{name}[/] per row ({result.unit}): "
                + ", ".join(fmt(v) for v in values)
                + (", …" if len(values) < result.rows else "")
            )
        )
    else:
        words = _reduction_words(result)
        if marks.weights is not None:
            words = f"weighted {words}: Σ w·L / Σ w" if result.reduction == "mean" else words
        if marks.ignored is not None and marks.ignored.any():
            words += f"; {int(marks.ignored.sum())} ignored"
        out.append(_text(f"[bold]{name}: {fmt(result.headline()[0])} {result.unit}[/] ({words})"))
    return out


def _shown_rows(result: LossResult, rows: int | None) -> range:
    return range(result.rows if rows is None else min(result.rows, rows))


def _blocks(result: LossResult, rows: int | None) -> list[int]:
    """The rows shown term by term: an ignored row has no terms to show."""
    marks = _MARKS.get()
    return [row for row in _shown_rows(result, rows) if not marks.is_ignored(row)]


def _rows_left_out(result: LossResult, rows: int | None) -> list[RenderableType]:
    """The lines after a batch's term tables that say which rows are ignored and which rows
    they leave out."""
    out: list[RenderableType] = []
    marks = _MARKS.get()
    ignored = [row + 1 for row in _shown_rows(result, rows) if marks.is_ignored(row)]
    if ignored:
        which = f"Row {ignored[0]} is" if len(ignored) == 1 else (
            "Rows " + ", ".join(str(row) for row in ignored) + " are"
        )  # fmt: skip
        out.append(
            _text(
                f"{which} ignored (labelled {marks.ignore_index}, the ignore index): 0, and left "
                "out of the mean's divisor."
            )
        )
    shown = len(_shown_rows(result, rows))
    if shown == result.rows:
        return out
    first = f"row {shown + 1}" if shown + 1 == result.rows else f"rows {shown + 1}–{result.rows}"
    out.append(_text(f"No term tables for {first} (--rows all shows them, --json every value)."))
    return out


# --- one builder per result type -----------------------------------------------------------


def tables_for(
    result: LossResult, rows: int | None = ROW_BLOCKS, marks: RowMarks | None = None
) -> list[RenderableType]:
    """The renderables that teach ``result``: term tables, formulas, totals, headline.

    ``rows``: how many rows of a batch are shown term by term (None: every row); ``marks``:
    each row's sample weight and the ignored rows, if any."""
    if rows is not None and rows < 0:
        raise ValueError(f"rows must be at least 0, got {rows}")
    token = _MARKS.set(marks or RowMarks())
    try:
        return _tables(result, rows)
    finally:
        _MARKS.reset(token)


@functools.singledispatch
def _tables(result: LossResult, rows: int | None) -> list[RenderableType]:
    raise TypeError(f"no table for {type(result).__name__}")


def _label_column(result: LossResult, sigma: bool = True) -> ColumnSpec:
    return ColumnSpec(
        "class",
        lambda r, c: _class_label(result, c),
        (lambda r: "[bold]Σ[/]") if sigma else None,
        "label",
    )


def _sum_of(values: FloatArray, bold: bool = False) -> Callable[[int], CellContent]:
    """The footer of a column of ``values``: the row's Σ, bold for the loss itself."""
    return lambda r: Cell(float(np.sum(values[r])), style="bold" if bold else "")


def _probability_columns(
    result: LossResult, p: str, activation: str, given: FloatArray | None = None
) -> list[ColumnSpec]:
    """PREDS as given and the probabilities used: logits and their softmax (σ), or the
    probabilities and the same after clipping."""
    given = result.preds if given is None else given
    if result.logits:
        return [
            ColumnSpec("z (logit)", lambda r, c: given[r, c]),
            ColumnSpec(f"{p} = {activation}(z)", lambda r, c: result.probs[r, c]),
        ]
    return [
        ColumnSpec(p, lambda r, c: given[r, c]),
        ColumnSpec(
            f"{p} clipped",
            lambda r, c: _clipped_cell(result.probs[r, c], bool(result.clipped[r, c])),
            role="clipped",
        ),
    ]


def _term_table(
    result: LossResult,
    name: str,
    columns: Sequence[ColumnSpec],
    row: int,
    shown: Sequence[int],
    others: Others | None,
) -> TermTable:
    clipped = bool(result.clipped[row].any())
    return TermTable(
        _row_title(name, result, row), columns, row, shown, others=others, clipped=clipped
    )


@_tables.register(CrossEntropyResult)
def _ce_tables(result: CrossEntropyResult, rows: int | None) -> list[RenderableType]:
    log = _log(result)
    weights = result.weights
    columns = [_label_column(result), ColumnSpec("y", lambda r, c: result.targets[r, c])]
    if weights is not None:
        columns.append(ColumnSpec("w", lambda r, c: weights[c]))
    columns += [
        *_probability_columns(result, "p", "softmax"),
        ColumnSpec(f"{log} p", lambda r, c: result.log_probs[r, c]),
        ColumnSpec(
            "−w·y·log p" if weights is not None else "−y·log p",
            lambda r, c: result.terms[r, c],
            _sum_of(result.terms, bold=True),
        ),
        _share_column(result.terms),
    ]
    out: list[RenderableType] = []
    for row in _blocks(result, rows):
        shown, others = _shown_classes(result, row, result.targets, result.terms)
        out.append(_term_table(result, "Categorical cross-entropy", columns, row, shown, others))
        targets, probs = result.targets[row], result.probs[row]
        coefficient = targets if weights is None else targets * weights
        # A wide row's formula names the classes that count; a narrow one shows the zeros too.
        named = shown if others is None else [c for c in shown if coefficient[c] != 0]
        formula = _sum_terms(f"{fmt(coefficient[c])}×{log} {fmt(probs[c])}" for c in named)
        row_weights = _MARKS.get().weights
        if row_weights is not None:  # per_row is the weighted row: w·L
            formula = f"{fmt(float(row_weights[row]))}×−({formula})"
        else:
            formula = f"−({formula})"
        out.append(_text(f"L = {formula} = {fmt(result.per_row[row])} {result.unit}"))
        note = _clip_note(result)
        if note is not None and result.clipped[row].any():
            out.append(note)
    out.extend(_rows_left_out(result, rows))
    if weights is not None and result.reduction == "mean":
        out.append(
            _text(
                f"weighted mean: Σ loss / Σ w·y = {fmt(sum(result.per_row.tolist()))} / "
                f"{fmt(sum(result.row_divisors.tolist()))}"
            )
        )
    out.extend(_summary(result, "Cross-entropy", rows))
    return out


@_tables.register(SmoothingResult)
def _smooth_tables(result: SmoothingResult, rows: int | None) -> list[RenderableType]:
    log = _log(result)
    columns = [
        _label_column(result),
        ColumnSpec("y (hard)", lambda r, c: result.hard_targets[r, c]),
        ColumnSpec("y′ (smoothed)", lambda r, c: result.targets[r, c]),
        ColumnSpec("p", lambda r, c: _clipped_cell(result.probs[r, c], bool(result.clipped[r, c]))),
        ColumnSpec(f"{log} p", lambda r, c: result.log_probs[r, c]),
        ColumnSpec("−y·log p", lambda r, c: result.hard_terms[r, c], _sum_of(result.hard_terms)),
        ColumnSpec("−y′·log p", lambda r, c: result.terms[r, c], _sum_of(result.terms, bold=True)),
        _share_column(result.terms),
    ]
    out: list[RenderableType] = []
    for row in _blocks(result, rows):
        shown, others = _shown_classes(result, row, result.hard_targets, result.terms)
        out.append(_term_table(result, "Label smoothing", columns, row, shown, others))
    out.extend(_rows_left_out(result, rows))
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
    out.extend(_summary(result, "Smoothed cross-entropy", rows))
    return out


def _bce_rows(
    result: BinaryResult,
    title: str,
    positive_header: str,
    negative_header: str,
    rows: int | None,
) -> list[RenderableType]:
    log = _log(result)
    columns = [
        _label_column(result),
        ColumnSpec("y", lambda r, c: result.targets[r, c]),
        *_probability_columns(result, "p", "σ"),
        ColumnSpec(
            positive_header, lambda r, c: result.positive_terms[r, c],
            _sum_of(result.positive_terms),
        ),
        ColumnSpec(
            negative_header, lambda r, c: result.negative_terms[r, c],
            _sum_of(result.negative_terms),
        ),
        ColumnSpec("term", lambda r, c: result.terms[r, c], _sum_of(result.terms, bold=True)),
        _share_column(result.terms),
    ]  # fmt: skip
    out: list[RenderableType] = []
    for row in _blocks(result, rows):
        shown, others = _shown_classes(result, row, result.targets, result.terms)
        out.append(_term_table(result, title, columns, row, shown, others))
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
    out.extend(_rows_left_out(result, rows))
    return out


@_tables.register(BinaryResult)
def _bce_tables(result: BinaryResult, rows: int | None) -> list[RenderableType]:
    weight = "" if result.pos_weight == 1.0 else f"{fmt(result.pos_weight)}·"
    out = _bce_rows(result, "Binary cross-entropy", f"−{weight}y·log p", "−(1−y)·log(1−p)", rows)
    terms = result.rows * result.classes
    total = float(np.sum(result.terms))
    row_weights = _MARKS.get().weights
    if row_weights is not None and result.reduction != "none":
        # The terms are the rows' own; each row's share is weighted: Σ w·(row Σ) / (C·Σ w).
        weighted = float(np.sum(row_weights * result.terms.sum(axis=1)))
        divisor = "" if result.reduction == "sum" else (
            f" / ({result.classes}·Σ w) = {fmt(weighted)} / "
            f"{fmt(result.classes * float(np.sum(row_weights)))}"
        )  # fmt: skip
        out.append(
            _text(f"L = Σ w·(row's Σ terms){divisor} = {fmt(_scalar(result.loss))} {result.unit}")
        )
    elif result.reduction == "sum":
        out.append(_text(f"L = Σ of all {terms} terms = {fmt(total)} {result.unit}"))
    else:
        out.append(
            _text(
                f"L = Σ terms / {terms} = {fmt(total)} / {terms} = "
                f"{fmt(total / terms)} {result.unit}  (per row: the mean of its "
                f"{result.classes} term{'s' if result.classes != 1 else ''})"
            )
        )
    out.extend(_summary(result, "Binary cross-entropy", rows))
    return out


@_tables.register(MultilabelResult)
def _multilabel_tables(result: MultilabelResult, rows: int | None) -> list[RenderableType]:
    out = _bce_rows(
        result, "Multi-label BCE", "positive −y·log p", "negative −(1−y)·log(1−p)", rows
    )
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
    out.extend(_summary(result, "Multi-label loss", rows))
    return out


@_tables.register(KLResult)
def _kl_tables(result: KLResult, rows: int | None) -> list[RenderableType]:
    log = _log(result)
    # Generalized KL's terms are p·log(p/q) − p + q, and its D_KL is not H(P,Q) − H(P).
    generalized, row_sums = result.generalized_rows, result.row_sums()
    term = "p·log(p/q) − p + q" if generalized.any() else "p·log(p/q)"
    columns = [
        _label_column(result),
        ColumnSpec("p", lambda r, c: result.targets[r, c]),
        *_probability_columns(result, "q", "softmax"),
        ColumnSpec(term, lambda r, c: result.terms[r, c], _sum_of(result.terms, True)),
        ColumnSpec(
            "−p·log p", lambda r, c: result.entropy_terms[r, c], _sum_of(result.entropy_terms)
        ),
        ColumnSpec(
            "−p·log q",
            lambda r, c: result.cross_entropy_terms[r, c],
            _sum_of(result.cross_entropy_terms),
        ),
        _share_column(result.terms, "share of D_KL"),
    ]
    out: list[RenderableType] = []
    for row in _blocks(result, rows):
        shown, others = _shown_classes(result, row, result.targets, result.terms)
        out.append(_term_table(result, "KL divergence", columns, row, shown, others))
        # The Σ row of the table above (a row's weight scales none of its terms).
        divergence, entropy, cross = (float(sums[row]) for sums in row_sums)
        if generalized[row]:
            added = divergence - (cross - entropy)  # Σ(q − p), in the unit
            identity = (
                f"H(P,Q) + Σ(q − p) = H(P) + D_KL(P‖Q): {fmt(cross)} + {fmt(added)} = "
                f"{fmt(entropy)} + {fmt(divergence)} {result.unit}"
            )
        else:
            identity = (
                f"H(P,Q) = H(P) + D_KL(P‖Q): {fmt(cross)} = "
                f"{fmt(entropy)} + {fmt(divergence)} {result.unit}"
            )
        out.append(_text(f"{identity}   ({log}, 0·log 0 = 0)"))
        note = _clip_note(result)
        if note is not None and result.clipped[row].any():
            out.append(note)
    out.extend(_rows_left_out(result, rows))
    if result.reduction != "none":
        out.append(
            _text(
                f"H(P) = {fmt(_scalar(result.entropy))}, H(P,Q) = "
                f"{fmt(_scalar(result.cross_entropy))} {result.unit}"
            )
        )
    out.extend(_summary(result, "KL divergence D_KL(P‖Q)", rows))
    return out


@_tables.register(GradResult)
def _grad_tables(result: GradResult, rows: int | None) -> list[RenderableType]:
    activation = "σ(z)" if result.sigmoid else "softmax(z)"
    grad_probs = result.grad_probs
    columns = [
        _label_column(result, sigma=False),
        ColumnSpec("y", lambda r, c: result.targets[r, c]),
    ]
    if not result.logits:
        columns.append(
            ColumnSpec(
                "p", lambda r, c: _clipped_cell(result.preds[r, c], bool(result.clipped[r, c]))
            )
        )
    columns += [
        ColumnSpec(
            "z" if result.logits else ("z = logit p" if result.sigmoid else "z = log p"),
            lambda r, c: result.logits_used[r, c],
        ),
        ColumnSpec(activation, lambda r, c: result.probs[r, c]),
        ColumnSpec(
            f"∂L/∂z = {activation} − y",
            lambda r, c: Cell(float(result.grad[r, c]), style="bold"),
        ),
    ]
    if grad_probs is not None:
        columns.append(ColumnSpec("∂L/∂p", lambda r, c: grad_probs[r, c]))
    out: list[RenderableType] = []
    for row in _blocks(result, rows):
        shown, others = _shown_classes(result, row, result.targets, result.grad, "∂L/∂z")
        out.append(_term_table(result, "Gradient w.r.t. the logits", columns, row, shown, others))
    out.extend(_rows_left_out(result, rows))
    scale = []
    if result.reduction == "mean" and result.reduced_elements > 1:
        scale.append(f"divided by {result.reduced_elements} for the mean")
    if result.base != "e":
        scale.append(f"divided by ln {result.base} for {result.unit}")
    if scale:
        out.append(_text("The gradient is " + " and ".join(scale) + "."))
    out.append(_text("Negative entries push their logit up, positive ones push it down."))
    loss_name = "Binary cross-entropy" if result.sigmoid else "Cross-entropy"
    out.extend(_summary(result, loss_name, rows))
    return out


def _down_weighted(ce_term: float, focal_term: float) -> CellContent:
    """How many times smaller the focal term is than the cross-entropy term."""
    if ce_term == 0 or math.isinf(ce_term):  # inf / inf: no ratio to show
        return ""
    if focal_term == 0:
        return "all"
    return Cell(float(ce_term / focal_term), prefix="×")


@_tables.register(FocalResult)
def _focal_tables(result: FocalResult, rows: int | None) -> list[RenderableType]:
    gamma = fmt(result.gamma)
    alpha_t = result.alpha_t
    columns = [
        _label_column(result),
        ColumnSpec("y", lambda r, c: result.targets[r, c]),
        ColumnSpec("p", lambda r, c: _clipped_cell(result.probs[r, c], bool(result.clipped[r, c]))),
        ColumnSpec("p_t", lambda r, c: result.p_t[r, c]),
        ColumnSpec(f"(1−p_t)^{gamma}", lambda r, c: result.modulating[r, c]),
    ]
    if alpha_t is not None:
        columns.append(ColumnSpec("α_t" if result.binary else "α", lambda r, c: alpha_t[r, c]))
    columns += [
        ColumnSpec("CE term", lambda r, c: result.ce_terms[r, c], _sum_of(result.ce_terms)),
        ColumnSpec("focal term", lambda r, c: result.terms[r, c], _sum_of(result.terms, bold=True)),
        ColumnSpec(
            "down-weighted",
            lambda r, c: _down_weighted(float(result.ce_terms[r, c]), float(result.terms[r, c])),
            role="derived",
        ),
        _share_column(result.terms),
    ]
    title = "Binary focal loss" if result.binary else "Focal loss"
    out: list[RenderableType] = []
    for row in _blocks(result, rows):
        shown, others = _shown_classes(result, row, result.targets, result.terms)
        out.append(_term_table(result, title, columns, row, shown, others))
    out.extend(_rows_left_out(result, rows))
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
    out.extend(_summary(result, "Focal loss", rows))
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
        self.shown: Callable[[str], str] = safe_text if is_terminal(stream) else str
        self.key = self.shown(id_name or "line")
        self.grad_names = grad_names
        self.header_written = False

    def __call__(
        self,
        batch: Batch,
        keep: npt.NDArray[np.bool_],
        result: LossResult | RowLosses,
        extra: dict[str, list[object]] | None = None,
    ) -> None:
        """Write the kept rows' losses, with ``extra`` columns (``--columns``, ``--keep``)
        after them."""
        import polars as pl

        extra = extra or {}

        keys: Sequence[object] = (
            batch.lines[keep].tolist() if batch.ids is None
            else [i for i, k in zip(batch.ids, keep, strict=True) if k]
        )  # fmt: skip
        if self.mode == "json":
            gradients = result.grad if isinstance(result, GradResult) else None
            for index, (key, value) in enumerate(zip(keys, result.per_row.tolist(), strict=True)):
                document: dict[str, object] = {self.key: key, "loss": json_number(value)}
                if gradients is not None:  # ∂L/∂z of the row, as the CSV form has it
                    document["grad"] = json_array(gradients[index])
                document.update({name: _json_cell(values[index]) for name, values in extra.items()})
                self.stream.write(json_line(document))
            return
        if self.mode == "quiet":
            # As typed `grad -q`: each row's gradient ∂L/∂z; every other loss, the row's loss.
            if isinstance(result, GradResult):
                self.stream.write(quiet_values(result.grad))
            else:
                self.stream.write("".join(f"{value!r}\n" for value in result.per_row.tolist()))
            return
        shown = [self.shown(key) if isinstance(key, str) else key for key in keys]
        frame = {self.key: shown, "loss": result.per_row}
        if self.grad_names is not None and isinstance(result, GradResult):
            frame.update(
                {self.shown(f"dL/dz_{n}"): result.grad[:, c] for c, n in enumerate(self.grad_names)}
            )
        for name, values in extra.items():
            frame[self.shown(name)] = [
                self.shown(value) if isinstance(value, str) else value for value in values
            ]
        self.stream.write(pl.DataFrame(frame).write_csv(include_header=not self.header_written))
        self.header_written = True


def write_rejects(stream: IO[str], rejected: Rejected) -> None:
    """The skipped rows as CSV: their line, the reason, then their fields as written."""
    import csv

    # At a terminal (--rejects /dev/stdout, /dev/tty) the file's text is shown, not obeyed,
    # as the per-row output's is; a file gets it verbatim.
    shown: Callable[[str], str] = safe_text if is_terminal(stream) else str
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["line", "reason", *map(shown, rejected.header)])
    for line, reason, fields in rejected.rows:
        writer.writerow([line, shown(reason), *map(shown, fields)])


def _json_cell(value: object) -> object:
    return json_number(value) if isinstance(value, float) else value


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal (False for a closed or broken one)."""
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def summary_warnings(summary: BatchSummary) -> list[str]:
    messages = []
    for count, what, lines, files in (
        (summary.unnormalized_targets, "targets", summary.unnormalized_target_lines,
         summary.unnormalized_target_files),
        (summary.unnormalized, "predictions", summary.unnormalized_lines,
         summary.unnormalized_files),
    ):  # fmt: skip
        if count:
            messages.append(
                f"{count} row(s) of {what} do not sum to 1 (within 1e-4), first at "
                f"{_places(lines, files)}; they are used as given (--normalize renormalises)"
            )
    if summary.skipped:
        reasons = summary.skipped_reasons
        messages.append(f"skipped {summary.skipped:,} invalid row(s) (--skip-invalid):")
        messages.extend(f"{WARNING_CONTINUATION}{reason}" for reason in reasons)
        if reasons and len(reasons) < summary.skipped:
            messages.append(f"{WARNING_CONTINUATION}… and {summary.skipped - len(reasons):,} more")
    if not math.isfinite(summary.loss):
        # A summary does not record which rows made it so: both causes are named.
        messages.append(
            "the loss is not finite: a target has probability 0 (--eps 0), or, from logits, "
            "a true class's logit is -inf (masked) or it overflowed float64 (a gap between "
            "logits is too large)"
        )
    return messages


def _places(lines: Sequence[int], files: Sequence[str]) -> str:
    """``line(s) 2, 5``, or ``a.csv:2, b.csv:5`` when the lines are in several files (a
    warning is made safe for the terminal as a whole, file names with it)."""
    if not files:
        return "line(s) " + ", ".join(str(line) for line in lines)
    return ", ".join(f"{file}:{line}" for file, line in zip(files, lines, strict=True))


def summary_tables(summary: BatchSummary) -> list[RenderableType]:
    """What a scored file looks like: the loss, the spread of per-row losses, accuracy, the
    worst rows, then per-class and per-group tables when asked for."""
    unit = summary.unit
    table = _table("", ["", unit])
    table.add_row(f"[bold]loss ({_loss_words(summary)})[/]", f"[bold]{fmt(summary.loss)}[/]")
    for key, value in summary.extras.items():
        table.add_row(key.replace("_", " "), fmt(value))
    approx = "" if summary.percentiles_exact else "≈ "
    table.add_row("per-row mean", fmt(summary.row_mean))
    table.add_row("per-row min", fmt(summary.row_min))
    for q, value in summary.percentiles.items():
        table.add_row(f"per-row p{q}", approx + fmt(value))
    table.add_row("per-row max", fmt(summary.row_max))
    # From logits nothing is clipped and a row need not sum to 1: both counts would be 0
    # whatever the input (the JSON keeps them, 0, for scripts).
    if not summary.logits:
        table.add_row("clipped predictions (that changed a term)", f"{summary.clipped_terms:,}")
    if summary.name not in ("bce", "multilabel") and not summary.independent and not summary.logits:
        # Independent outputs need not sum to 1.
        table.add_row("rows not summing to 1", f"{summary.unnormalized:,}")
    if summary.unnormalized_targets:
        table.add_row("target rows not summing to 1", f"{summary.unnormalized_targets:,}")
    if summary.skipped:
        table.add_row("invalid rows skipped", f"{summary.skipped:,}")
    if summary.blank_lines:
        table.add_row("blank lines", f"{summary.blank_lines:,}")
    if summary.ignored is not None:
        table.add_row("ignored rows", f"{summary.ignored:,}")
    from rich.text import Text

    heading = Text.assemble(
        (safe_text(summary.source), "bold"), f": {summary.rows:,} rows scored ({summary.name})"
    )
    out: list[RenderableType] = [heading, table]
    if summary.accuracy is not None:
        out.append(_accuracy_table(summary.accuracy))
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
    if summary.per_class is not None:
        out.append(_per_class_table(summary))
    if summary.groups is not None:
        out.append(_groups_table(summary))
    if summary.files:
        shares = _table("By file", ["file", f"loss ({summary.reduction})", "rows", "skipped"])
        for share in summary.files:
            shares.add_row(
                _data(share.source), fmt(share.loss), f"{share.rows:,}", f"{share.skipped:,}"
            )
        out.append(shares)
    return out


def _loss_words(summary: BatchSummary) -> str:
    """How the loss shown was reduced: under ``reduction='none'`` the summary shows the mean."""
    reduction = "sum" if summary.reduction == "sum" else "mean"
    return f"weighted {reduction}" if summary.weighted else reduction


def _percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2%}" if math.isfinite(value) else fmt(value)


def _number(value: float | None) -> str:
    return "—" if value is None else fmt(value)


def _accuracy_table(accuracy: Accuracy) -> RenderableType:
    table = _table("", ["", "accuracy"])
    if accuracy.threshold is not None:
        table.add_row(f"accuracy (p > {fmt(accuracy.threshold)})", _percent(accuracy.accuracy))
        if accuracy.exact_match is not None:
            table.add_row("rows with every output right", _percent(accuracy.exact_match))
        table.add_row("mean p of the true outcome", fmt(accuracy.mean_p_true))
        return table
    table.add_row("top-1 accuracy", _percent(accuracy.accuracy))
    if accuracy.top_k is not None:
        table.add_row(f"top-{accuracy.top_k} accuracy", _percent(accuracy.top_k_accuracy))
    table.add_row("mean p of the true class", fmt(accuracy.mean_p_true))
    return table


def _per_class_table(summary: BatchSummary) -> RenderableType:
    rows = summary.per_class or ()
    binary = any(row.positives is not None for row in rows)
    top_k = summary.accuracy.top_k if summary.accuracy is not None else None
    columns = ["output" if binary else "class", "positives" if binary else "rows", "share",
               f"loss ({summary.unit})", "accuracy"]  # fmt: skip
    columns += [f"top-{top_k}"] if top_k is not None else []
    columns += ["mean p true"]
    columns += [f"loss of 1s ({summary.unit})", f"loss of 0s ({summary.unit})"] if binary else []
    table = _table("Per output" if binary else "Per class", columns)
    for row in rows:
        cells: list[RenderableType] = [
            _data(row.name), f"{row.positives if binary else row.rows:,}", _percent(row.share),
            _number(row.loss), _percent(row.accuracy),
        ]  # fmt: skip
        cells += [_percent(row.top_k_accuracy)] if top_k is not None else []
        cells += [_number(row.mean_p_true)]
        cells += [_number(row.positive_loss), _number(row.negative_loss)] if binary else []
        table.add_row(*cells)
    return table


def _groups_table(summary: BatchSummary) -> RenderableType:
    top_k = summary.accuracy.top_k if summary.accuracy is not None else None
    has_accuracy = summary.accuracy is not None
    from rich.markup import escape

    # Column names come from the file: shown, never read as markup.
    by = [escape(safe_text(column)) for column in summary.group_by]
    columns = [*by, "rows", "share", f"loss ({summary.unit})"]
    columns += ["accuracy"] if has_accuracy else []
    columns += [f"top-{top_k}"] if top_k is not None else []
    columns += ["worst line"]
    table = _table(f"By {', '.join(by)}", columns)
    for row in summary.groups or ():
        cells: list[RenderableType] = [_data(value) for value in row.key]
        cells += [f"{row.rows:,}", _percent(row.share), _number(row.loss)]
        cells += [_percent(row.accuracy)] if has_accuracy else []
        cells += [_percent(row.top_k_accuracy)] if top_k is not None else []
        cells += ["" if row.worst_line is None else str(row.worst_line)]
        table.add_row(*cells)
    total: list[RenderableType] = ["[bold]total[/]", *([""] * (len(summary.group_by) - 1))]
    total += [f"{summary.rows:,}", _percent(1.0), fmt(summary.loss)]
    accuracy = summary.accuracy
    total += [_percent(accuracy.accuracy)] if accuracy is not None else []
    total += [_percent(accuracy.top_k_accuracy)] if accuracy is not None and top_k else []
    total += [str(summary.worst[0].line) if summary.worst else ""]
    table.add_section()
    table.add_row(*total)
    return table


@_floats_as_computed
def emit_summary(summary: BatchSummary, mode: Mode, stdout: TextIO, stderr: TextIO) -> None:
    """Notes and warnings to stderr, then the summary in ``mode`` to stdout."""
    warnings = Output(stderr=stderr)
    for note in summary.notes:
        warnings.hint(note)
    for message in summary_warnings(summary):
        warnings.warn(message)
    if mode == "quiet":
        stdout.write(f"{summary.loss!r}\n")
    elif mode == "json":
        stdout.write(json_line(summary.to_json()))
    else:
        console = _console(stdout)
        for renderable in summary_tables(summary):
            console.print(renderable)
    stdout.flush()


class Advance(Protocol):
    """A progress bar's callback: rows done since the last call, and the tasks finished so
    far (on a cluster)."""

    def __call__(self, rows: int, tasks_done: int | None = None) -> None: ...


def _stay(rows: int, tasks_done: int | None = None) -> None:
    """The callback of a progress bar that is not shown."""


@contextlib.contextmanager
def progress(
    stderr: TextIO, expected_rows: int, size_bytes: int, enabled: bool, tasks: int | None = None
) -> Iterator[Advance]:
    """A progress bar on stderr, only on a terminal: yields the callback that advances it.
    With ``tasks`` (a cluster run) it also shows the tasks finished of ``tasks``."""
    if not enabled or not stderr.isatty():
        yield _stay  # and rich stays unimported
        return
    from rich.console import Console

    console = Console(file=stderr)
    if not console.is_terminal:
        yield _stay
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

    class TaskCount(ProgressColumn):
        def render(self, task: Task) -> Text:
            done = task.fields.get("tasks_done", 0)
            return Text(f"{done:>{len(str(tasks))}}/{tasks} tasks", style="progress.download")

    columns: tuple[ProgressColumn, ...] = (
        TextColumn(f"scoring {size_bytes / 1e6:,.1f} MB"),
        BarColumn(),
        RowCount(),
        RowSpeed(),
        *((TaskCount(),) if tasks is not None else ()),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("scoring", total=max(expected_rows, 1), tasks_done=0)

        def advance(rows: int, tasks_done: int | None = None) -> None:
            if tasks_done is None:
                bar.advance(task, rows)
            else:
                bar.update(task, advance=rows, tasks_done=tasks_done)

        yield advance


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
            show(renderable)
    if stop.frameworks is not None:
        view = stop.frameworks
        emit_frameworks(
            Output(stdout=stdout), view.title, view.exact, view.found, like=False, note=view.note
        )
        block_done()
    for line in stop.conclusions:
        show(_conclusion(line))
    console.print()


# --- side by side (--vs) -------------------------------------------------------------------


@functools.singledispatch
def _compared_terms(result: LossResult) -> FloatArray:
    """Each class's term, the column ``--vs`` sets side by side."""
    raise TypeError(f"no terms for {type(result).__name__}")


@_compared_terms.register(CrossEntropyResult)
@_compared_terms.register(BinaryResult)
@_compared_terms.register(KLResult)
@_compared_terms.register(FocalResult)
def _(result: CrossEntropyResult | BinaryResult | KLResult | FocalResult) -> FloatArray:
    return result.terms


@_compared_terms.register(GradResult)
def _(result: GradResult) -> FloatArray:
    return result.grad


def _pair_column(header: str, values: FloatArray, other: FloatArray) -> ColumnSpec:
    """One side of a pair of columns, highlighted where A and B differ; Σ below."""

    def cell(row: int, c: int) -> CellContent:
        value = float(values[row, c])
        differs = not bool(np.isclose(value, other[row, c]))
        return Cell(value, style="bold yellow" if differs else "")

    return ColumnSpec(header, cell)


def comparison_tables(
    comparison: Comparison, rows: int | None = ROW_BLOCKS
) -> list[RenderableType]:
    """One table per row: A's and B's probabilities, terms and gradients next to each other."""
    a, b = comparison.a, comparison.b
    terms_a, terms_b = _compared_terms(a), _compared_terms(b)
    # KL compares distributions P and Q, not labels and predictions: its columns say so.
    truth, model = ("P", "Q") if a.name == "kl" else ("y", "p")
    columns = [
        _label_column(a),
        ColumnSpec(truth, lambda r, c: a.targets[r, c]),
        _pair_column(f"{model} (A)", a.probs, b.probs),
        _pair_column(f"{model} (B)", b.probs, a.probs),
        replace(_pair_column("term (A)", terms_a, terms_b), footer=_sum_of(terms_a)),
        replace(_pair_column("term (B)", terms_b, terms_a), footer=_sum_of(terms_b)),
    ]
    if comparison.grad_a is not None and comparison.grad_b is not None:
        columns += [
            _pair_column("∂L/∂z (A)", comparison.grad_a, comparison.grad_b),
            _pair_column("∂L/∂z (B)", comparison.grad_b, comparison.grad_a),
        ]
    out: list[RenderableType] = []
    for row in _blocks(a, rows):
        shown, _ = _shown_classes(a, row, a.targets, terms_a)
        shown = sorted({*shown, *_shown_classes(b, row, b.targets, terms_b)[0]})
        others = (
            None
            if len(shown) == a.classes
            else _others(
                a.classes, shown, [("terms (A)", terms_a[row]), ("terms (B)", terms_b[row])]
            )
        )
        title = _row_title("A and B side by side", a, row)
        out.append(TermTable(title, columns, row, shown, others=others))
    out.extend(_rows_left_out(a, rows))
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


_REASONS_WIDTH = 24
"""The narrowest "why it differs" column of --frameworks: "computed in float32" on a line."""


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
        out.write(json_line(document))
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
        # A row of values wraps between them, so that the reasons keep room for words: with
        # the values on one line, at 80 columns "why it differs" was one letter wide.
        table.add_column("value", justify="right")
        table.add_column("vs cecli", no_wrap=True)
        table.add_column("why it differs", overflow="fold", min_width=_REASONS_WIDTH)
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
def emit_file_frameworks(output: Output, comparison: FileComparison) -> None:
    """A :class:`~cecli.frameworks.FileComparison`: its JSON, or the table of
    :func:`emit_frameworks` titled by the file and its rows."""
    if output.mode == "json":
        output.stdout.write(json_line(comparison.to_json()))
        output.stdout.flush()
        return
    from rich.markup import escape

    what = f"--like {comparison.library}" if comparison.library else "and the frameworks (nats)"
    source = escape(safe_text(comparison.summary.source))
    title = f"cecli {comparison.command} {what}: {comparison.summary.rows:,} rows of {source}"
    emit_frameworks(
        output, title, comparison.value, comparison.found, like=comparison.library is not None
    )


@_floats_as_computed
def emit_frameworks_comparison(output: Output, comparison: FrameworksComparison) -> None:
    """A :class:`~cecli.frameworks.FrameworksComparison`: its JSON, or the table of
    :func:`emit_frameworks` titled by what was asked."""
    if output.mode == "json":
        output.stdout.write(json_line(comparison.to_json()))
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
