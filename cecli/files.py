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
import fnmatch
import gzip
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, TypeVar

import numpy as np

from cecli.inputs import InputError
from cecli.numerics import FloatArray

if TYPE_CHECKING:
    import polars as pl

Family = Literal["categorical", "binary", "kl"]
BATCH_ROWS = 131_072
T = TypeVar("T")
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


@dataclass(frozen=True, eq=False)
class Batch:
    """One record batch as float64 arrays, with where each row came from."""

    labels: FloatArray
    preds: FloatArray
    weights: FloatArray | None
    ids: list[str] | None
    lines: np.ndarray
    """Line numbers (CSV, 1-based, header = 1) or row numbers (Parquet, 1-based)."""


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
        with self.reading():
            self.columns: list[str] = self.scan().collect_schema().names()
        if not self.columns:
            raise InputError(f"{display}: no header row with column names")

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """polars' failures on this file as one line naming it."""
        what = "a Parquet file" if self.kind == "parquet" else "a CSV file"
        return _polars_failures(lambda why: f"{self.display}: cannot be read as {what} ({why})")

    def scan(self, strings: Sequence[str] = (), floats: Sequence[str] = ()) -> pl.LazyFrame:
        import polars as pl

        if self.kind == "parquet":
            return pl.scan_parquet(self.path)
        overrides = dict.fromkeys(strings, pl.String) | dict.fromkeys(floats, pl.Float64)
        return pl.scan_csv(
            self.path,
            separator=self.separator,
            schema_overrides=overrides or None,
            ignore_errors=True,
            infer_schema_length=1000,
            raise_if_empty=False,
        )

    def estimated_rows(self) -> int:
        """Rows in the file: exact for Parquet, from the first 64 KiB's line length for CSV."""
        import polars as pl

        if self.kind == "parquet":
            with self.reading():
                return int(pl.scan_parquet(self.path).select(pl.len()).collect().item())
        with self.path.open("rb") as handle:
            head = handle.read(1 << 16)
        lines = head.count(b"\n")
        if lines <= 1:
            return 1
        return max(1, int(self.size / (len(head) / lines)) - 1)

    def string_columns(self) -> set[str]:
        import polars as pl

        return {name for name, dtype in self.scan().collect_schema().items() if dtype == pl.String}

    def csv_chunks(self, strings: Sequence[str], floats: Sequence[str]) -> Iterator[pl.DataFrame]:
        """The records in byte ranges of about ``CHUNK_BYTES``, each parsed on its own.

        Memory stays flat whatever the file's size (polars' own lazy reader was measured to
        grow from 219 to over 370 MiB between one and ten million rows), and lines keep their
        numbers: a chunk ends at a line break outside quotes, and blank lines parse as empty
        records.
        """
        import polars as pl

        schema = {name: pl.Float64 if name in floats else pl.String for name in self.columns}

        def parse(data: bytes) -> pl.DataFrame:
            return pl.read_csv(
                data,
                has_header=False,
                new_columns=self.columns,
                schema=schema,
                separator=self.separator,
                ignore_errors=True,
                raise_if_empty=False,
            )

        with warnings.catch_warnings():
            # polars warns when a stray quote upsets its count of a block's rows; the bad
            # value is then reported with its place (or skipped), so the warning says nothing.
            warnings.filterwarnings("ignore", "CSV malformed", UserWarning)
            yield from _in_order(parse, _record_blocks(self.path))

    def first_ragged_line(self) -> tuple[int, int] | None:
        if self.kind != "csv":
            return None
        with self.path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
            reader = csv.reader(handle, delimiter=self.separator)
            for number, record in enumerate(reader, 1):
                if record and len(record) > len(self.columns):
                    return number, len(record)
        return None

    def raw_value(self, record: int, column: str) -> str | None:
        """The text of one CSV field (for error messages; reads up to that line)."""
        if self.kind != "csv":
            return None
        line, position = record + self.first, self.columns.index(column)
        with self.path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
            for number, fields in enumerate(csv.reader(handle, delimiter=self.separator), 1):
                if number == line:
                    return fields[position] if position < len(fields) else None
        return None

    def location(self, record: int, column: str) -> str:
        if self.kind == "parquet":
            return f"{self.display}:row {record + self.first}, column {column}"
        return f"{self.display}:{record + self.first}:{self.columns.index(column) + 1}"


