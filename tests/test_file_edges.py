"""Edges of file mode: which column is which class, what counts as a record, and inputs that
cannot be read; each refusal is one line and exit code 2."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mpmath import mp, mpf

from cecli.cli import main
from cecli.inputs import InputError, parse_class_names
from tests.helpers import run


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _loss(capsys: pytest.CaptureFixture[str], *args: str) -> float:
    code, out, err = _cli(capsys, *args, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    loss: float = document["loss"]
    return loss


def _error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one error line of a run that must fail on its input."""
    code, out, err = _cli(capsys, *args)
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cecli: error: ")
    return lines[0]


def _cecli() -> str:
    beside_python = Path(sys.executable).with_name("cecli")
    found = str(beside_python) if beside_python.exists() else shutil.which("cecli")
    if found is None:
        pytest.skip("the cecli script is not installed")
    return found


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


# --- indexed columns are taken by their numbers ---------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "label,p1,p0\n0,0.9,0.1\n",
        "label,p_1,p_0\n0,0.9,0.1\n",
        "y1,y0,p0,p1\n0,1,0.1,0.9\n",
        "y0,y1,p1,p0\n1,0,0.9,0.1\n",
    ],
)
def test_indexed_columns_are_taken_by_number_not_file_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = _write(tmp_path, "f.csv", text)
    # The true class's probability is 0.1 in every file: the loss is -ln 0.1.
    assert _loss(capsys, "ce", "--csv", path) == pytest.approx(math.log(10), rel=1e-15)


def test_twelve_classes_with_a_header_sorted_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    classes = 12
    order = sorted(range(classes), key=str)  # p0, p1, p10, p11, p2, …
    probabilities = {k: (k + 1) / 78 for k in range(classes)}  # 1 + 2 + … + 12 = 78
    header = ",".join(["label", *(f"p{k}" for k in order)])
    row = ",".join(["2", *(repr(probabilities[k]) for k in order)])
    path = _write(tmp_path, "f.csv", f"{header}\n{row}\n")
    assert _loss(capsys, "ce", "--csv", path) == pytest.approx(-math.log(3 / 78), rel=1e-14)


@pytest.mark.parametrize(
    ("text", "numbers", "option"),
    [
        ("label,q,p1\n0,0.5,0.9\n", "are 1;", "--pred-cols"),
        ("label,p0,p2\n0,0.5,0.5\n", "are 0, 2;", "--pred-cols"),
        ("label,p0,p1,p_1\n0,0.5,0.5,0\n", "are 0, 1, 1;", "--pred-cols"),
        ("y0,y2,p0,p1\n0,1,0.5,0.5\n", "are 0, 2;", "--label-cols"),
    ],
)
def test_indexed_columns_with_a_gap_or_a_repeat_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, numbers: str, option: str
) -> None:
    path = _write(tmp_path, "f.csv", text)
    message = _error(capsys, "ce", "--csv", path)
    assert numbers in message
    assert option in message


# --- the output is never an input read from standard input ------------------------------------


def test_output_that_is_the_file_on_standard_input_is_refused(tmp_path: Path) -> None:
    text = "label,p0,p1\n0,0.9,0.1\n"
    target = tmp_path / "v.csv"
    target.write_text(text)
    command = [_cecli(), "ce", "--csv", "-", "--reduction", "none", "--output", str(target)]
    with target.open("rb") as stdin:
        done = subprocess.run(command, stdin=stdin, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"cecli: error: --output: {target} is also an input file; write to another file"
    ]
    assert target.read_text() == text


# --- the header, and what is a record ---------------------------------------------------------


def test_an_empty_line_before_the_header_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "f.csv", "\nlabel,p0,p1\n1,0.9,0.1\n")
    assert _error(capsys, "ce", "--csv", path) == (
        f"cecli: error: {path}: the header must be the first line (line 1 is empty)"
    )


def test_empty_header_names_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "f.csv", "label,a,,\n0,0.9,0.1,0\n")
    assert _error(capsys, "ce", "--csv", path) == (
        f"cecli: error: {path}:1:3: the header gives column 3 no name; name every column"
    )


def test_a_lone_carriage_return_is_reported_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "f.csv", "label,p0,p1\n0,0.9,0.1\n1,0.2,0.8\r0,0.5,0.5\n1,0.5,0.5\n")
    message = _error(capsys, "ce", "--csv", path)
    assert message.startswith(f"cecli: error: {path}:3: a carriage return")
    assert "new_columns" not in message


# --- two files --------------------------------------------------------------------------------

_PREDS = "p0,p1\n0.9,0.1\n0.2,0.8\n0.5,0.5\n"
_TWO_FILE_LOSS = math.fsum([-math.log(0.9), -math.log(0.8), -math.log(0.5)]) / 3


