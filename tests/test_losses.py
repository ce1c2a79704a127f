"""Every loss against the mpmath oracle at relative error ≤ 1e-12, extremes included."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pytest
from mpmath import mp, mpf

import cecli
from cecli.results import Reduction
from tests import oracle
from tests.helpers import assert_close

RNG = np.random.default_rng(20261122)


def _dirichlet(rows: int, classes: int, concentration: float = 1.0) -> list[list[float]]:
    values: list[list[float]] = RNG.dirichlet([concentration] * classes, size=rows).tolist()
    return values


def _logits(rows: int, classes: int, scale: float) -> list[list[float]]:
    values: list[list[float]] = (RNG.standard_normal((rows, classes)) * scale).tolist()
    return values


def _one_hot_rows(rows: int, classes: int) -> list[list[float]]:
    return oracle.one_hot(RNG.integers(0, classes, size=rows).tolist(), classes)


EXTREME_LOGITS = [[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0], [0.0, -1000.0, 1000.0]]

# (id, targets, preds, options): targets are distributions; probabilities unless "logits".
CE_CASES: list[tuple[str, list[list[float]], list[list[float]], dict[str, Any]]] = [
    ("reference example", [[1, 0, 0, 0, 0]], [[0.1, 0.5, 0.1, 0.1, 0.2]], {}),
    (
        "batch",
        oracle.one_hot([0, 2, 1], 3),
        [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]],
        {},
    ),
    ("soft labels", [[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], [[0.3, 0.4, 0.3], [0.6, 0.3, 0.1]], {}),
    ("p exactly 0 and 1", [[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 0], [0, 1, 0], [1, 0, 0]], {}),
    ("eps 0, zero off target", [[0, 1, 0]], [[0, 1, 0]], {"eps": 0.0}),
    ("eps 1e-3", [[1, 0]], [[1e-5, 1 - 1e-5]], {"eps": 1e-3}),
    ("logits ±1000", [[1, 0, 0], [0, 1, 0], [0, 0, 1]], EXTREME_LOGITS, {"logits": True}),
    ("dominant logit", [[1, 0], [0, 1]], [[30.0, 0.0], [40.0, 0.0]], {"logits": True}),
    (
        "logits soft labels",
        [[0.3, 0.7], [0.5, 0.5]],
        [[-3.5, 2.25], [700.0, -700.0]],
        {"logits": True},
    ),
    ("1000 classes probs", _one_hot_rows(3, 1000), _dirichlet(3, 1000, 0.5), {}),
    ("1000 classes logits", _dirichlet(2, 1000), _logits(2, 1000, 30.0), {"logits": True}),
    ("bits", [[0, 1]], [[0.25, 0.75]], {"base": "2"}),
    (
        "base 10 sum",
        oracle.one_hot([0, 1], 2),
        [[0.25, 0.75], [0.5, 0.5]],
        {"base": "10", "reduction": "sum"},
    ),
    ("none", oracle.one_hot([1, 0], 2), [[0.25, 0.75], [0.9, 0.1]], {"reduction": "none"}),
    (
        "weights",
        oracle.one_hot([0, 2, 1], 3),
        [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]],
        {"weights": [1.0, 2.0, 0.5]},
    ),
    (
        "weights soft",
        [[0.5, 0.5, 0], [0, 0.25, 0.75]],
        [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]],
        {"weights": [3.0, 1.0, 0.5]},
    ),
    (
        "smoothing",
        oracle.one_hot([0, 2], 3),
        [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]],
        {"smoothing": 0.1},
    ),
    (
        "smoothing logits",
        oracle.one_hot([0, 2], 3),
        EXTREME_LOGITS[:2],
        {"smoothing": 0.2, "logits": True},
    ),
]


@pytest.mark.parametrize(
    ("targets", "preds", "options"), [c[1:] for c in CE_CASES], ids=[c[0] for c in CE_CASES]
)
def test_ce_matches_oracle(
    targets: list[list[float]], preds: list[list[float]], options: dict[str, Any]
) -> None:
    result = cecli.ce(targets, preds, **options)
    expected_loss, expected_rows = oracle.ce(targets, preds, **options)
    assert_close(result.per_row, expected_rows)
    assert_close(result.loss, expected_loss)


def test_reference_example_prints_the_correctly_rounded_value() -> None:
    # -ln(fl(0.1)) = 2.302585092994045628…, which rounds to this float (not to ln 10's).
    assert (
        repr(float(cecli.ce([1, 0, 0, 0, 0], [0.1, 0.5, 0.1, 0.1, 0.2]).loss))
        == "2.3025850929940455"
    )


def test_ce_index_labels_equal_one_hot() -> None:
    preds = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]]
    by_index = cecli.ce([0, 2, 1], preds)
    by_one_hot = cecli.ce(oracle.one_hot([0, 2, 1], 3), preds)
    assert by_index.loss == by_one_hot.loss
    assert by_index.label_indices is not None
    assert by_index.label_indices.tolist() == [0, 2, 1]


def test_ce_target_on_zero_probability_with_eps_0_is_inf() -> None:
    result = cecli.ce([0], [0.0, 1.0], eps=0.0)
    assert result.loss == float("inf")
    assert result.to_json()["loss"] == "inf"


def test_ce_clipping_is_flagged() -> None:
    result = cecli.ce([0, 1], [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    assert result.clipped.tolist() == [[True, True, True], [True, False, False]]
    assert result.clipped_count == 4


def test_ce_weighted_mean_divides_by_target_weights() -> None:
    # PyTorch's weighted mean for class-index targets: Σ w[y]·(-log p) / Σ w[y].
    preds = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    result = cecli.ce([0, 2], preds, weights=[2.0, 1.0, 0.5])
    expected_loss, _ = oracle.ce(oracle.one_hot([0, 2], 3), preds, weights=[2.0, 1.0, 0.5])
    assert result.row_divisors.tolist() == [2.0, 0.5]
    assert_close(result.loss, expected_loss)


BCE_CASES: list[tuple[str, list[list[float]], list[list[float]], dict[str, Any]]] = [
    ("one row", [[1, 0, 1]], [[0.9, 0.2, 0.7]], {}),
    ("batch soft", [[1, 0.3], [0, 0.8]], [[0.6, 0.1], [0.35, 0.99]], {}),
    ("p exactly 0 and 1", [[1, 0, 1, 0]], [[0.0, 1.0, 1.0, 0.0]], {}),
    ("tiny p eps 0", [[0, 0]], [[1e-20, 1e-300]], {"eps": 0.0}),
    ("logits ±1000", [[1, 0, 1, 0]], [[1000.0, -1000.0, -1000.0, 1000.0]], {"logits": True}),
    ("logits moderate", [[1, 0, 0.25]], [[-40.0, 40.0, 3.5]], {"logits": True}),
    ("pos weight", [[1, 0], [0, 1]], [[0.3, 0.6], [0.2, 0.9]], {"pos_weight": 3.0}),
    ("smoothing", [[1, 0]], [[0.9, 0.05]], {"smoothing": 0.1}),
    ("sum bits", [[1, 0], [0, 1]], [[0.3, 0.6], [0.2, 0.9]], {"reduction": "sum", "base": "2"}),
    ("none", [[1, 0], [0, 1]], [[0.3, 0.6], [0.2, 0.9]], {"reduction": "none"}),
    (
        "1000 classes",
        (RNG.random((2, 1000)) < 0.01).astype(float).tolist(),
        RNG.random((2, 1000)).tolist(),
        {},
    ),
]


@pytest.mark.parametrize(
    ("targets", "preds", "options"), [c[1:] for c in BCE_CASES], ids=[c[0] for c in BCE_CASES]
)
def test_bce_matches_oracle(
    targets: list[list[float]], preds: list[list[float]], options: dict[str, Any]
) -> None:
    result = cecli.bce(targets, preds, **options)
    expected_loss, expected_rows = oracle.bce(targets, preds, **options)
    assert_close(result.per_row, expected_rows)
    assert_close(result.loss, expected_loss)


MULTILABEL_CASES: list[tuple[str, list[list[float]], list[list[float]], dict[str, Any]]] = [
    ("one row", [[1, 0, 0, 1]], [[0.8, 0.1, 0.3, 0.6]], {}),
    (
        "weights",
        [[1, 0, 0, 1], [0, 0, 1, 0]],
        [[0.8, 0.1, 0.3, 0.6], [0.2, 0.4, 0.5, 0.01]],
        {"pos_weight": 2.0, "neg_weight": 0.5},
    ),
    ("logits", [[1, 0, 1]], [[1000.0, -1000.0, -12.5]], {"logits": True}),
    (
        "two positives in 1000",
        [[1.0 if c in (3, 500) else 0.0 for c in range(1000)]],
        [[0.01] * 1000],
        {},
    ),
    ("none", [[1, 0], [0, 1]], [[0.3, 0.6], [0.2, 0.9]], {"reduction": "none"}),
]


@pytest.mark.parametrize(
    ("targets", "preds", "options"),
    [c[1:] for c in MULTILABEL_CASES],
    ids=[c[0] for c in MULTILABEL_CASES],
)
def test_multilabel_matches_oracle(
    targets: list[list[float]], preds: list[list[float]], options: dict[str, Any]
) -> None:
    result = cecli.multilabel(targets, preds, **options)
    loss, rows, positive, negative = oracle.multilabel(targets, preds, **options)
    assert_close(result.per_row, rows)
    assert_close(result.loss, loss)
    assert_close(result.positive, positive)
    assert_close(result.negative, negative)


KL_CASES: list[tuple[str, list[list[float]], list[list[float]], dict[str, Any]]] = [
    ("two classes", [[0.5, 0.5]], [[0.9, 0.1]], {}),
    ("zeros in P", [[0.0, 0.25, 0.75], [1.0, 0.0, 0.0]], [[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]], {}),
    ("Q near P", [[0.5, 0.5]], [[0.5 + 1e-9, 0.5 - 1e-9]], {}),
    ("Q exactly 0 and 1", [[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]], {}),
    ("bits", [[0.25, 0.75]], [[0.5, 0.5]], {"base": "2"}),
    (
        "logits",
        [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]],
        [[1000.0, -1000.0, 0.0], [2.0, 1.0, 0.1]],
        {"logits": True},
    ),
    ("1000 classes", _dirichlet(2, 1000), _dirichlet(2, 1000), {}),
    ("sum", [[0.5, 0.5], [0.1, 0.9]], [[0.9, 0.1], [0.2, 0.8]], {"reduction": "sum"}),
]


@pytest.mark.parametrize(
    ("p", "q", "options"), [c[1:] for c in KL_CASES], ids=[c[0] for c in KL_CASES]
)
def test_kl_matches_oracle(
    p: list[list[float]], q: list[list[float]], options: dict[str, Any]
) -> None:
    result = cecli.kl(p, q, **options)
    expected = oracle.kl(p, q, **options)
    assert_close(result.per_row, expected["per_row"])
    assert_close(result.loss, expected["loss"])
    assert_close(result.entropy, expected["entropy"])
    assert_close(result.cross_entropy, expected["cross_entropy"])


GRAD_CASES: list[tuple[str, list[list[float]], list[list[float]], dict[str, Any]]] = [
    ("reference logits", [[1, 0, 0]], [[2.0, 1.0, 0.1]], {}),
    ("batch soft", [[0.2, 0.8, 0.0], [0, 0, 1]], [[2.0, 1.0, 0.1], [-1.0, 0.5, 3.0]], {}),
    ("logits ±1000", [[1, 0, 0], [0, 1, 0], [0, 0, 1]], EXTREME_LOGITS, {}),
    ("nearly right", [[1, 0], [0, 1]], [[30.0, 0.0], [-5.0, 45.0]], {"reduction": "sum"}),
    ("1000 classes", _one_hot_rows(2, 1000), _logits(2, 1000, 10.0), {}),
    ("bits none", [[1, 0, 0]], [[2.0, 1.0, 0.1]], {"reduction": "none", "base": "2"}),
]


@pytest.mark.parametrize(
    ("targets", "logits", "options"), [c[1:] for c in GRAD_CASES], ids=[c[0] for c in GRAD_CASES]
)
def test_grad_matches_oracle(
    targets: list[list[float]], logits: list[list[float]], options: dict[str, Any]
) -> None:
    result = cecli.grad(targets, logits, logits=True, **options)
    assert_close(result.grad, oracle.softmax_grad(targets, logits, **options))
    expected_loss, expected_rows = oracle.ce(targets, logits, logits=True, **options)
    assert_close(result.per_row, expected_rows)
    assert_close(result.loss, expected_loss)


@pytest.mark.parametrize(
    ("targets", "logits", "options"),
    [
        ([[1, 0, 1]], [[2.0, -1.0, 0.5]], {}),
        ([[1, 0], [0, 1]], [[1000.0, -1000.0], [40.0, -40.0]], {"reduction": "sum"}),
        ([[0.3, 1.0]], [[-2.0, 35.0]], {"base": "10"}),
    ],
)
def test_sigmoid_grad_matches_oracle(
    targets: list[list[float]], logits: list[list[float]], options: dict[str, Any]
) -> None:
    result = cecli.grad(targets, logits, logits=True, sigmoid=True, **options)
    assert_close(result.grad, oracle.sigmoid_grad(targets, logits, **options))
    expected_loss, expected_rows = oracle.bce(targets, logits, logits=True, **options)
    assert_close(result.per_row, expected_rows)
    assert_close(result.loss, expected_loss)


def test_grad_from_probabilities_uses_log_p_as_logits() -> None:
    result = cecli.grad([0], [0.7, 0.2, 0.1])
    # softmax(log p) = p for a normalised p, so ∂L/∂z = p - y.
    assert_close(result.grad, oracle.softmax_grad([[1, 0, 0]], [np.log([0.7, 0.2, 0.1]).tolist()]))
    assert result.grad_probs is not None
    assert_close(result.grad_probs, [[-1 / mpf(0.7), 0, 0]])


def _within_one_ulp(actual: float, expected: Any) -> bool:
    return bool(abs(mpf(actual) - expected) <= mpf(math.ulp(float(expected))))


@pytest.mark.parametrize(
    "preds",
    [
        [0.7, 0.3],  # sums to 1 - 2^-54: log p was rounded before, 1 ulp off
        [1 - 1e-10, 1e-10],
        [1 - 3e-8, 1e-8, 2e-8],
        [0.1, 0.2, 0.3, 0.4],
        [0.3, 0.3, 0.3],  # not normalised: softmax(log p) renormalises
        [1.0, 0.0, 0.0],  # both ends clipped
        [0.6, 0.6],
    ],
)
def test_grad_from_probabilities_rounds_its_loss_once(preds: list[float]) -> None:
    """Each row's loss is −log(p_y / Σp) of the clipped p within an ulp, where log p used as
    logits and then log-softmaxed was several ulp off (3e-16 relative for 0.7, 0.3)."""
    targets = oracle.one_hot([0], len(preds))
    result = cecli.grad([0], preds, reduction="none")
    (expected,) = oracle.softmax_ce_of_probabilities(targets, [preds])
    assert _within_one_ulp(float(result.per_row[0]), expected), (result.per_row[0], expected)
    wrong = cecli.grad([1], preds, reduction="none")
    (expected_wrong,) = oracle.softmax_ce_of_probabilities(oracle.one_hot([1], len(preds)), [preds])
    assert _within_one_ulp(float(wrong.per_row[0]), expected_wrong)


def test_grad_from_normalised_probabilities_agrees_with_ce() -> None:
    """A row whose clipped probabilities sum to 1 exactly: softmax(log p) is p, so ``grad``'s
    loss is ``ce``'s to the last bit."""
    preds = [0.5, 0.25, 0.125, 0.125]
    for label in range(4):
        assert float(cecli.grad([label], preds).loss) == float(cecli.ce([label], preds).loss)


