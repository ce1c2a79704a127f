"""The term tables of typed rows with sample weights or an ignore index: an ignored row is
said to be ignored (not shown as a row of zero targets), each row's weight is shown, and an
infinite loss behind a masked logit is given its own reason."""

from __future__ import annotations

import pytest

from cecli.losses import categorical_cross_entropy
from tests.helpers import run

P3 = "0.7,0.2,0.1;0.1,0.1,0.8;0.3,0.4,0.3"
P3_ROWS = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]]


@pytest.mark.parametrize("command", ["ce", "smooth", "focal"])
def test_an_ignored_row_is_said_to_be_ignored(command: str) -> None:
    code, out, err = run(command, "0;-100;1", P3, "--ignore-index", "-100")
    assert code == 0, err
    assert "— row 1" in out
    assert "— row 2" not in out  # no table of zero targets for it
    assert "— row 3" in out
    assert "Row 2 is ignored (labelled -100, the ignore index)" in out
    per_row = out.split("Per row", 1)[1]
    assert "2         ignored" in per_row
    assert "; 1 ignored)" in out


def test_each_row_shows_its_weight() -> None:
    code, out, err = run("ce", "0;2;1", P3, "--sample-weights", "1.2;3.4;0")
    assert code == 0, err
    assert "Categorical cross-entropy — row 1, weight 1.2" in out
    assert "Categorical cross-entropy — row 2, weight 3.4" in out
    assert "Categorical cross-entropy — row 3, weight 0" in out
    rows = categorical_cross_entropy([0, 2, 1], P3_ROWS).per_row
    # The row's L is its weighted value, and its formula says so.
    assert "L = 1.2×−(1×log 0.7 + 0×log 0.2 + 0×log 0.1) = 0.4280099 nats" in out
    assert f"{1.2 * rows[0]:.7g}" == "0.4280099"
    assert "row   weight   loss (nats)" in out
    assert "(weighted mean over 3 rows: Σ w·L / Σ w)" in out


def test_one_weighted_row_shows_its_weight() -> None:
    code, out, err = run("ce", "0", "0.7,0.2,0.1", "--sample-weights", "2")
    assert code == 0, err
    assert "Categorical cross-entropy — weight 2" in out


def test_a_weighted_binary_mean_shows_the_weighted_sum() -> None:
    code, out, err = run("bce", "1;0", "0.3;0.6", "--sample-weights", "1;2")
    assert code == 0, err
    code, value, _ = run("bce", "1;0", "0.3;0.6", "--sample-weights", "1;2", "-q")
    # (1·(−log 0.3) + 2·(−log 0.4)) / (1·1 + 2·1), as the line shows it.
    assert f"= 3.036554 / 3 = {float(value):.7g} nats" in out


@pytest.mark.parametrize(
    "args",
    [
        ["focal", "0", "-inf,1", "--logits"],
        ["ce", "0", "-inf,1", "--logits"],
        ["bce", "1", "-inf", "--logits"],
        ["focal", "--binary", "1", "-inf", "--logits"],
    ],
)
def test_a_masked_true_class_is_the_reason_for_an_infinite_loss(args: list[str]) -> None:
    code, out, err = run(*args, "-q")
    assert code == 0, err
    assert out == "inf\n"
    assert err == (
        "cecli: warning: the loss is infinite: a logit of -inf (masked: probability 0, "
        "log 0 = -inf) where the target is not 0\n"
    )


def test_an_overflow_from_logits_is_still_called_one() -> None:
    code, _, err = run("ce", "1", "1e308,-1e308", "--logits", "-q")
    assert code == 0
    assert "it overflowed float64" in err