class Table:
    """One file, or a labels file beside a predictions file, read lazily in record batches.

    ``Batch.lines`` count as the first file does: CSV lines (the header is line 1) or Parquet
    rows; messages translate them into each file's own lines.
    """

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)
        self.columns: list[str] = [c for source in self.sources for c in source.columns]
        repeated = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if len(self.sources) > 1 and repeated:
            raise InputError(
                f"column {repeated[0]!r} is in both files; keep labels and predictions apart"
            )
        self.display = " + ".join(source.display for source in self.sources)
        self.size = sum(source.size for source in self.sources)

    def source_of(self, column: str) -> Source:
        return next(source for source in self.sources if column in source.columns)

    def estimated_rows(self) -> int:
        return self.sources[0].estimated_rows()

    def batches(self, columns: Columns, class_names: Sequence[str] | None) -> Iterator[Batch]:
        """Record batches of the selected columns; values that are not numbers become NaN."""
        numeric = [*columns.preds, *([columns.weight] if columns.weight else [])]
        label_source = self.source_of(columns.labels[0])
        named_labels = columns.label_index and columns.labels[0] in label_source.string_columns()
        if not named_labels:
            numeric += list(columns.labels)
        strings = [columns.identifier] if columns.identifier else []
        if named_labels:
            strings.append(columns.labels[0])
        selected = [*columns.labels, *columns.preds]
        selected += [c for c in (columns.weight, columns.identifier) if c and c not in selected]
        names = list(class_names or columns.preds)
        start = self.sources[0].first
        with _polars_failures(self._explain):
            for chunk in self._frames(selected, strings, numeric):
                count = chunk.height
                lines = np.arange(start, start + count)
                start += count
                yield self._to_batch(chunk, columns, named_labels, names, lines)

    def _frames(
        self, selected: list[str], strings: list[str], numeric: list[str]
    ) -> Iterator[pl.DataFrame]:
        """The selected columns in record batches, from one CSV by byte ranges, else lazily."""
        import polars as pl

        if len(self.sources) == 1 and self.sources[0].kind == "csv":
            for chunk in self.sources[0].csv_chunks(strings, numeric):
                yield chunk.select(selected)
            return
        if len(self.sources) == 1:
            # One slice of the lazy scan at a time reads only the row groups it needs: flat
            # memory (150 -> 174 MiB from 1M to 10M rows), where collect_batches grew to 338.
            source = self.sources[0]
            as_float = pl.col([c for c in numeric if c in selected]).cast(pl.Float64, strict=False)
            for offset in range(0, source.estimated_rows(), BATCH_ROWS):
                piece = source.scan().slice(offset, BATCH_ROWS).select(selected)
                yield piece.with_columns(as_float).collect()
            return
        frames = []
        for source in self.sources:
            mine = [c for c in selected if c in source.columns]
            if not mine:
                continue
            frame = source.scan(
                strings=[c for c in strings if c in mine],
                floats=[c for c in numeric if c in mine] if source.kind == "csv" else (),
            ).select(mine)
            if source.kind == "parquet":
                cast = [c for c in numeric if c in mine]
                frame = frame.with_columns(pl.col(cast).cast(pl.Float64, strict=False))
            frames.append(frame)
        joined = frames[0] if len(frames) == 1 else pl.concat(frames, how="horizontal")
        yield from joined.select(selected).collect_batches(chunk_size=BATCH_ROWS)

    def _to_batch(
        self,
        chunk: pl.DataFrame,
        columns: Columns,
        named_labels: bool,
        names: list[str],
        lines: np.ndarray,
    ) -> Batch:
        import polars as pl

        if named_labels:
            label_series = chunk.get_column(columns.labels[0])
            mapping = {name: float(i) for i, name in enumerate(names)}
            mapped = label_series.replace_strict(mapping, default=None, return_dtype=pl.Float64)
            # A name that is not a class, but reads as a number, is an index.
            as_number = label_series.cast(pl.Float64, strict=False)
            labels = mapped.fill_null(as_number).to_numpy().reshape(-1, 1)
        elif chunk.width == len(columns.labels) + len(columns.preds):
            # The usual case: one conversion of the whole batch, then two views of it.
            block = np.asarray(chunk.to_numpy(), dtype=np.float64)
            labels, preds = block[:, : len(columns.labels)], block[:, len(columns.labels) :]
            return Batch(labels, preds, None, None, lines)
        else:
            labels = np.asarray(chunk.select(columns.labels).to_numpy(), dtype=np.float64)
        preds = np.asarray(chunk.select(columns.preds).to_numpy(), dtype=np.float64)
        weights = None
        if columns.weight:
            weights = np.asarray(chunk.get_column(columns.weight).to_numpy(), dtype=np.float64)
        ids = None
        if columns.identifier:
            ids = chunk.get_column(columns.identifier).cast(pl.String).fill_null("").to_list()
        return Batch(labels, preds, weights, ids, lines)

    def _explain(self, text: str) -> str:
        if "more fields" in text or "does not match number of columns" in text:
            for source in self.sources:
                ragged = source.first_ragged_line()
                if ragged is not None:
                    line, count = ragged
                    return (
                        f"{source.display}:{line}: {count} fields, but the header has "
                        f"{len(source.columns)}"
                    )
        if "non-equal length" in text:
            return f"{self.display}: the files have different numbers of rows"
        return f"{self.display}: cannot read the file ({text})"

    def raw_value(self, line: int, column: str) -> str | None:
        """The text of the field at ``line`` (as counted by ``Batch.lines``) of ``column``."""
        return self.source_of(column).raw_value(line - self.sources[0].first, column)

    def location(self, line: int, column: str) -> str:
        """``file:line:column`` (or ``file:row N, column NAME``) of a field."""
        return self.source_of(column).location(line - self.sources[0].first, column)