def test_sigmoid_grad_from_probabilities_takes_log_p_itself() -> None:
    """With probabilities, the sigmoid gradient's loss is ``bce``'s: the logs of p and 1 − p,
    not ``log σ`` of the rounded logit ``log p − log(1 − p)``."""
    for targets, preds in (([[1.0]], [[1 - 1e-12]]), ([[0.0]], [[1e-12]]), ([[1.0]], [[0.3]])):
        result = cecli.grad(targets, preds, sigmoid=True, eps=1e-15, reduction="sum")
        expected, _ = oracle.bce(targets, preds, eps=1e-15, reduction="sum")
        assert _within_one_ulp(float(result.loss), expected), (result.loss, expected)


def test_smooth_matches_oracle() -> None:
    targets = oracle.one_hot([0, 2], 3)
    preds = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    result = cecli.smooth([0, 2], preds, smoothing=0.1)
    smoothed, _ = oracle.ce(targets, preds, smoothing=0.1)
    hard, _ = oracle.ce(targets, preds)
    assert_close(result.loss, smoothed)
    assert_close(result.loss_hard, hard)
    assert_close(
        result.targets, [[0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3], [0.1 / 3, 0.1 / 3, 0.9 + 0.1 / 3]]
    )


FOCAL_CASES: list[tuple[str, list[list[float]], list[list[float]], dict[str, Any]]] = [
    ("gamma 2", oracle.one_hot([0, 1], 3), [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3]], {}),
    (
        "alpha and gamma 0.5",
        oracle.one_hot([0, 1], 3),
        [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3]],
        {"gamma": 0.5, "alpha": 0.25},
    ),
    ("soft labels", [[0.6, 0.4, 0.0]], [[0.5, 0.3, 0.2]], {"gamma": 1.0}),
    ("p exactly 1", [[1, 0]], [[1.0, 0.0]], {}),
    ("logits ±1000", [[1, 0, 0], [0, 1, 0], [0, 0, 1]], EXTREME_LOGITS, {"logits": True}),
    ("logits nearly right", [[1, 0]], [[40.0, 0.0]], {"logits": True, "gamma": 3.0}),
    ("1000 classes", _one_hot_rows(2, 1000), _dirichlet(2, 1000), {}),
]


