"""--vs: two predictions for the same labels, side by side."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run, run_json


def test_equal_losses_different_gradients() -> None:
    code, out, _ = run("ce", "1,0,0,0,0", "0.1,0.5,0.1,0.1,0.2", "--vs", "0.1,0.6,0.1,0.1,0.1")
    assert code == 0
    assert "p (A)" in out
    assert "p (B)" in out
    assert (
        "The losses are equal (2.303 nats); the gradients w.r.t. the logits differ in 2 of 5" in out
    )


def test_json_and_quiet() -> None:
    document = run_json("ce", "0", "0.5,0.5", "--vs", "0.9,0.1")
    assert document["a"]["loss"] == pytest.approx(0.6931471805599453, rel=1e-15)
    assert document["b"]["loss"] == pytest.approx(0.10536051565782628, rel=1e-15)
    assert document["grad_b"][0] == pytest.approx([-0.1, 0.1], rel=1e-12)
    quiet = run("ce", "0", "0.5,0.5", "--vs", "0.9,0.1", "-q")[1].split()
    assert [float(v) for v in quiet] == [document["a"]["loss"], document["b"]["loss"]]


@pytest.mark.parametrize(
    ("command", "labels", "a", "b"),
    [
        ("bce", "1,0", "0.9,0.2", "0.6,0.4"),
        ("kl", "0.5,0.5", "0.6,0.4", "0.9,0.1"),
        ("grad", "0", "0.7,0.2,0.1", "0.5,0.25,0.25"),
        ("focal", "0", "0.9,0.1", "0.6,0.4"),
    ],
)
def test_other_subcommands(command: str, labels: str, a: str, b: str) -> None:
    code, out, err = run(command, labels, a, "--vs", b)
    assert code == 0, err
    assert "A and B side by side" in out
    assert "lower loss" in out
    document = json.loads(run(command, labels, a, "--vs", b, "--json")[1])
    assert document["a"]["loss"] < document["b"]["loss"]


def test_shapes_must_match() -> None:
    code, out, err = run("ce", "0", "0.5,0.5", "--vs", "0.9,0.1,0.3")
    assert (code, out) == (2, "")
    assert "--vs has 1 row(s) of 3 values but PREDS has 1 row(s) of 2" in err


def test_not_with_files() -> None:
    code, _, err = run("ce", "--csv", "sample_data/iris3_index.csv", "--vs", "0.5,0.5")
    assert code == 2
    assert "--vs compares typed PREDS" in err
