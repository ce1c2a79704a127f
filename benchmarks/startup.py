"""Start-up time of ``cecli`` against the imports it cannot avoid, side by side in one run.

    python benchmarks/startup.py [--runs 21]

Each pair of commands runs alternately (A B A B …) as whole processes, so drift of a noisy
machine hits both; the script prints the median wall times and the ratio of the medians.
Targets: ``-q`` at most 1.25× ``python -c "import typer, numpy"``, and the table at most
1.25× ``python -c "import typer, numpy, rich.console, rich.table"``.
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

REFERENCE = ["ce", "1,0,0,0,0", "0.1,0.5,0.1,0.1,0.2"]
TARGET = 1.25


def cecli_command() -> list[str]:
    script = Path(sys.executable).with_name("cecli")
    found = str(script) if script.exists() else shutil.which("cecli")
    return [found] if found else [sys.executable, "-m", "cecli"]


# Installed packages ship compiled bytecode; a source checkout gets it on first import unless
# PYTHONDONTWRITEBYTECODE forbids it, which would time the compiler instead of cecli.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=ENV
    )
    return time.perf_counter() - start


def compare(name: str, command: list[str], baseline: list[str], runs: int) -> float:
    wall_time(command)  # warm the file cache
    wall_time(baseline)
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(wall_time(command))
        theirs.append(wall_time(baseline))
    a, b = statistics.median(ours), statistics.median(theirs)
    ratio = a / b
    verdict = "ok" if ratio <= TARGET else f"over the {TARGET}× target"
    print(f"{name:<8} {a * 1000:8.1f} ms  {b * 1000:8.1f} ms  {ratio:6.2f}×  {verdict}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    cecli = cecli_command()
    python = sys.executable
    print(f"{'output':<8} {'cecli':>11}  {'baseline':>11}  {'ratio':>7}   (medians of {runs} runs)")
    compare("-q", [*cecli, *REFERENCE, "-q"], [python, "-c", "import typer, numpy"], runs)
    compare(
        "table",
        [*cecli, *REFERENCE],
        [python, "-c", "import typer, numpy, rich.console, rich.table"],
        runs,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