@contextlib.contextmanager
def _polars_failures(explain: Callable[[str], str]) -> Iterator[None]:
    """polars' errors, and its panics on a damaged file, as one :class:`InputError`: the first
    line of polars' message, as ``explain`` words it."""
    import polars as pl

    try:
        yield
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as error:
        raise InputError(explain(" ".join(str(error).split("\n")[0].split()))) from None


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


def _record_blocks(path: Path) -> Iterator[bytes]:
    """The file after its header in blocks of whole records, about ``CHUNK_BYTES`` each.

    Each block is read by one ``os.pread`` straight into the ``bytes`` that polars takes: no
    copy in Python, where copying blocks out of a reused buffer held the GIL for about 0.3 s
    of a 1.1 GB file.
    """
    with path.open("rb") as handle:
        fd = handle.fileno()
        start, size = len(handle.readline()), os.fstat(fd).st_size  # after the header
        while start < size:
            stop = _block_stop(fd, start, size)
            while True:
                data = os.pread(fd, stop - start, start)
                if not data:
                    return  # the file is shorter than it was
                if stop >= size or b'"' not in data:
                    cut = len(data)
                else:
                    cut = _record_end(data, len(data))
                if cut:
                    break
                stop = _line_break_after(fd, stop, size)  # a quoted field runs on: read on
            yield data if cut == len(data) else data[:cut]
            start += cut


_SEARCH_BYTES = 1 << 16


def _block_stop(fd: int, start: int, size: int) -> int:
    """The end of the last line in ``CHUNK_BYTES`` from ``start`` (further, if a line is
    longer; the end of the file, if it is nearer)."""
    limit = start + CHUNK_BYTES
    if limit >= size:
        return size
    window_end = limit
    while window_end > start:
        window_start = max(start, window_end - _SEARCH_BYTES)
        found = os.pread(fd, window_end - window_start, window_start).rfind(b"\n")
        if found != -1:
            return window_start + found + 1
        window_end = window_start
    return _line_break_after(fd, limit, size)


def _line_break_after(fd: int, position: int, size: int) -> int:
    """Just after the first line break at or after ``position`` (or the end of the file)."""
    while position < size:
        window = os.pread(fd, _SEARCH_BYTES, position)
        found = window.find(b"\n")
        if found != -1:
            return position + found + 1
        position += len(window) or size
    return size


def _record_end(data: bytes | bytearray, end: int) -> int:
    """The end of the last complete record in ``data[:end]``: after a line break outside
    quotes (0 if there is none)."""
    cut = data.rfind(b"\n", 0, end) + 1
    if data.find(b'"', 0, end) != -1:
        while cut > 0 and data.count(b'"', 0, cut) % 2:
            cut = data.rfind(b"\n", 0, cut - 1) + 1
    return cut


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
) -> Iterator[Table]:
    """Open one file, or a labels file and a predictions file, for batch reading.

    CSV (``.gz`` too, ``-`` for standard input) or Parquet; ``kind=None`` tells them apart by
    the ``.parquet`` suffix.  Standard input and gzip files are first copied, in bounded
    chunks, to a temporary file, so that memory stays flat whatever their size.
    """
    if sum(source == "-" for source in sources) > 1:
        raise InputError("only one file can be '-' (standard input)")
    with contextlib.ExitStack() as stack:
        opened = []
        for source in sources:
            file_kind = kind or ("parquet" if source.endswith(".parquet") else "csv")
            path = _local_path(stack, source, file_kind, stdin)
            separator = delimiter or (_sniff_separator(path) if file_kind == "csv" else ",")
            if len(separator) != 1:
                raise InputError(f"--delimiter must be one character, got {separator!r}")
            display = "<stdin>" if source == "-" else source
            opened.append(Source(path, display, file_kind, separator))
        yield Table(opened)


def _local_path(
    stack: contextlib.ExitStack, source: str, kind: str, stdin: IO[bytes] | None
) -> Path:
    path = Path(source)
    if source == "-":
        if stdin is None:
            raise InputError("'-' reads from standard input, but there is none")
        return _spool(stack, stdin, f".{kind}")
    if path.is_dir():
        raise InputError(f"{source}: is a directory, not a file")
    if not path.exists():
        raise InputError(f"{source}: no such file")
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as compressed:
            return _spool(stack, compressed, "".join(path.suffixes[:-1]) or ".csv")
    if not path.is_file():
        # A pipe, such as the shell's <(command): read once, like standard input.
        try:
            with path.open("rb") as stream:
                return _spool(stack, stream, f".{kind}")
        except OSError as error:
            raise InputError(f"{source}: cannot read ({error.strerror})") from None
    return path


