"""Where the output goes wrong: a full disk or closed descriptor behind stdout or stderr, a
terminal that would obey escape sequences in data, and the warnings printed beside results."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pytest

needs_script = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("cecli") is None,
    reason="runs the installed cecli script with its standard streams redirected",
)


def _cecli(
    args: Sequence[str],
    *,
    stdout: int | IO[Any] = subprocess.PIPE,
    stderr: int | IO[Any] = subprocess.PIPE,
) -> subprocess.CompletedProcess[bytes]:
    script = shutil.which("cecli")
    assert script is not None
    return subprocess.run([script, *args], stdout=stdout, stderr=stderr, check=False, timeout=120)


@pytest.fixture
def rows_csv(tmp_path: Path) -> Path:
    """Enough rows that their per-row CSV passes any stream buffer."""
    path = tmp_path / "rows.csv"
    path.write_text("label,p0,p1\n" + "0,0.3,0.7\n" * 20_000)
    return path


# --- standard output that cannot be written ------------------------------------------------


@needs_script
@pytest.mark.parametrize(
    "args",
    [["ce", "0", "0.5,0.5", "-q"], ["ce", "0", "0.5,0.5"], ["ce", "0", "0.5,0.5", "--json"]],
)
def test_full_disk_behind_stdout_is_one_error_line(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = _cecli(args, stdout=full)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "cecli: error: cannot write to standard output (No space left on device)\n"
    )


@needs_script
def test_full_disk_behind_per_row_csv_is_one_error_line(rows_csv: Path) -> None:
    with open("/dev/full", "w") as full:
        done = _cecli(["ce", "--csv", str(rows_csv), "--reduction", "none"], stdout=full)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "cecli: error: cannot write to standard output (No space left on device)\n"
    )


@needs_script
def test_closed_stdout_is_one_error_line() -> None:
    script = shutil.which("cecli")
    assert script is not None
    # The shell's `>&-`: the process starts with descriptor 1 closed.
    done = subprocess.run(
        [script, "ce", "0", "0.1,0.9", "-q"],
        stderr=subprocess.PIPE, check=False, timeout=120,
        preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "cecli: error: cannot write to standard output (Bad file descriptor)\n"
    )


@needs_script
def test_unwritable_stderr_keeps_the_exit_code() -> None:
    with open("/dev/full", "w") as full:
        bad_input = _cecli(["ce", "0", "0.1,abc"], stderr=full)
        both_full = _cecli(["ce", "0", "0.5,0.5", "-q"], stdout=full, stderr=full)
    assert (bad_input.returncode, bad_input.stdout) == (2, b"")
    assert both_full.returncode == 2


@needs_script
def test_closed_stderr_keeps_the_exit_code_and_stdout_clean() -> None:
    script = shutil.which("cecli")
    assert script is not None
    done = subprocess.run(
        [script, "ce", "0", "0.1,abc"],
        stdout=subprocess.PIPE, check=False, timeout=120,
        preexec_fn=lambda: os.close(2),
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (2, b"")


@needs_script
def test_reader_going_away_stays_quiet(rows_csv: Path) -> None:
    script = shutil.which("cecli")
    assert script is not None
    with subprocess.Popen(
        [script, "ce", "--csv", str(rows_csv), "--reduction", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as reader:  # fmt: skip
        assert reader.stdout is not None
        assert reader.stderr is not None
        reader.stdout.readline()
        reader.stdout.close()
        errors = reader.stderr.read()
        assert reader.wait(timeout=120) in (0, 1)
    assert errors == b""
