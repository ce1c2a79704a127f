"""The command line's flags for framework parity: each is a library keyword, parsed and passed.

The values themselves are checked against the oracle in ``tests/test_losses.py`` and against
the libraries in ``tests/frameworks``; here the flags reach them, and bad uses are one line.
"""

from __future__ import annotations

import json

import pytest

import cecli
from cecli.cli import main

P3 = "0.7,0.2,0.1;0.1,0.1,0.8;0.3,0.4,0.3"
P3_ROWS = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]]
INF = float("inf")


def _quiet(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main([*args, "-q"]) == 0, capsys.readouterr().err
    return capsys.readouterr().out.strip()


@pytest.mark.parametrize(
    ("args", "library_value"),
    [
        (["ce", "0;2;1", P3, "--sample-weights", "1.2;3.4;0"],
         lambda: cecli.ce([0, 2, 1], P3_ROWS, sample_weights=[1.2, 3.4, 0.0]).loss),
        (["ce", "0;2;1", P3, "--sample-weights", "2"],
         lambda: cecli.ce([0, 2, 1], P3_ROWS, sample_weights=2.0).loss),
        (["ce", "0;-100;1", P3, "--ignore-index", "-100"],
         lambda: cecli.ce([0, -100, 1], P3_ROWS, ignore_index=-100).loss),
        (["ce", "0;1", "0.5,0.5;0.2,0.8", "--ignore-index", "0"],  # 0 is an index, not "off"
         lambda: cecli.ce([0, 1], [[0.5, 0.5], [0.2, 0.8]], ignore_index=0).loss),
        (["smooth", "0;-1;1", P3, "--ignore-index", "-1"],
         lambda: cecli.smooth([0, -1, 1], P3_ROWS, ignore_index=-1).loss),
        (["focal", "0;2;1", P3, "--smoothing", "0.2", "--ignore-index", "2"],
         lambda: cecli.focal([0, 2, 1], P3_ROWS, smoothing=0.2, ignore_index=2).loss),
        (["ce", "1", "-inf,1,2", "--logits"],
         lambda: cecli.ce([1], [[-INF, 1.0, 2.0]], logits=True).loss),
        (["bce", "1,0", "0.9,0.2", "--weights", "2,0.5"],
         lambda: cecli.bce([[1, 0]], [[0.9, 0.2]], weights=[2.0, 0.5]).loss),
        (["multilabel", "1,0", "0.9,0.2", "--weights", "2,0.5"],
         lambda: cecli.multilabel([[1, 0]], [[0.9, 0.2]], weights=[2.0, 0.5]).loss),
        (["kl", "-0.5,-inf", "0.6,0.4", "--log-targets"],
         lambda: cecli.kl([[-0.5, -INF]], [[0.6, 0.4]], log_targets=True).loss),
        (["kl", "1,2", "0.5,3", "--generalized"],
         lambda: cecli.kl([[1.0, 2.0]], [[0.5, 3.0]], generalized=True).loss),
    ],
)  # fmt: skip
def test_each_flag_is_the_library_keyword(
    capsys: pytest.CaptureFixture[str], args: list[str], library_value: object
) -> None:
    assert callable(library_value)
    assert float(_quiet(capsys, *args)) == library_value()


def test_like_tf_keras_and_the_weighted_keras_call(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["ce", "0;2;1", P3, "--sample-weights", "1.2;3.4;0", "--like", "keras", "--json"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["call"].endswith("sample_weight=np.array([1.2, 3.4, 0.0]))")
    assert any("÷ N" in note for note in document["conventions"])
    assert main(["ce", "0", "0.7,0.3", "--like", "tf-keras", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["library"] == "tf-keras"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ce", "0", "-inf,1"], "PREDS row 1, value 1: '-inf' is not a finite number"),
        (["ce", "0", "inf,1", "--logits"], "PREDS row 1, value 1: 'inf' is not a finite number"),
        (["ce", "0", "-inf,-inf", "--logits"], "every logit is -inf"),
        (["ce", "0;1", "0.5,0.5;0.5,0.5", "--sample-weights", "0;0"],
         "the --sample-weights sum to 0"),
        (["grad", "0;1", "0.5,0.5;0.5,0.5", "--sample-weights", "0;0"],
         "the --sample-weights sum to 0"),
        (["ce", "0;1", "0.5,0.5;0.5,0.5", "--sample-weights", "1;0", "--ignore-index", "0"],
         "the --sample-weights of the rows not ignored (--ignore-index) sum to 0"),
        (["ce", "0;1", "0.5,0.5;0.5,0.5", "--sample-weights", "1;2;3"],
         "--sample-weights has 3 values, but PREDS has 2 rows"),
        (["ce", "-1;-1", "0.5,0.5;0.5,0.5", "--ignore-index", "-1"],
         "every row is ignored (--ignore-index)"),
        (["ce", "0;1", "0.5,0.5;0.5,0.5", "--ignore-index", "0", "--like", "sklearn"],
         "leave those rows"),
        (["bce", "1", "0", "--ignore-index", "0"], "no such option: --ignore-index"),
        (["ce", "0;1", "0.5,0.5;0.5,0.5", "--sample-weights", "1;2", "--like", "torch"],
         "--sample-weights has no counterpart"),
        (["kl", "0.5,0.5", "0.6,0.4", "--log-targets"], "0.5 is not a log-probability"),
        (["ce", "--csv", "sample_data/iris3_index.csv", "--sample-weights", "2"], "--weight-col"),
        (["ce", "--csv", "sample_data/iris3_index.csv", "--ignore-index", "99999999999999999999"],
         "--ignore-index must be within ±2**53"),
    ],
)  # fmt: skip
def test_bad_uses_are_one_error_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cecli: error: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "side_b"),
    [
        (["focal", "0", "0.9,0.1", "--vs", "0.6,0.4", "--smoothing", "0.1"],
         lambda: cecli.focal([0], [[0.6, 0.4]], smoothing=0.1).loss),
        (["ce", "0;1", "0.9,0.1;0.2,0.8", "--vs", "0.6,0.4;0.5,0.5", "--sample-weights", "1;2"],
         lambda: cecli.ce([0, 1], [[0.6, 0.4], [0.5, 0.5]], sample_weights=[1.0, 2.0]).loss),
        (["ce", "0;1", "0.9,0.1;0.2,0.8", "--vs", "0.6,0.4;0.5,0.5", "--ignore-index", "0"],
         lambda: cecli.ce([0, 1], [[0.6, 0.4], [0.5, 0.5]], ignore_index=0).loss),
        (["kl", "-0.5,-1", "0.6,0.4", "--vs", "0.5,0.5", "--log-targets"],
         lambda: cecli.kl([[-0.5, -1.0]], [[0.5, 0.5]], log_targets=True).loss),
    ],
)  # fmt: skip
def test_vs_scores_both_with_the_new_keywords(
    capsys: pytest.CaptureFixture[str], args: list[str], side_b: object
) -> None:
    """Both sides carry the keywords (the ∂L/∂z column is left out where its closed form
    does not include them, as for class weights); a regression: these raised a TypeError
    or a ValueError with a traceback."""
    assert callable(side_b)
    assert main([*args, "-q"]) == 0, capsys.readouterr().err
    _, second = capsys.readouterr().out.split()
    assert float(second) == side_b()
