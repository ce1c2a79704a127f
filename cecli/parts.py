"""Per-row output as a folder of part files, or as one file put together from parts.

``output="preds/"`` (a name ending in ``/``, or a folder that exists and is empty) writes the
per-row values as ``part-00000.csv``, ``part-00001.csv`` … in input order (``.parquet`` with
``output_format="parquet"``, or a folder named ``….parquet/``), then ``_manifest.json``: the
parts in order with their rows and bytes (a block without rows leaves no part), the format
and the summary.  Everything is written in a staging folder beside the target
(``.NAME.staging-XXXX``) and renamed into place once the manifest is in it, so a failed or
interrupted run leaves no folder that looks complete and never touches a folder that holds
anything.  CSV parts are cut so that, in order, they are
byte for byte the file ``output="rows.csv"`` writes: the header is in the first part that
has rows, and a line number is the record's line in its own input file.

On a cluster each task writes its block's part under a name of its own in the staging
folder and renames it once; a task run again (its worker lost) writes the same part over
it.  The folder must be one the workers can write (on a cluster of several machines, a shared
file system).  ``output="rows.csv"`` on a cluster puts the parts, in order, into the one file,
through the same atomic writer as on one machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from cecli.inputs import InputError

if TYPE_CHECKING:
    import polars as pl

    from cecli.batch import BatchSummary
    from cecli.files import Batch
    from cecli.render import RowWriter
    from cecli.scoring import ScoredRows

OutputFormat = Literal["csv", "parquet"]
MANIFEST = "_manifest.json"
STAGING_INFIX = ".staging-"
"""A staging folder is named ``.<target's name>.staging-<12 hex digits>`` (the name cut to
:data:`cecli.tempfiles.NAME_KEPT` bytes)."""
PART_ROWS = 1 << 20
"""On one machine, a part holds about this many rows (whole batches; a new input starts a
new part)."""


@dataclass(frozen=True)
class RowOutput:
    """Where and how the per-row values go: sent as it is to cluster workers."""

    target: str
    """The folder (or, on a cluster, the file) named by ``output``."""
    format: OutputFormat
    folder: bool
    """Part files in a folder; else one file."""
    details: tuple[str, ...] = ()
    """Per-row columns of :meth:`ScoredRows.details` to add (label, pred, p_true…)."""
    grad: bool = False
    """The loss is ``grad``: each row's gradient gets a column per class."""


@dataclass(frozen=True)
class PartInfo:
    """One part as written: its rows and bytes, and the CSV header it would start with."""

    rows: int
    size: int
    header: str | None = None
    """The CSV header line of its rows (None without rows, or for Parquet)."""
    headed: bool = False
    """The header is written at the part's start."""


def is_folder(target: str) -> bool:
    """Whether ``output`` names a folder of parts: a name ending in ``/`` or a folder."""
    return target.endswith(("/", os.sep)) or os.path.isdir(target)


def row_output(
    target: str,
    output_format: str | None,
    *,
    folder: bool | None = None,
    details: Sequence[str] = (),
    grad: bool = False,
) -> RowOutput:
    """The :class:`RowOutput` of ``output`` and ``output_format`` (by the name's extension
    if None: ``.parquet`` is Parquet, anything else CSV); one error line if they do not go."""
    if not target:
        raise InputError("output: the name is empty", parameter=("output",))
    in_folder = is_folder(target) if folder is None else folder
    name = target.rstrip("/" + os.sep)
    chosen = output_format or ("parquet" if name.endswith(".parquet") else "csv")
    if chosen not in ("csv", "parquet"):
        raise InputError(
            f"output_format must be csv or parquet, got {chosen!r}", parameter="output_format"
        )
    if chosen == "parquet" and not in_folder and output_format is None:
        raise InputError(
            f"output: {target} ends in .parquet, but Parquet rows are written as a folder of "
            "parts: end the name with '/'",
            parameter=("output",),
        )
    if chosen == "parquet" and not in_folder:
        raise InputError(
            "output_format parquet writes a folder of parts: end the output's name with '/'",
            parameter="output_format",
        )
    fmt: OutputFormat = "parquet" if chosen == "parquet" else "csv"
    return RowOutput(target, fmt, in_folder, tuple(details), grad)


def part_name(index: int, fmt: OutputFormat) -> str:
    return f"part-{index:05d}.{fmt}"


def row_extras(rows: ScoredRows, details: Sequence[str]) -> dict[str, list[object]]:
    """The columns after the loss: the ``details`` asked for, then the ``keep`` columns."""
    extra: dict[str, list[object]] = {}
    if details:
        extra = {name: values for name, values in rows.details().items() if name in details}
    for name, texts in rows.kept().items():
        extra[name] = list(texts)
    return extra


class PartWriter:
    """Scored rows into one part (CSV text or a Parquet file), lines moved by ``offset``."""

    def __init__(self, path: Path, spec: RowOutput, *, header: bool, offset: int = 0) -> None:
        self.path, self.spec, self.offset = path, spec, offset
        self.rows = 0
        self.header: str | None = None
        self.write_header = header
        self._stream: IO[str] | None = None
        self._writer: RowWriter | None = None
        self._frames: list[pl.DataFrame] = []

    def __enter__(self) -> PartWriter:
        if self.spec.format == "csv":
            self._stream = open(self.path, "w", encoding="utf-8", newline="")
        return self

    def __exit__(self, *failure: object) -> None:
        if self._stream is not None:
            self._stream.close()

    def __call__(self, rows: ScoredRows) -> None:
        batch = rows.batch
        if self.offset:
            batch = dataclasses.replace(batch, lines=batch.lines + self.offset)
        extra = row_extras(rows, self.spec.details)
        self.rows += int(rows.keep.sum())
        if self.spec.format == "parquet":
            self._frames.append(_frame(rows, batch, extra, self.spec.grad))
            return
        from cecli import render

        if self._writer is None:
            assert self._stream is not None
            names = list(rows.class_labels) if self.spec.grad else None
            self._writer = render.RowWriter(self._stream, "table", rows.columns.identifier, names)
            self._writer.header_written = not self.write_header
            # What the header would be, for a part that turns out first to have rows.
            self.header = _frame(rows, batch, extra, self.spec.grad).head(0).write_csv()
        self._writer(batch, rows.keep, rows.result, extra)

    def finish(self) -> PartInfo:
        """The part closed (a Parquet part written now), as :class:`PartInfo`."""
        if self._stream is not None:
            self._stream.flush()
            os.fsync(self._stream.fileno())
            self._stream.close()
        elif self.spec.format == "parquet":
            import polars as pl

            frame = pl.concat(self._frames) if self._frames else pl.DataFrame({"loss": []})
            frame.write_parquet(self.path)
        headed = self.write_header and self.rows > 0 and self.spec.format == "csv"
        return PartInfo(self.rows, os.path.getsize(self.path), self.header, headed)


def _frame(
    rows: ScoredRows, batch: Batch, extra: dict[str, list[object]], grad: bool
) -> pl.DataFrame:
    """The rows as the CSV writer lays them out: the line (or id), the loss, the gradient's
    columns, then ``extra``."""
    import polars as pl

    from cecli.results import GradResult

    keys: Sequence[object] = (
        batch.lines[rows.keep].tolist() if batch.ids is None
        else [i for i, k in zip(batch.ids, rows.keep, strict=True) if k]
    )  # fmt: skip
    columns: dict[str, object] = {rows.columns.identifier or "line": keys, "loss": rows.losses}
    if grad and isinstance(rows.result, GradResult):
        for index, name in enumerate(rows.class_labels):
            columns[f"dL/dz_{name}"] = rows.result.grad[:, index]
    columns.update(extra)
    return pl.DataFrame(columns)


@contextlib.contextmanager
def written_part(
    folder: str, index: int, spec: RowOutput, *, header: bool, offset: int = 0
) -> Iterator[PartWriter]:
    """A part's writer on a name of its own in ``folder``, renamed to ``part-NNNNN`` once
    written (over an earlier attempt's); on failure the file is removed."""
    final = Path(folder) / part_name(index, spec.format)
    temporary = Path(folder) / f".{final.name}.{os.urandom(6).hex()}.tmp"
    try:
        try:
            writer = PartWriter(temporary, spec, header=header, offset=offset).__enter__()
        except OSError as error:  # on a cluster: a worker that does not see the folder
            raise InputError(
                f"output: cannot write a part in {folder} ({error.strerror}); on a cluster "
                "the workers must be able to write that folder",
                parameter=("output",),
            ) from None
        try:
            yield writer
        finally:
            writer.__exit__(None, None, None)
        os.replace(temporary, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


class Staging:
    """The staging folder of a run's parts, renamed into place by :meth:`publish` or removed
    (with whatever is in it) when the run ends otherwise."""

    def __init__(self, spec: RowOutput, inputs: Sequence[str] = ()) -> None:
        self.spec = spec
        self.parts: list[PartInfo] = []
        target = spec.target.rstrip("/" + os.sep) or spec.target
        self.target = Path(os.path.abspath(target))
        display = spec.target
        beside = self.target.parent
        if spec.folder:
            _check_folder(self.target, display)
        else:
            from cecli.files import atomic_writer, standard_descriptor

            # Everything atomic_writer checks on entry, before any input is read.
            # The error passes through the writer first: it removes its staging file.
            with contextlib.suppress(_Probed), atomic_writer(spec.target, inputs):
                raise _Probed
            if standard_descriptor(spec.target) is not None:
                # Standard output or error by name (/dev/stdout, /proc/self/fd/1): the parts
                # are copied into it, not renamed, so they wait in the temporary folder
                # rather than in /dev or /proc, where no folder can (or should) be made.
                import tempfile

                beside = Path(tempfile.gettempdir())
        if not beside.is_dir():
            raise InputError(f"output: no folder {str(beside)!r}", parameter=("output",))
        from cecli import tempfiles

        # Held (cecli.tempfiles): a staging folder that a killed run left beside this target
        # is removed here, by the next run that writes it.
        prefix = f".{tempfiles.name_part(self.target.name)}{STAGING_INFIX}"
        tempfiles.sweep_folders(beside, prefix)
        try:
            self.held = tempfiles.held_folder(beside, prefix)
        except OSError as error:
            raise InputError(
                f"output: cannot make a folder beside {display} ({error.strerror})",
                parameter=("output",),
            ) from None
        self.path = self.held.path
        self.done = False

    def remove(self) -> None:
        """The staging folder and what is in it gone (tasks still writing may add to it while
        it is removed: a few tries)."""
        import shutil

        if self.done:
            return
        try:
            for _ in range(20):
                shutil.rmtree(self.path, ignore_errors=True)
                if not os.path.lexists(self.path):
                    return
                time.sleep(0.05)
        finally:
            self.held.release()

    def fix_header(self) -> None:
        """The CSV header at the start of the first part with rows, if the tasks did not put
        it there (the first part had no rows)."""
        import shutil

        if self.spec.format != "csv" or any(part.headed for part in self.parts):
            return
        first = next((i for i, part in enumerate(self.parts) if part.rows), None)
        if first is None or self.parts[first].header is None:
            return
        header = self.parts[first].header or ""
        with written_part(str(self.path), first, self.spec, header=False) as writer:
            assert writer._stream is not None
            writer._stream.write(header)
            with open(self.path / part_name(first, "csv"), encoding="utf-8", newline="") as old:
                shutil.copyfileobj(old, writer._stream, 1 << 20)
            info = self.parts[first]
        size = os.path.getsize(self.path / part_name(first, "csv"))
        self.parts[first] = PartInfo(info.rows, size, info.header, True)

    def publish(self, summary: BatchSummary | None, inputs: Sequence[str] = ()) -> None:
        """The manifest written last, then the folder renamed into place; or, for one file,
        the parts copied into it in order through the atomic writer."""
        import json
        import shutil

        self.fix_header()
        if not self.spec.folder:
            from cecli.files import atomic_writer

            with atomic_writer(self.spec.target, inputs) as handle:
                for index in range(len(self.parts)):
                    with open(
                        self.path / part_name(index, "csv"), encoding="utf-8", newline=""
                    ) as text:
                        shutil.copyfileobj(text, handle, 1 << 20)
            return
        # A block without rows leaves no part: an empty Parquet file would have no columns
        # for a reader of the folder to agree on.  The names keep their block's number.  A
        # task whose worker was lost while it wrote left its temporary file: the folder
        # holds the parts with rows and nothing else.
        kept = {part_name(i, self.spec.format) for i, part in enumerate(self.parts) if part.rows}
        for entry in os.scandir(self.path):
            if entry.name not in kept:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
        manifest = {
            "format": self.spec.format,
            "rows": sum(part.rows for part in self.parts),
            "parts": [
                {"name": part_name(index, self.spec.format), "rows": part.rows, "bytes": part.size}
                for index, part in enumerate(self.parts)
                if part.rows
            ],
            "summary": summary.to_json() if summary is not None else None,
        }
        with open(self.path / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.rename(self.path, self.target)
        except OSError as error:
            raise InputError(
                f"output: cannot write {self.spec.target} ({error.strerror})", parameter=("output",)
            ) from None
        self.done = True
        self.held.release()


class _Probed(Exception):
    """Leaves the atomic writer's block without writing anything."""


def _check_folder(target: Path, display: str) -> None:
    """A folder target must be new or empty: a run never mixes its parts with other files."""
    if os.path.lexists(target):
        if not target.is_dir():
            raise InputError(
                f"output: {display} is a file, not a folder; name a new folder",
                parameter=("output",),
            )
        try:
            with os.scandir(target) as entries:
                holds = any(entries)
        except OSError as error:
            raise InputError(
                f"output: cannot use {display} ({error.strerror})", parameter=("output",)
            ) from None
        if holds:
            raise InputError(
                f"output: the folder {display} is not empty; name a new or empty folder",
                parameter=("output",),
            )


@dataclass
class SequentialParts:
    """Parts written one after the other on this machine: a new part at each new input and
    after ``PART_ROWS`` rows (``on_rows`` for :func:`cecli.scoring.score_file`)."""

    staging: Staging
    limit: int = PART_ROWS
    _writer: PartWriter | None = None
    _context: contextlib.AbstractContextManager[PartWriter] | None = None
    _source: str | None = None
    _headed: bool = False
    infos: list[PartInfo] = field(default_factory=list)

    def __call__(self, rows: ScoredRows) -> None:
        if self._writer is None or self._source != rows.source or self._writer.rows >= self.limit:
            self.close()
            index = len(self.staging.parts)
            self._context = written_part(
                str(self.staging.path), index, self.staging.spec, header=not self._headed
            )
            self._writer = self._context.__enter__()
            self._source = rows.source
        self._writer(rows)

    def close(self) -> None:
        if self._writer is None or self._context is None:
            return
        info = self._writer.finish()
        self._context.__exit__(None, None, None)
        self._headed = self._headed or info.headed
        self.staging.parts.append(info)
        self._writer = self._context = None

    def abandon(self) -> None:
        """After a failure: the open part's file removed."""
        if self._context is not None:
            self._context.__exit__(InputError, InputError("stopped"), None)
            self._writer = self._context = None


OnRows = Callable[["ScoredRows"], None]


def score_to_parts(
    run: Callable[[OnRows | None], BatchSummary],
    spec: RowOutput,
    inputs: Sequence[str],
    on_rows: OnRows | None = None,
) -> BatchSummary:
    """``run`` (scoring on this machine, rows to the callback it is given) with its rows
    written as parts, published only if it succeeds."""
    from cecli import tempfiles

    staging: Staging | None = None
    try:
        with tempfiles.interrupts_deferred():  # until the finally below removes it
            staging = Staging(spec, inputs)
        parts = SequentialParts(staging)

        def both(rows: ScoredRows) -> None:
            parts(rows)
            if on_rows is not None:
                on_rows(rows)

        try:
            summary = run(both)
            parts.close()
        except BaseException:
            parts.abandon()
            raise
        staging.publish(summary, inputs)
        return summary
    finally:
        if staging is not None:
            staging.remove()
