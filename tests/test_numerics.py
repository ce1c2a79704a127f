"""The stable primitives against mpmath, at the extremes."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from mpmath import mp, mpf

from cecli import numerics
from tests import oracle
from tests.helpers import assert_close

LOGIT_ROWS = [
    [1000.0, -1000.0, 0.0],
    [-1000.0, -1000.0, -1000.0],
    [30.0, 0.0],
    [40.0, 0.0, -40.0],
    [1e-12, -1e-12],
    [709.0, 710.0, -745.0],
    (np.random.default_rng(7).standard_normal(1000) * 50).tolist(),
]


@pytest.mark.parametrize("row", LOGIT_ROWS, ids=range(len(LOGIT_ROWS)))
def test_log_softmax(row: list[float]) -> None:
    assert_close(numerics.log_softmax(np.array([row])), [oracle.log_softmax(row)])


@pytest.mark.parametrize("row", LOGIT_ROWS, ids=range(len(LOGIT_ROWS)))
def test_softmax(row: list[float]) -> None:
    assert_close(numerics.softmax(np.array(row)), oracle.softmax(row))


def test_log_softmax_of_a_dominant_logit_keeps_its_digits() -> None:
    # z - logsumexp(z) would give 0 or a two-digit answer here: -log1p(e^-30) ≈ -9.36e-14.
    value = numerics.log_softmax(np.array([30.0, 0.0]))[0]
    assert value != 0.0
    assert_close(value, -mp.log1p(mp.exp(-30)))


@pytest.mark.parametrize(
    "x", [-1000.0, -745.0, -40.0, -1.0, -1e-10, 0.0, 1e-10, 1.0, 37.0, 40.0, 1000.0]
)
def test_log_sigmoid_and_sigmoid(x: float) -> None:
    assert_close(numerics.log_sigmoid(np.array(x)), oracle.log_sigmoid(x))
    assert_close(numerics.sigmoid(np.array(x)), oracle.sigmoid(x))


def test_xlogy_makes_zero_times_log_zero_zero() -> None:
    result = numerics.xlogy([0.0, 0.0, 2.0, 0.5], [0.0, 3.0, 0.0, 0.25])
    assert result[0] == 0.0
    assert result[1] == 0.0
    assert result[2] == -np.inf
    assert_close(result[3], 0.5 * mp.log(0.25))


@pytest.mark.parametrize(
    ("p", "q"),
    [(0.5, 0.5 + 1e-12), (0.3, 0.2), (1.0, 1e-300), (1e-300, 1.0), (0.7, 0.65), (0.2, 0.9)],
)
def test_kl_parts_sum_to_p_log_p_over_q(p: float, q: float) -> None:
    ratio_part, _ = numerics.kl_parts(np.array(p), np.array(q))
    assert ratio_part >= 0.0
    exact = mpf(p) * mp.log(mpf(p) / mpf(q))
    exact_ratio_part = exact - (mpf(p) - mpf(q))
    assert_close(ratio_part, exact_ratio_part, rel=1e-13)


def test_kl_parts_conventions() -> None:
    ratio_part, difference = numerics.kl_parts(np.array([0.0, 0.5, 0.0]), np.array([0.3, 0.0, 0.0]))
    totals = ratio_part + difference
    assert totals.tolist() == [0.0, np.inf, 0.0]


@pytest.mark.parametrize(
    ("text", "base"),
    [("e", "e"), ("nats", "e"), ("bits", "2"), ("2", "2"), ("10", "10"), ("BITS", "2")],
)
def test_parse_base(text: str, base: str) -> None:
    assert numerics.parse_base(text) == base


def test_parse_base_rejects_unknown() -> None:
    assert numerics.parse_base("3") is None


@pytest.mark.parametrize("base", ["2", "10"])
def test_to_base(base: numerics.Base) -> None:
    expected = [1 / oracle.ln_base(base), 2.5 / oracle.ln_base(base)]
    assert_close(numerics.to_base(np.array([1.0, 2.5]), base), expected)


@pytest.mark.parametrize(
    ("start", "terms"),
    [
        (-1.0, [0.7, 0.3]),  # -2^-54 exactly: a plain sum says 0
        (-1.0, [0.1, 0.2, 0.3, 0.4]),
        (0.0, [1e16, 1.0, -1e16]),
        (-1.0, [1 - 1e-10, 1e-10]),
        (0.0, [-1e-7, 1e-7 * 0.3, 5e-324]),
        (2.0, [1.0, -3.0]),
    ],
)
def test_compensated_row_sums_is_the_exact_sum_within_an_ulp(
    start: float, terms: list[float]
) -> None:
    exact = Fraction(start) + sum((Fraction(t) for t in terms), Fraction(0))
    (total,) = numerics.compensated_row_sums(np.array([terms]), np.array([start]))
    closest = float(exact)
    assert abs(Fraction(float(total)) - exact) <= Fraction(math.ulp(closest)), (total, closest)


def test_compensated_row_sums_row_by_row() -> None:
    rows = np.random.default_rng(11).dirichlet([0.5] * 7, size=200)
    totals = numerics.compensated_row_sums(rows, np.full(200, -1.0))
    for row, total in zip(rows.tolist(), totals.tolist(), strict=True):
        exact = sum((Fraction(v) for v in row), Fraction(-1))
        assert abs(Fraction(total) - exact) <= Fraction(math.ulp(float(exact)))
