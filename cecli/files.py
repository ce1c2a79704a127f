"""CSV and Parquet files in bounded record batches, column selection, and the atomic writer.

Imported only in file mode: the one-liners never load polars.  polars was chosen by
measurement (see benchmarks/batch.py and the README): it parses CSV text at the CPU cost of
pyarrow's reader (about 1.8 ms per MB on one core) and was faster in this pipeline, where
pandas in chunks and pyarrow's streaming reader were slower still.

Locations in messages are ``file:line:column`` for CSV (one record per line, the header
being line 1) and ``file:row N, column NAME`` for Parquet.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import fnmatch
import functools
import gc
import gzip
import io
import os
import re
import stat
import sys
import tempfile
import warnings
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias, TypeVar

import numpy as np

from cecli.inputs import NUMBER_BODY, InputError, parse_number
from cecli.numerics import FloatArray
from cecli.plain_csv import header_names, plain_batches, read_plain

if TYPE_CHECKING:
    import polars as pl
    from _typeshed import ReadableBuffer

Family = Literal["categorical", "binary", "kl"]
BATCH_ROWS = 131_072
T = TypeVar("T")
ParsedBlock: TypeAlias = "tuple[pl.DataFrame | FloatArray, np.ndarray | None, np.ndarray | None]"
"""One block of records as read: the records (a frame, or columns × records from the C
reader), which are empty lines, and each one's count of fields where some are ragged."""
CHUNK_BYTES = 8 << 20
"""Bytes of CSV parsed at a time: bounded memory, and still large enough to parse fast."""
PARSE_WORKERS = 2
PARSE_AHEAD = 3
_INDEXED = re.compile(r"^(?P<prefix>[a-zA-Z_]+?)_?(?P<index>\d+)$")


@dataclass(frozen=True, eq=False)
class Columns:
    """Which columns hold what."""

    labels: tuple[str, ...]
    """One column of class indices/names (``label_index``), or one column per class."""
    preds: tuple[str, ...]
    label_index: bool
    weight: str | None = None
    identifier: str | None = None
    group_by: tuple[str, ...] = ()
    """Columns whose values group the rows (read as text)."""
    class_names: tuple[str, ...] | None = None
    """Class names read from prediction columns named ``p_<class>`` (or ``prob_``, ``logit_``)."""
    preds_guessed: bool = False
    """The prediction columns are every column no other role took (for error messages)."""
    notes: tuple[str, ...] = ()
    """What was guessed from the column names, to be said once."""
    keep: tuple[str, ...] = ()
    """Columns carried, as text, to the per-row output."""


@dataclass(frozen=True, eq=False)
class KeyColumn:
    """One ``group_by`` column of a batch as text: a code per row, and each code's value."""

    codes: np.ndarray
    values: tuple[str, ...]

    def take(self, rows: np.ndarray | slice) -> KeyColumn:
        """The same column for ``rows`` (a mask or indices)."""
        return KeyColumn(self.codes[rows], self.values)


@dataclass(frozen=True, eq=False)
class Batch:
    """One record batch as float64 arrays, with where each row came from."""

    labels: FloatArray
    preds: FloatArray
    weights: FloatArray | None
    ids: list[str] | None
    lines: np.ndarray
    """Line numbers (CSV, 1-based, header = 1) or row numbers (Parquet, 1-based)."""
    blank: np.ndarray | None = None
    """Which rows are empty lines (not records), or None if there are none."""
    keys: list[KeyColumn] | None = None
    """Each ``group_by`` column's values, or None without groups."""
    kept: list[KeyColumn] | None = None
    """Each ``keep`` column's values, or None."""
    ragged: dict[int, tuple[str, int, int]] | None = None
    """Rows whose record has too many or too few fields: (``file:line``, fields, header's)."""
    unmatched: np.ndarray | None = None
    """Rows whose id is in one of two joined files only (see :class:`Table`), or None."""
    unmatched_reason: str = ""


_SPACES = " \t"
_TEXT_NUMBER = f"^{NUMBER_BODY}$"
_FIELD_LIMIT = (1 << 31) - 1
_BYTE_ORDER_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_PARQUET_MAGIC = b"PAR1"


def _csv_records(handle: IO[str], separator: str) -> Iterator[list[str]]:
    """Python's CSV reader without its 128 KiB limit on a field: a long field is data."""
    csv.field_size_limit(_FIELD_LIMIT)
    return csv.reader(handle, delimiter=separator)


def _numbers(text: pl.Expr) -> pl.Expr:
    """Text fields as numbers by the grammar of typed values (``cecli.inputs.NUMBER_BODY``,
    spaces and tabs around allowed); null where a field is not a number."""
    import polars as pl

    stripped = text.str.strip_chars(_SPACES)
    number = pl.when(stripped.str.contains(_TEXT_NUMBER)).then(stripped)
    return number.cast(pl.Float64, strict=False)


