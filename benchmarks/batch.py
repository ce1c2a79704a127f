"""Batch scoring speed and memory, side by side with what a user would otherwise run.

    pip install -e '.[bench]'
    python benchmarks/batch.py [--rows 1000000 10000000] [--runs 8]

Generates (once, into benchmarks/data/) CSV files of N rows × (integer label + 10 softmax
probabilities) and a Parquet copy, then times whole processes, in turn:

  (a) cecli ce --csv FILE -q
  (b) pandas.read_csv + sklearn.metrics.log_loss, the script a user would otherwise write
  (c) pyarrow.csv.read_csv + NumPy, a minimal fast script
  (d) cecli ce --parquet FILE -q
  (e) DuckDB answering the same question in SQL over read_csv (the anchor: a fast engine)

in orders where each follows each other equally often, and prints median wall time, peak RSS
(of that process alone, from wait4) and the ratios the targets are set in: (a)/(b) ≤ 0.35,
(a)/(c) ≤ 0.8 on the large file, (a)/(e) ≤ 1.0, peak RSS of (a) ≤ 512 MiB and flat in file
size.  All five print the mean cross-entropy; the script checks they agree.  --log prints every
run with the tool that ran just before it.

Before the files, the fixed cost of a file: ``cecli ce --csv FOUR_ROWS.csv -q`` against the
one-liner ``cecli ce 1,0 0.3,0.7 -q``, alternated (target: ≤ 1.5×).  --small runs only that.

--evaluation times a file scored as a model evaluation instead, on the same rows with a
``model`` column (four models) beside the label:

  (p) cecli ce --csv FILE --json                                   the plain summary
  (f) cecli ce --csv FILE --per-class --by model --top-k 5 --json  the evaluation
  (g) pandas.read_csv + groupby("model"): per-model log loss and top-1 accuracy

with the targets (f)/(p) ≤ 1.3 and the same flat peak RSS (≤ 512 MiB).  The plain summary is
the one to compare with: ``-q`` computes the loss alone (no percentiles, worst rows or accuracy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

DATA = Path(__file__).resolve().parent / "data"
CLASSES = 10

PANDAS_SKLEARN = """
import sys
import pandas as pd
from sklearn.metrics import log_loss
frame = pd.read_csv(sys.argv[1])
probs = frame[[f"p{i}" for i in range(10)]].to_numpy()
print(repr(log_loss(frame["label"], probs, labels=list(range(10)))))
"""

PYARROW_NUMPY = """
import sys
import numpy as np
import pyarrow.csv
table = pyarrow.csv.read_csv(sys.argv[1])
labels = table.column("label").to_numpy()
probs = np.column_stack([table.column(f"p{i}").to_numpy() for i in range(10)])
p = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1 - 1e-7)
print(repr(float(-np.log(p).mean())))
"""

DUCKDB_SQL = """
import sys
import duckdb
columns = ", ".join(f"p{i}" for i in range(10))
path = sys.argv[1].replace("'", "''")
query = (
    f"select avg(-ln(greatest(least(list_extract([{columns}], label + 1), 1 - 1e-7), 1e-7))) "
    f"from read_csv('{path}')"
)
connection = duckdb.connect()
connection.execute("SET enable_progress_bar = false")  # it draws on stdout
print(repr(float(connection.sql(query).fetchall()[0][0])))
"""

FOUR_ROWS = "label,p0,p1\n0,0.3,0.7\n1,0.2,0.8\n0,0.5,0.5\n1,0.1,0.9\n"


def write_softmax_rows(handle: IO[str], rows: int, rng: Any) -> None:
    """``rows`` random softmax outputs of :data:`CLASSES` classes (label, p0…p9) as CSV, in
    blocks of a million rows so that memory stays flat."""
    import numpy as np
    import polars as pl

    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        logits = rng.standard_normal((n, CLASSES)) * 2.0
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        frame = pl.DataFrame(
            {"label": rng.integers(0, CLASSES, n)}
            | {f"p{i}": np.round(probs[:, i], 8) for i in range(CLASSES)}
        )
        frame.write_csv(handle, include_header=start == 0)


def generate(rows: int) -> tuple[Path, Path]:
    """Write a CSV and a Parquet file of ``rows`` random softmax outputs (skipped if present),
    in a process of its own: on Linux a child's peak memory (ru_maxrss) counts its parent's at
    the fork, so every tool timed after the writing reported the writer's peak."""
    csv_path, parquet_path = DATA / f"ce_{rows}.csv", DATA / f"ce_{rows}.parquet"
    if not (csv_path.exists() and parquet_path.exists()):
        code = f"import batch; batch.write_files({rows})"
        folder = str(Path(__file__).resolve().parent)
        subprocess.run([sys.executable, "-c", code], check=True, cwd=folder)
    return csv_path, parquet_path


def write_files(rows: int) -> None:
    """The files of :func:`generate`, written in this process."""
    import numpy as np
    import polars as pl

    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng(rows)
    with (DATA / f"ce_{rows}.csv").open("w") as handle:
        write_softmax_rows(handle, rows, rng)
    pl.scan_csv(DATA / f"ce_{rows}.csv").sink_parquet(
        DATA / f"ce_{rows}.parquet", row_group_size=131_072
    )


