"""What a file's summary says in words: clipped predictions that changed a term, the reasons
for skipped rows and how many more, ragged records like any other bad record, and the loss's
reduction named as it was made."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from mpmath import mp, mpf

import cecli
from cecli.cli import main
from cecli.inputs import InputError
from tests.helpers import assert_close


def _write(tmp_path: Path, text: str, name: str = "rows.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = _run(capsys, *args, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def _summary_row(out: str, words: str) -> str:
    """The value on the summary table's line that starts with ``words``."""
    line = next(line for line in out.splitlines() if line.strip().startswith(words))
    return line.split()[-1]


# --- clipped predictions that changed a term ----------------------------------------------

# Row 1: p = 0 for class 1, which is not the true class: clipped, but its term is 0 · log p
# either way.  Row 2: the true class has p = 0 and class 0 has p = 1: both clipped, only the
# true class's term changes.  Row 3: nothing clipped.
CLIPPED = "label,p0,p1,p2\n0,0.5,0,0.5\n2,1,0,0\n1,0.2,0.5,0.3\n"


@pytest.mark.parametrize("labels", ["index", "one-hot"])
def test_clipped_predictions_count_only_the_clips_that_changed_a_term(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], labels: str
) -> None:
    text = CLIPPED
    extra: tuple[str, ...] = ()
    if labels == "one-hot":  # the full computation, not the true-class shortcut
        text = "y0,y1,y2,p0,p1,p2\n1,0,0,0.5,0,0.5\n0,0,1,1,0,0\n0,1,0,0.2,0.5,0.3\n"
        extra = ("--label-cols", "y*", "--pred-cols", "p*")
    path = _write(tmp_path, text)
    document = _json(capsys, "ce", "--csv", path, *extra)
    # Counted by hand from the rows above: four values outside [eps, 1 - eps], one of them
    # the true class's.
    assert document["clipped"] == 4
    assert document["clipped_terms"] == 1
    code, out, _ = _run(capsys, "ce", "--csv", path, *extra)
    assert code == 0
    assert _summary_row(out, "clipped predictions (that changed a term)") == "1"


def test_every_clip_of_a_binary_output_changes_its_term(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # y = 0 and p = 0: the term is -log(1 - p), which clipping p to eps changes.
    path = _write(tmp_path, "y0,y1,p0,p1\n0,1,0,1\n1,0,0.5,0.5\n")
    document = _json(capsys, "multilabel", "--csv", path)
    assert (document["clipped"], document["clipped_terms"]) == (2, 2)


def test_kl_counts_a_clipped_q_only_where_p_is_not_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # q = 0 where p = 0 adds 0 · log(0 / q) = 0; q = 0 where p = 0.5 is a term.
    path = _write(tmp_path, "y0,y1,y2,p0,p1,p2\n0.5,0.5,0,0.5,0.5,0\n0.5,0.5,0,1,0,0\n")
    document = _json(capsys, "kl", "--csv", path)
    assert (document["clipped"], document["clipped_terms"]) == (4, 2)


# --- skipped rows: the first reasons and how many more ------------------------------------


def test_skipped_reasons_list_the_first_and_say_how_many_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "label,p0,p1\n0,0.3,0.7\n" + "0,x,0.7\n" * 9)
    code, _, err = _run(capsys, "ce", "--csv", path, "--skip-invalid", "-q")
    assert code == 0
    lines = err.splitlines()
    assert lines[0] == "cecli: warning: skipped 9 invalid row(s) (--skip-invalid):"
    assert lines[1:6] == [f"  {path}:{line}:2: 'x' is not a number" for line in range(3, 8)]
    assert lines[6:] == ["  … and 4 more"]


# --- ragged records -----------------------------------------------------------------------

RAGGED = 'label,p0,p1\n0,0.5,0.5\n1,0.3,0.7\n0,0.2,0.8,9\n1,0.4\n1,x,0.5\n0,0.9,0.1\n0,"0.5",0.5,\n'


