"""--threshold only where an output is called positive by it, and --keep copying an input
column's text as it is written."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from mpmath import mp, mpf

from cecli.cli import main
from tests.helpers import assert_close


def _write(tmp_path: Path, text: str, name: str = "rows.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


CATEGORICAL = "label,p0,p1\n0,0.3,0.7\n1,0.4,0.6\n"
BINARY = "y0,p0\n1,0.7\n0,0.4\n"


@pytest.mark.parametrize(
    ("command", "text", "extra"),
    [
        ("ce", CATEGORICAL, ()),
        ("smooth", CATEGORICAL, ()),
        ("focal", CATEGORICAL, ()),
        ("kl", "y0,y1,p0,p1\n0.5,0.5,0.3,0.7\n", ()),
        ("grad", CATEGORICAL, ()),
        ("grad", CATEGORICAL, ("--output", "-")),
    ],
)
def test_threshold_with_a_loss_without_one_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, text: str,
    extra: tuple[str, ...],
) -> None:  # fmt: skip
    path = _write(tmp_path, text)
    code = main([command, "--csv", path, "--threshold", "0.3", "--no-progress", *extra])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("cecli: error: --threshold is where bce, multilabel and focal")
    assert f"; {command}" in captured.err


@pytest.mark.parametrize(
    ("command", "extra"), [("bce", ()), ("multilabel", ()), ("focal", ("--binary",))]
)
def test_threshold_goes_with_binary_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, extra: tuple[str, ...]
) -> None:
    path = _write(tmp_path, BINARY)
    code = main([command, "--csv", path, "--threshold", "0.5", "--json", "--no-progress", *extra])
    assert code == 0, capsys.readouterr().err
    assert '"threshold": 0.5' in capsys.readouterr().out


def test_a_threshold_outside_0_1_is_refused_where_it_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, BINARY)
    assert main(["bce", "--csv", path, "--threshold", "1", "--no-progress"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    # 1 itself is refused: the message must not say 1 is between 0 and 1.
    expected = "--threshold must be a probability strictly between 0 and 1, got 1.0"
    assert line == f"cecli: error: {expected}"


def _rows(out: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(out)))


def test_keep_copies_a_csv_column_as_written_even_one_read_as_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path,
        "id,label,weight,p_a,p_b,code,note\n"
        "007,a,1e3,0.30,0.7,007, x\n"
        '008,b,2.50,0.4,0.6,1e3,"y, z"\n',
    )
    args = ["ce", "--csv", path, "--reduction", "none", "--no-progress"]
    code = main([*args, "--keep", "weight,code,note,label,p_a"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = _rows(captured.out)
    assert rows[0][2:] == ["weight", "code", "note", "label", "p_a"]
    assert [row[2:] for row in rows[1:]] == [
        ["1e3", "007", " x", "a", "0.30"],
        ["2.50", "1e3", "y, z", "b", "0.4"],
    ]
    # The weight is still read as a number: 1e3 weighs the first row 400 times the second's
    # 2.5, as the summary's weighted mean shows.
    output = str(tmp_path / "out.csv")
    assert main([*args, "--keep", "weight", "--output", output, "--json"]) == 0
    assert '"weighted": true' in capsys.readouterr().out
    assert [row[-1] for row in _rows(Path(output).read_text())] == ["weight", "1e3", "2.50"]


def test_keep_copies_a_class_index_label_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "label,p0,p1\n1.0,0.3,0.7\n0,0.4,0.6\n")
    code = main(["ce", "--csv", path, "--reduction", "none", "--keep", "label", "--no-progress"])
    assert code == 0
    assert [row[-1] for row in _rows(capsys.readouterr().out)] == ["label", "1.0", "0"]


def test_keep_writes_a_parquet_value_as_its_own_type_writes_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rows.parquet"
    pl.DataFrame({
        "label": [0, 1], "p0": [0.25, 0.5], "p1": [0.75, 0.5], "weight": [1000.0, 2.5],
        "count": [7, 8], "note": [" x", "007"], "flag": [True, False],
    }).write_parquet(path)  # fmt: skip
    code = main([
        "ce", "--parquet", str(path), "--reduction", "none", "--no-progress",
        "--keep", "weight,count,note,flag,p0,label",
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [row[2:] for row in _rows(captured.out)] == [
        ["weight", "count", "note", "flag", "p0", "label"],
        ["1000.0", "7", " x", "true", "0.25", "0"],
        ["2.5", "8", "007", "false", "0.5", "1"],
    ]


def test_keep_in_two_files_matched_by_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = _write(tmp_path, "id,label\n007,1\n008,0\n", "labels.csv")
    preds = _write(tmp_path, "id,p0,p1\n008,0.5,0.50\n007,0.25,.75\n", "preds.csv")
    code = main([
        "ce", "--labels", labels, "--preds", preds, "--reduction", "none", "--no-progress",
        "--keep", "p1,label",
    ])  # fmt: skip
    assert code == 0
    rows = _rows(capsys.readouterr().out)
    assert [[row[0], *row[2:]] for row in rows] == [
        ["id", "p1", "label"], ["008", "0.50", "0"], ["007", ".75", "1"],
    ]  # fmt: skip
    assert_close([float(row[1]) for row in rows[1:]], [-mp.log(mpf("0.5")), -mp.log(mpf("0.75"))])