@pytest.mark.parametrize(
    ("targets", "preds", "options"), [c[1:] for c in FOCAL_CASES], ids=[c[0] for c in FOCAL_CASES]
)
def test_focal_matches_oracle(
    targets: list[list[float]], preds: list[list[float]], options: dict[str, Any]
) -> None:
    result = cecli.focal(targets, preds, **options)
    expected_loss, expected_rows = oracle.focal(targets, preds, **options)
    assert_close(result.per_row, expected_rows)
    assert_close(result.loss, expected_loss)
    ce_options = {k: v for k, v in options.items() if k not in ("gamma", "alpha")}
    assert_close(result.ce, oracle.ce(targets, preds, **ce_options)[0])


BINARY_FOCAL_CASES: list[tuple[str, list[list[float]], list[list[float]], dict[str, Any]]] = [
    ("no alpha", [[1, 0]], [[0.7, 0.2]], {}),
    ("alpha 0.25", [[1, 0, 1], [0, 0, 1]], [[0.7, 0.2, 0.05], [0.9, 0.5, 0.999]], {"alpha": 0.25}),
    ("p exactly 0 and 1", [[1, 0, 1, 0]], [[0.0, 1.0, 1.0, 0.0]], {"gamma": 1.5}),
    (
        "logits ±1000",
        [[1, 0, 1, 0]],
        [[1000.0, -1000.0, -1000.0, 1000.0]],
        {"logits": True, "alpha": 0.75},
    ),
    ("logits moderate", [[1, 0]], [[38.0, -3.0]], {"logits": True}),
    ("sum", [[1, 0], [0, 1]], [[0.7, 0.2], [0.4, 0.6]], {"reduction": "sum"}),
]


