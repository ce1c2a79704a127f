"""A fuzzing campaign outside pytest: ``python -m tests.fuzz arguments|files``.

Runs cases ``--start`` to ``--start + --count`` of a seed, writes each failing case as one JSON
line to ``--log`` as it goes (so a stopped campaign keeps what it found), and ends with one
line per failure class: how many cases showed it, and the first case's reproducer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fuzz.checks import Failure, known


def _argument_results(
    seed: int, indices: range, base: Path
) -> Iterator[tuple[int, str, list[Failure]]]:
    from tests.fuzz import arguments

    for index in indices:
        args, stdin_closed = arguments.case_arguments(seed, index)
        folder = base / f"arguments-{index}"
        folder.mkdir()
        run = arguments.run_main(args, folder, stdin_closed=stdin_closed)
        shutil.rmtree(folder, ignore_errors=True)
        closed = " (stdin closed)" if stdin_closed else ""
        yield index, f"main({args!r}){closed}", arguments.failures_of(args, run)


def _file_results(
    seed: int, indices: range, base: Path, workers: int, keep: Path, large_share: float
) -> Iterator[tuple[int, str, list[Failure]]]:
    from tests.fuzz import malformed

    def one(index: int) -> tuple[int, str, list[Failure]]:
        case = malformed.file_case(seed, index, large_share=large_share)
        folder = base / f"file-{index}"
        folder.mkdir()
        run = malformed.run_file_case(case, folder)
        failures = malformed.failures_of(case, run)
        reproducer = case.reproducer(keep / f"file-{seed}-{index}" if failures else None)
        shutil.rmtree(folder, ignore_errors=True)
        return index, reproducer, failures

    with ThreadPoolExecutor(workers) as pool:
        yield from pool.map(one, indices)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz")
    parser.add_argument("target", choices=("arguments", "files"))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CECLI_FUZZ_SEED", "0")))
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--large-share", type=float, default=None, help="files past 8 MiB")
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "cecli-fuzz")
    options = parser.parse_args()
    indices = range(options.start, options.start + options.count)
    from tests.fuzz.malformed import LARGE_SHARE

    large_share = LARGE_SHARE if options.large_share is None else options.large_share
    classes: dict[str, tuple[int, str, str]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        results = (
            _argument_results(options.seed, indices, base)
            if options.target == "arguments"
            else _file_results(
                options.seed, indices, base, options.workers, options.keep, large_share
            )
        )
        for done, (index, reproducer, failures) in enumerate(results, 1):
            for failure in failures:
                count, first, detail = classes.get(
                    failure.signature, (0, reproducer, failure.detail)
                )
                classes[failure.signature] = (count + 1, first, detail)
            if failures and options.log is not None:
                record = {
                    "index": index,
                    "reproducer": reproducer,
                    "failures": [[f.signature, f.detail] for f in failures],
                    "known": [entry.name if (entry := known(f)) else None for f in failures],
                }
                with options.log.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(record) + "\n")
            if done % 500 == 0:
                print(f"{done} cases, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(
        f"{options.target}: seed {options.seed}, cases {indices.start}-{indices.stop - 1}, "
        f"{time.perf_counter() - started:.0f} s, {len(classes)} failure classes"
    )
    for signature, (count, first, detail) in sorted(classes.items(), key=lambda kv: -kv[1][0]):
        print(f"{count:6d}  {signature}\n        {first}\n        {detail[:300]}")
    return 1 if classes else 0


if __name__ == "__main__":
    sys.exit(main())
