"""Every kind of bad input: exit code 2, one line on stderr, nothing on stdout."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cecli.cli import main

runner = CliRunner()

INPUT_ERRORS = [
    (["ce", "0", "0.1,abc"], "PREDS row 1, value 2: 'abc' is not a number"),
    (["ce", "0;1", "0.5,0.5;0.5"], "PREDS row 2 has 1 value, but row 1 has 2 values"),
    (["ce", "1,0", "0.1,0.6,0.3"], "LABELS has 1 row of 2 values but PREDS has 1 row of 3 values"),
    (["ce", "0,2,1", "0.7,0.2,0.1;0.1,0.1,0.8;0.3,0.4,0.3"], '"0;2;1"'),
    (["ce", "0", "0.1,1.5"], "PREDS row 1, value 2: 1.5 is not a probability in [0, 1]"),
    (["bce", "1", "-0.5"], "PREDS row 1, value 1: -0.5 is not a probability in [0, 1]"),
    (["ce", "0", "nan,0.5"], "PREDS row 1, value 1: 'nan' is not a finite number"),
    (["ce", "0", "0.5,inf", "--logits"], "PREDS row 1, value 2: 'inf' is not a finite number"),
    (["ce", "0", ""], "PREDS is empty"),
    (["ce", "", "0.5,0.5"], "LABELS is empty"),
    (["ce", "2", "0.5,0.5"], "LABELS row 1: class index 2 is out of range 0 to 1"),
    (["ce", "-1", "0.5,0.5"], "LABELS row 1: class index -1 is out of range 0 to 1"),
    (["ce", "0", "0.5,0.5", "--eps", "0.5"], "--eps must be in [0, 0.5), got 0.5"),
    (["ce", "0", "0.5,0.5", "--eps", "-1e-9"], "--eps must be in [0, 0.5)"),
    (["focal", "0", "0.5,0.5", "--gamma", "-1"], "--gamma must be in [0, ∞), got -1"),
    (["smooth", "0", "0.5,0.5", "--smoothing", "1.5"], "--smoothing must be in [0, 1], got 1.5"),
    (["ce", "0", "0.5,0.5", "--smoothing", "-0.1"], "--smoothing must be in [0, 1]"),
    (["focal", "1", "0.5", "--binary", "--alpha", "2"], "--alpha must be in [0, 1], got 2"),
    (["ce", "0", "0.5,0.5", "--base", "3"], "--base must be e, 2 or 10"),
    (["ce", "0", "0.5,0.5", "--reduction", "avg"], "--reduction must be mean, sum or none"),
    (
        ["ce", "0", "0.5,0.5", "--weights", "1,2,3"],
        "--weights has 3 values, but PREDS has 2 classes",
    ),
    (["ce", "0", "0.5,0.5", "--weights", "1,-2"], "--weights value 2: -2 is not a finite weight"),
    (["ce", "0", "0.5,0.5", "--classes", "a,b,c"], "--classes names 3 classes, but PREDS has 2"),
    (
        ["ce", "rose", "0.5,0.5", "--classes", "a,b"],
        "'rose' is not a number nor one of the classes",
    ),
    (["ce", "0", "0.5,0.5", "--json", "-q"], "use either --json or --quiet, not both"),
    (["ce", "-", "-"], "only one of LABELS and PREDS can be '-'"),
    (["kl", "0.5,0.5", "0,0", "--normalize"], "PREDS row 1 sums to 0 and cannot be normalised"),
    (["multilabel", "1,0", "0.5,0.5", "--neg-weight", "-1"], "--neg-weight must be in [0, ∞)"),
]


@pytest.mark.parametrize(
    ("args", "message"), INPUT_ERRORS, ids=[" ".join(a) for a, _ in INPUT_ERRORS]
)
def test_input_errors_through_main(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert message in captured.err


USAGE_ERRORS = [
    (["ce", "0"], "missing PREDS (or score a file with --csv FILE)"),
    (["nope"], "no such command 'nope'."),
    (["ce", "0", "0.5,0.5", "--eps", "x"], "--eps: 'x' is not a number"),
    (["ce", "0", "0.5,0.5", "--gama", "3"], "no such option: --gama"),
    (["focal", "0", "0.5,0.5", "--gama", "3"], "no such option: --gama (did you mean --gamma?)"),
    (["ce", "0", "0.5,0.5", "0.1"], "unexpected extra argument(s): 0.1"),
    (["focal", "0", "0.5,0.5", "--gamma"], "requires an argument"),
]


@pytest.mark.parametrize(
    ("args", "message"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS]
)
def test_usage_errors_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cecli: error: ")
    assert captured.err.count("\n") == 1
    assert message in captured.err


def test_no_arguments_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([])
    captured = capsys.readouterr()
    assert code == 0
    assert "Usage: cecli" in captured.out + captured.err
    assert "Traceback" not in captured.err
