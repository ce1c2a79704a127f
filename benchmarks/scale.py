"""Scoring many files on one process and on a Dask cluster, and what that projects to.

    pip install -e '.[dask]'
    python benchmarks/scale.py [--rows 10000000] [--files 16] [--workers 2] [--runs 3]

Writes ``--rows`` rows (integer label + 10 softmax probabilities, as benchmarks/batch.py
generates them) as ``--files`` CSV parts into a temporary folder (removed at the end), then:

  1. times whole processes scoring the glob of parts, in turn: one process
     (``cecli.score_file(glob)``) and ``dask="local:N"`` (a LocalCluster of N worker processes
     started by the process, start-up included), medians of ``--runs``; both must print the
     same digits;
  2. times the cluster part alone on an already running LocalCluster;
  3. measures the bytes a task returns (its pickled state, before and after merging), the
     seconds one task takes on one worker, and how many tasks per second the scheduler
     sustains with empty tasks;
  4. projects, from those measured figures, the wall time for 1e9 rows on 8, 32 and 128
     workers, with the assumptions printed beside the table.
"""

from __future__ import annotations

import argparse
import contextlib
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from batch import write_softmax_rows  # the same rows as benchmarks/batch.py


def generate(folder: Path, rows: int, files: int) -> list[Path]:
    """``rows`` random softmax outputs as ``files`` CSV parts (batch.py's distribution)."""
    import numpy as np

    rng = np.random.default_rng(rows)
    paths = []
    per_file = -(-rows // files)
    for number in range(files):
        path = folder / f"part-{number:05d}.csv"
        count = min(per_file, rows - number * per_file)
        with path.open("w") as handle:
            write_softmax_rows(handle, count, rng)
        paths.append(path)
    return paths


SCORE = """
import sys, cecli
dask = sys.argv[2] if len(sys.argv) > 2 else None
print(repr(cecli.score_file(sys.argv[1], dask=dask).loss))
"""


def whole_process(pattern: str, dask: str | None) -> tuple[float, str]:
    command = [sys.executable, "-c", SCORE, pattern, *([dask] if dask else [])]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, result.stdout.strip()


def task_figures(paths: list[Path]) -> tuple[int, int, int, float, int, int, int]:
    """(bytes of one task's state, bytes of a merged state, rows of a task, seconds of one
    task on this process, number of tasks for the files, bytes of the task's block, bytes of
    the task's state with its rows' values, as under the exact-percentile limit) from the
    first file's first block."""
    from cecli import distributed
    from cecli.scoring import Job, expand_inputs

    job = Job(
        loss="ce", options={"reduction": "mean"}, names=None, label_col=None,
        label_cols=None, pred_cols=None, weight_col=None, id_col=None, delimiter=None,
        kind=None, skip_invalid=False, storage_options={},
    )  # fmt: skip
    _, inputs = expand_inputs([str(p) for p in paths], {})
    spans = distributed.csv_spans(str(paths[0]), ",", distributed.TASK_BYTES)
    block = distributed.Block(0, 0, inputs[0], span=spans[0], size=spans[0][1] - spans[0][0])
    with_values = distributed.score_block(job, block, False)  # warm: imports, first parse
    start = time.perf_counter()
    # Past EXACT_PERCENTILE_ROWS rows in all, as here, a task sends a histogram, not values.
    state = distributed.score_block(job, block, False, keep_values=False)
    seconds = time.perf_counter() - start
    merged = distributed.merge(*[state] * 16)
    # As the planner cuts: a file of at most 1.5 tasks' bytes is one task.
    whole = paths[0].stat().st_size <= distributed.TASK_BYTES * 3 // 2
    tasks = (1 if whole else len(spans)) * len(paths)
    return (
        len(pickle.dumps(state)), len(pickle.dumps(merged)), state.accumulator.rows, seconds,
        tasks, block.size, len(pickle.dumps(with_values)),
    )  # fmt: skip


def scheduler_rate(client: Any, count: int = 4000) -> float:
    """Empty tasks per second through the scheduler (submitted at once, all gathered)."""
    from distributed import wait

    start = time.perf_counter()
    futures = client.map(_nothing, range(count), pure=False)
    wait(futures)
    return count / (time.perf_counter() - start)


def _nothing(value: int) -> int:
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the parts")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cecli-scale-", dir=args.dir))
    try:
        return _run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(args: argparse.Namespace, folder: Path) -> int:
    from cecli import distributed

    started = time.perf_counter()
    paths = generate(folder, args.rows, args.files)
    size = sum(p.stat().st_size for p in paths)
    print(
        f"{args.rows:,} rows in {args.files} CSV files, {size / 1e6:,.0f} MB "
        f"(written in {time.perf_counter() - started:.0f} s)"
    )
    pattern = str(folder / "part-*.csv")
    for path in paths:  # read once, so that no run pays for the disk
        path.read_bytes()
    local = f"local:{args.workers}"
    times: dict[str, list[float]] = {"one process": [], local: []}
    values: dict[str, set[str]] = {"one process": set(), local: set()}
    for _ in range(args.runs):
        for name, dask in (("one process", None), (local, local)):
            wall, value = whole_process(pattern, dask)
            times[name].append(wall)
            values[name].add(value)
    print(f"\nwhole processes, median of {args.runs} (alternating):")
    for name in times:
        print(f"  {name:<14} {statistics.median(times[name]):7.2f} s   loss {values[name]}")
    agree = values["one process"] == values[local] and len(values[local]) == 1
    single = statistics.median(times["one process"])
    print(f"  {local} / one process: {statistics.median(times[local]) / single:.2f}x")
    print(f"  same digits: {agree}")

    with contextlib.ExitStack() as stack:
        import cecli

        # The cluster dask="local:N" starts (workers without Dask's malloc trim setting).
        client = distributed.connect(local, stack)
        address = client.scheduler.address
        cecli.score_file(str(paths[0]), dask=address)  # workers warm
        warm = []
        for _ in range(args.runs):
            start = time.perf_counter()
            cecli.score_file(pattern, dask=address)
            warm.append(time.perf_counter() - start)
        rate = scheduler_rate(client)
    state_bytes, merged_bytes, task_rows, task_seconds, tasks, block, valued = task_figures(paths)
    print(
        f"\non a running {args.workers}-worker cluster: {statistics.median(warm):.2f} s "
        f"({tasks} tasks of up to {distributed.TASK_BYTES >> 20} MiB)"
    )
    print(f"  bytes a task returns: {state_bytes:,} ({task_rows:,} rows; a fixed-size histogram")
    print(f"    past the exact-percentile limit; {valued:,} with its rows' values, as a task")
    print(f"    sends them under it); a merged state: {merged_bytes:,}")
    print(f"  one task on one worker: {task_seconds:.2f} s, {task_rows / task_seconds:,.0f} rows/s")
    print(f"  scheduler: {rate:,.0f} empty tasks/s")

    target = 1_000_000_000
    target_tasks = -(-target // task_rows)
    print(f"\nprojection for {target:,} rows ({target_tasks:,} tasks of {task_rows:,} rows):")
    print(f"  {'workers':>8} {'compute s':>10} {'scheduler s':>12} {'wall s':>8}")
    for workers in (8, 32, 128):
        compute = target_tasks * task_seconds / workers
        overhead = target_tasks * 2 / rate  # a block task and its share of the merge tasks
        print(f"  {workers:>8} {compute:10.0f} {overhead:12.1f} {compute + overhead:8.0f}")
    print(
        "  assumptions: each worker is one core as fast as this machine's, reading from\n"
        "  storage at least as fast as it parses (about "
        f"{block / task_seconds / 1e6:,.0f} MB/s per worker here), the parts\n"
        "  spread evenly; the scheduler handles tasks one after another at the measured\n"
        "  rate while workers compute; merges (fan-in 8) and the returned states are small\n"
        "  against a task; cluster start-up is not counted."
    )
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