@dataclass(frozen=True, eq=False)
class Reading:
    """How the selected columns become float64.

    Numbers follow one grammar, the typed values' one.  A label column of class indices or
    names follows one rule for every value, never a type guessed from a sample of rows: with
    ``--classes``, a label equal to a class name is that class, otherwise a number is an
    index; without it, the prediction columns' names are the class names, consulted for
    labels that are not numbers.
    """

    numbers: tuple[str, ...]
    """Predictions, weights and per-class labels."""
    label: str | None
    """The column of class indices or names, if labels come so."""
    label_as_text: bool
    """Read the label column as text: some class name reads as a number."""
    names: tuple[str, ...]
    names_first: bool
    texts: tuple[str, ...] = ()
    """Columns read as numbers that ``keep`` also copies: delivered as written too, each
    under ``text_of(name)``."""

    @classmethod
    def of(cls, columns: Columns, class_names: Sequence[str] | None) -> Reading:
        numbers = [*columns.preds, *([columns.weight] if columns.weight else [])]
        label = columns.labels[0] if columns.label_index else None
        if label is None:
            numbers += columns.labels
        # A column may be a prediction and the weight; the label column reads as a label.
        numbers = [name for name in dict.fromkeys(numbers) if name != label]
        names = tuple(class_names or columns.preds)
        explicit = class_names is not None
        as_text = label is not None and explicit and any(parse_number(n) is not None for n in names)
        texts = tuple(c for c in columns.keep if c in numbers or c == label)
        # Grouped by the label column: its classes as written (cat), not their indices (3).
        texts += tuple(c for c in columns.group_by if c == label and c not in texts)
        return cls(tuple(numbers), label, as_text, names, explicit, texts)

    def with_texts(self, frame: pl.DataFrame, raw: pl.DataFrame | None) -> pl.DataFrame:
        """``frame`` with the ``texts`` columns as written, from ``raw`` (the same records,
        every field text), or as ``frame`` has them when there is no text."""
        import polars as pl

        present = set(frame.columns)  # a set: a file may have 100,000 columns
        mine = [c for c in self.texts if c in present]
        if not mine:
            return frame
        source = frame if raw is None else raw
        return frame.with_columns(
            source.select([pl.col(c).cast(pl.String).alias(text_of(c)) for c in mine]).get_columns()
        )

    @property
    def floats(self) -> list[str]:
        """Columns a CSV reader parses as numbers on the fast path."""
        label = [self.label] if self.label is not None and not self.label_as_text else []
        return [*self.numbers, *label]

    def label_values(self, text: pl.Expr) -> pl.Expr:
        import polars as pl

        named = text.str.strip_chars(_SPACES).replace_strict(
            list(self.names), [float(i) for i in range(len(self.names))],
            default=None, return_dtype=pl.Float64,
        )  # fmt: skip
        number = _numbers(text)
        return pl.coalesce(named, number) if self.names_first else pl.coalesce(number, named)

    def finish_csv(self, frame: pl.DataFrame, raw: pl.DataFrame | None) -> pl.DataFrame:
        """``frame`` with every selected column a number: from ``raw`` (the same records, all
        fields as text) when the fast parse left something out."""
        import polars as pl

        source = frame if raw is None else raw
        present = set(frame.columns)  # a set: a file may have 100,000 columns
        mine = [c for c in self.numbers if c in present] if raw is not None else []
        exprs = [_numbers(pl.col(c)).alias(c) for c in mine]
        label = self.label if self.label in present else None
        if label is not None and (raw is not None or self.label_as_text):
            exprs.append(self.label_values(pl.col(label)).alias(label))
        if not exprs:
            return frame
        return frame.with_columns(source.select(exprs).get_columns())

    def finish_parquet(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` (Parquet's own types) with every selected column a number."""
        import polars as pl

        # A kept column as its own type writes itself: 7, 1000.0, true.
        schema = frame.schema  # once: each frame.schema is built anew, for every column
        exprs = [pl.col(c).cast(pl.String).alias(text_of(c)) for c in self.texts if c in schema]
        for name in [*self.numbers, *([self.label] if self.label is not None else [])]:
            if name not in schema:
                continue
            column = pl.col(name)
            if name == self.label and (self.label_as_text or _is_text(schema[name])):
                exprs.append(self.label_values(column.cast(pl.String)).alias(name))
            elif _is_text(schema[name]):
                exprs.append(_numbers(column.cast(pl.String)).alias(name))
            else:
                exprs.append(column.cast(pl.Float64, strict=False).alias(name))
        return frame.with_columns(exprs)


_TEXT = "__cecli_text:"


def text_of(column: str) -> str:
    """The name a column read as numbers has as written (:attr:`Reading.texts`)."""
    return _TEXT + column


def _column_of(name: str) -> str:
    """The file's column behind a selected name (itself, or the column of ``text_of``)."""
    return name.removeprefix(_TEXT)


def _is_text(dtype: pl.DataType) -> bool:
    import polars as pl

    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def _binary_as_text(frame: pl.DataFrame, display: str, first_row: int) -> pl.DataFrame:
    """``frame`` with its Parquet byte-string columns (ids, class names) as text, or one error
    naming the first row and column whose bytes are not UTF-8 (polars says only "invalid
    utf8", for the whole file)."""
    import polars as pl

    binary = [name for name, dtype in frame.schema.items() if dtype == pl.Binary]
    texts = []
    for name in binary:
        column = frame.get_column(name)
        try:
            texts.append(column.cast(pl.String))
        except pl.exceptions.ComputeError:
            for row, value in enumerate(column.to_list(), first_row + 1):
                try:
                    value is None or value.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError(
                        f"{display}:row {row}, column {name}: bytes that are not UTF-8 text"
                    ) from None
            raise
    return frame.with_columns(texts) if texts else frame


def _blank_lines(data: bytes, raw: pl.DataFrame, separator: str) -> np.ndarray | None:
    """Which records of a block are empty lines (None if none are).

    An empty line and a line of empty fields (``,,``) both parse as a row of nulls; Python's
    CSV reader tells them apart (``[]`` against ``['', '', '']``).  It runs only on a block
    that has both a row of nulls and two line breaks in a row.
    """
    import polars as pl

    if not (data.startswith((b"\n", b"\r\n")) or b"\n\n" in data or b"\n\r\n" in data):
        return None
    if not raw.select(pl.all_horizontal(pl.all().is_null()).any()).item():
        return None
    text = io.StringIO(data.decode("utf-8", errors="replace"), newline="")
    blank = np.fromiter((not record for record in _csv_records(text, separator)), dtype=np.bool_)
    # Should the two readers count the records differently, nothing is taken for empty: each
    # row is then a record, scored or reported.
    return blank if len(blank) == raw.height and blank.any() else None


_LONE_CARRIAGE_RETURN = re.compile(rb"\r(?!\n)")


def _field_counts(data: bytes, separator: str) -> np.ndarray | None:
    """How many fields each record of a block has (0 for an empty line); None if a quote
    makes the count uncertain and Python's CSV reader counts instead."""
    if b'"' in data:
        text = io.StringIO(data.decode("utf-8", errors="replace"), newline="")
        return np.fromiter((len(r) for r in _csv_records(text, separator)), dtype=np.int64)
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == ord("\n"))
    if len(data) and data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    separators = np.concatenate(([0], np.cumsum(buffer == ord(separator))))
    counts = separators[ends] - separators[starts] + 1
    lengths = ends - starts
    carriage = (lengths == 1) & (buffer[np.minimum(starts, max(len(data) - 1, 0))] == ord("\r"))
    counts[(lengths == 0) | carriage] = 0
    return counts.astype(np.int64)


def _import_polars() -> None:
    """Import polars with the cyclic garbage collector paused.

    The import makes tens of thousands of objects that live as long as the process and no
    garbage, so collections during it walk them for nothing: pausing took about 10 ms (CPU)
    off the import's 0.15 s.  The collector is left as it was found.
    """
    if "polars" in sys.modules:
        return
    collecting = gc.isenabled()
    gc.disable()
    try:
        import polars  # noqa: F401
    finally:
        if collecting:
            gc.enable()


def _check_text(path: Path, display: str) -> None:
    """Refuse, in one line, a file that is not UTF-8 text in lines ending with LF or CRLF."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    for mark, encoding in _BYTE_ORDER_MARKS:
        if head.startswith(mark):
            raise InputError(
                f"{display}: the file is {encoding} text (it starts with a byte order mark); "
                "save it as UTF-8"
            )
    if head.removeprefix(b"\xef\xbb\xbf").startswith((b"\n", b"\r\n")):
        raise InputError(f"{display}: the header must be the first line (line 1 is empty)")
    if head.startswith(_PARQUET_MAGIC):
        raise InputError(f"{display}: this is a Parquet file, not CSV; use kind='parquet'")
    if b"\r" in head and b"\n" not in head:
        raise InputError(
            f"{display}: lines end with a carriage return alone (classic Mac OS); "
            "save it with LF or CRLF line ends"
        )


def _plain_header(path: Path, separator: str) -> list[str] | None:
    """The names of a header line that every CSV reader splits alike: UTF-8 text without a
    quote or a carriage return inside it, every name given once.  None for any other header
    (polars reads it, and says what is wrong with it)."""
    with path.open("rb") as handle:
        line = handle.readline(MAX_RECORD_BYTES + 1)
    if not line.endswith(b"\n") or b'"' in line:
        return None  # a header that is the whole file, or very long, is left to polars too
    try:
        text = line.decode("utf-8").removeprefix("\ufeff").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        return None
    if "\r" in text or "\x00" in text:
        return None
    return header_names(text, separator)


class Source:
    """One CSV or Parquet file: its columns, and where a value of it is."""

    def __init__(self, path: Path, display: str, kind: Literal["csv", "parquet"], separator: str):
        self.path = path
        self.display = display
        self.kind = kind
        self.separator = separator
        self.size = path.stat().st_size
        self.first = 2 if kind == "csv" else 1
        """The line (CSV, after the header) or row (Parquet) of the first record."""
        self.rows: tuple[int, int] | None = None
        """Only these Parquet rows (start, stop), read as if they were the whole file."""
        self.ragged: dict[int, int] = {}
        """Lines read but not yet taken whose record has too many or too few fields, and
        how many it has."""
        if kind == "csv":
            if len(separator) != 1 or not separator.isascii():
                raise InputError(
                    f"delimiter must be one ASCII character, got {separator!r}",
                    parameter="delimiter",
                )
            if separator in '"\r\n':
                # CSV gives these their own meaning: each line would read as one field.
                raise InputError(
                    f"delimiter cannot be a quote or a line break, got {separator!r}",
                    parameter="delimiter",
                )
            _check_text(path, display)
        self.plain = read_plain(path, separator, self.size) if kind == "csv" else None
        """The records of a small, plain CSV file, read without polars (see
        :mod:`cecli.plain_csv`)."""
        if self.plain is not None:
            self.columns = self.plain.names
            return
        plain_header = _plain_header(path, separator) if kind == "csv" else None
        if plain_header is not None:
            self.columns = plain_header  # polars is imported only if a block needs it
            return
        _import_polars()
        with self.reading():
            found: list[str] = self.scan().collect_schema().names()
        self.columns = self._header(found) if kind == "csv" else found
        if not self.columns:
            raise InputError(f"{display}: no header row with column names")

    def _header(self, found: list[str]) -> list[str]:
        """The header's names, spaces and tabs around them stripped (as around numbers); a
        name given twice is refused rather than renamed."""
        with self.path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
            fields = next(_csv_records(handle, self.separator), [])
        if len(fields) != len(found):
            return found  # polars read the header otherwise; its names are the ones it reads by
        names = [field.strip(_SPACES) for field in fields]
        if "" in names:
            number = names.index("") + 1
            raise InputError(
                f"{self.display}:1:{number}: the header gives column {number} no name; "
                "name every column"
            )
        counts = collections.Counter(names)
        repeated = next((name for name in names if counts[name] > 1), None)
        if repeated is not None:
            raise InputError(f"{self.display}: the header names column {repeated!r} twice or more")
        return names

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """polars' failures on this file as one line naming it."""
        what = "a Parquet file" if self.kind == "parquet" else "a CSV file"
        return _polars_failures(lambda why: f"{self.display}: cannot be read as {what} ({why})")

    def scan(self) -> pl.LazyFrame:
        """The file, lazily; its path is itself, never a glob pattern."""
        import polars as pl

        if self.kind == "parquet":
            return pl.scan_parquet(self.path, glob=False)
        return pl.scan_csv(
            self.path,
            separator=self.separator,
            infer_schema=False,
            raise_if_empty=False,
            glob=False,
        )

    def estimated_rows(self) -> int:
        """Rows in the file: exact for Parquet, from the first 64 KiB's line length for CSV."""
        if self.kind == "parquet":
            import polars as pl

            with self.reading():
                return int(self.scan().select(pl.len()).collect().item())
        with self.path.open("rb") as handle:
            head = handle.read(1 << 16)
        lines = head.count(b"\n")
        if lines <= 1:
            return 1
        return max(1, int(self.size / (len(head) / lines)) - 1)

    def check_types(self, selected: Sequence[str]) -> None:
        """Refuse, in one line, a Parquet column that cannot hold numbers or text."""
        if self.kind != "parquet":
            return
        with self.reading():
            schema = self.scan().collect_schema()
        for name in selected:
            if name in schema and (schema[name].is_nested() or schema[name].is_object()):
                raise InputError(
                    f"{self.display}: column {name!r} holds {schema[name]}, not numbers or text"
                )

    def csv_blocks(
        self, reading: Reading
    ) -> Iterator[tuple[pl.DataFrame | FloatArray, np.ndarray | None]]:
        """The records in byte ranges of about ``CHUNK_BYTES``, each parsed on its own, with
        which rows are empty lines.

        Memory stays flat whatever the file's size (polars' own lazy reader was measured to
        grow from 219 to over 370 MiB between one and ten million rows), and lines keep their
        numbers: a chunk ends at a line break outside quotes, and blank lines parse as empty
        records.  A block that the C reader reads (every column a number) comes as a float64
        array of all the file's columns (columns × records), and polars is imported only when
        a block needs it.  polars parses numbers itself; a block where it found something
        that is not a number to it (null) is read again as text, by the grammar of typed
        values.
        """
        present = set(self.columns)  # sets: a file may have 100,000 columns
        floats = [name for name in reading.floats if name in present]
        float_names = set(floats)
        # Every column a number: a block of plain decimals is read without polars.
        all_numbers = len(float_names) == len(self.columns) and not reading.texts
        parse_with_polars: list[Callable[[bytes], ParsedBlock]] = []

        def parse(data: bytes) -> ParsedBlock:
            plain = _plain_numbers(data, len(self.columns), self.separator) if all_numbers else None
            if plain is not None:
                return plain, None, None
            if not parse_with_polars:  # made once, in whichever thread needs it first
                parse_with_polars.append(self._polars_parser(reading, floats))
            return parse_with_polars[0](data)

        with warnings.catch_warnings():
            # polars warns when a stray quote upsets its count of a block's rows; the bad
            # value is then reported with its place (or skipped), so the warning says nothing.
            warnings.filterwarnings("ignore", "CSV malformed", UserWarning)
            line = self.first
            blocks = _record_blocks(self.path, self.separator)
            for chunk, blank, fields in _in_order(parse, blocks):
                height = chunk.shape[1] if isinstance(chunk, np.ndarray) else chunk.height
                if fields is not None and len(fields) == height:
                    wrong = (fields != 0) & (fields != len(self.columns))
                    for row in np.flatnonzero(wrong).tolist():
                        self.ragged[line + row] = int(fields[row])
                line += height
                yield chunk, blank

    def _polars_parser(self, reading: Reading, floats: list[str]) -> Callable[[bytes], ParsedBlock]:
        """polars' reading of one block: (frame, which rows are empty lines, each record's
        count of fields where some record has too many or too few)."""
        _import_polars()
        import polars as pl

        float_names = set(floats)
        schema: dict[str, pl.DataType] = {
            name: pl.Float64() if name in float_names else pl.String() for name in self.columns
        }
        text: dict[str, pl.DataType] = dict.fromkeys(self.columns, pl.String())

        def read(
            data: bytes, types: dict[str, pl.DataType], *, ragged: bool = False
        ) -> pl.DataFrame:
            return pl.read_csv(
                data,
                has_header=False,
                new_columns=self.columns,
                schema=types,
                separator=self.separator,
                ignore_errors=True,
                raise_if_empty=False,
                missing_columns="insert",  # a block that starts with an empty line
                truncate_ragged_lines=ragged,
                extra_columns="ignore" if ragged else "raise",  # a long first record
            )

        # A record short of a number column is ragged; one short of a text column only is
        # read with that field empty, as it always was.
        needed = max((self._column_numbers[name] for name in floats), default=0)

        def parse(data: bytes) -> ParsedBlock:
            try:
                frame = read(data, schema)
            except (pl.exceptions.ComputeError, pl.exceptions.SchemaError) as error:
                if "more fields" not in str(error) and "number of columns" not in str(error):
                    raise
                if _LONE_CARRIAGE_RETURN.search(data):
                    raise  # a line split in two: said so, with its line (Table._explain)
                # A record with too many fields: read as far as the header goes, and each
                # record's count of fields says which ones were cut.
                frame = read(data, schema, ragged=True)
                fields = _field_counts(data, self.separator)
                if fields is None or len(fields) != frame.height:
                    raise  # records not told apart: refused, rather than cut unseen
                raw = read(data, text, ragged=True)
                blank = _blank_lines(data, raw, self.separator)
                return reading.with_texts(reading.finish_csv(frame, raw), raw), blank, fields
            if not any(frame.get_column(name).null_count() for name in floats):
                written = read(data, text) if reading.texts else None
                return reading.with_texts(reading.finish_csv(frame, None), written), None, None
            try:
                raw = read(data, text)
            except pl.exceptions.ComputeError:
                # A quote never closed: polars reads no text, only what parsed as numbers;
                # the rest stays not a number and is reported with its place.
                return reading.with_texts(reading.finish_csv(frame, None), None), None, None
            fields = _field_counts(data, self.separator)
            if fields is not None:
                fields = np.where((fields > 0) & (fields < needed), fields, len(self.columns))
            blank = _blank_lines(data, raw, self.separator)
            return reading.with_texts(reading.finish_csv(frame, raw), raw), blank, fields

        return parse

    def take_ragged(self, lines: np.ndarray) -> dict[int, tuple[str, int, int]]:
        """Which of ``lines`` (this file's) hold records with too many or too few fields:
        row → (``file:line``, fields, fields in the header); forgotten once taken."""
        if not self.ragged:
            return {}
        found: dict[int, tuple[str, int, int]] = {}
        for row, line in enumerate(lines.tolist()):
            fields = self.ragged.pop(line, None)
            if fields is not None:
                found[row] = (f"{self.display}:{line}", fields, len(self.columns))
        return found

    def first_ragged_line(self) -> tuple[int, int] | None:
        if self.kind != "csv":
            return None
        with self.path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
            for number, record in enumerate(_csv_records(handle, self.separator), 1):
                if record and len(record) > len(self.columns):
                    return number, len(record)
        return None

    def first_lone_carriage_return(self) -> int | None:
        """The first line with a carriage return that does not end it (polars ends a record
        there; for an error message)."""
        if self.kind != "csv":
            return None
        with self.path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                if b"\r" in line.removesuffix(b"\n").removesuffix(b"\r"):
                    return number
        return None

    def first_line_not_utf8(self) -> int | None:
        """The first line that is not UTF-8 text (for an error message)."""
        if self.kind != "csv":
            return None
        with self.path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return number
        return None

    def raw_value(self, record: int, column: str) -> str | None:
        """The text of one field (for error messages; reads up to that line); a Parquet null
        is an empty value."""
        if self.kind == "parquet":
            with self.reading():
                start = self.rows[0] if self.rows else 0
                value = self.scan().slice(start + record, 1).select(column).collect().item()
            return "" if value is None else str(value)
        line, position = record + self.first, self.columns.index(column)
        with self.path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
            for number, fields in enumerate(_csv_records(handle, self.separator), 1):
                if number == line:
                    return fields[position] if position < len(fields) else ""  # a short line
        return None

    @functools.cached_property
    def column_set(self) -> frozenset[str]:
        """The column names, for membership tests: a file may have 100,000 columns."""
        return frozenset(self.columns)

    @functools.cached_property
    def _column_numbers(self) -> dict[str, int]:
        """Each column's number (1-based): found in one step, where a file may have 100,000."""
        numbers: dict[str, int] = {}
        for number, name in enumerate(self.columns, 1):
            numbers.setdefault(name, number)  # the first of repeated names, as list.index
        return numbers

    def location(self, record: int, column: str) -> str:
        if self.kind == "parquet":
            return f"{self.display}:row {record + self.first}, column {column}"
        return f"{self.display}:{record + self.first}:{self._column_numbers[column]}"


class _Rows:
    """Rows of a stream of record batches, taken in batches of any size."""

    def __init__(self, frames: Iterator[tuple[pl.DataFrame, np.ndarray | None]]) -> None:
        self.frames = frames
        self.pending: pl.DataFrame | None = None
        self.pending_blank = np.zeros(0, dtype=np.bool_)

    def take(self, count: int) -> tuple[list[pl.DataFrame], np.ndarray]:
        parts: list[pl.DataFrame] = []
        blanks: list[np.ndarray] = []
        wanted = count
        while wanted:
            if self.pending is None or self.pending.height == 0:
                following = next(self.frames, None)
                if following is None:
                    break
                self.pending, blank = following
                height = self.pending.height
                self.pending_blank = np.zeros(height, np.bool_) if blank is None else blank
                continue
            n = min(wanted, self.pending.height)
            parts.append(self.pending.slice(0, n))
            blanks.append(self.pending_blank[:n])
            self.pending, self.pending_blank = self.pending.slice(n), self.pending_blank[n:]
            wanted -= n
        return parts, np.concatenate(blanks) if blanks else np.zeros(0, dtype=np.bool_)


def _first(
    parts: list[pl.DataFrame], blank: np.ndarray, count: int
) -> tuple[list[pl.DataFrame], np.ndarray]:
    """The first ``count`` rows of batch parts, with which are empty lines."""
    import polars as pl

    return [pl.concat(parts, how="vertical").head(count)], blank[:count]


def _key_column(column: pl.Series) -> KeyColumn:
    """A column as text, coded by hashing (ten times quicker than sorting its strings)."""
    import polars as pl

    if column.dtype.is_float():
        # A column also read as numbers (a label column of indices): 3, not 3.0.
        numbers = column.fill_nan(None)
        whole = (numbers == numbers.floor()) & (numbers.abs() < 2.0**53)
        if bool(whole.fill_null(True).all()):
            column = numbers.cast(pl.Int64)
    text = column.cast(pl.String).fill_null("")
    values = text.unique(maintain_order=True)
    codes = text.replace_strict(
        values, pl.int_range(0, len(values), eager=True, dtype=pl.UInt32), return_dtype=pl.UInt32
    )
    return KeyColumn(codes.to_numpy(), tuple(values.to_list()))


class Table:
    """One file, or a labels file beside a predictions file, read lazily in record batches.

    ``Batch.lines`` count as the first file does: CSV lines (the header is line 1) or Parquet
    rows; messages translate them into each file's own lines.  Two files are read side by
    side, row for row, unless both have the id column: their rows are then matched by id
    (:meth:`_matched`), and a row only in the predictions file has minus its line there.
    """

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)
        found = [c for source in self.sources for c in source.columns]
        counts = collections.Counter(found)
        self.shared = tuple(sorted(c for c, count in counts.items() if count > 1))
        """Columns in both files: one of them may be the id that matches their rows."""
        if len(self.shared) > 1:
            other = next(c for c in self.shared if c != "id")  # an id may match the rows
            raise InputError(
                f"column {other!r} is in both files; keep labels and predictions apart"
            )
        self.columns: list[str] = list(dict.fromkeys(found))
        self.display = " + ".join(source.display for source in self.sources)
        self.size = sum(source.size for source in self.sources)
        self._join: _Join | None = None

    def source_of(self, column: str) -> Source:
        return next(source for source in self.sources if column in source.column_set)

    def estimated_rows(self) -> int:
        return self.sources[0].estimated_rows()

    def batches(self, columns: Columns, class_names: Sequence[str] | None) -> Iterator[Batch]:
        """Record batches of the selected columns; values that are not numbers become NaN."""
        reading = Reading.of(columns, class_names)
        selected = [*columns.labels, *columns.preds]
        selected += [c for c in (columns.weight, columns.identifier) if c and c not in selected]
        selected += [c for c in (*columns.group_by, *columns.keep) if c not in selected]
        selected += [text_of(c) for c in reading.texts]
        for source in self.sources:
            source.check_types(selected)
        start = self.sources[0].first
        plain = self.sources[0].plain if len(self.sources) == 1 else None
        found = None if plain is None else plain_batches(plain, columns, reading, start)
        if found is not None:
            yield from found
            return
        if self.shared:
            key = columns.identifier
            if key not in self.shared:
                raise InputError(
                    f"column {self.shared[0]!r} is in both files; keep labels and predictions "
                    f"apart, or match their rows by it with id_col {self.shared[0]}",
                    parameter=("id_col",),
                )
            held, streamed = self.sources
            with _polars_failures(self._explain):
                for chunk, lines, unmatched, reason, own in self._matched(key, selected, reading):
                    batch = self._to_batch(chunk, columns, lines, None)
                    cut = {**streamed.take_ragged(own), **held.take_ragged(lines)}
                    yield dataclasses.replace(
                        batch, unmatched=unmatched, unmatched_reason=reason, ragged=cut or None
                    )
            return
        with _polars_failures(self._explain):
            for block, blank in self._frames(selected, reading):
                if isinstance(block, np.ndarray):
                    count = block.shape[1]
                    lines = np.arange(start, start + count)
                    batch = self._array_batch(block, columns, selected, lines)
                else:
                    count = block.height
                    lines = np.arange(start, start + count)
                    batch = self._to_batch(block, columns, lines, blank)
                start += count
                ragged: dict[int, tuple[str, int, int]] = {}
                for source in reversed(self.sources):  # the first file's, if both
                    ragged.update(source.take_ragged(lines))
                yield dataclasses.replace(batch, ragged=ragged) if ragged else batch

    def _frames(
        self, selected: list[str], reading: Reading
    ) -> Iterator[tuple[pl.DataFrame | FloatArray, np.ndarray | None]]:
        """The selected columns in record batches, with which rows are empty lines.  A block
        of one CSV file that the C reader read comes as it is, all its columns (columns ×
        records): numbers from start to end, polars not needed."""
        if len(self.sources) == 1:
            yield from self._source_blocks(self.sources[0], selected, reading)
            return
        used = [s for s in self.sources if any(_column_of(c) in s.column_set for c in selected)]
        streams = [
            self._source_frames(
                source, [c for c in selected if _column_of(c) in source.column_set], reading
            )
            for source in used
        ]
        if len(streams) == 1:
            for frame, blank in streams[0]:
                yield frame.select(selected), blank
            return
        # Two files read each at its own pace, then cut into batches of the same rows.
        readers = [_Rows(stream) for stream in streams]
        done = 0
        while True:
            taken = [reader.take(BATCH_ROWS) for reader in readers]
            heights = {sum(part.height for part in parts) for parts, _ in taken}
            if heights == {0}:
                return
            if len(heights) > 1:
                yield from self._uneven(used, readers, taken, done, selected)
                return
            done += BATCH_ROWS
            yield self._joined(taken, selected)

    def _uneven(
        self,
        used: list[Source],
        readers: list[_Rows],
        taken: list[tuple[list[pl.DataFrame], np.ndarray]],
        done: int,
        selected: list[str],
    ) -> Iterator[tuple[pl.DataFrame, np.ndarray | None]]:
        """The last rows when one file has ended before the other: the longer one's further
        rows may be only the empty lines that end it, which are not records; anything else
        is refused, with each file's count of rows."""
        heights = [sum(part.height for part in parts) for parts, _ in taken]
        common = min(heights)
        counts: list[str] = []
        only_blank = True
        for source, reader, height, (_, blank) in zip(used, readers, heights, taken, strict=True):
            extra, ended = 0, height < BATCH_ROWS
            blank_so_far = bool(blank[common:].all())
            while blank_so_far and not ended:
                _, more = reader.take(BATCH_ROWS)
                extra += len(more)
                ended = len(more) < BATCH_ROWS
                blank_so_far = bool(more.all())
            only_blank = only_blank and blank_so_far and ended
            counts.append(
                f"{source.display}: {'' if ended else 'at least '}{done + height + extra:,}"
            )
        if not only_blank:
            raise InputError(
                f"{self.display}: the files have different numbers of rows ({', '.join(counts)})"
            )
        if common:
            yield self._joined([_first(parts, blank, common) for parts, blank in taken], selected)

    @staticmethod
    def _joined(
        taken: list[tuple[list[pl.DataFrame], np.ndarray]], selected: list[str]
    ) -> tuple[pl.DataFrame, np.ndarray | None]:
        """The same rows of each file side by side."""
        import polars as pl

        frame = pl.concat(
            [pl.concat(parts, how="vertical") for parts, _ in taken], how="horizontal"
        )
        # A row is an empty line only if it is one in every file.
        blank = np.logical_and.reduce([blank for _, blank in taken])
        return frame.select(selected), blank if blank.any() else None

    def _matched(
        self, key: str, selected: list[str], reading: Reading
    ) -> Iterator[tuple[pl.DataFrame, np.ndarray, np.ndarray | None, str, np.ndarray]]:
        """The rows of the two files matched by their ``key`` column, in the predictions
        file's order, then the labels file's rows it lacks: (frame, lines, unmatched, reason,
        each row's line in the predictions file or 0).

        The labels file is held whole but only its selected columns (the id, the label, a
        weight…) with each row's line, sorted by id; the predictions file streams past it in
        blocks, each id found by binary search.  Memory: about (id length + 8 per selected
        column + 16) bytes per row of the labels file, whatever the predictions file's size.
        An id twice in either file is refused with its line; an id in one file only is a row
        left unmatched (``unmatched``), reported, or skipped with ``skip_invalid``.
        """
        import polars as pl

        held_source, streamed = self.sources
        held_columns = [c for c in selected if _column_of(c) in held_source.column_set]
        streamed_columns = [c for c in selected if _column_of(c) in streamed.column_set]
        join = self._join = _Join(key, held_source, streamed, reading)
        parts = []
        start = held_source.first
        for frame, blank in self._source_frames(held_source, held_columns, reading):
            lines = np.arange(start, start + frame.height, dtype=np.int64)
            start += frame.height
            # The ids as text only: one copy of them is held.
            part = frame.with_columns(pl.Series(_LINE, lines), _id_text(frame, key)).drop(key)
            parts.append(part if blank is None else part.filter(pl.Series(~blank)))
        if parts:
            held = pl.concat(parts, how="vertical").sort([_ID, _LINE])
        else:
            held = pl.DataFrame(schema={**dict.fromkeys(held_columns, pl.String),
                                        _LINE: pl.Int64, _ID: pl.String}).drop(key)  # fmt: skip
        join.hold(held)
        padded = pl.concat([held, held.clear(1)], how="vertical")  # index len(held): nulls
        labels_only = [c for c in held_columns if c != key]
        start = streamed.first
        reason = f"has no row in {held_source.display} (rows are matched by column {key!r})"
        for frame, blank in self._source_frames(streamed, streamed_columns, reading):
            lines = np.arange(start, start + frame.height, dtype=np.int64)
            start += frame.height
            if blank is not None:
                frame, lines = frame.filter(pl.Series(~blank)), lines[~blank]
            if frame.height == 0:
                continue
            positions, found = join.find(frame.select(_id_text(frame, key)).to_series(), lines)
            labels = padded[np.where(found, positions, held.height)]
            joined = pl.concat([labels.select(labels_only), frame], how="horizontal")
            row_lines = np.where(found, labels.get_column(_LINE).to_numpy(), -lines)
            unmatched = None if found.all() else ~found
            yield joined.select(selected), row_lines, unmatched, reason, lines
        missing = held.filter(pl.Series(join.partner == 0)).sort(_LINE)
        reason = f"has no row in {streamed.display} (rows are matched by column {key!r})"
        for offset in range(0, missing.height, BATCH_ROWS):
            part = missing.slice(offset, BATCH_ROWS)
            absent = [
                pl.lit(None, dtype=pl.Float64 if c in reading.numbers else pl.String).alias(c)
                for c in streamed_columns if c != key
            ]  # fmt: skip
            frame = part.with_columns([*absent, pl.col(_ID).alias(key)]).select(selected)
            lines = part.get_column(_LINE).to_numpy()
            absent_lines = np.zeros(part.height, dtype=np.int64)
            yield frame, lines, np.ones(part.height, dtype=np.bool_), reason, absent_lines

    def row_counts(self) -> str:
        """Each of two matched files' number of rows, for a message (reads the predictions
        file's ids again)."""
        join = self._join
        if join is None:
            return ""
        rows = 0
        for frame, blank in self._source_frames(join.streamed, [join.key], join.reading):
            rows += frame.height - (0 if blank is None else int(blank.sum()))
        return f"{join.held.display}: {join.rows:,} rows, {join.streamed.display}: {rows:,} rows"

    def _source_frames(
        self, source: Source, mine: list[str], reading: Reading
    ) -> Iterator[tuple[pl.DataFrame, np.ndarray | None]]:
        """The ``mine`` columns of one file in blocks, as frames."""
        for block, blank in self._source_blocks(source, mine, reading):
            if isinstance(block, np.ndarray):
                yield _frame_of(source.columns, block).select(mine), blank
            else:
                yield block, blank

    def _source_blocks(
        self, source: Source, mine: list[str], reading: Reading
    ) -> Iterator[tuple[pl.DataFrame | FloatArray, np.ndarray | None]]:
        """The ``mine`` columns of one file in blocks, with which rows are empty lines; a
        block that the C reader read comes as it is (all the file's columns, columns ×
        records)."""
        if source.kind == "csv":
            try:
                for chunk, blank in source.csv_blocks(reading):
                    yield (chunk if isinstance(chunk, np.ndarray) else chunk.select(mine)), blank
            except RecordTooLong as error:
                raise InputError(f"{source.display}:{str(error).removeprefix('line ')}") from None
            return
        wanted, mine = mine, [c for c in mine if _column_of(c) == c]  # finish_parquet adds texts
        _check_row_groups(source, set(mine))
        # One slice of the lazy scan at a time reads only the row groups it needs: flat
        # memory (150 -> 174 MiB from 1M to 10M rows), where collect_batches grew to 338.
        start, stop = source.rows or (0, source.estimated_rows())
        for offset in range(start, stop, BATCH_ROWS):
            count = min(BATCH_ROWS, stop - offset)
            piece = source.scan().slice(offset, count).select(mine).collect()
            piece = reading.finish_parquet(_binary_as_text(piece, source.display, offset))
            yield piece.select(wanted), None

    def _array_batch(
        self, chunk: FloatArray, columns: Columns, selected: list[str], lines: np.ndarray
    ) -> Batch:
        """A batch of views of one block of a file's columns (columns × records), as the C
        reader gives it."""
        # The views stay writeable, as polars' arrays are: cecli.inputs then copies them as
        # it copies those (into rows), and sums across a row add in the same order.  Read-only
        # views were used as they are (by columns), and a row of 8 or more values summed in
        # another order, a last bit away from what polars' blocks give.
        numbers = self.sources[0]._column_numbers

        def rows_of(names: Sequence[str]) -> FloatArray:
            positions = [numbers[name] - 1 for name in names]
            first = positions[0] if positions else 0
            if positions == list(range(first, first + len(positions))):
                return chunk[first : first + len(positions)].T  # a view: no copy
            return chunk[positions].T

        labels, preds = rows_of(columns.labels), rows_of(columns.preds)
        weights = chunk[numbers[columns.weight] - 1] if columns.weight else None
        if columns.identifier is not None or columns.group_by or columns.keep:
            # Such columns are text: the frame's way, as for any block.
            frame = _frame_of(self.sources[0].columns, chunk).select(selected)
            batch = self._to_batch(frame, columns, lines, None)
            # Not the frame's numbers: polars hands this frame's back as a read-only view of
            # the block (its columns lie side by side), which is not copied into rows either.
            return dataclasses.replace(batch, labels=labels, preds=preds, weights=weights)
        return Batch(labels, preds, weights, None, lines)

    def _to_batch(
        self, chunk: pl.DataFrame, columns: Columns, lines: np.ndarray, blank: np.ndarray | None
    ) -> Batch:
        import polars as pl

        plain = columns.weight is None and columns.identifier is None
        plain = plain and not columns.group_by and not columns.keep
        if plain and chunk.width == len(columns.labels) + len(columns.preds):
            # The usual case: one conversion of the whole batch, then two views of it.
            block = np.asarray(chunk.to_numpy(), dtype=np.float64)
            labels, preds = block[:, : len(columns.labels)], block[:, len(columns.labels) :]
            return Batch(labels, preds, None, None, lines, blank)
        labels = np.asarray(chunk.select(columns.labels).to_numpy(), dtype=np.float64)
        preds = np.asarray(chunk.select(columns.preds).to_numpy(), dtype=np.float64)
        weights = None
        if columns.weight:
            weights = np.asarray(chunk.get_column(columns.weight).to_numpy(), dtype=np.float64)
        ids = None
        if columns.identifier:
            ids = chunk.get_column(columns.identifier).cast(pl.String).fill_null("").to_list()
        keys = None
        if columns.group_by:
            keys = [
                _key_column(chunk.get_column(text_of(name) if text_of(name) in chunk else name))
                for name in columns.group_by
            ]
        kept = [
            _key_column(chunk.get_column(text_of(name) if text_of(name) in chunk else name))
            for name in columns.keep
        ] or None
        return Batch(labels, preds, weights, ids, lines, blank, keys, kept)

    def _explain(self, text: str) -> str:
        if "more fields" in text or "does not match number of columns" in text:
            ragged = _first_in(self.sources, Source.first_ragged_line)
            if ragged is not None:
                source, (line, count) = ragged
                return (
                    f"{source.display}:{line}: {count} fields, but the header has "
                    f"{len(source.columns)}"
                )
            split = _first_in(self.sources, Source.first_lone_carriage_return)
            if split is not None:
                return (
                    f"{split[0].display}:{split[1]}: a carriage return inside the line splits "
                    "the record in two; remove it, or quote the field that holds it"
                )
        if "invalid utf-8" in text:
            undecodable = _first_in(self.sources, Source.first_line_not_utf8)
            if undecodable is not None:
                return (
                    f"{undecodable[0].display}:{undecodable[1]}: the line is not UTF-8 text "
                    "(Latin-1 or another encoding?); save the file as UTF-8"
                )
        if "non-equal length" in text:
            return f"{self.display}: the files have different numbers of rows"
        return f"{self.display}: cannot read the file ({text})"

    def records(self, lines: Collection[int]) -> Iterator[tuple[int, list[str]]]:
        """The records at ``lines`` (as counted by ``Batch.lines``), in file order, as text:
        a CSV record's fields as written, a Parquet row's values as text (null as empty)."""
        if self._join is not None:
            yield from self._join.records(lines)
            return
        if len(self.sources) != 1:
            raise InputError(
                "on_rejects reads one file; not labels_file with preds_file",
                parameter=("on_rejects", "labels_file", "preds_file"),
            )
        yield from _source_records(self.sources[0], set(lines))

    def record_header(self) -> list[str]:
        """The column names of what :meth:`records` gives (none for two files read side
        by side)."""
        if self._join is not None:
            return [*self.sources[0].columns, *self.sources[1].columns]
        return self.sources[0].columns if len(self.sources) == 1 else []

    def raw_value(self, line: int, column: str) -> str | None:
        """The text of the field at ``line`` (as counted by ``Batch.lines``) of ``column``."""
        source, own = self._place(line, column)
        return source.raw_value(own - source.first, column)

    def location(self, line: int, column: str) -> str:
        """``file:line:column`` (or ``file:row N, column NAME``) of a field."""
        source, own = self._place(line, column)
        return source.location(own - source.first, column)

    def _place(self, line: int, column: str) -> tuple[Source, int]:
        """The file of a field and its line there."""
        if self._join is not None:
            return self._join.place(line, column)
        return self.source_of(column), line - self.sources[0].first + self.source_of(column).first


def _first_in(
    sources: Sequence[Source], find: Callable[[Source], T | None]
) -> tuple[Source, T] | None:
    """The first file in which ``find`` finds something (a line, for a message), and what."""
    for source in sources:
        found = find(source)
        if found is not None:
            return source, found
    return None


def _source_records(source: Source, wanted: set[int]) -> Iterator[tuple[int, list[str]]]:
    """The records of one file at ``wanted`` lines (rows for Parquet), in file order."""
    if not wanted:
        return
    if source.kind == "parquet":
        import polars as pl

        rows = sorted(wanted)
        with source.reading():
            frame = (
                source.scan().with_row_index("__row", offset=source.first)
                .filter(pl.col("__row").is_in(rows)).collect()
            )  # fmt: skip
        columns = [_as_written(frame.get_column(name)) for name in source.columns]
        for row, *values in zip(frame.get_column("__row").to_list(), *columns, strict=True):
            yield int(row), values
        return
    last = max(wanted)
    with source.path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        for number, fields in enumerate(_csv_records(handle, source.separator), 1):
            if number in wanted:
                yield number, fields
            if number >= last:
                return


def _as_written(column: pl.Series) -> list[str]:
    """A Parquet column's values as text, null as empty; bytes that are not UTF-8 keep their
    escapes (``\\xff``) rather than fail the whole record."""
    import polars as pl

    if column.dtype == pl.Binary:
        return [
            "" if value is None else value.decode("utf-8", "backslashreplace")
            for value in column.to_list()
        ]
    texts: list[str] = column.cast(pl.String).fill_null("").to_list()
    return texts


_LINE = "__cecli_line"
_ID = "__cecli_id"


def _id_text(frame: pl.DataFrame, key: str) -> pl.Expr:
    """The id column as text (a missing id as empty), to match the two files' ids: text as
    written; a number as its value, a whole one as an integer (10.0 is 10, as an integer
    column or a CSV file writes it), since a column of integer ids with a gap is often
    stored as floats."""
    import polars as pl

    column = pl.col(key)
    text = column.cast(pl.String)
    if frame.schema[key].is_float():
        # Within ±2**63 a whole float is an Int64 exactly; beyond, it is written as a float.
        whole = column.is_finite() & (column == column.floor()) & (column.abs() < 2.0**63)
        text = pl.when(whole).then(column.cast(pl.Int64, strict=False).cast(pl.String))
        text = text.otherwise(column.cast(pl.String))
    return text.fill_null("").alias(_ID)


class _Join:
    """Two files' rows matched by id: the labels file's ids, lines and selected columns,
    sorted by id, and for each of its rows the line of its match in the predictions file."""

    def __init__(self, key: str, held: Source, streamed: Source, reading: Reading) -> None:
        self.key, self.held, self.streamed, self.reading = key, held, streamed, reading
        self.ids: pl.Series | None = None
        self.lines = np.zeros(0, dtype=np.int64)
        """The labels file's line of each held row, in id order."""
        self.partner = np.zeros(0, dtype=np.int64)
        """The predictions file's line matched to each held row (0 while none is)."""
        self.rows = 0
        self._by_line: np.ndarray | None = None

    def hold(self, held: pl.DataFrame) -> None:
        """Take the labels file's rows (sorted by id, then line); refuse an id given twice."""
        ids = held.get_column(_ID)
        lines = held.get_column(_LINE).to_numpy()
        if held.height > 1:
            same = (ids.slice(1) == ids.slice(0, held.height - 1)).to_numpy()
            if same.any():
                later = np.flatnonzero(same) + 1
                second = int(later[np.argmin(lines[later])])
                raise InputError(
                    f"{self.held.display}:{lines[second]}: id {ids[second]!r} is also on line "
                    f"{lines[second - 1]}; the rows of two files are matched by column "
                    f"{self.key!r}, so each id must be given once"
                )
        self.ids, self.lines, self.rows = ids, lines, held.height
        self.partner = np.zeros(held.height, dtype=np.int64)

    def find(self, ids: pl.Series, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each of a block's ids is among the held ones, and whether it is there;
        an id of the predictions file matched twice is refused with its line."""
        assert self.ids is not None
        positions = self.ids.search_sorted(ids, side="left").to_numpy().astype(np.int64)
        if self.rows == 0:
            return positions, np.zeros(len(ids), dtype=np.bool_)
        clipped = np.minimum(positions, self.rows - 1)
        found = (self.ids.gather(clipped) == ids).to_numpy() & (positions < self.rows)
        matched = positions[found]
        seen = self.partner[matched] != 0
        _, first = np.unique(matched, return_index=True)
        again = np.ones(len(matched), dtype=np.bool_)
        again[first] = False
        if seen.any() or again.any():
            row = int(np.flatnonzero(seen | again)[0])
            found_lines = lines[found]
            earlier = int(self.partner[matched[row]])
            if not earlier:
                earlier = int(found_lines[np.flatnonzero(matched == matched[row])[0]])
            index = int(np.flatnonzero(found)[row])
            raise InputError(
                f"{self.streamed.display}:{found_lines[row]}: id {ids[index]!r} is also "
                f"on line {earlier}; the rows of two files are matched by column {self.key!r}, "
                "so each id must be given once"
            )
        self.partner[matched] = lines[found]
        return positions, found

    def place(self, line: int, column: str) -> tuple[Source, int]:
        """The file and line of a field of a matched row (``line`` < 0: a row only in the
        predictions file)."""
        if line < 0:
            return self.streamed, -line
        if column != self.key and column in self.streamed.column_set:
            partner = int(self.partners(np.array([line], dtype=np.int64))[0])
            if partner:
                return self.streamed, partner
        return self.held, line

    def partners(self, lines: np.ndarray) -> np.ndarray:
        """The predictions file's line matched to each of the labels file's ``lines`` (0 for
        none); the held rows put in line order once, on the first call."""
        if self._by_line is None:
            self._by_line = np.argsort(self.lines, kind="stable")
        ordered = self.lines[self._by_line]
        at = np.minimum(np.searchsorted(ordered, lines), max(len(ordered) - 1, 0))
        if len(ordered) == 0:
            return np.zeros(len(lines), dtype=np.int64)
        found = ordered[at] == lines
        return np.where(found, self.partner[self._by_line[at]], 0)

    def records(self, lines: Collection[int]) -> Iterator[tuple[int, list[str]]]:
        """Rows as both files have them, the labels file's fields first (empty where a row
        is in one file only), keyed by their ``Batch.lines``, labels file's order first."""
        wanted = set(lines)
        held_lines = np.array(sorted(line for line in wanted if line > 0), dtype=np.int64)
        partners = dict(zip(held_lines.tolist(), self.partners(held_lines).tolist(), strict=True))
        held = dict(_source_records(self.held, {line for line in wanted if line > 0}))
        streamed_lines = {-line for line in wanted if line < 0} | set(partners.values()) - {0}
        streamed = dict(_source_records(self.streamed, streamed_lines))
        held_blank = [""] * len(self.held.columns)
        streamed_blank = [""] * len(self.streamed.columns)
        for line in sorted(wanted, key=lambda number: (number < 0, abs(number))):
            if line > 0:
                other = streamed.get(partners[line], streamed_blank)
                yield line, [*held.get(line, held_blank), *other]
            else:
                yield line, [*held_blank, *streamed.get(-line, streamed_blank)]


MAX_ROW_GROUP_BYTES = 384 << 20
"""The most a Parquet row group's selected columns may take, uncompressed: polars decodes a
whole row group to read any slice of it (one group of 30M rows took 687 MiB, the same rows in
groups of 1M took 195 MiB)."""


_MAX_FOOTER_BYTES = 64 << 20


def _check_row_groups(source: Source, columns: set[str]) -> None:
    """Refuse a Parquet file whose row groups are too large to read within the memory budget."""
    with source.path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size < 12:
            return  # not Parquet: polars says so
        handle.seek(size - 8)
        tail = handle.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != b"PAR1" or length > min(size - 12, _MAX_FOOTER_BYTES):
            return  # not Parquet, or a footer too large to check: polars reads or refuses it
        handle.seek(size - 8 - length)
        footer = handle.read(length)
    try:
        metadata = _ThriftCompact(footer).struct()
    except (IndexError, ValueError, RecursionError):
        return  # a footer this reader does not follow: polars reads (or refuses) the file
    for group in metadata.get(4, []):
        rows = group.get(3, 0)
        chosen = 0
        for chunk in group.get(1, []):
            meta = chunk.get(3, {})
            name = ".".join(part.decode("utf-8", "replace") for part in meta.get(3, []))
            if name in columns:
                chosen += meta.get(6, 0)
        if chosen > MAX_ROW_GROUP_BYTES:
            raise InputError(
                f"{source.display}: a row group of {rows:,} rows holds {chosen >> 20:,} MiB of "
                f"the chosen columns, over the {MAX_ROW_GROUP_BYTES >> 20} MiB that is read at a "
                "time; write the file with smaller row groups (such as 1,000,000 rows)"
            )


class _ThriftCompact:
    """Just enough of Thrift's compact protocol to read a Parquet footer: structs as
    ``{field id: value}``, lists as lists, binary as bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def value(self, kind: int) -> object:
        if kind in (1, 2):
            return kind == 1
        if kind == 3:
            return self.byte()
        if kind in (4, 5, 6):
            return self.zigzag()
        if kind == 7:
            self.at += 8
            return None
        if kind == 8:
            length = self.varint()
            self.at += length
            return self.data[self.at - length : self.at]
        if kind in (9, 10):
            header = self.byte()
            count, element = header >> 4, header & 0x0F
            if count == 15:
                count = self.varint()
            if element in (1, 2):  # booleans in a list are one byte each
                return [self.byte() == 1 for _ in range(count)]
            return [self.value(element) for _ in range(count)]
        if kind == 11:
            count = self.varint()
            if count:
                types = self.byte()
                for _ in range(count):
                    self.value(types >> 4)
                    self.value(types & 0x0F)
            return None
        if kind == 12:
            return self.struct()
        raise ValueError(f"Thrift type {kind}")

    def struct(self) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        field = 0
        while True:
            header = self.byte()
            if header == 0:
                return fields
            delta, kind = header >> 4, header & 0x0F
            field = field + delta if delta else self.zigzag()
            fields[field] = self.value(kind)


@contextlib.contextmanager
def _polars_failures(explain: Callable[[str], str]) -> Iterator[None]:
    """polars' errors, and its panics on a damaged file, as one :class:`InputError`: the first
    line of polars' message, as ``explain`` words it.  polars is not imported for this: an
    error of it can come only once something has imported it."""
    try:
        yield
    except BaseException as error:  # polars' PanicException is a BaseException
        polars = sys.modules.get("polars")
        failures: tuple[type[BaseException], ...] = (OSError,)
        if polars is not None:
            failures += (polars.exceptions.PolarsError, polars.exceptions.PanicException)
        if not isinstance(error, failures):
            raise
        # OSError: polars reads a compressed file by its bytes, and a cut one ends in one.
        raise InputError(explain(" ".join(str(error).split("\n")[0].split()))) from None


class FastReader(NamedTuple):
    """``cecli._fastcsv``: the C reader of plain all-number blocks."""

    parse_floats: Callable[[bytes, np.ndarray, str, int, int], int]
    line_breaks: Callable[[bytes], int]


def _fast_reader() -> FastReader | None:
    try:
        from cecli._fastcsv import line_breaks, parse_floats
    except ImportError:  # built where no C compiler was found: polars reads every block
        return None
    return FastReader(parse_floats, line_breaks)


FAST_READER = _fast_reader()
"""The C reader, if the extension was built."""


def line_breaks(data: bytes) -> int:
    """How many line breaks ``data`` holds: by ``memchr`` in C where the C reader was built,
    at five times the speed of ``bytes.count`` (6.7 against 1.3 ms an 8 MiB block)."""
    reader = FAST_READER
    return data.count(b"\n") if reader is None else reader.line_breaks(data)


_NOT_FAST_SEPARATORS = frozenset('0123456789+-.eE"\r\n\0')
"""Separators that ``parse_floats`` refuses with a ValueError (characters of a number, a quote,
a line break, NUL): their blocks go to polars.  A Source takes NUL (``delimiter="\\0"``), and
the C reader's ValueError then ended the run."""


def _plain_numbers(data: bytes, columns: int, separator: str) -> FloatArray | None:
    """A block of records whose every field is a plain decimal number, read by the C reader
    (``cecli/_fastcsv.c``) as columns × records: each value the correctly rounded float64 of
    its field, as polars gives it, in about half polars' time.  None for any other block (a
    quote, a space, an empty field, a ragged record, ``nan``, a long number…): polars reads
    it, and says what is wrong and where."""
    reader = FAST_READER
    if reader is None or separator in _NOT_FAST_SEPARATORS or not separator.isascii():
        return None
    rows = reader.line_breaks(data) + (not data.endswith(b"\n"))
    out = np.empty((columns, rows))
    if reader.parse_floats(data, out, separator, columns, rows) != rows:
        return None
    return out


def _frame_of(names: Sequence[str], block: FloatArray) -> pl.DataFrame:
    """A block of the C reader (columns × records) as a frame of the file's columns."""
    _import_polars()
    import polars as pl

    return pl.DataFrame(dict(zip(names, block, strict=True)))


def _in_order(parse: Callable[[bytes], T], blocks: Iterable[bytes]) -> Iterator[T]:
    """``parse`` of each block, two blocks at a time, in the blocks' order.

    One polars ``read_csv`` does not keep two cores busy on an 8 MiB block; two at once
    parsed a 1.1 GB file in 1.7 s instead of 2.4 s.  At most ``PARSE_AHEAD`` blocks are in
    flight, which bounds the memory.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: collections.deque[Future[T]] = collections.deque()
    pool = ThreadPoolExecutor(PARSE_WORKERS, thread_name_prefix="cecli-parse")
    try:
        for block in blocks:
            pending.append(pool.submit(parse, block))
            if len(pending) > PARSE_AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


MAX_RECORD_BYTES = 64 << 20
"""The longest record (line) read: a longer one, or a quote left open, is an error rather than
a block that outgrows the memory budget (a 300 MB line took 980 MiB to parse)."""


class RecordTooLong(InputError):
    """A record longer than ``MAX_RECORD_BYTES``, or one whose quote is never closed (the
    rest of the file would be one field); ``line`` is the line it starts on, ``column`` the
    field whose quote is left open."""

    def __init__(self, line: int, *, column: int | None = None) -> None:
        limit = MAX_RECORD_BYTES
        size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"
        super().__init__(
            f"line {line}:{column}: a quote opens this field and is never closed; the records "
            "after it cannot be told apart"
            if column is not None
            else f"line {line}: a record longer than {size}, the limit for one line "
            "(is a quote left open?)"
        )
        self.line = line


def _open_field(record: bytes, separator: str) -> int:
    """The field (1-based) of ``record`` whose opening quote is never closed, as polars reads
    fields: a quote opens a field only at its start, and ``""`` inside it is a quote."""
    sep = separator.encode()
    position, field = 0, 1
    while True:
        if record.startswith(b'"', position):
            quote = position + 1
            while (quote := record.find(b'"', quote)) != -1 and record.startswith(b'""', quote):
                quote += 2
            if quote == -1:
                return field
            position = quote + 1
        following = record.find(sep, position)
        if following == -1:
            return field  # not reached: the record was found to end inside quotes
        position, field = following + 1, field + 1


def _record_blocks(
    path: Path, separator: str = ",", chunk_bytes: int | None = None
) -> Iterator[bytes]:
    """The file after its header in blocks of whole records, about ``CHUNK_BYTES`` each.

    Each block is read by one ``os.pread`` straight into the ``bytes`` that polars takes: no
    copy in Python, where copying blocks out of a reused buffer held the GIL for about 0.3 s
    of a 1.1 GB file.  Every block holds at least one record, so the loop ends on any bytes;
    a record longer than ``MAX_RECORD_BYTES`` raises :class:`RecordTooLong`.
    """
    with path.open("rb") as handle:
        fd = handle.fileno()
        header = handle.readline(MAX_RECORD_BYTES + 1)
        if len(header) > MAX_RECORD_BYTES:
            raise RecordTooLong(1)
        start, size = len(header), os.fstat(fd).st_size
        while start < size:
            length = _block_stop(fd, start, size, chunk_bytes) - start
            while True:
                data = os.pread(fd, length, start)
                if not data:
                    return  # the file is shorter than it was
                if start + len(data) >= size:
                    cut = len(data)  # the last record may lack its line break
                    if _record_end(data + b"\n", cut + 1, separator) <= cut:
                        # A quote opened and never closed: the rest of the file is one field,
                        # every record in it lost to a single skipped row.
                        begins = _record_end(data, cut, separator)
                        raise RecordTooLong(
                            _line_number(fd, start + begins),
                            column=_open_field(data[begins:], separator),
                        )
                else:
                    cut = _record_end(data, len(data), separator)
                if cut:
                    break
                if length >= MAX_RECORD_BYTES:
                    raise RecordTooLong(_line_number(fd, start))
                # The record runs on: read twice as far, so that a long record costs
                # linear time (reading one more line at a time was quadratic).
                length = min(2 * length, MAX_RECORD_BYTES)
            yield data if cut == len(data) else data[:cut]
            start += cut


_SEARCH_BYTES = 1 << 16


def _block_stop(fd: int, start: int, size: int, chunk_bytes: int | None = None) -> int:
    """The end of the last line in ``chunk_bytes`` (default ``CHUNK_BYTES``) from ``start``
    (``start + chunk_bytes`` if there is none; the end of the file, if it is nearer)."""
    limit = start + (chunk_bytes or CHUNK_BYTES)
    if limit >= size:
        return size
    window_end = limit
    while window_end > start:
        window_start = max(start, window_end - _SEARCH_BYTES)
        found = os.pread(fd, window_end - window_start, window_start).rfind(b"\n")
        if found != -1:
            return window_start + found + 1
        window_end = window_start
    return limit


def _line_number(fd: int, position: int) -> int:
    """The line (1-based) that starts at byte ``position``."""
    breaks, offset = 0, 0
    while offset < position:
        window = os.pread(fd, min(_SEARCH_BYTES, position - offset), offset)
        if not window:
            break
        breaks += window.count(b"\n")
        offset += len(window)
    return breaks + 1


_QUOTE = ord('"')


def _record_end(data: bytes | bytearray, end: int, separator: str = ",") -> int:
    """The end of the last complete record in ``data[:end]``, which starts with a record (0 if
    there is none), as polars reads records: a quote opens a quoted field only at the start of a
    field, where a line break does not end the record; elsewhere it is an ordinary character.

    The quotes' count decides, in C, when every other quote (the ones that would open a
    field) stands at the start of a field or right after a closing quote; otherwise (a stray
    quote) a regular expression reads the fields from the start.
    """
    cut = data.rfind(b"\n", 0, end) + 1
    if data.find(b'"', 0, end) == -1:
        return cut  # no quote (most files): one memchr instead of a pass of NumPy over the block
    view = np.frombuffer(data, dtype=np.uint8, count=end)
    quotes = np.flatnonzero(view == _QUOTE)
    if not quotes.size:
        return cut
    openers = quotes[::2]
    before = view[openers[openers > 0] - 1]
    starts = np.frombuffer(f'{separator}\n"'.encode(), dtype=np.uint8)
    if not np.isin(before, starts).all():
        match = _records_pattern(separator).match(data, 0, end)
        return match.end() if match else 0
    while cut:
        inside = int(np.searchsorted(quotes, cut))  # the quotes before the cut
        if inside % 2 == 0:
            return cut
        cut = data.rfind(b"\n", 0, int(quotes[inside - 1])) + 1  # before the open field
    return 0


@functools.cache
def _records_pattern(separator: str) -> re.Pattern[bytes]:
    """Whole records, as polars reads them: a quote at the start of a field opens it (each
    further quote in the field toggles, and the field ends only outside quotes), anywhere else
    a quote is a character.  Possessive quantifiers and atomic lookarounds: it never
    backtracks."""
    sep = re.escape(separator.encode())
    rest = b'[^"' + sep + b"\n]*+"  # the field's characters after a closing quote
    opening = (
        b"(?:^|(?<=[" + sep + b'\n]))"[^"]*+"(?:' + rest + b'"[^"]*+")*+'
        + rest + b"(?=[" + sep + b"\n])"
    )  # fmt: skip
    stray = b"(?<=[^" + sep + b'\n])"'
    record = b'(?:[^"\n]*+(?:' + opening + b"|" + stray + b'))*+[^"\n]*+\n'
    return re.compile(b"(?:" + record + b")*+")


def _sniff_separator(path: Path) -> str:
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    counts = {sep: header.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


@contextlib.contextmanager
def open_table(
    *sources: str,
    kind: Literal["csv", "parquet"] | None,
    delimiter: str | None,
    stdin: IO[bytes] | None,
    names: Sequence[str] = (),
) -> Iterator[Table]:
    """Open one file, or a labels file and a predictions file, for batch reading.

    CSV (``.gz`` too, ``-`` for standard input) or Parquet; ``kind=None`` tells them apart by
    the ``.parquet`` suffix.  Standard input and gzip files are first copied, in bounded
    chunks, to a temporary file, so that memory stays flat whatever their size.  ``names``,
    if given, are what messages call the files (a URL whose local copy is read).
    """
    if sum(source == "-" for source in sources) > 1:
        raise InputError("only one file can be '-' (standard input)")
    with contextlib.ExitStack() as stack:
        opened: list[Source] = []
        for source in sources:
            file_kind = kind or ("parquet" if source.endswith(".parquet") else "csv")
            path = _local_path(stack, source, file_kind, stdin)
            separator = (
                delimiter
                if delimiter is not None
                else (_sniff_separator(path) if file_kind == "csv" else ",")
            )
            if len(separator) != 1:
                raise InputError(
                    f"delimiter must be one character, got {separator!r}", parameter="delimiter"
                )
            display = "<stdin>" if source == "-" else source
            if names:
                display = names[len(opened)]
            opened.append(Source(path, display, file_kind, separator))
        yield Table(opened)


def _local_path(
    stack: contextlib.ExitStack, source: str, kind: str, stdin: IO[bytes] | None
) -> Path:
    path = Path(source)
    if source == "-":
        if stdin is None:
            raise InputError("'-' reads from standard input, but there is none")
        return _spool(stack, stdin, f".{kind}", "standard input")
    try:
        found = path.stat()
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except OSError as error:  # a name too long, a folder that cannot be searched
        raise InputError(f"{source}: cannot read ({error.strerror})") from None
    if stat.S_ISDIR(found.st_mode):
        raise InputError(f"{source}: is a directory, not a file")
    regular_with_bytes = stat.S_ISREG(found.st_mode) and found.st_size > 0
    if path.suffix == ".gz" or (regular_with_bytes and _starts_with(path, _GZIP_MAGIC)):
        # By name or by its first bytes: polars would read a gzip file named .csv itself, and
        # end a cut one with an error of its own.
        inner = "".join(path.suffixes[:-1]) if path.suffix == ".gz" else f".{kind}"
        try:
            with gzip.open(path, "rb") as compressed:
                return _spool(stack, compressed, inner or ".csv", source)
        except OSError as error:
            raise InputError(f"{source}: cannot read ({error.strerror or error})") from None
    try:
        if regular_with_bytes:  # readable: a file without permission is one line
            os.close(os.open(path, os.O_RDONLY))
    except OSError as error:
        raise InputError(f"{source}: cannot read ({error.strerror})") from None
    if not regular_with_bytes:
        # A pipe, such as the shell's <(command), or a file that reports no size although it
        # has some (/proc/self/status): read once, like standard input.
        try:
            with path.open("rb") as stream:
                return _spool(stack, stream, f".{kind}", source)
        except OSError as error:
            raise InputError(f"{source}: cannot read ({error.strerror})") from None
    return path


_GZIP_MAGIC = b"\x1f\x8b"


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False  # not readable: the reader says why


SPOOL_LIMIT = 32 << 30
"""Bytes of standard input, a pipe or a decompressed ``.gz`` file held in the temporary folder
(``$TMPDIR``) at most: an endless stream (``--csv /dev/zero``) or a gzip bomb stops with an
error naming the limit instead of filling the disk."""
SPOOL_RESERVE = 1 << 30
"""Free bytes the spool leaves in the temporary folder's file system, whatever the limit."""
_SPOOL_READ = 1 << 20
_SPOOL_CHECK = 64
"""Chunks copied between two looks at the free space."""


def _spool(
    stack: contextlib.ExitStack,
    stream: IO[bytes] | gzip.GzipFile,
    suffix: str,
    display: str,
) -> Path:
    """Copy a stream to a temporary file, in bounded chunks, up to ``SPOOL_LIMIT`` bytes; a
    gzip stream (as from ``cat file.csv.gz |``) is decompressed.

    The file is removed when ``stack`` closes, whether it closes normally, on an error, or on
    an interrupt (the command line turns SIGTERM and SIGHUP into one); one left by a process
    that was killed is removed by the next spool made in the folder (:mod:`cecli.tempfiles`).
    """
    from cecli import tempfiles

    folder = Path(tempfile.gettempdir())
    tempfiles.sweep(folder, SPOOL_PREFIX)
    with tempfiles.interrupts_deferred():  # until its removal is arranged
        try:
            spooled = tempfiles.held(folder, SPOOL_PREFIX, suffix)
        except OSError as error:
            why = error.strerror or str(error)
            raise InputError(f"cannot make a temporary file in {str(folder)!r} ({why})") from None
        stack.callback(spooled.release)
    path = spooled.path
    try:
        with path.open("r+b") as handle:
            copied = 0
            while chunk := stream.read(_SPOOL_READ):
                copied += len(chunk)
                if copied > SPOOL_LIMIT:
                    raise InputError(
                        f"{display}: more than {_gib(SPOOL_LIMIT)} to hold in the temporary "
                        "folder (the limit for standard input, pipes and .gz files); "
                        "decompress it to a file and pass its name"
                    )
                if copied // _SPOOL_READ % _SPOOL_CHECK == 0:
                    _check_free_space(path.parent, display)
                handle.write(chunk)
            handle.flush()
            handle.seek(0)
            if isinstance(stream, gzip.GzipFile) or handle.read(2) != _GZIP_MAGIC:
                return path
            handle.seek(0)
            with gzip.GzipFile(fileobj=handle, mode="rb") as unpacked:
                inner = _spool(stack, unpacked, suffix, display)
    except (OSError, EOFError, zlib.error) as error:
        why = (error.strerror if isinstance(error, OSError) else None) or str(error)
        raise InputError(f"{display}: cannot read ({why})") from None
    spooled.release()  # the compressed copy is no longer needed: free its space now
    return inner


SPOOL_PREFIX = "cecli-spool-"
"""How a spooled copy's name starts in the temporary folder."""
COMPRESSED_ENDINGS = (".gz", ".bz2", ".xz", ".zst", ".zip")
"""Names the atomic writer refuses: it writes plain text."""
STAGING_SUFFIX = ".tmp"
"""How the atomic writer's staging file ends: ``.<target's name>.<pid>-<hex>.tmp`` (the name
cut to :data:`cecli.tempfiles.NAME_KEPT` bytes)."""


def _gib(count: int) -> str:
    return f"{count / (1 << 30):g} GiB"


def _check_free_space(folder: Path, display: str) -> None:
    space = os.statvfs(folder)
    if space.f_bavail * space.f_frsize < SPOOL_RESERVE:
        raise InputError(
            f"{display}: the temporary folder {str(folder)!r} has less than "
            f"{_gib(SPOOL_RESERVE)} free; set TMPDIR to a folder with room, or pass a file"
        )


def _indexed(columns: Sequence[str], prefix: str, option: str) -> list[str]:
    """Columns named like ``y0, y1, …`` (or ``y_0``), in the order of their numbers, which
    must be 0, 1, …, K-1: a gap or a repeat would put a class's column in another's place."""
    found: list[tuple[int, str]] = []
    for name in columns:
        match = _INDEXED.match(name)
        if match and match.group("prefix").lower() == prefix:
            found.append((int(match.group("index")), name))
    found.sort(key=lambda pair: pair[0])  # stable: repeats stay in file order
    if any(number != position for position, (number, _) in enumerate(found)):
        numbers = _listed([str(number) for number, _ in found])
        raise InputError(
            f"columns {prefix}0…{prefix}K must be numbered 0, 1, …, K-1 without gaps or "
            f"repeats, but the numbers are {numbers}; choose the columns with {option}",
            parameter=(option,),
        )
    return [name for _, name in found]


def _expand(patterns: str, columns: Sequence[str], option: str) -> list[str]:
    chosen: dict[str, None] = {}  # ordered, and a set: a file may have 100,000 columns
    for pattern in (p.strip() for p in patterns.split(",") if p.strip()):
        matches = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
        if not matches:
            raise InputError(
                f"{option}: no column matches {pattern!r} (columns: {_listed(columns)})",
                parameter=(option,),
            )
        chosen.update(dict.fromkeys(matches))
    return list(chosen)


_LISTED_COLUMNS = 20


def _listed(columns: Sequence[str]) -> str:
    """The first columns' names, and how many more there are: a message stays one short line."""
    shown = ", ".join(columns[:_LISTED_COLUMNS])
    more = len(columns) - _LISTED_COLUMNS
    return f"{shown}, … and {more:,} more" if more > 0 else shown


def select_columns(
    columns: Sequence[str],
    family: Family,
    *,
    label_col: str | None = None,
    label_cols: str | None = None,
    pred_cols: str | None = None,
    weight_col: str | None = None,
    id_col: str | None = None,
    group_by: Sequence[str] = (),
    keep: Sequence[str] = (),
    shared: Collection[str] = (),
) -> Columns:
    """Pick label and prediction columns by option, else by the default names.

    Labels: ``--label-col`` (one class index or name per row), ``--label-cols`` (one column per
    class), else a ``label`` column, else ``y0…yK``.  Predictions: ``--pred-cols`` (names or
    globs like ``p*``), else ``p0…pK``, else ``p_<class>`` (``prob_``, ``logit_``: the class
    names), else every other column.  A column ``id`` names the rows and ``weight`` (or
    ``sample_weight``) weights them unless an option says otherwise; what was guessed so is in
    ``notes``.  ``shared`` are the columns two files both have: the id among them matches
    their rows.
    """
    for option, name in (("label_col", label_col), ("weight_col", weight_col), ("id_col", id_col)):
        if name is not None and name not in columns:
            raise InputError(
                f"{option}: no column {name!r} (columns: {_listed(columns)})", parameter=(option,)
            )
    for option, names in (("by", group_by), ("keep", keep)):  # as score_file names them
        for name in names:
            if name not in columns:
                raise InputError(
                    f"{option}: no column {name!r} (columns: {_listed(columns)})",
                    parameter=(option,),
                )
    for name in shared:
        if name != (id_col or "id"):
            raise InputError(
                f"column {name!r} is in both files; keep labels and predictions apart, or "
                f"match their rows by it with id_col {name}",
                parameter=("id_col",),
            )
    if label_col is not None and label_cols is not None:
        raise InputError(
            "use either label_col or label_cols, not both", parameter=("label_col", "label_cols")
        )
    notes: list[str] = []
    present = set(columns)
    if id_col is None and "id" in present and "id" not in group_by and label_col != "id":
        id_col = "id"
        notes.append("column 'id' names the rows and is not a prediction (id_col to choose)")
        if "id" in shared:
            notes.append("both files have column 'id': their rows are matched by it, in any order")
    guessed_weight = None
    if weight_col is None:
        taken = {label_col, *group_by}
        guessed_weight = next((c for c in _WEIGHT_NAMES if c in present and c not in taken), None)
    if label_col is not None and family == "kl":
        raise InputError(
            f"kl reads the distribution P from one column per class, not a class index per row "
            f"in label_col {label_col!r}: pass label_cols",
            parameter=("label_col", "label_cols"),
        )
    if label_col is not None:
        labels, index = [label_col], True
    elif label_cols is not None:
        labels, index = _expand(label_cols, columns, "label_cols"), False
    elif "label" in columns and family != "kl":
        labels, index = ["label"], True
    elif labels_by_number := _indexed(columns, "y", "label_cols"):
        labels, index = labels_by_number, False
    elif family == "kl":
        # kl compares two distributions: one class per row ('label') is not a target P.
        raise InputError(
            f"no target columns: kl reads one column per class of the distribution P, named "
            f"y0, y1, … or passed as label_cols; the columns are {_listed(columns)}",
            parameter=("label_cols",),
        )
    else:
        raise InputError(
            f"no label column: name it 'label' (or y0, y1, … per class), or pass label_col; "
            f"the columns are {_listed(columns)}",
            parameter=("label_col",),
        )
    if family == "binary" and index:
        index = False  # one 0/1 label per row for a single binary output
    if guessed_weight in labels:
        guessed_weight = None
    others = {*labels, weight_col or guessed_weight, id_col, *group_by}
    class_names: tuple[str, ...] | None = None
    every_other = False  # the prediction columns are whatever no other role took
    if pred_cols is not None:
        preds = _expand(pred_cols, columns, "pred_cols")
    elif preds_by_number := _indexed(columns, "p", "pred_cols"):
        preds = preds_by_number
    elif named := _named_predictions(columns, others):
        preds, class_names = named
        notes.append(
            f"the {len(preds)} prediction columns {_listed(preds)} name the classes "
            f"{_listed(class_names)} (pred_cols, class_names to choose)"
        )
    else:
        preds = [c for c in columns if c not in others]
        every_other = True
    if guessed_weight is not None and guessed_weight not in preds:
        weight_col = guessed_weight
        notes.append(
            f"column {guessed_weight!r} weights the rows: the loss is a weighted mean "
            "(weight_col to choose another)"
        )
    overlap = set(preds) & set(labels)
    if overlap:
        raise InputError(f"column {sorted(overlap)[0]!r} is both a label and a prediction")
    if not preds:
        raise InputError("no prediction columns: pass pred_cols", parameter=("pred_cols",))
    if not index and len(labels) != len(preds):
        raise InputError(
            f"{len(labels)} label column(s) ({_listed(labels)}) but {len(preds)} prediction "
            f"column(s) ({_listed(preds)})"
        )
    return Columns(
        tuple(labels), tuple(preds), index, weight_col, id_col, tuple(group_by), class_names,
        preds_guessed=every_other, notes=tuple(notes), keep=tuple(keep),
    )  # fmt: skip


_WEIGHT_NAMES = ("weight", "sample_weight")
_NAMED_PREFIXES = ("p_", "prob_", "logit_")


def _named_predictions(
    columns: Sequence[str], others: set[str | None]
) -> tuple[list[str], tuple[str, ...]] | None:
    """Columns ``p_<class>`` (or ``prob_``, ``logit_``: one prefix for all) and their classes,
    if there are at least two and every class name is distinct and not empty."""
    for prefix in _NAMED_PREFIXES:
        found = [c for c in columns if c.startswith(prefix) and c not in others]
        names = tuple(c[len(prefix) :] for c in found)
        if len(found) >= 2 and all(names) and len(set(names)) == len(names):
            return found, names
    return None


@contextlib.contextmanager
def atomic_writer(
    target: str, inputs: Sequence[str] = (), option: str = "output", output: str | None = None
) -> Iterator[IO[str]]:
    """A text file (UTF-8) that appears at ``target`` only when the block succeeds.

    Everything that can be known about the target is checked on entry, before any input is
    read: a name is given, it is not a folder nor one of ``inputs`` (by another name, a link
    or a hard link too), and a file can be made in its folder.  Rows are written to a staging
    file beside the target, flushed to disk, then renamed over it; on any error or interrupt
    the staging file is removed and the target is left as it was (after SIGKILL, by the next
    write of the same target: see :mod:`cecli.tempfiles`).  A new file gets the mode
    the umask gives; a replaced one keeps its mode (and owner, where allowed).  A target
    that is not a regular file (``/dev/null``, a pipe) is written directly.  Failures to
    write (a full disk, a read-only file system) are one :class:`InputError`, naming the
    file as ``option`` (``rejects`` for the rejected rows, never the file ``output``).
    Standard output or error whose reader went away raises :class:`BrokenPipeError`, as
    printing there does.
    """
    if not target:
        raise InputError(f"{option}: the file name is empty", parameter=(option,))
    ending = next((end for end in COMPRESSED_ENDINGS if target.lower().endswith(end)), None)
    if ending is not None:
        compressed = target[-len(ending) :]
        # Read back, a file named so would be taken for compressed and fail, or not be found
        # by a glob of compressed parts.
        raise InputError(
            f"{option}: {target} ends in {compressed}, but the rows are written as plain text: "
            f"name it without {compressed}, or write them to standard output and compress that",
            parameter=(option,),
        )
    real = Path(os.path.realpath(target))  # through symbolic links, as the shell's > goes
    try:
        existing: os.stat_result | None = real.stat()
    except FileNotFoundError:
        existing = None
    except OSError as error:  # a name too long, a folder that cannot be searched
        raise InputError(
            f"{option}: cannot use {target} ({error.strerror})", parameter=(option,)
        ) from None
    if target.endswith(os.sep) or (existing is not None and stat.S_ISDIR(existing.st_mode)):
        raise InputError(f"{option}: {target} is a folder; name a file in it", parameter=(option,))
    if output is not None and _same_file(real, existing, output):
        raise InputError(
            f"{option}: {target} is also output; write to another file", parameter=(option,)
        )
    for source in inputs:
        if _same_file(real, existing, source):
            raise InputError(
                f"{option}: {target} is also an input file; write to another file",
                parameter=(option,),
            )
    standard = standard_descriptor(target)
    if standard is not None:
        # This process's own standard output or error (/dev/stdout, or the file the shell
        # sent it to): written through it, in order with what else is printed there.
        # Replaced by a staged file, the shell's file would be unlinked with the rest of the
        # output in it; opened anew, written over from its start.
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        with _writing(target, os.dup(standard), option, sync=False, standard=True) as handle:
            yield handle
        return
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with _writing(
            target, _open_output(target, real, os.O_WRONLY, option=option), option, sync=False
        ) as handle:
            yield handle
        return
    folder = real.parent
    if not folder.is_dir():
        raise InputError(f"{option}: no folder {str(Path(target).parent)!r}", parameter=(option,))
    # The staging file is held (cecli.tempfiles): one that a killed run left beside this
    # target is removed here, by the next run that writes it.
    from cecli import tempfiles

    prefix = f".{tempfiles.name_part(real.name)}."
    tempfiles.sweep(folder, prefix, STAGING_SUFFIX)
    staging: tempfiles.Held | None = None
    try:
        with tempfiles.interrupts_deferred():  # until the finally below removes it
            try:
                staging = tempfiles.held(
                    folder, prefix, STAGING_SUFFIX, 0o666 if existing is None else 0o600
                )
            except OSError as error:
                raise InputError(
                    f"{option}: cannot write {target} ({error.strerror})", parameter=(option,)
                ) from None
        assert staging.descriptor is not None
        if existing is not None:
            _keep_mode_and_owner(staging.descriptor, existing)
        # The stream closes its own descriptor; the lock stays with the staging file's, held
        # until the file is renamed into place, so that no sweep can take it before.
        with _writing(target, os.dup(staging.descriptor), option, sync=True) as handle:
            yield handle
        try:
            os.replace(staging.path, real)
        except OSError as error:
            raise InputError(
                f"{option}: cannot write {target} ({error.strerror})", parameter=(option,)
            ) from None
        staging.keep()
    finally:
        if staging is not None:
            staging.release()


def _same_file(output: Path, output_stat: os.stat_result | None, source: str) -> bool:
    """Whether ``source`` is the file at ``output``: the same path once links are followed, or
    the same device and inode (a hard link); ``-`` is whatever standard input is (a file
    redirected with ``<``)."""
    if source != "-" and Path(os.path.realpath(source)) == output:
        return True
    if output_stat is None:
        return False
    try:
        source_stat = os.fstat(0) if source == "-" else os.stat(source)
    except OSError:
        return False
    if source == "-" and not stat.S_ISREG(source_stat.st_mode):
        return False
    return (source_stat.st_dev, source_stat.st_ino) == (output_stat.st_dev, output_stat.st_ino)


def standard_descriptor(target: str) -> int | None:
    """1 or 2 if ``target`` is this process's standard output or error (the same file)."""
    try:
        named = os.stat(target)
    except OSError:
        return None
    for descriptor in (1, 2):
        try:
            own = os.fstat(descriptor)
        except OSError:  # closed
            continue
        if (own.st_dev, own.st_ino) == (named.st_dev, named.st_ino):
            return descriptor
    return None


def _open_output(
    target: str, path: Path, flags: int, mode: int = 0o666, option: str = "output"
) -> int:
    try:
        return os.open(path, flags, mode)
    except OSError as error:
        raise InputError(
            f"{option}: cannot write {target} ({error.strerror})", parameter=(option,)
        ) from None


def _keep_mode_and_owner(descriptor: int, existing: os.stat_result) -> None:
    os.fchmod(descriptor, stat.S_IMODE(existing.st_mode))
    if hasattr(os, "fchown"):
        # Only the superuser may give a file away; others keep their own ownership.
        with contextlib.suppress(OSError):
            os.fchown(descriptor, existing.st_uid, existing.st_gid)


@contextlib.contextmanager
def _writing(
    target: str, descriptor: int, option: str, *, sync: bool, standard: bool = False
) -> Iterator[IO[str]]:
    """A text stream on ``descriptor``, closed at the end; on success flushed (and synced to
    disk if ``sync``), where a failure is one :class:`InputError` naming ``target``."""
    raw = _OutputFile(descriptor, target, option, standard)
    handle = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", newline="")
    try:
        yield handle
        handle.flush()
        if sync:
            try:
                os.fsync(descriptor)
            except OSError as error:
                raise InputError(
                    f"{option}: cannot write {target} ({error.strerror})", parameter=(option,)
                ) from None
        handle.close()
    finally:
        if not handle.closed:
            # After a failure the unwritten rest is of no use, and flushing it may fail again.
            with contextlib.suppress(Exception):
                handle.close()
            with contextlib.suppress(OSError):
                raw.close()


class _OutputFile(io.FileIO):
    """The output's descriptor: a write that fails (a full disk, a read-only file system,
    a closed pipe) is one :class:`InputError` naming the file."""

    def __init__(self, descriptor: int, display: str, option: str, standard: bool) -> None:
        super().__init__(descriptor, "w", closefd=True)
        self.display = display
        self.option = option
        self.standard = standard

    def write(self, data: ReadableBuffer, /) -> int:
        try:
            return super().write(data)
        except BrokenPipeError:
            if self.standard:  # `cecli … --output /dev/stdout | head`: quiet, as without it
                raise
            raise InputError(
                f"{self.option}: cannot write {self.display} (Broken pipe)",
                parameter=(self.option,),
            ) from None
        except OSError as error:
            raise InputError(
                f"{self.option}: cannot write {self.display} ({error.strerror})",
                parameter=(self.option,),
            ) from None
