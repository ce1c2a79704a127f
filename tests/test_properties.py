"""Identities every implementation must satisfy, on inputs hypothesis chooses."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import cecli

CLASSES = st.integers(min_value=2, max_value=12)


@st.composite
def distributions(draw: st.DrawFn, classes: int, allow_zeros: bool = True) -> np.ndarray:
    low = 0.0 if allow_zeros else 1e-3
    weights = draw(arrays(np.float64, classes, elements=st.floats(low, 1.0)))
    if weights.sum() == 0.0:
        weights[0] = 1.0
    normalised: np.ndarray = weights / weights.sum()
    return normalised


@st.composite
def distribution_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    classes = draw(CLASSES)
    return draw(distributions(classes)), draw(distributions(classes, allow_zeros=False))


@st.composite
def logit_rows(draw: st.DrawFn) -> tuple[int, np.ndarray]:
    classes = draw(CLASSES)
    logits = draw(arrays(np.float64, classes, elements=st.floats(-50.0, 50.0)))
    return draw(st.integers(0, classes - 1)), logits


@given(distribution_pairs())
def test_cross_entropy_is_at_least_the_entropy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    p, q = pair
    result = cecli.kl(p, q, eps=0.0)
    assert result.cross_entropy >= result.entropy - 1e-12
    # Gibbs' inequality holds for exact distributions; float rows sum to 1 only within an
    # ulp or so, and D_KL of such rows (computed exactly) can be -1e-16.
    assert result.headline()[0] >= -1e-15
    ce = cecli.ce(p, q, eps=0.0)
    assert np.isclose(ce.headline()[0], float(result.cross_entropy), rtol=1e-12, atol=1e-15)


@given(st.integers(2, 12).flatmap(lambda c: distributions(c, allow_zeros=True)))
def test_kl_of_a_distribution_with_itself_is_zero(p: np.ndarray) -> None:
    assert cecli.kl(p, p, eps=0.0).headline()[0] == 0.0


@given(distribution_pairs())
def test_kl_is_positive_when_distributions_differ(pair: tuple[np.ndarray, np.ndarray]) -> None:
    p, q = pair
    value = cecli.kl(p, q, eps=0.0).headline()[0]
    if np.any(np.abs(p - q) > 1e-6):
        assert value > 0.0


@given(logit_rows(), st.floats(-1e3, 1e3))
def test_softmax_cross_entropy_is_shift_invariant(
    row: tuple[int, np.ndarray], shift: float
) -> None:
    label, logits = row
    plain = cecli.ce([label], logits, logits=True).headline()[0]
    shifted = cecli.ce([label], logits + shift, logits=True).headline()[0]
    assert np.isclose(plain, shifted, rtol=1e-9, atol=1e-9)


@given(logit_rows())
def test_focal_with_gamma_zero_is_cross_entropy(row: tuple[int, np.ndarray]) -> None:
    label, logits = row
    focal = cecli.focal([label], logits, logits=True, gamma=0.0)
    assert focal.headline() == cecli.ce([label], logits, logits=True).headline()
    assert focal.headline() == [float(focal.ce)]


@given(logit_rows())
def test_smoothing_zero_is_cross_entropy(row: tuple[int, np.ndarray]) -> None:
    label, logits = row
    smoothed = cecli.smooth([label], logits, logits=True, smoothing=0.0)
    assert smoothed.headline() == cecli.ce([label], logits, logits=True).headline()


@settings(max_examples=50)
@given(logit_rows())
def test_grad_equals_finite_differences(row: tuple[int, np.ndarray]) -> None:
    label, logits = row
    analytic = cecli.grad([label], logits, logits=True).grad[0]
    step = 1e-6
    for c in range(len(logits)):
        up, down = logits.copy(), logits.copy()
        up[c] += step
        down[c] -= step
        numeric = (
            cecli.ce([label], up, logits=True).headline()[0]
            - cecli.ce([label], down, logits=True).headline()[0]
        ) / (2 * step)
        assert np.isclose(analytic[c], numeric, rtol=1e-5, atol=1e-6)


@given(st.floats(0.0, 1.0), st.floats(1e-6, 1 - 1e-6))
def test_bce_on_one_output_equals_two_class_ce(y: float, p: float) -> None:
    binary = cecli.bce([y], [p]).headline()[0]
    two_class = cecli.ce([y, 1 - y], [p, 1 - p]).headline()[0]
    assert np.isclose(binary, two_class, rtol=1e-12, atol=1e-15)


@given(st.sampled_from([0.0, 1.0]), st.floats(-40.0, 40.0))
def test_bce_from_a_logit_equals_two_class_softmax(y: float, z: float) -> None:
    binary = cecli.bce([y], [z], logits=True).headline()[0]
    two_class = cecli.ce([y, 1 - y], [z, 0.0], logits=True).headline()[0]
    assert np.isclose(binary, two_class, rtol=1e-12, atol=1e-300)


@given(logit_rows(), st.sampled_from(["2", "10"]))
def test_bases_are_rescaled_nats(row: tuple[int, np.ndarray], base: str) -> None:
    label, logits = row
    nats = cecli.ce([label], logits, logits=True).headline()[0]
    other = cecli.ce([label], logits, logits=True, base=base).headline()[0]
    assert np.isclose(other * np.log(float(base)), nats, rtol=1e-14, atol=1e-300)