@pytest.mark.parametrize(
    ("labels", "preds"),
    [
        ("label\n0\n1\n0\n\n", _PREDS),
        ("label\n0\n1\n0\n", _PREDS + "\n\n"),
        ("label\n0\n1\n0\n\n\n", _PREDS + "\n"),
        ("label\r\n0\r\n1\r\n0\r\n\r\n", _PREDS),
    ],
)
def test_empty_lines_at_the_end_of_either_file_are_not_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], labels: str, preds: str
) -> None:
    label_path = _write(tmp_path, "L.csv", labels)
    pred_path = _write(tmp_path, "P.csv", preds)
    loss = _loss(capsys, "ce", "--labels", label_path, "--preds", pred_path)
    assert loss == pytest.approx(_TWO_FILE_LOSS, rel=1e-15)


def test_files_of_different_lengths_give_both_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    label_path = _write(tmp_path, "L.csv", "label\n0\n1\n0\n1\n\n")
    pred_path = _write(tmp_path, "P.csv", _PREDS)
    message = _error(capsys, "ce", "--labels", label_path, "--preds", pred_path)
    assert message.endswith(
        f"the files have different numbers of rows ({label_path}: 5, {pred_path}: 3)"
    )


# --- inputs that cannot be read -----------------------------------------------------------------


def _refuse_to_open(monkeypatch: pytest.MonkeyPatch, refused: str) -> None:
    """``os.open`` of ``refused`` fails as a file without read permission does (the tests may
    run as the superuser, whom permissions do not stop)."""
    real_open = os.open

    def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path) == refused:
            raise PermissionError(13, "Permission denied", refused)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)


@pytest.mark.parametrize("option", ["--csv", "--labels"])
def test_an_unreadable_file_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    option: str,
) -> None:
    labels = _write(tmp_path, "L.csv", "label\n0\n")
    preds = _write(tmp_path, "P.csv", "p0,p1\n0.9,0.1\n")
    both = _write(tmp_path, "f.csv", "label,p0,p1\n0,0.9,0.1\n")
    refused = both if option == "--csv" else labels
    _refuse_to_open(monkeypatch, refused)
    args = ["--csv", both] if option == "--csv" else ["--labels", labels, "--preds", preds]
    assert (
        _error(capsys, "ce", *args) == f"cecli: error: {refused}: cannot read (Permission denied)"
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="the superuser reads anything")
def test_a_file_without_read_permission_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "f.csv", "label,p0,p1\n0,0.9,0.1\n")
    os.chmod(path, 0)
    assert _error(capsys, "ce", "--csv", path) == (
        f"cecli: error: {path}: cannot read (Permission denied)"
    )


def test_standard_input_closed_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", None)  # what Python makes of a closed descriptor 0
    assert _error(capsys, "ce", "--csv", "-", "-q") == (
        "cecli: error: '-' reads from standard input, but there is none"
    )


@pytest.mark.skipif(sys.platform != "linux", reason="closes descriptor 0 through the shell")
def test_standard_input_closed_in_a_real_process() -> None:
    done = subprocess.run(
        ["sh", "-c", '"$0" ce --csv - -q <&-', _cecli()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "cecli: error: '-' reads from standard input, but there is none"
    ]


# --- class names, and every row skipped ---------------------------------------------------------


@pytest.mark.parametrize(("text", "position"), [("a,,b", 2), ("a,", 2), (",a", 1)])
def test_empty_class_names_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, position: int
) -> None:
    with pytest.raises(InputError, match=f"class {position} has an empty name"):
        parse_class_names(text)
    path = _write(tmp_path, "f.csv", "label,p0,p1\na,0.9,0.1\n")
    assert _error(capsys, "ce", "--csv", path, "--classes", text) == (
        f"cecli: error: --classes: class {position} has an empty name"
    )


def test_class_names_apart_by_spaces_or_brackets_still_read() -> None:
    assert parse_class_names("[a, b]") == ("a", "b")
    assert parse_class_names(" a  b ") == ("a", "b")


def test_every_row_skipped_says_how_many_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "f.csv", "label,p0,p1\n0,x,0.1\n1,y,0.2\n")
    assert _error(capsys, "ce", "--csv", path, "--skip-invalid") == (
        f"cecli: error: {path}: no rows to score: all 2 records were invalid and skipped "
        f"(first: {path}:2:2: 'x' is not a number)"
    )


def _parquet_with_bytes(path: Path, columns: dict[str, list[Any]]) -> Path:
    import polars as pl

    pl.DataFrame(
        [
            pl.Series(name, values, dtype=pl.Binary if isinstance(values[0], bytes) else None)
            for name, values in columns.items()
        ]
    ).write_parquet(path)
    return path