PANDAS_GROUPBY = """
import sys
import numpy as np
import pandas as pd
frame = pd.read_csv(sys.argv[1])
probs = frame[[f"p{i}" for i in range(10)]].to_numpy()
labels = frame["label"].to_numpy()
frame["loss"] = -np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1 - 1e-7))
frame["right"] = probs.argmax(axis=1) == labels
by_model = frame.groupby("model").agg(loss=("loss", "mean"), accuracy=("right", "mean"))
print(repr(float(frame["loss"].mean())), len(by_model))
"""


def generate_evaluation(rows: int) -> Path:
    """The rows of :func:`generate`'s CSV file with a ``model`` column (skipped if present)."""
    import polars as pl

    csv_path, _ = generate(rows)
    path = DATA / f"evaluation_{rows}.csv"
    if not path.exists():
        models = ["resnet", "vit", "convnext", "mlp"]
        model = pl.int_range(0, pl.len()).mod(len(models))
        frame = pl.scan_csv(csv_path).with_columns(
            model=model.replace_strict(list(range(len(models))), models, return_dtype=pl.String)
        )
        frame.sink_csv(path)
    return path


def evaluation_commands(rows: int, cecli: list[str], python: str) -> dict[str, list[str]]:
    # Generated in a child process: a child forked from this one after it held the rows would
    # report this process's peak RSS as its own.
    here = str(Path(__file__).resolve().parent)
    script = (
        f"import sys; sys.path.insert(0, {here!r}); import batch; batch.generate_evaluation({rows})"
    )
    subprocess.run([python, "-c", script], check=True)
    path = str(DATA / f"evaluation_{rows}.csv")
    plain = [*cecli, "ce", "--csv", path, "--json", "--no-progress"]
    return {
        "(p) cecli plain": plain,
        "(f) cecli evaluation": [
            *cecli,
            "ce",
            "--csv",
            path,
            "--no-progress",
            "--json",
            "--per-class",
            "--by",
            "model",
            "--top-k",
            "5",
        ],
        "(g) pandas groupby": [python, "-c", PANDAS_GROUPBY, path],
    }


def warm_cache(*paths: Path) -> None:
    """Read the files once, so that no tool's first run pays for reading them from disk."""
    for path in paths:
        with path.open("rb", buffering=0) as handle:
            while handle.read(16 << 20):
                pass


def balanced_orders(tools: int, rounds: int) -> list[list[int]]:
    """Orders of the tools, one per round, in which each tool follows each other tool equally
    often (a Williams design; with an even number of tools, every ``tools`` rounds).

    A process runs faster or slower by what ran just before it: right after pandas has freed
    5 GB, pyarrow faulted its 4 GB in with 0.5-0.7 s of system time, after a small process
    with 1.6-2.8 s.  Rotating one fixed order keeps the same neighbours (pyarrow after pandas
    in most rounds); this design gives each tool the same mix of predecessors.
    """
    first = [0]
    low, high = 1, tools - 1
    while len(first) < tools:
        first.append(low)
        low += 1
        if len(first) < tools:
            first.append(high)
            high -= 1
    return [[(tool + shift) % tools for tool in first] for shift in range(rounds)]