@pytest.mark.parametrize(
    ("targets", "preds", "options"),
    [c[1:] for c in BINARY_FOCAL_CASES],
    ids=[c[0] for c in BINARY_FOCAL_CASES],
)
def test_binary_focal_matches_oracle(
    targets: list[list[float]], preds: list[list[float]], options: dict[str, Any]
) -> None:
    result = cecli.focal(targets, preds, binary=True, **options)
    expected_loss, expected_rows = oracle.binary_focal(targets, preds, **options)
    assert_close(result.per_row, expected_rows)
    assert_close(result.loss, expected_loss)
    bce_options = {k: v for k, v in options.items() if k not in ("gamma", "alpha")}
    assert_close(result.ce, oracle.bce(targets, preds, **bce_options)[0])


def test_unnormalized_rows_are_reported_not_renormalised() -> None:
    result = cecli.ce([0, 0], [[0.6, 0.6], [0.5, 0.5]])
    assert result.unnormalized_rows == (0,)
    assert_close(result.per_row[0], -mp.log(mpf(0.6)))
    normalised = cecli.ce([0, 0], [[0.6, 0.6], [0.5, 0.5]], normalize=True)
    assert normalised.unnormalized_rows == ()
    assert_close(normalised.per_row[0], mp.log(2))


def test_kl_reports_unnormalized_p_and_q_separately() -> None:
    result = cecli.kl([[0.5, 0.6]], [[0.5, 0.5]])
    assert result.unnormalized_p_rows == (0,)
    assert result.unnormalized_rows == ()