def test_parquet_bytes_that_are_not_utf8_name_their_row_and_column(tmp_path: Path) -> None:
    path = _parquet_with_bytes(
        tmp_path / "ids.parquet",
        {"id": [b"a", b"\xff\xfe"], "label": [0, 1], "p0": [0.7, 0.2], "p1": [0.3, 0.8]},
    )
    code, out, err = run("ce", "--parquet", str(path), "-q")
    assert (code, out) == (2, "")
    assert err == f"cecli: error: {path}:row 2, column id: bytes that are not UTF-8 text\n"


def test_parquet_class_names_stored_as_bytes_read_as_text(tmp_path: Path) -> None:
    path = _parquet_with_bytes(
        tmp_path / "names.parquet",
        {"id": [b"a", b"b"], "label": [b"p1", b"p0"], "p0": [0.7, 0.2], "p1": [0.3, 0.8]},
    )
    code, out, _ = run("ce", "--parquet", str(path), "--reduction", "none", "-o", "-")
    assert code == 0
    rows = [line.split(",") for line in out.splitlines()]
    assert rows[0] == ["id", "loss"]
    assert [row[0] for row in rows[1:]] == ["a", "b"]
    for (_, loss), p in zip(rows[1:], ["0.3", "0.2"], strict=True):
        assert abs(mpf(loss) + mp.log(mpf(p))) <= mpf(2) ** -52 * abs(mp.log(mpf(p)))


def test_a_rejected_parquet_row_keeps_bytes_that_are_not_utf8_escaped(tmp_path: Path) -> None:
    path = _parquet_with_bytes(
        tmp_path / "blob.parquet",
        {"blob": [b"\xff", b"c\xfe"], "label": [0, 1], "p0": [0.7, 1.5], "p1": [0.3, 0.1]},
    )
    rejects = tmp_path / "rejects.csv"
    code, _, _ = run(
        "ce", "--parquet", str(path), "--skip-invalid", "--rejects", str(rejects), "-q"
    )
    assert code == 0
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line,reason,blob,label,p0,p1"
    assert lines[1].startswith("2,")
    assert lines[1].endswith(",c\\xfe,1,1.5,0.1")


@pytest.mark.parametrize("skip", [[], ["--skip-invalid"]])
def test_a_quote_never_closed_is_an_error_not_one_skipped_row(
    tmp_path: Path, skip: list[str]
) -> None:
    """The rest of the file read as one quoted field: under --skip-invalid its three
    records were one skipped row, two of them lost without a word."""
    path = tmp_path / "t.csv"
    path.write_bytes(b'label,p0,p1\n0,0.3,0.7\n1,"0.4,0.6\n0,0.3,0.7\n1,0.2,0.8\n')
    code, out, err = run("ce", "--csv", str(path), *skip, "-q")
    assert (code, out) == (2, "")
    assert err == (
        f"cecli: error: {path}:3:2: a quote opens this field and is never closed; the records "
        "after it cannot be told apart\n"
    )


def test_a_quoted_field_closed_at_the_end_of_the_file_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(b'label,p0,p1\n0,0.3,0.7\n1,"0.4",0.6')  # no final line break
    code, out, _ = run("ce", "--csv", str(path), "-q")
    assert code == 0
    expected = -(mp.log(mpf("0.3")) + mp.log(mpf("0.6"))) / 2
    assert abs(mpf(out.strip()) - expected) <= mpf(2) ** -52 * expected


def test_a_line_that_is_not_utf8_is_named_in_a_column_not_read(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"label,p0,p1,note\n0,0.3,0.7,a\n1,0.4,0.6,caf\xe9\n")
    code, out, err = run("ce", "--csv", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f"cecli: error: {path}:3: the line is not UTF-8 text (Latin-1 or another encoding?); "
        "save the file as UTF-8\n"
    )


@pytest.mark.parametrize(
    ("record", "column"),
    [
        (b'"x,1\n0,0.3,0.7\n', 1),
        (b'1,0.2,"a\n', 3),
        (b'1,"a ""quoted"" b",0.7,"open', 4),
        (b'1,"closed\nline",x"y,"open""still', 4),
    ],
)
def test_the_field_a_quote_is_left_open_in(record: bytes, column: int) -> None:
    from cecli.files import _open_field

    assert _open_field(record, ",") == column


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_one_class_with_a_label_column_of_indices_is_scored(tmp_path: Path, kind: str) -> None:
    """Index 0 of the one class was read as a target probability of 0: every row scored 0."""
    import polars as pl

    frame = pl.DataFrame({"label": [0, 0], "p0": [0.7, 0.9]})
    path = tmp_path / f"one.{kind}"
    frame.write_csv(path) if kind == "csv" else frame.write_parquet(path)
    code, out, _ = run("ce", f"--{kind}", str(path), "-q")
    assert code == 0
    expected = -(mp.log(mpf("0.7")) + mp.log(mpf("0.9"))) / 2
    assert abs(mpf(out.strip()) - expected) <= mpf(2) ** -52 * expected
