"""A file scored from logits says nothing of clipping or of rows summing to 1 in its
summary table (from logits nothing is clipped and a row need not sum to 1); its JSON keeps
the keys, 0, for scripts that read them whatever the input."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import cecli
from cecli import render
from tests.helpers import run

CLIPPED = "clipped predictions"
SUMS = "rows not summing to 1"
LOGITS = "sample_data/logits.csv"


def _write(tmp_path: Path, text: str, name: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _table(*args: str) -> str:
    code, out, err = run(*args, "--no-progress")
    assert code == 0, err
    assert "per-row max" in out  # the summary table was printed
    return out


def _json(*args: str) -> dict[str, Any]:
    code, out, err = run(*args, "--no-progress", "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def test_logits_given_by_the_flag_leave_both_lines_out() -> None:
    args = ("ce", "--csv", LOGITS, "--logits", "--pred-cols", "z*")
    out = _table(*args)
    assert CLIPPED not in out
    assert SUMS not in out
    document = _json(*args)
    assert (document["clipped"], document["clipped_terms"], document["unnormalized_rows"]) == (
        0,
        0,
        0,
    )


def test_the_same_file_read_as_probabilities_keeps_both_lines(tmp_path: Path) -> None:
    # z2 = 2.0 is no probability: the probabilities here are the rows' softmax, rounded.
    path = _write(tmp_path, "label,p0,p1,p2\n0,0.6,0.3,0.1\n2,0.1,0.3,0.5\n", "probs.csv")
    out = _table("ce", "--csv", path)
    assert CLIPPED in out
    assert SUMS in out


def test_logit_columns_read_by_their_names_leave_both_lines_out(tmp_path: Path) -> None:
    path = _write(tmp_path, "label,logit_cat,logit_dog\ncat,2.5,-1\ndog,0.25,0.5\n", "named.csv")
    for loss in ("ce", "focal", "smooth"):
        out = _table(loss, "--csv", path)
        assert CLIPPED not in out
        assert SUMS not in out
    summary = cecli.score_file(path, "ce")
    stream = io.StringIO()
    render.emit_summary(summary, "table", stream, io.StringIO())
    assert CLIPPED not in stream.getvalue()
    assert summary.to_json()["unnormalized_rows"] == 0


@pytest.mark.parametrize("loss", [["bce"], ["multilabel"], ["focal", "--binary"]])
def test_binary_losses_from_logits_leave_the_clipping_line_out(
    tmp_path: Path, loss: list[str]
) -> None:
    path = _write(tmp_path, "y0,y1,z0,z1\n1,0,3.5,-2\n0,1,-40,40\n", "binary.csv")
    out = _table(*loss, "--csv", path, "--pred-cols", "z*", "--logits")
    assert CLIPPED not in out
    # From probabilities (these are in [0, 1]) the line is there.
    probs = _write(tmp_path, "y0,y1,p0,p1\n1,0,0.9,0\n0,1,0.5,0.5\n", "binary_p.csv")
    out = _table(*loss, "--csv", probs, "--pred-cols", "p*")
    assert CLIPPED in out


def test_grad_reads_probabilities_unless_told_logits(tmp_path: Path) -> None:
    path = _write(tmp_path, "label,z0,z1\n0,0.75,0.25\n1,0.5,0.5\n", "grad.csv")
    assert CLIPPED in _table("grad", "--csv", path, "--pred-cols", "z*")
    out = _table("grad", "--csv", path, "--pred-cols", "z*", "--logits")
    assert CLIPPED not in out
    assert SUMS not in out


def test_an_input_of_probabilities_among_logit_inputs_keeps_the_lines(tmp_path: Path) -> None:
    logits = _write(tmp_path, "label,logit_a,logit_b\na,1,2\nb,0,3\n", "logits.csv")
    # Row 2's true class has p = 0: clipped, and its term changed.
    probs = _write(tmp_path, "label,p_a,p_b\na,0.5,0.5\nb,1,0\n", "probs.csv")
    out = _table("ce", "--csv", logits, "--csv", probs)
    line = next(line for line in out.splitlines() if CLIPPED in line)
    assert line.split()[-1] == "1"
    assert SUMS in out
    out = _table("ce", "--csv", logits, "--csv", logits, "--by-file")
    assert CLIPPED not in out
    assert SUMS not in out