def test_logits_never_warn_about_sums() -> None:
    assert cecli.ce([0], [3.0, 4.0], logits=True).unnormalized_rows == ()


@pytest.mark.parametrize(
    "compute",
    [
        lambda: cecli.ce([0, 2], [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], weights=[2.0, 1.0, 0.5]),
        lambda: cecli.bce([[1, 0, 1], [0, 0, 1]], [[0.9, 0.2, 0.7], [0.4, 0.1, 0.6]]),
        lambda: cecli.multilabel([[1, 0], [0, 1]], [[0.9, 0.2], [0.4, 0.6]]),
        lambda: cecli.kl([[0.5, 0.5], [0.2, 0.8]], [[0.9, 0.1], [0.5, 0.5]]),
        lambda: cecli.grad([[1, 0], [0, 1]], [[2.0, 1.0], [0.5, -0.5]], logits=True, sigmoid=True),
        lambda: cecli.smooth([0, 1], [[0.7, 0.3], [0.4, 0.6]]),
        lambda: cecli.focal([[1, 0], [0, 1]], [[0.9, 0.2], [0.4, 0.6]], binary=True),
    ],
    ids=["ce", "bce", "multilabel", "kl", "grad", "smooth", "focal"],
)
def test_row_shares_rebuild_the_mean(compute: Any) -> None:
    # The batch engine reduces a file from these shares, so they must give the same mean.
    result = compute()
    assert result.reduction == "mean"
    rebuilt = result.row_totals.sum() / result.row_divisors.sum()
    assert rebuilt == pytest.approx(result.loss, rel=1e-15)
    for name, shares in result.row_extras.items():
        assert shares.sum() / result.row_divisors.sum() == pytest.approx(
            float(getattr(result, name)), rel=1e-15
        )


def _oracle_focal_grad(
    targets: list[list[float]],
    logits: list[list[float]],
    *,
    binary: bool,
    gamma: float,
    alpha: float | None,
) -> list[list[Any]]:
    """∂/∂z of the oracle's focal loss by mpmath's own differentiation, at 60 digits."""
    fn = oracle.binary_focal if binary else oracle.focal
    rows = []
    for r, row in enumerate(logits):
        grads = []
        for c in range(len(row)):

            def at(x: Any, r: int = r, c: int = c) -> Any:
                z = [list(map(mpf, zr)) for zr in logits]
                z[r][c] = x
                loss, _ = fn(targets, z, gamma=gamma, alpha=alpha, logits=True, reduction="mean")
                return loss

            grads.append(mp.diff(at, mpf(row[c])))
        rows.append(grads)
    return rows


@pytest.mark.parametrize(
    ("targets", "logits", "binary", "gamma", "alpha"),
    [
        ([[1, 0, 0]], [[2.0, 1.0, 0.1]], False, 2.0, None),
        ([[0, 1, 0], [0.2, 0.3, 0.5]], [[2.0, -1.0, 0.5], [0.3, 0.1, -2.0]], False, 0.5, 0.25),
        ([[1, 0, 1]], [[2.0, 1.0, -3.0]], True, 2.0, 0.25),
        ([[0, 1], [1, 1]], [[0.5, -0.5], [4.0, -4.0]], True, 1.5, None),
    ],
)
def test_focal_gradient_matches_differentiated_oracle(
    targets: list[list[float]],
    logits: list[list[float]],
    binary: bool,
    gamma: float,
    alpha: float | None,
) -> None:
    grad = cecli.losses.focal_gradient(
        targets, logits, logits=True, binary=binary, gamma=gamma, alpha=alpha
    )
    assert_close(
        grad,
        _oracle_focal_grad(targets, logits, binary=binary, gamma=gamma, alpha=alpha),
        rel=1e-10,
    )


