"""Values in bits and decimal digits: a term that is one logarithm is rounded once.

``ln(0.01) / ln(10)`` is 1.9999999999999996; ``−log₁₀ 0.01`` is 2, and cecli says so.
"""

from __future__ import annotations

import mpmath
import pytest

import cecli
from tests.helpers import run

EXACT = [
    ("10", 0.01, 2.0),
    ("10", 0.001, 3.0),
    ("10", 1e-10, 10.0),
    ("2", 0.25, 2.0),
    ("2", 0.125, 3.0),
    ("2", 2.0**-40, 40.0),
]


@pytest.mark.parametrize(("base", "p", "expected"), EXACT)
def test_exact_cases_come_out_exact(base: str, p: float, expected: float) -> None:
    other = 1.0 - p
    assert cecli.ce([0], [p, other], base=base, eps=0.0).loss == expected
    assert cecli.ce([0], [[p, other]], base=base, reduction="none", eps=0.0).per_row[0] == expected
    assert cecli.bce([1], [p], base=base, eps=0.0).loss == expected
    assert cecli.focal([0], [p, other], gamma=0.0, base=base, eps=0.0).loss == expected


def test_exact_case_on_the_command_line_and_in_a_file(tmp_path: object) -> None:
    assert run("ce", "0", "0.01,0.99", "--base", "10", "-q") == (0, "2.0\n", "")
    path = f"{tmp_path}/one.csv"
    with open(path, "w") as handle:
        handle.write("label,p0,p1\n0,0.01,0.99\n")
    assert run("ce", "--csv", path, "--base", "10", "-q", "--no-progress")[:2] == (0, "2.0\n")


@pytest.mark.parametrize("base", ["2", "10"])
@pytest.mark.parametrize("p", [0.3, 0.7, 1e-300, 0.5 + 2.0**-30, 0.999999, 5e-324])
def test_single_terms_match_the_oracle(base: str, p: float) -> None:
    """Within one rounding of −log_b p computed with 50 digits."""
    mpmath.mp.dps = 50
    expected = -mpmath.log(mpmath.mpf(p), int(base))
    value = cecli.ce([0], [p, 1.0 - p], base=base, eps=0.0).loss
    assert abs(mpmath.mpf(value) - expected) <= abs(expected) * 2.0**-52


def test_clipping_at_one_minus_eps_keeps_its_digits() -> None:
    """p = 1 clipped to 1 − ε: log1p(−ε) / ln 10, not log10 of the float nearest 1 − ε."""
    mpmath.mp.dps = 50
    eps = 1e-7
    expected = -mpmath.log(1 - mpmath.mpf(eps), 10)
    value = cecli.ce([0], [1.0, 0.0], base="10", eps=eps).loss
    assert abs(mpmath.mpf(value) - expected) <= abs(expected) * 1e-15
