"""Which CSV reader turns a file of numbers into NumPy arrays fastest: the measurement behind
cecli's choice of reader, side by side in one run.

    pip install -e '.[bench]'
    python benchmarks/readers.py [--rows 1000000] [--runs 5]

Each candidate is a whole process that imports its reader, streams the CSV file of
``benchmarks/batch.py`` (integer label + 10 probabilities) into float64 NumPy blocks of about
128k rows with bounded memory, and adds up the same clipped cross-entropy in NumPy, so that
only the reader differs:

  (1) polars.read_csv on 8 MiB blocks cut at line ends, two at a time (what cecli does)
  (2) pyarrow.csv.open_csv, its streaming reader
  (3) DuckDB read_csv, fetched as Arrow record batches
  (4) DuckDB read_csv, fetched whole as NumPy arrays (no pyarrow; memory grows with the file)
  (5) cecli's C reader of plain all-number blocks on the blocks of (1), two at a time (what
      cecli does with a file whose every field is a short decimal number)

The script prints each one's median wall time, CPU time (user + system) and peak RSS, the time
its import takes, and each median as a ratio to (1).  All four print the same mean, which the
script checks.  CPU time matters as much as wall time here: on a machine whose cores are all
busy (a cluster worker, a CI runner), wall time follows CPU time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import batch

COMMON = """
import sys, time
import numpy as np
start = time.perf_counter()
"""

LOSS = """
def loss(block):
    labels = block[:, 0].astype(np.intp)
    picked = block[np.arange(len(block)), labels + 1]
    return float(-np.log(np.clip(picked, 1e-7, 1 - 1e-7)).sum()), len(block)
"""

BLOCKS_TWO_AT_A_TIME = (
    LOSS
    + """
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from cecli.files import _record_blocks
total, rows = 0.0, 0
with ThreadPoolExecutor(2) as pool:
    for block in pool.map(parse, _record_blocks(Path(sys.argv[1]))):
        part, count = loss(block)
        total, rows = total + part, rows + count
print(repr(total / rows), imported)
"""
)
"""``parse`` of the blocks of records that cecli reads, two at a time, into ``loss``."""

POLARS = (
    COMMON
    + """
import polars as pl
imported = time.perf_counter() - start
names = ["label"] + [f"p{i}" for i in range(10)]
schema = {name: pl.Float64() for name in names}
def parse(data):
    frame = pl.read_csv(data, has_header=False, new_columns=names, schema=schema)
    return frame.to_numpy()
"""
    + BLOCKS_TWO_AT_A_TIME
)

PYARROW = (
    COMMON
    + """
import pyarrow as pa
import pyarrow.csv as csv
imported = time.perf_counter() - start
"""
    + LOSS
    + """
names = ["label"] + [f"p{i}" for i in range(10)]
options = csv.ConvertOptions(column_types={name: pa.float64() for name in names})
total, rows = 0.0, 0
reader = csv.open_csv(sys.argv[1], convert_options=options)
for record_batch in reader:
    block = np.column_stack([column.to_numpy() for column in record_batch.columns])
    part, count = loss(block)
    total, rows = total + part, rows + count
print(repr(total / rows), imported)
"""
)

DUCKDB = (
    COMMON
    + """
import duckdb
imported = time.perf_counter() - start
"""
    + LOSS
    + """
path = sys.argv[1].replace("'", "''")
connection = duckdb.connect()
connection.execute("SET enable_progress_bar = false")  # it draws on stdout
result = connection.sql(f"select * from read_csv('{path}')")
"""
)
"""DuckDB's CSV reader on the file, as ``result``: the two ways of fetching it follow."""

DUCKDB_ARROW = (
    DUCKDB
    + """
total, rows = 0.0, 0
for record_batch in result.to_arrow_reader(131072):
    block = np.column_stack(
        [column.to_numpy().astype(np.float64) for column in record_batch.columns]
    )
    part, count = loss(block)
    total, rows = total + part, rows + count
print(repr(total / rows), imported)
"""
)

DUCKDB_NUMPY = (
    DUCKDB
    + """
found = result.fetchnumpy()
block = np.column_stack([np.asarray(found[name], dtype=np.float64) for name in found])
total, rows = loss(block)
print(repr(total / rows), imported)
"""
)

C_READER = (
    COMMON
    + """
from cecli.files import FAST_READER
imported = time.perf_counter() - start
assert FAST_READER is not None, "the C reader was not built"
def parse(data):
    rows = FAST_READER.line_breaks(data) + (not data.endswith(b"\\n"))
    out = np.empty((11, rows))
    assert FAST_READER.parse_floats(data, out, ",", 11, rows) == rows
    return out.T
"""
    + BLOCKS_TWO_AT_A_TIME
)

CANDIDATES = {
    "(1) polars blocks": POLARS,
    "(2) pyarrow open_csv": PYARROW,
    "(3) duckdb arrow batches": DUCKDB_ARROW,
    "(4) duckdb fetchnumpy": DUCKDB_NUMPY,
    "(5) cecli C reader blocks": C_READER,
}


def measure(script: str, path: Path) -> tuple[float, float, float, float, str]:
    """Wall and CPU seconds, peak RSS (MiB), import seconds and the mean printed."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"a candidate failed: {script[:200]}")
    mean, imported = output.split()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, float(imported), mean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    csv_path, _ = batch.generate(args.rows)
    batch.warm_cache(csv_path)
    names = list(CANDIDATES)
    found: dict[str, list[tuple[float, float, float, float, str]]] = {n: [] for n in names}
    for order in batch.balanced_orders(len(names), args.runs):
        for name in (names[i] for i in order):
            found[name].append(measure(CANDIDATES[name], csv_path))
    print(f"{args.rows:,} rows   {'reader':<26} {'wall s':>7} {'cpu s':>7} {'MiB':>6} "
          f"{'import s':>8}  wall, cpu vs (1)")  # fmt: skip
    first = names[0]
    base_wall = statistics.median(run[0] for run in found[first])
    base_cpu = statistics.median(run[1] for run in found[first])
    means = set()
    for name in names:
        runs = found[name]
        wall = statistics.median(run[0] for run in runs)
        cpu = statistics.median(run[1] for run in runs)
        peak = max(run[2] for run in runs)
        imported = statistics.median(run[3] for run in runs)
        means.add(round(float(runs[0][4]), 12))
        print(f"{'':>12} {name:<26} {wall:7.2f} {cpu:7.2f} {peak:6.0f} {imported:8.3f}  "
              f"{wall / base_wall:.2f}, {cpu / base_cpu:.2f}")  # fmt: skip
    if len(means) > 1:
        print(f"note: the candidates printed different means: {sorted(means)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