def test_focal_gradient_at_gamma_zero_is_the_cross_entropy_gradient() -> None:
    z = [[2.0, 1.0, 0.1], [-1.0, 0.5, 3.0]]
    assert_close(
        cecli.losses.focal_gradient([0, 2], z, logits=True, gamma=0.0),
        cecli.grad([0, 2], z, logits=True).grad.tolist(),
    )


# --- sample weights -------------------------------------------------------------------------

SAMPLE_WEIGHTS = [1.2, 3.4, 0.0]
P3 = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.0, 0.4, 0.6]]
Y3 = oracle.one_hot([0, 2, 0], 3)  # the last row's true class has p = 0: inf with eps = 0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ce_sample_weights_weigh_rows_and_a_zero_weight_drops_an_infinite_row(
    reduction: Reduction,
) -> None:
    result = cecli.ce(Y3, P3, eps=0.0, reduction=reduction, sample_weights=SAMPLE_WEIGHTS)
    _, rows = oracle.ce(Y3[:2], P3[:2], eps=0.0, reduction="none")
    expected = oracle.weigh_rows([*rows, mpf(0)], SAMPLE_WEIGHTS, reduction)
    assert_close(result.loss, expected)
    assert_close(result.per_row, oracle.weigh_rows([*rows, mpf(0)], SAMPLE_WEIGHTS, "none"))


def test_ce_sample_weights_with_class_weights_divide_by_the_weighted_weights() -> None:
    weights = [2.0, 1.0, 0.5]
    result = cecli.ce(Y3, P3, weights=weights, sample_weights=[1.0, 2.0, 4.0])
    _, rows = oracle.ce(Y3, P3, weights=weights, reduction="none")
    divisors = [weights[0], weights[2], weights[0]]
    assert_close(result.loss, oracle.weigh_rows(rows, [1.0, 2.0, 4.0], "mean", divisors))


def test_one_sample_weight_weighs_every_row() -> None:
    plain = cecli.ce(Y3, P3)
    assert cecli.ce(Y3, P3, sample_weights=7.0).loss == pytest.approx(plain.loss, rel=1e-15)
    summed = cecli.ce(Y3, P3, reduction="sum", sample_weights=[0.5])
    _, rows = oracle.ce(Y3, P3, reduction="none")
    assert_close(summed.loss, oracle.weigh_rows(rows, [0.5] * 3, "sum"))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_sample_weights_divide_by_the_weights_times_the_classes(reduction: Reduction) -> None:
    y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    p = [[0.9, 0.2], [0.4, 0.7], [0.5, 1e-9]]
    result = cecli.bce(y, p, reduction=reduction, sample_weights=SAMPLE_WEIGHTS)
    _, sums = oracle.bce(y, p, reduction="sum")
    _, means = oracle.bce(y, p, reduction="none")
    totals = means if reduction == "none" else sums
    assert_close(result.loss, oracle.weigh_rows(totals, SAMPLE_WEIGHTS, reduction, [2, 2, 2]))


def test_kl_sample_weights_weigh_the_entropies_too() -> None:
    p = [[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]
    q = [[0.6, 0.4], [0.5, 0.5], [0.3, 0.7]]
    result = cecli.kl(p, q, sample_weights=[1.0, 2.0, 3.0])
    reference = oracle.kl(p, q, reduction="none")
    entropies = oracle.kl(p, q, reduction="none")["entropy"]
    assert_close(result.loss, oracle.weigh_rows(reference["per_row"], [1, 2, 3], "mean"))
    assert_close(result.entropy, oracle.weigh_rows(entropies, [1, 2, 3], "mean"))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_grad_sample_weights_weigh_each_row_of_the_gradient(reduction: Reduction) -> None:
    z = [[2.0, 1.0, 0.1], [0.3, 0.2, 4.0], [-1.0, 0.0, 1.0]]
    y = oracle.one_hot([0, 2, 1], 3)
    w = [1.0, 2.5, 0.5]
    result = cecli.grad(y, z, logits=True, reduction=reduction, sample_weights=w)
    rows = oracle.softmax_grad(y, z, reduction="sum")
    total = mp.fsum(mpf(v) for v in w) if reduction == "mean" else mpf(1)
    expected = [[mpf(wi) * g / total for g in row] for wi, row in zip(w, rows, strict=True)]
    assert_close(result.grad, expected)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([0.0, 0.0, 0.0], "the sample_weights sum to 0"),
        ([1.0, 2.0], "sample_weights has 2 values, but PREDS has 3 rows"),
        ([1.0, -1.0, 1.0], "sample_weights value 2: -1 is not a finite weight ≥ 0"),
        ([1.0, float("nan"), 1.0], "sample_weights value 2: nan is not a finite weight"),
    ],
)
def test_bad_sample_weights_name_the_parameter(weights: list[float], message: str) -> None:
    with pytest.raises(cecli.InputError, match=message) as caught:
        cecli.ce(Y3, P3, sample_weights=weights)
    assert caught.value.parameter == "sample_weights"


# --- ignore_index ---------------------------------------------------------------------------