def test_a_ragged_record_is_skipped_counted_and_rejected_like_any_other(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, RAGGED)
    found: list[Any] = []
    summary = cecli.score_file(path, "ce", skip_invalid=True, on_rejects=found.append)
    assert (summary.rows, summary.skipped) == (3, 4)
    assert_close(summary.loss, mp.fsum(-mp.log(mpf(p)) for p in ("0.5", "0.7", "0.9")) / 3)
    assert summary.skipped_reasons == (
        f"{path}:4: 4 fields, but the header has 3",
        f"{path}:5: 2 fields, but the header has 3",
        f"{path}:6:2: 'x' is not a number",
        f"{path}:8: 4 fields, but the header has 3",
    )
    from cecli import render

    stream = io.StringIO()
    render.write_rejects(stream, found[0])
    rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert rows == [
        ["line", "reason", "label", "p0", "p1"],
        ["4", "record: 4 fields, but the header has 3", "0", "0.2", "0.8", "9"],
        ["5", "record: 2 fields, but the header has 3", "1", "0.4"],
        ["6", "p0: 'x' is not a number", "1", "x", "0.5"],
        ["8", "record: 4 fields, but the header has 3", "0", "0.5", "0.5", ""],
    ]


@pytest.mark.parametrize(
    ("text", "first"),
    [
        # A ragged line 5 before a non-number on line 9.
        ("label,p0,p1\n" + "0,0.5,0.5\n" * 3 + "0,0.5,0.5,1\n" + "0,0.5,0.5\n" * 3 + "0,y,1\n",
         "rows.csv:5: 4 fields, but the header has 3"),
        # A non-number on line 3 before a ragged line 9.
        ("label,p0,p1\n0,0.5,0.5\n0,y,1\n" + "0,0.5,0.5\n" * 5 + "0,0.5,0.5,1\n",
         "rows.csv:3:2: 'y' is not a number"),
        # A short line before a non-number.
        ("label,p0,p1\n0,0.5,0.5\n0,0.5\n0,y,1\n", "rows.csv:3: 2 fields, but the header has 3"),
    ],
)  # fmt: skip
def test_the_error_is_the_first_bad_record_in_file_order(
    tmp_path: Path, text: str, first: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        cecli.score_file(path, "ce")
    assert str(caught.value) == f"{tmp_path}/{first}"


def test_ragged_records_in_small_blocks_keep_their_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 40)
    rows = ["0,0.5,0.5"] * 30
    rows[11] = "0,0.5,0.5,1,2"
    rows[23] = "1"
    path = _write(tmp_path, "label,p0,p1\n" + "\n".join(rows) + "\n")
    summary = cecli.score_file(path, "ce", skip_invalid=True)
    assert (summary.rows, summary.skipped) == (28, 2)
    assert summary.skipped_reasons == (
        f"{path}:13: 5 fields, but the header has 3",
        f"{path}:25: 1 fields, but the header has 3",
    )


# --- the loss's words ---------------------------------------------------------------------


def test_weights_make_the_loss_a_weighted_mean_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "label,weight,p0,p1\n0,1,0.5,0.5\n1,3,0.2,0.8\n")
    code, out, _ = _run(capsys, "ce", "--csv", path)
    assert code == 0
    expected = (-mp.log(mpf("0.5")) - 3 * mp.log(mpf("0.8"))) / 4
    assert_close(float(_summary_row(out, "loss (weighted mean)")), expected, rel=1e-6)
    code, out, _ = _run(capsys, "ce", "--csv", path, "--weight-col", "weight", "--reduction", "sum")
    assert "loss (weighted sum)" in out


def test_no_loss_none_line_the_per_row_summary_shows_the_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "label,p0,p1\n0,0.5,0.5\n1,0.2,0.8\n")
    output = str(tmp_path / "rows.out.csv")
    code, out, err = _run(capsys, "ce", "--csv", path, "--reduction", "none", "--output", output)
    assert code == 0, err
    assert "loss (none)" not in out
    expected = (-mp.log(mpf("0.5")) - mp.log(mpf("0.8"))) / 2
    assert_close(float(_summary_row(out, "loss (mean)")), expected, rel=1e-6)


@pytest.mark.parametrize(
    "loss", [["multilabel"], ["bce"], ["focal", "--binary"], ["grad", "--sigmoid"]]
)
def test_independent_outputs_never_show_rows_not_summing_to_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], loss: list[str]
) -> None:
    path = _write(tmp_path, "y0,y1,p0,p1\n1,1,0.9,0.8\n0,1,0.1,0.3\n")
    code, out, err = _run(capsys, *loss, "--csv", path)
    assert code == 0, err
    assert "rows not summing to 1" not in out
    assert "sum to 1" not in err
    # One class per row: the rows are distributions, and the table says how many are not.
    code, out, _ = _run(capsys, "ce", "--csv", _write(tmp_path, "label,p0,p1\n0,0.5,0.5\n"))
    assert _summary_row(out, "rows not summing to 1") == "0"
