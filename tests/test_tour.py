"""The tour: every stop computes its numbers and renders; its corrections are right."""

from __future__ import annotations

import math

import pytest

from cecli.results import MultilabelResult
from cecli.tour import STOPS
from tests.helpers import run


@pytest.mark.parametrize("number", range(1, len(STOPS) + 1))
def test_every_stop_renders(number: int) -> None:
    code, out, err = run("tour", str(number))
    assert code == 0, err
    assert out.startswith(f"{number}/{len(STOPS)} · ")
    assert "→" in out


def test_list() -> None:
    code, out, _ = run("tour", "--list")
    assert code == 0
    assert len(out.splitlines()) == len(STOPS)
    assert "1. One-hot cross-entropy" in out


def test_whole_tour_runs_without_a_terminal() -> None:
    code, out, _ = run("tour", "--pause")
    assert code == 0
    assert out.count("→") >= len(STOPS)


def test_stop_numbers_are_checked() -> None:
    code, out, err = run("tour", "99")
    assert (code, out) == (2, "")
    assert "choose 1 to" in err


def test_one_hot_stop_shows_equal_losses_and_different_gradients() -> None:
    stop = STOPS[0]()
    first, second = stop.results
    assert first.loss == second.loss == -math.log(0.1)
    assert "in 2 of 5 entries" in stop.conclusions[1]


def test_kl_stop_corrects_the_copied_slip() -> None:
    stop = STOPS[4]()
    text = " ".join(stop.conclusions)
    expected = 0.5 * math.log2(0.5 / 0.9) + 0.5 * math.log2(5)
    assert f"{expected:.3f}" == "0.737"
    assert "0.737" in text
    assert "1.737" in text


def test_drowned_positives_stop_counts_the_negatives() -> None:
    stop = STOPS[3]()
    result = stop.results[0]
    assert isinstance(result, MultilabelResult)
    assert float(result.negative) == pytest.approx(-998 * math.log(0.99), rel=1e-12)
    assert float(result.positive) == pytest.approx(-2 * math.log(0.3), rel=1e-12)


def test_binary_stop_separates_nats_from_bits() -> None:
    text = " ".join(STOPS[2]().conclusions)
    assert "0.105 nats but 0.152 bits" in text