Z3 = [[2.0, 1.0, 0.1], [0.3, 0.2, 4.0], [-1.0, 0.0, 1.0]]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_ce_ignore_index_leaves_rows_out_of_the_value_and_the_divisor(
    reduction: Reduction, smoothing: float
) -> None:
    result = cecli.ce(
        [0, -100, 1], Z3, logits=True, ignore_index=-100, reduction=reduction, smoothing=smoothing
    )
    kept = [Z3[0], Z3[2]]
    _, rows = oracle.ce(oracle.one_hot([0, 1], 3), kept, logits=True, smoothing=smoothing,
                        reduction="none")  # fmt: skip
    expected = oracle.weigh_rows([rows[0], mpf(0), rows[1]], [1, 0, 1], reduction)
    assert_close(result.loss, expected)
    assert result.per_row[1] == 0.0


def test_ignore_index_may_be_a_class_and_combines_with_class_and_sample_weights() -> None:
    weights, sample = [2.0, 1.0, 0.5], [1.5, 2.0, 4.0]
    result = cecli.ce([0, 2, 1], Z3, logits=True, ignore_index=2, weights=weights,
                      sample_weights=sample)  # fmt: skip
    _, rows = oracle.ce(oracle.one_hot([0, 2, 1], 3), Z3, logits=True, weights=weights,
                        reduction="none")  # fmt: skip
    expected = oracle.weigh_rows(rows, [1.5, 0.0, 4.0], "mean", [2.0, 0.5, 1.0])
    assert_close(result.loss, expected)


def test_grad_and_focal_ignore_index() -> None:
    grad = cecli.grad([0, -1, 1], Z3, logits=True, ignore_index=-1)
    rows = oracle.softmax_grad(oracle.one_hot([0, 1], 3), [Z3[0], Z3[2]], reduction="mean")
    assert_close(grad.grad, [rows[0], [0, 0, 0], rows[1]])
    focal = cecli.focal([0, -1, 1], Z3, logits=True, ignore_index=-1)
    loss, _ = oracle.focal(oracle.one_hot([0, 1], 3), [Z3[0], Z3[2]], logits=True)
    assert_close(focal.loss, loss)
    smooth = cecli.smooth([0, -1, 1], Z3, logits=True, ignore_index=-1, smoothing=0.1)
    hard, _ = oracle.ce(oracle.one_hot([0, 1], 3), [Z3[0], Z3[2]], logits=True)
    assert_close(smooth.loss_hard, hard)


HALVES = [[0.5, 0.5], [0.5, 0.5]]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cecli.ce([-100, -100], HALVES, ignore_index=-100), "every row is ignored"),
        (lambda: cecli.ce([[1, 0], [0, 1]], HALVES, ignore_index=0), "one class index per row"),
        (lambda: cecli.ce([0, 1], HALVES, ignore_index=cast(int, 1.5)), "must be a whole number"),
        (lambda: cecli.focal([[1, 0]], [[0.5, 0.5]], binary=True, ignore_index=0), "0/1 labels"),
        (lambda: cecli.grad([0, 1], [[0.5, 0.5]] * 2, ignore_index=3, sigmoid=True), "0/1 labels"),
    ],
)  # fmt: skip
def test_bad_ignore_index_names_the_parameter(call: Any, message: str) -> None:
    with pytest.raises(cecli.InputError, match=message) as caught:
        call()
    assert caught.value.parameter == "ignore_index"


# --- masked logits (-inf) -------------------------------------------------------------------

INF = float("inf")
MASKED = [[-INF, 1.0, 2.0], [0.5, -INF, 0.1], [3.0, -INF, -INF]]


@pytest.mark.parametrize("labels", [[1, 0, 0], oracle.one_hot([2, 2, 0], 3)])
def test_a_minus_inf_logit_is_a_mask_with_probability_zero(labels: Any) -> None:
    result = cecli.ce(labels, MASKED, logits=True, reduction="none")
    targets = labels if isinstance(labels[0], list) else oracle.one_hot(labels, 3)
    expected, _ = oracle.ce(targets, MASKED, logits=True, reduction="none")
    assert_close(result.loss, expected)
    assert result.probs[0, 0] == 0.0


def test_a_masked_true_class_is_an_infinite_loss_and_gradients_stay_finite() -> None:
    assert cecli.ce([0], [MASKED[0]], logits=True).loss == INF
    grad = cecli.grad([1, 0, 0], MASKED, logits=True)
    assert_close(grad.grad, oracle.softmax_grad(oracle.one_hot([1, 0, 0], 3), MASKED))
    assert grad.grad[0, 0] == 0.0
    assert grad.grad[2, 1] == grad.grad[2, 2] == 0.0
    masked_true = cecli.grad([0], [MASKED[0]], logits=True)
    assert np.isfinite(masked_true.grad).all()


def test_masked_logits_in_sigmoid_losses_and_kl() -> None:
    y, z = [[1.0, 0.0, 1.0]], [[2.0, -INF, 3.0]]
    assert_close(cecli.bce(y, z, logits=True).loss, oracle.bce(y, z, logits=True)[0])
    assert_close(cecli.grad(y, z, logits=True, sigmoid=True).grad, oracle.sigmoid_grad(y, z))
    p = [[0.5, 0.0, 0.5]]
    assert_close(cecli.kl(p, z, logits=True).loss, oracle.kl(p, z, logits=True)["loss"])


