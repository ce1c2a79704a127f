"""Odd files and odd ways to name them, on the batch path: every record is scored, skipped and
counted, or refused in one line; no input is written over; no output is left half written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run

TABLE = "label,p0,p1\n0,0.3,0.7\n1,0.4,0.6\n"


def _one_error(code: int, out: str, err: str, message: str) -> None:
    assert code == 2
    assert out == ""
    assert err.startswith("cecli: error: ")
    assert err.count("\n") == 1
    assert message in err


# --- an output named by a glob or a folder of the inputs ------------------------------------


@pytest.mark.parametrize(
    ("inputs", "option", "target"),
    [
        ("a*", "--rejects", "a.csv"),
        ("*.csv", "--output", "b.csv"),
        ("parts", "--output", "parts/p2.csv"),
        ("parts/", "--rejects", "parts/p1.csv"),
    ],
)
def test_an_output_that_a_glob_or_folder_reads_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inputs: str, option: str, target: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "parts").mkdir()
    for name in ("a.csv", "b.csv", "parts/p1.csv", "parts/p2.csv"):
        (tmp_path / name).write_text(TABLE)
    extra = ["--reduction", "none"] if option == "--output" else ["--skip-invalid"]
    if option == "--rejects" and inputs.startswith("parts"):
        inputs = "parts/p1.*"  # the rejected rows are written for one input only
    code, out, err = run("ce", "--csv", inputs, option, target, *extra, "-q")
    _one_error(code, out, err, f"{option}: {target} is also an input file")
    for name in ("a.csv", "b.csv", "parts/p1.csv", "parts/p2.csv"):
        assert (tmp_path / name).read_text() == TABLE


def test_a_glob_run_twice_does_not_read_its_own_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows kept with their columns make an output that reads as an input: the second run
    must not score it, and then write over it with twice the rows."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text(TABLE)
    args = ("ce", "--csv", "*.csv", "-o", "out.csv", "--reduction", "none", "--keep", "label,p0,p1")
    code, _, err = run(*args, "-q")
    assert code == 0, err
    written = (tmp_path / "out.csv").read_text()
    assert written.count("\n") == 3  # the header and the two rows of a.csv
    code, out, err = run(*args, "-q")
    _one_error(code, out, err, "--output: out.csv is also an input file")
    assert (tmp_path / "out.csv").read_text() == written


# --- options that name no column ----------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "extra"),
    [
        ("--by", "", ()),
        ("--by", ",", ()),
        ("--keep", " , ", ("--reduction", "none", "-o", "rows.csv")),
        ("--columns", "", ("--reduction", "none", "-o", "rows.csv")),
    ],
)
def test_an_option_naming_no_column_is_refused_not_ignored(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    value: str,
    extra: tuple[str, ...],
) -> None:
    """``--by ''`` printed the summary without its groups, as if the option were not given."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text(TABLE)
    code, out, err = run("ce", "--csv", "a.csv", option, value, *extra)
    _one_error(code, out, err, f"cecli: error: {option} names no column")
    assert not (tmp_path / "rows.csv").exists()


def test_the_library_refuses_a_group_list_naming_no_column(tmp_path: Path) -> None:
    from cecli.inputs import InputError
    from cecli.scoring import score_file

    (tmp_path / "a.csv").write_text(TABLE)
    with pytest.raises(InputError, match=r"^by names no column"):
        score_file(tmp_path / "a.csv", by=" ")
    assert score_file(tmp_path / "a.csv", by=[]).groups is None  # nothing asked for
