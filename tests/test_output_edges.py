"""Where the output goes wrong: a full disk or closed descriptor behind stdout or stderr, a
terminal that would obey escape sequences in data, and the warnings printed beside results."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pytest

from cecli.cli import main

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
def _reader_goes_away(args: Sequence[str]) -> None:
    """Run the installed cecli with ``args``, read one line of its output and close the pipe:
    the run ends with 0 or 1 and says nothing."""
    script = shutil.which("cecli")
    assert script is not None
    with subprocess.Popen(
        [script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as reader:  # fmt: skip
        assert reader.stdout is not None
        assert reader.stderr is not None
        reader.stdout.readline()
        reader.stdout.close()
        errors = reader.stderr.read()
        assert reader.wait(timeout=120) in (0, 1)
    assert errors == b""


def test_reader_going_away_stays_quiet(rows_csv: Path) -> None:
    _reader_goes_away(["ce", "--csv", str(rows_csv), "--reduction", "none"])


# --- per-row output on a terminal ------------------------------------------------------------

ESCAPED_ROWS_ARGS = ["grad", "--id-col", "id", "--pred-cols", "p*", "--reduction", "none"]


@pytest.fixture
def escape_csv(tmp_path: Path) -> Path:
    """An id that would turn a terminal red and a column name that would clear it."""
    path = tmp_path / "escapes.csv"
    path.write_bytes(b"id,label,p0,p\x1b[2Ja\n\x1b[31mRED,0,0.5,0.5\n")
    return path


def _on_terminal(args: Sequence[str], *, stdout: bool = True, stderr: bool = False) -> bytes:
    """What ``cecli ARGS`` writes to a terminal (a pty) that is its standard output, its
    standard error, or both (the other one discarded)."""
    script = shutil.which("cecli")
    assert script is not None
    # As a user's terminal: the test session tells rich otherwise.
    environment = {k: v for k, v in os.environ.items() if k != "TTY_COMPATIBLE"}
    controller, terminal = os.openpty()
    try:
        process = subprocess.Popen(
            [script, *args], stdout=terminal if stdout else subprocess.DEVNULL,
            stderr=terminal if stderr else subprocess.PIPE, env=environment,
        )  # fmt: skip
    finally:
        os.close(terminal)
    output = b""
    with process:
        while True:  # read while it writes: a terminal holds a few KiB
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # Linux ends a pty whose other side is closed with EIO
                break
            if not chunk:
                break
            output += chunk
        os.close(controller)
        errors = b"" if process.stderr is None else process.stderr.read()
        assert process.wait(timeout=120) == 0, errors
    return output


@needs_script
def test_per_row_csv_on_a_terminal_shows_escapes_in_ids_and_column_names(
    escape_csv: Path,
) -> None:
    shown = _on_terminal([*ESCAPED_ROWS_ARGS, "--csv", str(escape_csv)])
    assert b"\x1b" not in shown
    lines = shown.decode().splitlines()
    assert lines[0] == "id,loss,dL/dz_p0,dL/dz_p\\x1b[2Ja"
    assert lines[1].startswith("\\x1b[31mRED,")


@needs_script
def test_rows_written_to_the_terminal_have_no_progress_bar_drawn_among_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("label,p0,p1\n" + "0,0.25,0.75\n1,0.5,0.5\n" * 1000)
    args = ["ce", "--csv", str(path), "--reduction", "none"]
    beside = _on_terminal(
        [*args, "--output", str(tmp_path / "rows.csv")], stdout=False, stderr=True
    )
    assert b"rows/s" in beside  # the bar, when the rows go to a file
    shown = _on_terminal(args, stderr=True)
    assert b"rows/s" not in shown
    rows = shown.decode().splitlines()
    assert rows[0] == "line,loss"
    assert [int(row.split(",")[0]) for row in rows[1:]] == list(range(2, 2002))
    assert {float(row.split(",")[1]) for row in rows[1:]} == {-math.log(0.25), -math.log(0.5)}


@needs_script
def test_per_row_csv_piped_keeps_ids_and_column_names_verbatim(escape_csv: Path) -> None:
    done = _cecli([*ESCAPED_ROWS_ARGS, "--csv", str(escape_csv)])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split(b"\n")
    assert lines[0] == b"id,loss,dL/dz_p0,dL/dz_p\x1b[2Ja"
    assert lines[1].startswith(b"\x1b[31mRED,")


@needs_script
def test_per_row_csv_to_a_file_keeps_ids_verbatim(escape_csv: Path, tmp_path: Path) -> None:
    target = tmp_path / "rows.csv"
    args = [*ESCAPED_ROWS_ARGS, "--csv", str(escape_csv), "--output", str(target)]
    _on_terminal(args)
    lines = target.read_bytes().split(b"\n")
    assert lines[0] == b"id,loss,dL/dz_p0,dL/dz_p\x1b[2Ja"
    assert lines[1].startswith(b"\x1b[31mRED,")


@needs_script
def test_per_row_parquet_ids_on_a_terminal_are_shown_escaped(tmp_path: Path) -> None:
    import polars as pl

    path = tmp_path / "escapes.parquet"
    frame = {"id": ["\x1b[31mRED", "plain"], "label": [0, 1], "p0": [0.5, 0.2], "p1": [0.5, 0.8]}
    pl.DataFrame(frame).write_parquet(path)
    shown = _on_terminal(["ce", "--parquet", str(path), "--id-col", "id", "--reduction", "none"])
    assert b"\x1b" not in shown
    assert shown.decode().splitlines()[1:] == [
        f"\\x1b[31mRED,{math.log(2)!r}",
        f"plain,{-math.log(0.8)!r}",
    ]


# --- warnings beside a scored file -----------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_skipped_row_reasons_are_laid_out_alike_and_say_when_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reduction: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("label,p0,p1\n0,0.3,0.7\n" + "0,x,0.7\n" * 7)
    code = main(["ce", "--csv", str(path), "--skip-invalid", "--reduction", reduction, "-q"])
    err = capsys.readouterr().err
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0] == "cecli: warning: skipped 7 invalid row(s) (--skip-invalid):"
    assert lines[1:6] == [f"  {path}:{line}:2: 'x' is not a number" for line in range(3, 8)]
    assert lines[6:] == ["  … and 2 more"]


def test_skipped_row_reasons_all_shown_are_not_said_to_be_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("label,p0,p1\n0,0.3,0.7\n0,x,0.7\n")
    code = main(["ce", "--csv", str(path), "--skip-invalid", "--reduction", "none", "-q"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.splitlines() == [
        "cecli: warning: skipped 1 invalid row(s) (--skip-invalid):",
        f"  {path}:3:2: 'x' is not a number",
    ]


# --- values beyond float64 -------------------------------------------------------------------

HUGE_LOGITS = [
    ["ce", "0", "--", "-1e308,1e308"],
    ["ce", "1", "--", "-1e308,1e308"],
    ["bce", "1,1", "--", "-1e308,-1e308"],
    ["bce", "0,1", "--", "1e308,-1e308"],
    ["multilabel", "1,0", "--", "-1e308,1e308"],
    ["kl", "0.5,0.5", "--", "-1e308,1e308"],
    ["grad", "0", "--", "-1e308,1e308"],
    ["grad", "1,1", "--", "-1e308,-1e308", "--sigmoid"],
    ["smooth", "0", "--", "-1e308,1e308"],
    ["focal", "0", "--", "-1e308,1e308"],
    ["focal", "1,1", "--", "-1e308,-1e308", "--binary"],
]


@pytest.mark.parametrize("args", HUGE_LOGITS, ids=lambda args: " ".join(args))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_huge_logits_give_no_numpy_warning(
    args: list[str], reduction: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # pytest turns warnings into errors here: a NumPy overflow warning would raise.
    code = main([*args, "--logits", "--reduction", reduction, "-q"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out
    for line in err.splitlines():
        assert line.startswith("cecli: warning: "), line
        assert "--eps" not in line, line


def test_an_overflowed_logit_loss_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    # -log softmax picks -(−1e308 − 1e308) = 2e308: beyond the largest float.
    code = main(["ce", "0", "--", "-1e308,1e308", "--logits", "-q"])
    out, err = capsys.readouterr()
    assert code == 0
    assert out == "inf\n"
    assert err.startswith("cecli: warning: the loss is infinite: it overflowed float64")
    assert "clipping" not in err


@pytest.mark.parametrize(
    "options", [[], ["--binary", "--gamma", "0", "--alpha", "1"]], ids=["bce", "focal"]
)
def test_a_mean_of_huge_elements_does_not_overflow(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    import mpmath

    args = ["focal" if options else "bce", "1,1", "--", "-1e308,-1e308", "--logits", *options]

    # Each element is -log σ(-1e308) = 1e308 + log1p(e^-1e308); their mean is the same.
    element = mpmath.log1p(mpmath.exp(mpmath.mpf(1e308)))
    for reduction in ("mean", "none"):
        code = main([*args, "--reduction", reduction, "-q"])
        out, err = capsys.readouterr()
        assert (code, err) == (0, "")
        assert float(out) == float(element)
    code = main([*args, "--reduction", "sum", "-q"])
    out, err = capsys.readouterr()
    assert out == "inf\n"  # 2e308 is beyond the largest float
    assert "overflowed float64" in err


# --- number options --------------------------------------------------------------------------

NUMBER_OPTIONS = [
    ["ce", "0", "0.3,0.7", "--eps"],
    ["ce", "0", "0.3,0.7", "--smoothing"],
    ["bce", "1", "0.3", "--pos-weight"],
    ["bce", "1", "0.3", "--smoothing"],
    ["multilabel", "1,0", "0.3,0.7", "--pos-weight"],
    ["multilabel", "1,0", "0.3,0.7", "--neg-weight"],
    ["smooth", "0", "0.3,0.7", "--smoothing"],
    ["focal", "0", "0.3,0.7", "--gamma"],
    ["focal", "0", "0.3,0.7", "--alpha"],
    ["plot", "smooth", "--smoothing"],
]


@pytest.mark.parametrize("command", NUMBER_OPTIONS, ids=lambda command: " ".join(command))
@pytest.mark.parametrize("text", ["1_0", "٠.١", "0x1p-3", "１", "abc"])
def test_number_options_follow_the_number_grammar(
    command: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*command, text, "-q"] if command[0] != "plot" else [*command, text])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == f"cecli: error: {command[-1]}: {text!r} is not a number\n"


@pytest.mark.parametrize("text", ["0.25", ".25", "2.5e-1", " 0.25", "+0.25"])
def test_number_options_take_what_typed_vectors_take(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # α = 1/4 weighs the binary focal term of y = 1: with γ = 0 it is -log(0.3)/4.
    code = main(["focal", "1", "0.3", "--binary", "--gamma", "0", "--alpha", text, "-q"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert float(out) == pytest.approx(-math.log(0.3) / 4, rel=1e-15)


def test_an_overflowed_file_loss_from_logits_names_the_overflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("label,p0,p1\n0,-1e308,1e308\n")
    code = main(["ce", "--csv", str(path), "--logits", "-q"])
    out, err = capsys.readouterr()
    assert (code, out) == (0, "inf\n")
    assert err.startswith("cecli: warning: the loss is not finite")
    assert "overflowed float64" in err


def _bad_row_csv(tmp_path: Path) -> Path:
    path = tmp_path / "r.csv"
    path.write_text("label,p0,p1\n0,0.5,0.5\n1,abc,0.5\n")
    return path


@needs_script
def test_rejects_to_dev_stdout_keep_the_loss_in_the_redirected_file(tmp_path: Path) -> None:
    """The file was staged and renamed over the shell's file: the loss printed after it went
    to the file no longer named, and was lost."""
    path, out = _bad_row_csv(tmp_path), tmp_path / "o.txt"
    with out.open("wb") as stdout:
        done = _cecli(
            ["ce", "--csv", str(path), "--skip-invalid", "-q", "--rejects", "/dev/stdout"],
            stdout=stdout,
        )
    assert done.returncode == 0, done.stderr
    assert out.read_text().splitlines() == [
        "line,reason,label,p0,p1",
        "3,p0: 'abc' is not a number,1,abc,0.5",
        repr(math.log(2)),
    ]


@needs_script
def test_rows_to_dev_stdout_through_a_pipe(tmp_path: Path) -> None:
    path = _bad_row_csv(tmp_path)
    args = ["ce", "--csv", str(path), "--skip-invalid", "--reduction", "none", "-q"]
    done = _cecli([*args, "--output", "/dev/stdout"])
    loss = repr(math.log(2))
    assert (done.returncode, done.stdout.decode()) == (0, f"line,loss\n2,{loss}\n{loss}\n")


@needs_script
def test_rows_to_the_file_standard_output_goes_to_are_followed_by_the_summary(
    tmp_path: Path,
) -> None:
    path, out = _bad_row_csv(tmp_path), tmp_path / "o.txt"
    with out.open("wb") as stdout:
        args = ["ce", "--csv", str(path), "--skip-invalid", "--reduction", "none", "--json"]
        done = _cecli([*args, "--output", str(out)], stdout=stdout)
    assert done.returncode == 0, done.stderr
    rows, summary = out.read_text().split("\n{", 1)
    assert rows == f"line,loss\n2,{math.log(2)!r}"
    assert '"skipped": 1' in summary


@needs_script
@pytest.mark.parametrize("target", ["/dev/stdout", "/proc/self/fd/1"])
def test_reader_going_away_from_rows_sent_to_dev_stdout_stays_quiet(
    rows_csv: Path, target: str
) -> None:
    """Rows written through standard output by its name end as they do through ``-``: a
    reader that went away stops the run quietly, not with an error about the file."""
    _reader_goes_away(["ce", "--csv", str(rows_csv), "--reduction", "none", "--output", target])


@pytest.mark.parametrize(
    ("rejects", "said"),
    [
        ("{folder}/missing/r.csv", "--rejects: no folder "),
        ("", "--rejects: the file name is empty"),
        ("{folder}/", "--rejects: {folder}/ is a folder"),
        ("{source}", "--rejects: {source} is also an input file"),
        ("{folder}/o.csv", "--rejects: {folder}/o.csv is also --output"),
    ],
)
def test_a_rejects_file_that_cannot_be_written_is_named_as_rejects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rejects: str, said: str
) -> None:
    """Every refusal named the file --output, even when only --rejects named it."""
    source = _bad_row_csv(tmp_path)
    names = {"folder": str(tmp_path), "source": str(source)}
    args = ["ce", "--csv", str(source), "--skip-invalid", "--reduction", "none"]
    code = main([*args, "--output", f"{tmp_path}/o.csv", "--rejects", rejects.format(**names)])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith(f"cecli: error: {said.format(**names)}"), error
    assert error.count("\n") == 1
    assert not (tmp_path / "o.csv").exists()


@needs_script
def test_rows_put_together_from_parts_reach_standard_output_by_its_name(tmp_path: Path) -> None:
    """--output-format stages parts in a folder beside the output: beside /proc/self/fd/1
    none can be made (and beside /dev/stdout only the superuser could), so it failed."""
    path, out = _bad_row_csv(tmp_path), tmp_path / "o.txt"
    args = ["ce", "--csv", str(path), "--skip-invalid", "--reduction", "none", "-q"]
    with out.open("wb") as stdout:
        done = _cecli(
            [*args, "--output", "/proc/self/fd/1", "--output-format", "csv"], stdout=stdout
        )
    assert done.returncode == 0, done.stderr
    loss = repr(math.log(2))
    assert out.read_text() == f"line,loss\n2,{loss}\n{loss}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.txt", "r.csv"]