@pytest.mark.parametrize(
    ("preds", "message"),
    [
        ([[INF, 1.0]], "value 1: inf is not a finite number"),
        ([[-INF, float("nan")]], "value 2: nan is not a finite number"),
        ([[-INF, -INF], [0.0, 1.0]], "PREDS row 1: every logit is -inf"),
        ([[-INF, -INF]], "PREDS row 1: every logit is -inf"),
    ],
)
def test_plus_inf_nan_and_a_fully_masked_row_are_refused(
    preds: list[list[float]], message: str
) -> None:
    with pytest.raises(cecli.InputError, match=message):
        cecli.ce([0] * len(preds), preds, logits=True)
    with pytest.raises(cecli.InputError, match="value 1: -inf is not a finite number"):
        cecli.ce([0], [[-INF, 1.0]])  # probabilities: -inf is no mask


# --- focal label smoothing, class weights on bce and multilabel ---------------------------------


@pytest.mark.parametrize("logits", [False, True])
def test_focal_smoothing_smooths_the_targets_first(logits: bool) -> None:
    preds = Z3 if logits else P3
    targets = oracle.one_hot([0, 2, 1], 3)
    result = cecli.focal([0, 2, 1], preds, logits=logits, smoothing=0.2, gamma=1.5)
    loss, _ = oracle.focal(targets, preds, logits=logits, smoothing=0.2, gamma=1.5)
    assert_close(result.loss, loss)
    y, p = [[1.0, 0.0], [0.0, 1.0]], [[0.9, 0.3], [1e-9, 0.6]]
    binary = cecli.focal(y, p, binary=True, smoothing=0.1, gamma=2.0)
    assert_close(binary.loss, oracle.soft_binary_focal(y, p, smoothing=0.1, gamma=2.0))


def test_class_weights_on_bce_and_multilabel_scale_both_terms() -> None:
    y = [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    p = [[0.9, 0.2, 1e-12], [0.4, 0.7, 0.5]]
    weights = [2.0, 0.5, 0.0]
    result = cecli.bce(y, p, weights=weights)
    assert_close(result.loss, oracle.bce(y, p, weights=weights)[0])
    multi = cecli.multilabel(y, p, weights=weights, pos_weight=3.0)
    assert_close(multi.loss, oracle.multilabel(y, p, weights=weights, pos_weight=3.0)[0])
    with pytest.raises(cecli.InputError, match="weights has 2 values, but PREDS has 3 classes"):
        cecli.bce(y, p, weights=[1.0, 2.0])


# --- KL: log targets and the generalised divergence ---------------------------------------------


def test_kl_log_targets_take_log_p_as_given() -> None:
    log_p = [[-0.5, -1.2, -INF], [-2.0, -0.3, -1.9]]
    q = [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]]
    result = cecli.kl(log_p, q, log_targets=True, reduction="none")
    p = [[mp.exp(mpf(v)) for v in row] for row in log_p]
    assert_close(result.loss, oracle.kl(p, q, reduction="none")["loss"])
    with pytest.raises(cecli.InputError, match=r"0\.5 is not a log-probability") as caught:
        cecli.kl([[0.5, -1.0]], [[0.5, 0.5]], log_targets=True)
    assert caught.value.parameter == "log_targets"


def test_generalized_kl_of_unnormalised_measures() -> None:
    p = [[1.0, 2.5, 0.0], [0.2, 0.3, 4.0]]
    q = [[0.5, 3.0, 0.7], [0.2, 0.3, 4.0000001]]  # the second row nearly equal: no cancelling
    result = cecli.kl(p, q, generalized=True, reduction="none")
    assert_close(result.loss, oracle.generalized_kl(p, q))
    assert cecli.kl(p, q, generalized=True).loss > 0
    with pytest.raises(cecli.InputError, match="-1 is negative"):
        cecli.kl([[1.0, -1.0]], [[0.5, 0.5]], generalized=True)


def test_parse_matrix_reads_minus_inf_only_where_masks_are_asked_for() -> None:
    from cecli.inputs import parse_matrix

    parsed = parse_matrix("-inf,1;2,-INF", "PREDS", masks=True)
    assert parsed[0, 0] == parsed[1, 1] == -INF
    with pytest.raises(cecli.InputError, match="'inf' is not a finite number"):
        parse_matrix("inf,1", "PREDS", masks=True)
    with pytest.raises(cecli.InputError, match="'-inf' is not a finite number"):
        parse_matrix("-inf,1", "PREDS")


def test_a_batch_of_only_masked_logits_is_a_value_for_sigmoid_losses() -> None:
    """Every logit -inf: softmax refuses the row, each sigmoid is 0 (a regression: the check
    for values that are not finite found none to name and failed with an IndexError)."""
    result = cecli.bce([[0.0, 1.0]], [[-INF, -INF]], logits=True, reduction="none")
    assert result.per_row[0] == INF
    assert cecli.bce([[0.0, 0.0]], [[-INF, -INF]], logits=True).loss == 0.0