_GZIP_MAGIC = b"\x1f\x8b"


def _spool(stack: contextlib.ExitStack, stream: IO[bytes] | gzip.GzipFile, suffix: str) -> Path:
    """Copy a stream to a temporary file, in bounded chunks; a gzip stream (as from
    ``cat file.csv.gz |``) is decompressed."""
    handle = stack.enter_context(tempfile.NamedTemporaryFile(suffix=suffix))  # noqa: SIM115
    try:
        shutil.copyfileobj(stream, handle, length=1 << 20)
        handle.flush()
        handle.seek(0)
        if not isinstance(stream, gzip.GzipFile) and handle.read(2) == _GZIP_MAGIC:
            handle.seek(0)
            with gzip.GzipFile(fileobj=handle, mode="rb") as compressed:
                return _spool(stack, compressed, suffix)
    except (OSError, EOFError) as error:
        raise InputError(f"cannot read the input: {error}") from None
    return Path(handle.name)


def _indexed(columns: Sequence[str], prefix: str) -> list[str]:
    """Columns named like ``y0, y1, …`` (or ``y_0``), in the order of the file."""
    found = []
    for name in columns:
        match = _INDEXED.match(name)
        if match and match.group("prefix").lower() == prefix:
            found.append(name)
    return found


def _expand(patterns: str, columns: Sequence[str], option: str) -> list[str]:
    chosen: list[str] = []
    for pattern in (p.strip() for p in patterns.split(",") if p.strip()):
        matches = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
        if not matches:
            raise InputError(
                f"{option}: no column matches {pattern!r} (columns: {', '.join(columns)})"
            )
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def select_columns(
    columns: Sequence[str],
    family: Family,
    *,
    label_col: str | None = None,
    label_cols: str | None = None,
    pred_cols: str | None = None,
    weight_col: str | None = None,
    id_col: str | None = None,
) -> Columns:
    """Pick label and prediction columns by option, else by the default names.

    Labels: ``--label-col`` (one class index or name per row), ``--label-cols`` (one column per
    class), else a ``label`` column, else ``y0…yK``.  Predictions: ``--pred-cols`` (names or
    globs like ``p*``), else ``p0…pK``, else every other column.
    """
    for option, name in (
        ("--label-col", label_col),
        ("--weight-col", weight_col),
        ("--id-col", id_col),
    ):
        if name is not None and name not in columns:
            raise InputError(f"{option}: no column {name!r} (columns: {', '.join(columns)})")
    if label_col is not None and label_cols is not None:
        raise InputError("use either --label-col or --label-cols, not both")
    if label_col is not None:
        labels, index = [label_col], True
    elif label_cols is not None:
        labels, index = _expand(label_cols, columns, "--label-cols"), False
    elif "label" in columns and family != "kl":
        labels, index = ["label"], True
    elif _indexed(columns, "y"):
        labels, index = _indexed(columns, "y"), False
    else:
        raise InputError(
            "no label column: name it 'label' (or y0, y1, … per class), or pass --label-col"
        )
    if family == "binary" and index:
        index = False  # one 0/1 label per row for a single binary output
    others = {*labels, weight_col, id_col}
    if pred_cols is not None:
        preds = _expand(pred_cols, columns, "--pred-cols")
    elif _indexed(columns, "p"):
        preds = _indexed(columns, "p")
    else:
        preds = [c for c in columns if c not in others]
    overlap = set(preds) & set(labels)
    if overlap:
        raise InputError(f"column {sorted(overlap)[0]!r} is both a label and a prediction")
    if not preds:
        raise InputError("no prediction columns: pass --pred-cols")
    if not index and len(labels) != len(preds):
        raise InputError(
            f"{len(labels)} label column(s) ({', '.join(labels)}) but {len(preds)} prediction "
            f"column(s) ({', '.join(preds)})"
        )
    return Columns(tuple(labels), tuple(preds), index, weight_col, id_col)


@contextlib.contextmanager
def atomic_writer(target: str) -> Iterator[IO[str]]:
    """A text file that appears at ``target`` only when the block succeeds.

    Written to a temporary file in the same folder, flushed to disk, then renamed over the
    target; on any error the temporary file is removed and the target is left as it was.
    """
    path = Path(target)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"--output: no folder {str(folder)!r}")
    # Not a `with` block: the file must outlive it, to be renamed, or removed on failure.
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
        "w", dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False, newline=""
    )
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise
