"""Scoring on a Dask cluster, with the result of one machine to the last bit.

The inputs are cut into tasks of whole blocks: byte ranges of a CSV file cut at record
boundaries by the reader's own block cutter (run on a worker, one task per file), runs of
Parquet row groups (from the file's footer), and one task for what cannot be cut (a ``.gz``
file, a URL, a labels file beside a predictions file).  Each task runs the reader, the loss
and :meth:`~cecli.batch.Accumulator.update` of one machine on its block and returns the
accumulator; adjacent states are merged in a tree, in input order, on the workers, and the
client computes the summary.  Sums are exact (:class:`~cecli.numerics.ExactSum`), so neither
the cut, the number of workers, the order tasks run in nor a rerun changes a bit.

A task knows its block's lines only relative to the block's start: the lines it keeps (worst
rows, unnormalized rows) are tagged with the block's number, and its messages name the
block by a marker; the client, once it knows how many records each block held, turns both
into the file's own name and line.  The first bad record in input order is reported, not the
first task to fail: an error waits for the blocks before it, then the rest are cancelled.

With per-row output (:mod:`cecli.parts`), each block knows before it runs how many records of
its input come before it (counted while the file is cut, or from the row groups), so that it
writes its part with the lines of the whole file, under a name of its own, renamed once.

Dask is imported only here, and only when a cluster is asked for.  A task's state has a fixed
size, whatever its rows, except for the per-row values of exact percentiles, which one
machine keeps up to ``EXACT_PERCENTILE_ROWS`` rows.  The tasks send them only when the inputs'
records (counted while CSV files are cut, from Parquet footers) are within that limit, so
that all of them together stay within it; past it they send the histogram the values would
be counted into.  If fewer rows are scored than the records foretold (skipped and empty
records) and they are within the limit after all, the blocks are scored again for their
values: the percentiles are exact exactly when one machine's are (``percentiles_exact``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cecli import tempfiles
from cecli.batch import Accumulator, BatchSummary, FileSummary
from cecli.inputs import InputError
from cecli.scoring import (
    Job,
    ScoringProgress,
    local_paths,
    share_loss,
    tag_lines,
    untag_lines,
)
from cecli.sources import InputFile

if TYPE_CHECKING:
    from cecli.parts import PartInfo, RowOutput

if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

TASK_BYTES = 64 << 20
"""Bytes of CSV per task: a few of the reader's blocks, so a task's fixed cost is small."""
TASK_ROWS = 1 << 20
"""Parquet rows per task, in whole row groups."""
MERGE_FAN_IN = 8
INSTALL = "pip install 'cecli[dask]'"
_MARK = re.compile(r"\x1e(\d+)\.(\d+)\x1f(?::(row )?(\d+))?")


@dataclass(frozen=True)
class Block:
    """One task's share of the inputs."""

    key: int
    """The block's place among all blocks, in input order."""
    input: int
    files: tuple[InputFile, ...]
    span: tuple[int, int] | None = None
    """A CSV file's byte range (after its header), cut at record boundaries."""
    rows: tuple[int, int] | None = None
    """A Parquet file's rows (start, stop), whole row groups."""
    size: int = 0
    """Bytes, for progress."""
    offset: int = 0
    """Records of its input before the block (known when per-row output is written)."""
    bound: int | None = None
    """At most this many records (None: unknown until read)."""

    def marker(self, position: int) -> str:
        """What messages call file ``position`` of the block, until the client names it."""
        return f"\x1e{self.key}.{position}\x1f"


@dataclass
class Partial:
    """Merged task results: the accumulator, each block's count of records, and (by file)
    each input's own accumulator."""

    accumulator: Accumulator
    records: dict[int, int] = field(default_factory=dict)
    inputs: dict[int, Accumulator] = field(default_factory=dict)
    parts: dict[int, PartInfo] = field(default_factory=dict)
    """Each block's part of the per-row output, as written."""


def score_block(
    job: Job,
    block: Block,
    by_file: bool,
    rows: RowOutput | None = None,
    folder: str | None = None,
    keep_values: bool = True,
) -> Partial:
    """Score one block on a worker: the reader, losses and accumulator of one machine; with
    ``rows``, its per-row values are written as part ``block.key`` in ``folder``.  Without
    ``keep_values`` the per-row values kept for exact percentiles are counted into the
    histogram at once: the state returned then has a fixed size, whatever the block's rows.
    """
    records = 0

    def count(rows: int) -> None:
        nonlocal records
        records += rows

    names = [block.marker(position) for position in range(len(block.files))]
    parts: dict[int, PartInfo] = {}
    with contextlib.ExitStack() as stack:
        local = None
        if block.span is not None:
            local = (str(_block_file(stack, block.files[0].path, block.span)),)
        writer = None
        if rows is not None and folder is not None:
            from cecli.parts import written_part

            writer = stack.enter_context(
                written_part(folder, block.key, rows, header=block.key == 0, offset=block.offset)
            )
        with job.opened(block.files, None, local=local, names=names) as table:
            if block.rows is not None:
                table.sources[0].rows = block.rows
            accumulator = job.score_table(table, on_rows=writer, report=count)
        if writer is not None:
            parts[block.key] = writer.finish()
    if not keep_values and accumulator.values is not None:
        # The counts merging would make of them once past the limit: integers, in any order.
        accumulator.histogram = accumulator._all_counts()
        accumulator.values = None
    inputs: dict[int, Accumulator] = {}
    if by_file:
        share = Accumulator(values=None)
        share.total, share.divisor = accumulator.total, accumulator.divisor
        share.rows, share.skipped = accumulator.rows, accumulator.skipped
        inputs[block.input] = share
    tag_lines(accumulator, block.key)
    return Partial(accumulator, {block.key: records}, inputs, parts)


def _block_file(stack: contextlib.ExitStack, path: str, span: tuple[int, int]) -> Path:
    """The header and one byte range of a CSV file as a file of their own, removed when
    ``stack`` closes: the reader then numbers the block's lines from 2.

    A worker killed mid-task cannot remove its copy, so the copy is held under a lock while it
    is in use (:mod:`cecli.tempfiles`): the next block made in the folder, like the client at
    the end of a run (:func:`sweep_blocks`), removes the copies nobody holds."""
    from cecli.files import MAX_RECORD_BYTES

    folder = Path(tempfile.gettempdir())
    sweep_blocks(folder)
    with tempfiles.interrupts_deferred():  # until its removal is arranged
        block = tempfiles.held(folder, BLOCK_PREFIX, ".csv")
        stack.callback(block.release)
    with open(path, "rb") as source, open(block.path, "wb") as copy:
        copy.write(source.readline(MAX_RECORD_BYTES + 1))
        start, stop = span
        while start < stop:
            data = os.pread(source.fileno(), min(stop - start, 8 << 20), start)
            if not data:
                break
            copy.write(data)
            start += len(data)
    return block.path


BLOCK_PREFIX = "cecli-block-"


def sweep_blocks(folder: Path | None = None) -> None:
    """Remove the blocks' copies in ``folder`` (the temporary folder) that no process holds:
    those of a worker killed in the middle of a task."""
    tempfiles.sweep(folder or Path(tempfile.gettempdir()), BLOCK_PREFIX, ".csv")


def merge(*parts: Partial) -> Partial:
    """Adjacent partial results merged in the order given (their input order)."""
    total = Accumulator()
    records: dict[int, int] = {}
    inputs: dict[int, Accumulator] = {}
    written: dict[int, PartInfo] = {}
    for part in parts:
        total.merge(part.accumulator)
        records.update(part.records)
        written.update(part.parts)
        for index, share in part.inputs.items():
            if index in inputs:
                mine = inputs[index]
                mine.total, mine.divisor = mine.total + share.total, mine.divisor + share.divisor
                mine.rows, mine.skipped = mine.rows + share.rows, mine.skipped + share.skipped
            else:
                inputs[index] = share
    return Partial(total, records, inputs, written)


def csv_spans(path: str, separator: str, task_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges of a CSV file after its header, each whole records of about
    ``task_bytes``: the reader's own blocks, grouped (run on a worker)."""
    return [(begin, stop) for begin, stop, _ in _cut(path, separator, task_bytes, count=False)]


def counted_csv_spans(
    path: str, separator: str, task_bytes: int
) -> list[tuple[int, int, int]] | None:
    """:func:`csv_spans` with each range's count of records, or None if they cannot be
    counted without parsing (a quote inside a field): the file is then one task."""
    try:
        return _cut(path, separator, task_bytes, count=True)
    except _Uncountable:
        return None


def _cut_uncounted(path: str, separator: str, task_bytes: int) -> list[tuple[int, int, int]]:
    return _cut(path, separator, task_bytes, count=False)


class _Uncountable(Exception):
    pass


def _cut(path: str, separator: str, task_bytes: int, *, count: bool) -> list[tuple[int, int, int]]:
    """Byte ranges, each with its records (``count``) or, cheaper, its lines: at least as
    many as its records."""
    from cecli.files import CHUNK_BYTES, MAX_RECORD_BYTES, _record_blocks, line_breaks

    with open(path, "rb") as handle:
        start = len(handle.readline(MAX_RECORD_BYTES + 1))
    spans: list[tuple[int, int, int]] = []
    begin, records = start, 0
    for data in _record_blocks(Path(path), separator, min(CHUNK_BYTES, task_bytes)):
        start += len(data)
        if count:
            records += _records_in(data, separator)
        else:
            records += line_breaks(data) + (0 if data.endswith(b"\n") else 1)
        if start - begin >= task_bytes:
            spans.append((begin, start, records))
            begin, records = start, 0
    if start > begin or not spans:
        spans.append((begin, start, records))
    return spans


def _records_in(data: bytes, separator: str) -> int:
    """Records in ``data`` (whole records, as the reader cuts them; an empty line is one): its
    line breaks outside quoted fields, and a last record without one.  Quotes are read as in
    ``files._record_end``: when every opening quote starts a field, a line break is inside a
    field exactly when an odd number of quotes come before it; otherwise (a stray quote)
    :class:`_Uncountable`."""
    import numpy as np

    from cecli.files import line_breaks

    ends = line_breaks(data) + (0 if data.endswith(b"\n") or not data else 1)
    if b'"' not in data:
        return ends
    view = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(view == ord('"'))
    openers = quotes[::2]
    before = view[openers[openers > 0] - 1]
    starts = np.frombuffer(f'{separator}\n"'.encode(), dtype=np.uint8)
    if not np.isin(before, starts).all():
        raise _Uncountable
    breaks = np.flatnonzero(view == ord("\n"))
    inside = np.searchsorted(quotes, breaks) % 2 == 1
    return ends - int(inside.sum())


def row_groups(path: str) -> list[int] | None:
    """Each row group's count of rows, from a Parquet file's footer (None if unreadable)."""
    from cecli.files import _MAX_FOOTER_BYTES, _ThriftCompact

    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            if size < 12:
                return None
            handle.seek(size - 8)
            tail = handle.read(8)
            length = int.from_bytes(tail[:4], "little")
            if tail[4:] != b"PAR1" or length > min(size - 12, _MAX_FOOTER_BYTES):
                return None
            handle.seek(size - 8 - length)
            metadata = _ThriftCompact(handle.read(length)).struct()
    except (OSError, IndexError, ValueError, RecursionError):
        return None
    return [int(group.get(3, 0)) for group in metadata.get(4, [])]


def _splittable(job: Job, files: tuple[InputFile, ...]) -> str | None:
    """``csv`` or ``parquet`` if the input can be cut into blocks, else None."""
    if len(files) != 1 or files[0].remote or files[0].path == "-":
        return None
    path = files[0].path
    if path.endswith(".gz") or not os.path.isfile(path):
        return None
    kind = job.kind_of(files[0])
    if kind == "csv":
        with open(path, "rb") as handle:
            if handle.read(2) == b"\x1f\x8b":
                return None  # gzip by its bytes: read whole, as one task
    return kind


def connect(address: str, stack: contextlib.ExitStack) -> Client:
    """A client of the cluster ``address`` names (``local[:N]``, ``auto``, or an address),
    closed, with a local cluster, when ``stack`` closes."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        # No parameter: the command line would rewrite the extra's name as the option's.
        raise InputError(f"scoring on a Dask cluster needs Dask; {INSTALL}") from None
    local = re.fullmatch(r"local(?::(.*))?", address)
    try:
        if local:
            given = local.group(1)
            if given is not None and not re.fullmatch(r"\d+", given):
                # Else tried as a scheduler's address, 'local' its host: a 30 s wait for nothing.
                raise InputError(
                    f"dask: local:N needs N ≥ 1 workers, got {given!r}", parameter=("dask",)
                )
            workers = int(given or os.cpu_count() or 1)
            if workers < 1:
                raise InputError("dask: local:N needs N ≥ 1 workers", parameter=("dask",))
            # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc map and
            # unmap every block's buffers afresh: tasks measured 2-3x slower than in-process
            # (0.3 s against 0.07 s to cut a 69 MB file).  This machine's workers go without.
            environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
            environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ": environ}))
            cluster = _started_apart(
                stack,
                lambda: LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.CRITICAL,
                ),
            )
            return stack.enter_context(Client(cluster))
        if address == "auto":
            found = dask.config.get("scheduler-address", None)
            if not found:
                raise InputError(
                    "dask: no scheduler address; set DASK_SCHEDULER_ADDRESS or give one",
                    parameter=("dask",),
                )
            address = str(found)
        if address.startswith("tls://"):
            from distributed.security import Security

            if not Security().tls_ca_file:
                # distributed itself ends in a TypeError about an SSL context here.
                raise InputError(
                    f"dask: {address} speaks TLS, but Dask's configuration has no certificates "
                    "(distributed.comm.tls.ca-file, client.cert and client.key)",
                    parameter=("dask",),
                )
        timeout = dask.config.get("distributed.comm.timeouts.connect", "30s")
        return stack.enter_context(Client(address, timeout=timeout))
    except InputError:
        raise
    except (OSError, TimeoutError, ValueError, RuntimeError) as error:
        # RuntimeError: a local cluster whose workers failed to start; say why, in one line.
        cause = error.__cause__ if isinstance(error, RuntimeError) and error.__cause__ else error
        why = " ".join(str(cause).split()) or type(cause).__name__
        if local:
            raise InputError(f"dask: cannot start {address} ({why})", parameter=("dask",)) from None
        raise InputError(
            f"dask: cannot reach the scheduler at {address} ({why})", parameter=("dask",)
        ) from None


def _started_apart(stack: contextlib.ExitStack, start: Callable[[], LocalCluster]) -> LocalCluster:
    """The local cluster ``start`` makes, made on a thread of its own, and closed when
    ``stack`` closes.

    An interrupt (Ctrl-C) in the middle of a cluster's start leaves it half made: workers that
    are neither running nor closed, which distributed then fails to close at the process's end,
    with tracebacks on stderr.  So the start is never interrupted: the interrupt lands in the
    calling thread, which waits for the start to end and then closes the cluster, as after any
    run.  The thread blocks SIGINT, and so do the threads it starts and the worker processes
    they spawn (a signal mask is inherited): a Ctrl-C at a terminal, which signals every
    process of the foreground group, stops the command, and the command stops its workers,
    rather than each worker stopping with a traceback of its own.
    """
    made: list[LocalCluster] = []
    failed: list[BaseException] = []
    began, finished = threading.Event(), threading.Event()

    def run() -> None:
        began.set()
        try:
            if sys.platform != "win32":
                from multiprocessing import resource_tracker

                # Started by whichever thread first needs it, the tracker unblocks SIGINT in
                # that thread once it is spawned: it is started here, before the mask is set.
                resource_tracker.ensure_running()
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            made.append(start())
        except BaseException as error:  # raised again in the calling thread
            failed.append(error)
        finally:
            finished.set()

    thread = threading.Thread(target=run, name="cecli-local-cluster", daemon=True)
    try:
        thread.start()
        finished.wait()
        if failed:
            raise failed[0]
        return stack.enter_context(made[0])
    except BaseException:
        # Not thread.join(): in Python 3.11 a join interrupted once returns at once after,
        # the thread still running.  The thread has begun unless the interrupt landed in
        # thread.start() itself, before it.
        if began.wait(timeout=10):
            finished.wait()
        for cluster in made:  # closing a closed cluster does nothing
            cluster.close()
        raise


def score_on_dask(
    job: Job,
    inputs: list[tuple[InputFile, ...]],
    display: str,
    *,
    address: str,
    by_file: bool = False,
    on_progress: Callable[[ScoringProgress], None] | None = None,
    task_bytes: int | None = None,
    task_rows: int | None = None,
    submit_order: Callable[[list[Block]], list[Block]] | None = None,
    rows: RowOutput | None = None,
) -> BatchSummary:
    """Score ``inputs`` on the cluster ``address`` names; see the module's description.

    ``submit_order`` reorders the blocks before they are submitted (tests shuffle them).
    ``rows`` writes the per-row values, a part per block (:mod:`cecli.parts`).
    """
    if any(file.path == "-" for files in inputs for file in files):
        raise InputError("standard input cannot be scored on a cluster; pass a file")
    # Workers may run elsewhere: local files go to them by absolute path.
    inputs = [
        tuple(
            file if file.remote else InputFile(file.location, local=os.path.abspath(file.path))
            for file in files
        )
        for files in inputs
    ]
    created: list[Future] = []
    with contextlib.ExitStack() as stack:
        # Last, once the cluster is stopped: the copies of blocks whose worker was killed.
        stack.callback(sweep_blocks)
        staging = None
        if rows is not None:
            from cecli.parts import Staging

            # Refused before anything is read; removed last, once the tasks are stopped.
            with tempfiles.interrupts_deferred():  # until its removal is arranged
                staging = Staging(rows, local_paths(inputs))
                stack.callback(staging.remove)
        client = connect(address, stack)
        stack.enter_context(_cancelled_on_exit(client, created))
        blocks = _plan(
            client, job, inputs, task_bytes or TASK_BYTES, task_rows or TASK_ROWS, created,
            count=rows is not None,
        )  # fmt: skip
        submitted = submit_order(list(blocks)) if submit_order else blocks
        folder = None if staging is None else str(staging.path)
        few = _at_most_exact(blocks)
        futures = {
            block.key: client.submit(
                score_block, job, block, by_file, rows, folder, few, pure=False
            )
            for block in submitted
        }
        created += futures.values()
        root = _tree(client, [futures[block.key] for block in blocks], created)
        _wait(client, blocks, futures, on_progress)
        result: Partial = root.result()
        if not few and result.accumulator.values is None:
            _exact_values(client, job, blocks, result.accumulator, created)
        if staging is not None:
            staging.parts = [result.parts[block.key] for block in blocks]
            summary = _summary(job, blocks, inputs, display, result, by_file)
            staging.publish(summary, local_paths(inputs))
            return summary
    return _summary(job, blocks, inputs, display, result, by_file)


def _at_most_exact(blocks: Sequence[Block]) -> bool:
    """Whether the blocks hold few enough records for exact percentiles (at most their
    count, where the cut counted them, else an estimate): only then do the tasks send their
    rows' values back.  An estimate too high costs a second pass (:func:`_exact_values`),
    one too low values sent for nothing; neither changes a bit of the result."""
    from cecli import batch

    estimates = _estimated_rows(blocks)
    records = sum(
        block.bound if block.bound is not None else estimates[block.key] for block in blocks
    )
    return records <= batch.EXACT_PERCENTILE_ROWS


def block_values(job: Job, block: Block) -> list[npt.NDArray[np.float64]]:
    """A block's per-row values, scored again (for exact percentiles, see _exact_values)."""
    values = score_block(job, block, False).accumulator.values
    return values if values is not None else []


def _exact_values(
    client: Client,
    job: Job,
    blocks: list[Block],
    accumulator: Accumulator,
    created: list[Future],
) -> None:
    """The rows' values, when fewer rows were scored than their records foretold (skipped or
    blank records) and percentiles are exact after all, as on one machine: the blocks are
    scored again for their values.  Rare: only past ``EXACT_PERCENTILE_ROWS`` records."""
    from cecli import batch

    if accumulator.rows > batch.EXACT_PERCENTILE_ROWS:
        return
    futures = [client.submit(block_values, job, block, pure=False) for block in blocks]
    created += futures
    found: list[list[npt.NDArray[np.float64]]] = client.gather(futures)
    accumulator.values = [part for values in found for part in values]
    accumulator.histogram = None


def _summary(
    job: Job,
    blocks: list[Block],
    inputs: list[tuple[InputFile, ...]],
    display: str,
    result: Partial,
    by_file: bool,
) -> BatchSummary:
    """The summary of the merged state, with lines in their files."""
    # One input without by_file is one file's summary: its worst rows name no file.
    named = len(inputs) > 1 or by_file
    names = {block.key: block for block in blocks}
    offsets = _offsets(blocks, result.records)

    def locate(key: int, line: int) -> tuple[str, int]:
        block = names[key]
        file = " + ".join(f.display for f in block.files) if named else ""
        return file, offsets[key] + line

    reasons = tuple(_named(reason, names, offsets) for reason in result.accumulator.reasons)
    result.accumulator.reasons = list(reasons)
    summary = job.finish(
        result.accumulator.compute(reduction=job.reduction, source=display), result.accumulator
    )
    shares: tuple[FileSummary, ...] = ()
    if by_file:
        input_names = [" + ".join(f.display for f in files) for files in inputs]
        shares = tuple(
            _share(result.inputs.get(index), job, input_names[index])
            for index in range(len(inputs))
        )
    return untag_lines(summary, locate, shares)


def _share(accumulator: Accumulator | None, job: Job, source: str) -> FileSummary:
    if accumulator is None:
        return FileSummary(source=source, loss=math.nan, rows=0, skipped=0)
    return FileSummary(
        source=source, loss=share_loss(accumulator, job.reduction), rows=accumulator.rows,
        skipped=accumulator.skipped,
    )  # fmt: skip


@contextlib.contextmanager
def _cancelled_on_exit(client: Client, futures: list[Future]) -> Iterator[None]:
    """On an error or an interrupt, every task submitted (``futures``) is cancelled."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(futures, force=True)
        raise


def _plan(
    client: Client,
    job: Job,
    inputs: list[tuple[InputFile, ...]],
    task_bytes: int,
    task_rows: int,
    created: list[Future],
    *,
    count: bool = False,
) -> list[Block]:
    """Every input's blocks, in input order; with ``count``, each knows the records of its
    input before it (a CSV file whose records cannot be counted so is one block)."""
    from cecli.files import _sniff_separator

    cuts: dict[int, Future] = {}
    groups: dict[int, list[int] | None] = {}
    cutter = counted_csv_spans if count else _cut_uncounted
    for index, files in enumerate(inputs):
        kind = _splittable(job, files)
        if kind == "csv" and os.path.getsize(files[0].path) <= task_bytes * 3 // 2:
            kind = None  # one task, reading the file itself: no pass to cut it, no copy
        if kind == "csv":
            path = files[0].path
            separator = job.delimiter or _sniff_separator(Path(path))
            cuts[index] = client.submit(cutter, path, separator, task_bytes, pure=False)
            created.append(cuts[index])
        elif kind == "parquet":
            groups[index] = row_groups(files[0].path)
    spans = dict(zip(cuts, client.gather(list(cuts.values())), strict=True)) if cuts else {}
    blocks: list[Block] = []
    for index, files in enumerate(inputs):
        if spans.get(index):
            before = 0
            for begin, stop, records in spans[index] or []:
                blocks.append(
                    Block(len(blocks), index, files, span=(begin, stop), size=stop - begin,
                          offset=before, bound=records)
                )  # fmt: skip
                before += records
        elif groups.get(index):
            for rows in _row_runs(groups[index] or [], task_rows):
                blocks.append(
                    Block(len(blocks), index, files, rows=rows, offset=rows[0],
                          bound=rows[1] - rows[0])
                )  # fmt: skip
        else:
            blocks.append(Block(len(blocks), index, files, size=_size(files)))
    return blocks


def _row_runs(groups: Sequence[int], task_rows: int) -> Iterator[tuple[int, int]]:
    """Runs of whole row groups of about ``task_rows`` rows, as (start, stop)."""
    start = stop = 0
    for rows in groups:
        stop += rows
        if stop - start >= task_rows:
            yield start, stop
            start = stop
    if stop > start:
        yield start, stop


def _size(files: tuple[InputFile, ...]) -> int:
    total = 0
    for file in files:
        if not file.remote:
            with contextlib.suppress(OSError):
                total += os.path.getsize(file.path)
    return total


def _tree(client: Client, futures: list[Future], created: list[Future]) -> Future:
    """Futures merged in groups of adjacent ones, level by level, down to one."""
    level = futures
    while len(level) > 1 or level is futures:
        level = [
            client.submit(merge, *level[at : at + MERGE_FAN_IN], pure=False)
            for at in range(0, len(level), MERGE_FAN_IN)
        ]
        created += level
    return level[0]


def _wait(
    client: Client,
    blocks: list[Block],
    futures: dict[int, Future],
    on_progress: Callable[[ScoringProgress], None] | None,
) -> None:
    """Wait for every block; raise the error of the first bad block in input order, once every
    block before it has succeeded (a block after it may fail sooner)."""
    from distributed import as_completed

    owner = {future.key: key for key, future in futures.items()}
    done: set[int] = set()
    failed: int | None = None
    rows = _estimated_rows(blocks)
    expected, total_bytes = sum(rows.values()), sum(block.size for block in blocks)
    read = 0
    tasks = len(futures)
    if on_progress is not None:
        on_progress(ScoringProgress(0, 0, expected, total_bytes, 0, tasks))
    for future in as_completed(list(futures.values())):
        key = owner[future.key]
        if future.status == "error":
            failed = key if failed is None else min(failed, key)
        else:
            done.add(key)
            read += rows[key]
            if on_progress is not None:
                on_progress(
                    ScoringProgress(read, rows[key], expected, total_bytes, len(done), tasks)
                )
        if failed is not None and all(k in done for k in range(failed)):
            break
    if failed is None:
        return
    error = futures[failed].exception()
    if not isinstance(error, InputError):
        raise _as_input_error(error, blocks[failed]) from None
    earlier = [k for k in range(failed) if blocks[k].input == blocks[failed].input]
    states: list[Partial] = client.gather([futures[k] for k in earlier]) if earlier else []
    records = {k: n for state in states for k, n in state.records.items()}
    names = {block.key: block for block in blocks}
    offsets = _offsets(blocks[: failed + 1], {**records, failed: 0})
    raise InputError(_named(str(error), names, offsets), parameter=error.named) from None


def _as_input_error(error: BaseException | None, block: Block) -> BaseException:
    """A task's failure to read its file (a part gone or unreadable where the worker runs),
    or a worker lost again and again on it, as one line naming the file; anything else as
    it is."""
    file = " + ".join(f.display for f in block.files)
    if isinstance(error, OSError):
        why = error.strerror or " ".join(str(error).split()) or type(error).__name__
        return InputError(f"{file}: cannot read on the cluster's worker ({why})")
    if type(error).__name__ == "KilledWorker":  # distributed.scheduler.KilledWorker
        return InputError(
            f"{file}: the workers scoring it were lost again and again (out of memory?); "
            "see the workers' logs",
            parameter=("dask",),
        )
    return error if error is not None else RuntimeError("a task failed")


def _estimated_rows(blocks: Sequence[Block]) -> dict[int, int]:
    """Each block's rows for progress: exact for Parquet, from the line length of the first
    64 KiB of a CSV file, at least 1."""
    per_byte: dict[str, float] = {}
    estimates: dict[int, int] = {}
    for block in blocks:
        if block.rows is not None:
            estimates[block.key] = block.rows[1] - block.rows[0]
            continue
        path = block.files[0].path
        if path not in per_byte:
            per_byte[path] = 0.0
            with contextlib.suppress(OSError), open(path, "rb") as handle:
                head = handle.read(1 << 16)
                per_byte[path] = head.count(b"\n") / max(len(head), 1)
        estimates[block.key] = max(1, int(block.size * per_byte[path]))
    return estimates


def _offsets(blocks: Sequence[Block], records: dict[int, int]) -> dict[int, int]:
    """Records before each block in its own input (what its lines are counted after)."""
    offsets: dict[int, int] = {}
    before: dict[int, int] = {}
    for block in blocks:
        offsets[block.key] = before.get(block.input, 0)
        before[block.input] = offsets[block.key] + records.get(block.key, 0)
    return offsets


def _named(text: str, blocks: dict[int, Block], offsets: dict[int, int]) -> str:
    """A task's message with its markers replaced by the file's name and line."""

    def name(match: re.Match[str]) -> str:
        block = blocks[int(match.group(1))]
        file = block.files[int(match.group(2))].display
        if match.group(4) is None:
            return file
        line = offsets[block.key] + int(match.group(4))
        return f"{file}:{match.group(3) or ''}{line}"

    return _MARK.sub(name, text)
