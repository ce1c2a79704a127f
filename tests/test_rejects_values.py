"""The rejects file words a skipped field's reason as the error line does: its value as
written (quoted, or ``an empty value``) and what is wrong with it; reasons about a whole
record (too many or too few fields, an id in one of two files only) are unchanged."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest

import cecli
from cecli import render
from cecli.batch import Rejected
from cecli.inputs import InputError
from tests.helpers import run

# Line 3: an empty field; 4: not a number; 5: nan, read and refused; 6: a short record;
# 7: a probability above 1; 8: a label that is no class (the header is line 1).
ROWS = "label,p0,p1\n0,0.5,0.5\n1,  ,0.5\n1,abc,0.5\n0,nan,0.5\n1,0.5\n0,0.5,1.5\n7,0.25,0.75\n"


def _rejects(found: list[Rejected]) -> list[list[str]]:
    stream = io.StringIO()
    render.write_rejects(stream, found[0])
    return list(csv.reader(io.StringIO(stream.getvalue())))


def _error_of_line(path: Path, line: int) -> str:
    """The error a run without skipping gives when ``line`` is the file's only bad one."""
    header, good, *_ = lines = path.read_text(encoding="utf-8").splitlines()
    alone = path.with_name(f"alone-{line}.csv")
    alone.write_text("\n".join([header, *[good] * (line - 2), lines[line - 1]]) + "\n")
    with pytest.raises(InputError) as caught:
        cecli.score_file(alone, "ce")
    return str(caught.value).removeprefix(f"{alone}:")


def test_a_fields_reason_holds_its_value_as_the_error_line_words_it(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(ROWS, encoding="utf-8")
    found: list[Rejected] = []
    summary = cecli.score_file(path, "ce", skip_invalid=True, on_rejects=found.append)
    assert summary.skipped == 6
    rows = _rejects(found)
    assert rows[0] == ["line", "reason", "label", "p0", "p1"]
    assert rows[1:] == [
        ["3", "p0: an empty value is not a number", "1", "  ", "0.5"],
        ["4", "p0: 'abc' is not a number", "1", "abc", "0.5"],
        ["5", "p0: 'nan' is not a finite number", "0", "nan", "0.5"],
        ["6", "record: 2 fields, but the header has 3", "1", "0.5"],
        ["7", "p1: '1.5' is not a probability in [0, 1]; for raw scores use logits=True",
         "0", "0.5", "1.5"],
        ["8", "label: '7' is not a class index 0 to 1 (nor a class name)", "7", "0.25", "0.75"],
    ]  # fmt: skip
    # The same words as the error that stops a run on that line alone (after its place).
    for line, column in ((3, 2), (4, 2), (5, 2), (7, 3), (8, 1)):
        reason = next(reason for number, reason, *_ in rows[1:] if number == str(line))
        error = _error_of_line(path, line)
        assert error.startswith(f"{line}:{column}: ")
        assert reason.split(": ", 1)[1] == error.removeprefix(f"{line}:{column}: ")


def _command_line_rejects(tmp_path: Path, rows: str) -> tuple[Path, str, str]:
    """``cecli ce --csv`` of ``rows`` with skipping: the file, its stderr and its rejects."""
    path, rejects = tmp_path / "rows.csv", tmp_path / "rejects.csv"
    path.write_text(rows, encoding="utf-8")
    code, _, err = run(
        "ce", "--csv", str(path), "--skip-invalid", "--rejects", str(rejects), "-q"
    )  # fmt: skip
    assert code == 0
    return path, err, rejects.read_text(encoding="utf-8")


def test_the_command_lines_rejects_file_holds_the_value(tmp_path: Path) -> None:
    path, err, written = _command_line_rejects(tmp_path, "label,p0,p1\n0,0.5,0.5\n1,0.2,x y\n")
    assert f"{path}:3:3: 'x y' is not a number" in err
    assert written.splitlines()[1] == ("3,p1: 'x y' is not a number,1,0.2,x y")


def test_parquet_values_and_nulls_are_worded_as_the_error_words_them(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    frame = pl.DataFrame({"label": [0, 1, 1], "p0": [0.5, None, 1.5], "p1": [0.5, 0.5, 0.5]})
    frame.write_parquet(path)
    found: list[Rejected] = []
    cecli.score_file(path, "ce", skip_invalid=True, on_rejects=found.append)
    rows = _rejects(found)
    assert [row[:2] for row in rows[1:]] == [
        ["2", "p0: an empty value is not a number"],
        ["3", "p0: '1.5' is not a probability in [0, 1]; for raw scores use logits=True"],
    ]
    with pytest.raises(InputError) as caught:
        cecli.score_file(path, "ce")
    assert str(caught.value) == f"{path}:row 2, column p0: an empty value is not a number"


def test_two_matched_files_word_the_value_and_keep_the_unmatched_reason(
    tmp_path: Path,
) -> None:
    labels, preds = tmp_path / "labels.csv", tmp_path / "preds.csv"
    labels.write_text("id,label\nimg1,0\nimg2,oops\nimg3,1\n", encoding="utf-8")
    preds.write_text("id,p0,p1\nimg3,0.5,-1\nimg1,0.5,0.5\nimg2,0.5,0.5\nimg9,0.5,0.5\n")
    found: list[Rejected] = []
    summary = cecli.score_file((labels, preds), "ce", skip_invalid=True, on_rejects=found.append)
    assert summary.skipped == 3
    rows = _rejects(found)
    assert rows[0] == ["line", "reason", "id", "label", "id", "p0", "p1"]
    unmatched = f"id: has no row in {labels} (rows are matched by column 'id')"
    assert rows[1:] == [
        ["3", "label: 'oops' is not a number nor a class name",
         "img2", "oops", "img2", "0.5", "0.5"],
        ["4", "p1: '-1' is not a probability in [0, 1]; for raw scores use logits=True",
         "img3", "1", "img3", "0.5", "-1"],
        ["5", unmatched, "", "", "img9", "0.5", "0.5"],
    ]  # fmt: skip


def test_the_command_lines_rejects_file_names_flags_as_its_warnings_do(tmp_path: Path) -> None:
    _, err, written = _command_line_rejects(tmp_path, "label,p0,p1\n0,0.5,0.5\n0,1.5,-0.5\n")
    assert "for raw scores use --logits" in err
    rows = list(csv.reader(io.StringIO(written)))
    assert rows[1] == [
        "3", "p0: '1.5' is not a probability in [0, 1]; for raw scores use --logits",
        "0", "1.5", "-0.5",
    ]  # fmt: skip


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rejected_text_at_a_terminal_is_shown_not_obeyed() -> None:
    """``--rejects /dev/stdout`` at a terminal wrote a field's escape codes raw; a file keeps
    them verbatim."""
    rejected = Rejected(["id", "p0"], iter([(3, "p0: 'abc' is not a number", ["a\x1b[2J", "abc"])]))
    shown = _Terminal()
    render.write_rejects(shown, rejected)
    assert "\x1b" not in shown.getvalue()
    assert "a\\x1b[2J" in shown.getvalue()
    kept = io.StringIO()
    render.write_rejects(kept, Rejected(["id"], iter([(3, "why", ["a\x1b[2J"])])))
    assert kept.getvalue() == "line,reason,id\n3,why,a\x1b[2J\n"
