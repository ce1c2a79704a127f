"""Prediction columns named ``logit_<class>`` hold logits: read so, and said once, unless the
caller chose how to read them."""

from __future__ import annotations

from pathlib import Path

import pytest
from mpmath import mpf

import cecli
from cecli.cli import main
from cecli.inputs import InputError
from tests import oracle
from tests.helpers import assert_close, run

# Logits well outside [0, 1], negative ones too; labels are class names.
LOGITS = (
    "id,label,logit_cat,logit_dog,logit_bird\n"
    "a,cat,2.5,-1.25,0.5\nb,bird,-3,4,1.5\nc,dog,0,7.75,-2\n"
)
ROWS = [[2.5, -1.25, 0.5], [-3.0, 4.0, 1.5], [0.0, 7.75, -2.0]]
TARGETS = [0, 2, 1]  # cat, bird, dog


def _file(tmp_path: Path, text: str = LOGITS) -> str:
    path = tmp_path / "logits.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_logit_columns_are_read_as_logits(tmp_path: Path) -> None:
    summary = cecli.score_file(_file(tmp_path), "ce", per_class=True)
    expected, per_row = oracle.ce(oracle.one_hot(TARGETS, 3), ROWS, logits=True)
    assert_close(summary.loss, expected)
    assert_close(summary.row_max, max(per_row))
    notes = " | ".join(summary.notes)
    assert "logit_cat, logit_dog, logit_bird hold logits" in notes
    # The mean probability of the true class is the softmax's.
    softmax = [oracle.softmax(row)[t] for row, t in zip(ROWS, TARGETS, strict=True)]
    assert summary.accuracy is not None
    assert_close(summary.accuracy.mean_p_true, sum(softmax, mpf(0)) / 3)
    # Top-1: row a's arg-max is cat (right), b's dog (wrong), c's dog (right).
    assert summary.accuracy.accuracy == 2 / 3


def test_binary_losses_read_logit_columns_through_the_sigmoid(tmp_path: Path) -> None:
    text = "y_a,y_b,logit_a,logit_b\n1,0,3.5,-0.25\n0,1,-6,2\n"
    summary = cecli.score_file(_file(tmp_path, text), "multilabel", label_cols="y_*")
    expected, *_ = oracle.multilabel([[1, 0], [0, 1]], [[3.5, -0.25], [-6.0, 2.0]], logits=True)
    assert_close(summary.loss, expected)


def test_a_choice_given_wins_over_the_column_names(tmp_path: Path) -> None:
    path = _file(tmp_path)
    with pytest.raises(InputError, match="is not a probability in"):
        cecli.score_file(path, "ce", logits=False)
    explicit = cecli.score_file(path, "ce", logits=True)
    assert not any("hold logits" in note for note in explicit.notes)
    # Columns chosen by name are not guessed about.
    text = "label,logit_0,logit_1\n0,0.25,0.75\n1,0.5,0.5\n"
    chosen = cecli.score_file(_file(tmp_path, text), "ce", pred_cols="logit_*")
    assert_close(chosen.loss, oracle.ce(oracle.one_hot([0, 1], 2), [[0.25, 0.75], [0.5, 0.5]])[0])


def test_the_command_line_says_it_once_and_scores_logits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path)
    assert main(["ce", "--csv", path, "-q", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("hold logits") == 1
    assert_close(float(captured.out), oracle.ce(oracle.one_hot(TARGETS, 3), ROWS, logits=True)[0])
    # --logits given: the same value, and nothing to say about it.
    code, out, err = run("ce", "--csv", path, "--logits", "-q", "--no-progress")
    assert code == 0
    assert "hold logits" not in err
    assert out == captured.out


def test_grad_probs_keeps_logit_columns_as_probabilities(tmp_path: Path) -> None:
    code, out, err = run("grad", "--csv", _file(tmp_path), "--probs", "--no-progress")
    assert code == 2
    assert "is not a probability in [0, 1]" in err
    assert out == ""