def measure(command: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MiB of this process alone, and
    what it printed."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--log", action="store_true", help="print every run")
    parser.add_argument(
        "--evaluation", action="store_true", help="time --per-class --by model --top-k 5"
    )
    parser.add_argument("--small", action="store_true", help="time only a four-row file")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("cecli")
    cecli = [str(script)] if script.exists() else [shutil.which("cecli") or "cecli"]
    python = sys.executable
    small_file(cecli, max(args.runs, 15), log=args.log)
    if args.small:
        return 0
    print(f"{'rows':>11}  {'tool':<24} {'wall s':>8} {'peak MiB':>9}   value")
    peaks: dict[int, float] = {}
    for rows in args.rows:
        if args.evaluation:
            evaluate(rows, evaluation_commands(rows, cecli, python), args.runs, log=args.log)
            continue
        csv_path, parquet_path = generate(rows)
        warm_cache(csv_path, parquet_path)
        commands = {
            "(a) cecli --csv": [*cecli, "ce", "--csv", str(csv_path), "-q", "--no-progress"],
            "(b) pandas + sklearn": [python, "-c", PANDAS_SKLEARN, str(csv_path)],
            "(c) pyarrow + numpy": [python, "-c", PYARROW_NUMPY, str(csv_path)],
            "(d) cecli --parquet": [
                *cecli,
                "ce",
                "--parquet",
                str(parquet_path),
                "-q",
                "--no-progress",
            ],
            "(e) duckdb SQL": [python, "-c", DUCKDB_SQL, str(csv_path)],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        rss: dict[str, list[float]] = {name: [] for name in commands}
        values: dict[str, str] = {}
        names = list(commands)
        previous = "-"
        for order in balanced_orders(len(names), args.runs):
            for name in (names[i] for i in order):
                command = commands[name]
                wall, cpu, peak, value = measure(command)
                if args.log:
                    print(f"{rows:>11,}  {name:<24} {wall:8.2f}   after {previous}")
                previous = name
                walls[name].append(wall)
                cpus[name].append(cpu)
                rss[name].append(peak)
                values[name] = value
        median = {name: statistics.median(times) for name, times in walls.items()}
        for name in commands:
            peak = max(rss[name])
            print(f"{rows:>11,}  {name:<24} {median[name]:8.2f} {peak:9.0f}   {values[name]}")
        reference = float(values["(a) cecli --csv"])
        for name, value in values.items():
            if abs(float(value) - reference) > 1e-9 * abs(reference):
                print(f"  note: {name} printed {value}, cecli {reference!r}")
        peaks[rows] = max(rss["(a) cecli --csv"])
        a = median["(a) cecli --csv"]
        print(
            f"{'':>11}  ratios: (a)/(b) {a / median['(b) pandas + sklearn']:.2f} (target ≤ 0.35), "
            f"(a)/(c) {a / median['(c) pyarrow + numpy']:.2f} (≤ 0.8 on the large file), "
            f"(d)/(a) {median['(d) cecli --parquet'] / a:.2f}, "
            f"(a)/(e) {a / median['(e) duckdb SQL']:.2f} (target ≤ 1.0)"
        )
        # Against the reference, two more views of the same runs: each round's own ratio (a
        # machine that slows down for a while slows both runs of a round), and CPU time.
        duck, cecli_csv = "(e) duckdb SQL", "(a) cecli --csv"
        pairs = zip(walls[cecli_csv], walls[duck], strict=True)
        rounds = [mine / theirs for mine, theirs in pairs]
        cpu = statistics.median(cpus[cecli_csv]) / statistics.median(cpus[duck])
        print(
            f"{'':>11}  (a)/(e): median of the rounds' ratios {statistics.median(rounds):.2f} "
            f"(each {', '.join(f'{r:.2f}' for r in rounds)}), CPU time {cpu:.2f}"
        )
    if len(peaks) > 1:
        small, large = min(peaks), max(peaks)
        print(
            f"peak RSS of (a): {peaks[large]:.0f} MiB at {large:,} rows (target ≤ 512), "
            f"{peaks[large] / peaks[small]:.2f}× its peak at {small:,} rows (target ≤ 1.5)"
        )
    return 0


def small_file(cecli: list[str], runs: int, *, log: bool) -> None:
    """A four-row file against the one-liner, alternated: what a file costs before its rows."""
    DATA.mkdir(exist_ok=True)
    path = DATA / "four_rows.csv"
    path.write_text(FOUR_ROWS)
    commands = {
        "cecli --csv 4 rows": [*cecli, "ce", "--csv", str(path), "-q", "--no-progress"],
        "cecli one-liner": [*cecli, "ce", "1,0", "0.3,0.7", "-q"],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for order in balanced_orders(len(commands), runs):
        for name in (list(commands)[i] for i in order):
            wall, _, _, _ = measure(commands[name])
            if log:
                print(f"{'4':>11}  {name:<24} {wall:8.3f}")
            walls[name].append(wall)
    median = {name: statistics.median(times) for name, times in walls.items()}
    for name in commands:
        print(f"{'4 rows':>11}  {name:<24} {median[name]:8.3f}")
    ratio = median["cecli --csv 4 rows"] / median["cecli one-liner"]
    print(f"{'':>11}  ratio: file / one-liner {ratio:.2f} (target ≤ 1.5)")


def evaluate(rows: int, commands: dict[str, list[str]], runs: int, *, log: bool) -> None:
    """Time the evaluation commands in balanced orders; print medians, peaks and the ratio."""
    import json

    warm_cache(Path(commands["(p) cecli plain"][3]))
    walls: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, float] = dict.fromkeys(commands, 0.0)
    shown: dict[str, str] = {}
    names = list(commands)
    for order in balanced_orders(len(names), runs):
        for name in (names[i] for i in order):
            wall, _, peak, output = measure(commands[name])
            if log:
                print(f"{rows:>11,}  {name:<24} {wall:8.2f}")
            walls[name].append(wall)
            peaks[name] = max(peaks[name], peak)
            if name.startswith(("(p)", "(f)")):
                document = json.loads(output)
                output = f"{document['loss']!r} accuracy {document['accuracy']!r}"
            shown[name] = output
    median = {name: statistics.median(times) for name, times in walls.items()}
    for name in commands:
        print(f"{rows:>11,}  {name:<24} {median[name]:8.2f} {peaks[name]:9.0f}   {shown[name]}")
    ratio = median["(f) cecli evaluation"] / median["(p) cecli plain"]
    pandas = median["(g) pandas groupby"] / median["(f) cecli evaluation"]
    print(f"{'':>11}  ratios: (f)/(p) {ratio:.2f} (target ≤ 1.3), (g)/(f) {pandas:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
