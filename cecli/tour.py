"""A guided tour: worked examples computed live by the same core as the subcommands.

Each stop is a short explanation, the results that illustrate it (drawn by the renderer as the
subcommands' own tables) and the conclusions, with every number in them computed here.
Where a widely copied worked example states a wrong number, the stop shows the computed one and
says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cecli import frameworks, losses, numerics
from cecli.numerics import FloatArray
from cecli.results import LossResult


@dataclass(frozen=True, eq=False)
class FrameworksView:
    """cecli's value beside the libraries' for one input, as ``--frameworks`` shows it."""

    title: str
    exact: FloatArray
    found: tuple[frameworks.Reproduction | frameworks.Missing, ...]
    note: str


@dataclass(frozen=True, eq=False)
class Stop:
    title: str
    intro: str
    results: tuple[LossResult, ...]
    conclusions: tuple[str, ...]
    frameworks: FrameworksView | None = None
    """Shown after the results' tables, where a stop compares cecli with the libraries."""


def _f(value: float | np.ndarray, digits: int = 4) -> str:
    return f"{float(np.sum(value)):.{digits}f}"


def _r(value: float | np.floating[Any]) -> str:
    """A number as Python prints a float: every digit it holds, no NumPy type name."""
    return repr(float(value))


def _join(values: np.ndarray) -> str:
    return ", ".join(f"{float(v):.4f}" for v in values)


def one_hot_ce() -> Stop:
    first = losses.ce([0], [0.1, 0.5, 0.1, 0.1, 0.2])
    second = losses.ce([0], [0.1, 0.6, 0.1, 0.1, 0.1])
    grad_first = losses.grad([0], [0.1, 0.5, 0.1, 0.1, 0.2])
    grad_second = losses.grad([0], [0.1, 0.6, 0.1, 0.1, 0.1])
    differ = int(np.count_nonzero(~np.isclose(grad_first.grad, grad_second.grad)))
    return Stop(
        "One-hot cross-entropy sees only the true class",
        "With a one-hot target every term but the true class's is 0 · log p = 0, so the loss is "
        "−log of the probability given to the true class.",
        (first, second),
        (
            f"[0.1 0.5 0.1 0.1 0.2] and [0.1 0.6 0.1 0.1 0.1] both give L = {first.loss!r} "
            f"(= −ln 0.1): how the wrong classes share the rest does not matter.",
            f"The gradients w.r.t. the logits do differ, in {differ} of 5 entries "
            f"(softmax − y follows the whole distribution): cecli grad 0 ….",
        ),
    )


def three_flowers() -> Stop:
    probs = [[0.57, 0.21, 0.22], [0.20, 0.58, 0.22], [0.25, 0.23, 0.52]]
    result = losses.ce([0, 1, 2], probs, class_names=("setosa", "versicolor", "virginica"))
    true = [row[label] for label, row in enumerate(probs)]
    terms = " + ".join(_f(v) for v in result.per_row)
    cheapest, dearest = int(np.argmin(result.per_row)), int(np.argmax(result.per_row))
    return Stop(
        "Three flowers, one softmax each",
        "A classifier of setosa, versicolor and virginica gives each flower's true class "
        f"{true[0]}, {true[1]} and {true[2]}; each example's loss is −ln of that number, and "
        "the cost is their mean.",
        (result,),
        (
            f"Mean: ({terms}) / 3 = {_f(result.loss)} nats.",
            f"The surest answer (p = {true[cheapest]}, row {cheapest + 1}) costs least, "
            f"{_f(result.per_row[cheapest])}; the least sure (p = {true[dearest]}, row "
            f"{dearest + 1}) costs most, {_f(result.per_row[dearest])}.",
        ),
    )


def binary_series() -> Stop:
    result = losses.bce([1, 0, 1, 1], [0.9, 0.2, 0.6, 0.99])
    nats = losses.bce([1], [0.9]).headline()[0]
    bits = losses.bce([1], [0.9], base="2").headline()[0]
    return Stop(
        "Binary cross-entropy: a series of yes/no predictions",
        "Each output is its own two-class problem: −log p when the answer is yes, −log(1 − p) "
        "when it is no; the loss averages them.",
        (result,),
        (
            f"Mean over 4 outputs: {_f(result.loss)} nats. The confident right answer "
            f"(p = 0.99) costs {_f(result.terms[0, 3])}, the hesitant one (p = 0.6) "
            f"{_f(result.terms[0, 2])}.",
            f"Units matter: −log 0.9 is {_f(nats, 3)} nats but {_f(bits, 3)} bits; a value often "
            f'quoted as "0.105 bits" is in nats (cecli --base 2 gives bits).',
        ),
    )


def drowned_positives() -> Stop:
    labels = np.zeros((1, 1000))
    labels[0, [3, 500]] = 1.0
    preds = np.full((1, 1000), 0.01)
    preds[0, [3, 500]] = 0.3
    result = losses.multilabel(labels, preds)
    positive, negative = float(np.sum(result.positive)), float(np.sum(result.negative))
    return Stop(
        "Two positives among 1000 classes",
        "Multi-label BCE sums one binary loss per class. With 998 easy negatives at p = 0.01 "
        "each costing only −ln 0.99, their sum still rivals the two missed positives.",
        (result,),
        (
            f"Positives: {_f(positive)} nats; negatives: {_f(negative)} nats "
            f"({negative / (positive + negative):.0%} of the loss comes from classes the model "
            f"already gets right). Focal loss (γ > 0) or --pos-weight shift that balance.",
        ),
    )


def entropy_and_kl() -> Stop:
    p = [0.5, 0.5]
    near = losses.kl(p, [0.6, 0.4], base="2")
    far = losses.kl(p, [0.9, 0.1], base="2")
    correct = 0.5 * math.log2(0.5 / 0.9) + 0.5 * math.log2(0.5 / 0.1)
    return Stop(
        "Entropy, cross-entropy and KL divergence, in bits",
        "H(P,Q) = H(P) + D_KL(P‖Q): the cross-entropy is the entropy of the truth plus the "
        "extra bits paid for coding it with the model's distribution.",
        (near, far),
        (
            f"P = [0.5 0.5]: H(P) = {_f(near.entropy, 3)} bit. Q = [0.6 0.4]: D_KL = "
            f"{_f(near.loss, 4)} bits, H(P,Q) = {_f(near.cross_entropy, 4)}. Q = [0.9 0.1]: "
            f"D_KL = {_f(far.loss, 4)} bits, H(P,Q) = {_f(far.cross_entropy, 4)}.",
            f"A widely copied worked example gives 0.237 and 1.237 bits for Q = [0.9 0.1]: "
            f"it took log₂(0.5/0.1) as 1.322 instead of {math.log2(5):.3f}; the right values are "
            f"{correct:.3f} and {1 + correct:.3f} bits.",
        ),
    )


def softmax_gradient() -> Stop:
    result = losses.grad([0], [2.0, 1.0, 0.1], logits=True)
    g = result.grad[0]
    return Stop(
        "The gradient from logits is softmax − y",
        "For softmax followed by cross-entropy the chain rule collapses: ∂L/∂z = softmax(z) − y. "
        "The true class's logit is pushed up by 1 − p, every other logit down by its p.",
        (result,),
        (
            f"z = [2 1 0.1]: ∂L/∂z = [{_join(g)}]; the entries sum to "
            f"{abs(float(np.sum(g))):.0f}, as softmax and y both sum to 1.",
        ),
    )


def label_smoothing() -> Stop:
    result = losses.smooth([0], [0.7, 0.2, 0.1], smoothing=0.1)
    return Stop(
        "Label smoothing",
        "y′ = (1 − ε)·y + ε/C moves ε of the target's mass evenly over all C classes, so the "
        "model is never asked for probability exactly 1.",
        (result,),
        (
            f"ε = 0.1, C = 3: the target becomes [{_join(result.targets[0])}]; "
            f"the loss rises from {_f(result.loss_hard)} to {_f(result.loss)} nats because the "
            f"wrong classes now count too.",
        ),
    )


def focal_loss() -> Stop:
    labels, preds = [1, 0, 1, 0], [0.9, 0.1, 0.3, 0.6]
    plain = losses.focal(labels, preds, binary=True, gamma=0.0)
    focused = losses.focal(labels, preds, binary=True, gamma=2.0)
    return Stop(
        "Focal loss with γ = 0 and γ = 2",
        "Focal loss multiplies each cross-entropy term by (1 − p_t)^γ. With γ = 0 it is plain "
        "cross-entropy; with γ = 2 an easy example (p_t = 0.9) keeps 1 % of its loss.",
        (plain, focused),
        (
            f"γ = 0: {_f(plain.loss)} nats, equal to the BCE {_f(plain.ce)}. γ = 2: "
            f"{_f(focused.loss)} nats, now made mostly of the two hard examples.",
        ),
    )


def clipping() -> Stop:
    clipped = losses.ce([0], [0.0, 1.0])
    exact = losses.ce([0], [0.0, 1.0], eps=0.0)
    eps = clipped.eps
    return Stop(
        f"Clipping: why p = 0 costs {clipped.loss:.1f} and not ∞",
        "−log 0 is infinite, so before taking the log cecli clips every probability into "
        f"[ε, 1 − ε], with ε = {eps:g} by default (as Keras does); --eps 0 turns clipping off.",
        (clipped, exact),
        (
            f"With ε = {eps:g}, p = 0 becomes {eps:g} and the loss is −ln {eps:g} = "
            f"{-math.log(eps)!r}: no single term can cost more, whatever the model says.",
            f"With --eps 0 the loss is {exact.loss}: one confident mistake makes a mean over any "
            "number of rows infinite.",
        ),
    )


def log_sum_exp() -> Stop:
    logits = [1000.0, -1000.0]
    exact = losses.ce([1], logits, logits=True)
    probs = numerics.softmax(logits)
    from_probs = losses.ce([1], probs, eps=0.0)
    from_clipped = losses.ce([1], probs)
    log_probs = numerics.log_softmax(logits)
    log_sum = logits[1] - float(log_probs[1])
    with np.errstate(divide="ignore"):  # log 0 = −inf is the point being shown
        logs_of_probs = np.log(probs)
    return Stop(
        "Logits and log-sum-exp: exact answers at ±1000",
        "From logits, log softmax(z)_c = z_c − log Σ e^z_k, and log Σ e^z_k = max z + "
        "log(1 + Σ e^(z_k − max z)) never overflows. Taking softmax first and then its log "
        "loses any probability too small for a double.",
        (exact, from_probs),
        (
            f"z = [1000 −1000]: softmax(z) = [{_r(probs[0])}, {_r(probs[1])}] (e^−2000 is below "
            f"the smallest double), whose log is [{_r(logs_of_probs[0])}, "
            f"{_r(logs_of_probs[1])}]: L = {from_probs.loss}, or {from_clipped.loss!r} once "
            "clipped at 1e-7.",
            f"--logits never forms p: log softmax(z)₁ = z₁ − log Σ e^z_k = {_r(logits[1])} − "
            f"{_r(log_sum)} = {_r(log_probs[1])}, so L = {exact.loss!r}, exactly.",
        ),
    )


def frameworks_differ() -> Stop:
    labels, preds = np.array([0.0]), np.array([0.0, 1.0])
    result = losses.ce(labels, preds)
    problem = frameworks.make_problem(
        "ce", labels, preds, logits=False, options={"reduction": result.reduction}
    )
    found = tuple(frameworks.reproduce_all(problem))
    values = {
        item.library: float(item.value)
        for item in found
        if isinstance(item, frameworks.Reproduction)
    }
    machine_eps = float(np.finfo(np.float64).eps)
    keras_difference = values["keras"] / result.loss - 1
    view = FrameworksView(
        "cecli ce 0 0,1 --frameworks (nats)",
        np.asarray(result.loss),
        found,
        f"clips {result.clipped_count} values at {result.eps:g}",
    )
    return Stop(
        "Why does my framework give a different number?",
        "The same input, p = 0 on the true class, in five libraries. Each is right by its own "
        "conventions: whether and where it clips, and in which dtype it computes.",
        (),
        (
            f"torch and optax do not clip: −log 0 = {values['torch']}. scikit-learn clips at "
            f"machine ε, {machine_eps:.3g}: −ln {machine_eps:.3g} = {-math.log(machine_eps)!r}.",
            f"Keras clips at 1e-7 like cecli but in float32: {values['keras']!r} against "
            f"{result.loss!r}, a relative difference of {keras_difference:+.1e}.",
            "cecli ce … --like LIB prints one library's number; --eps sets cecli's clipping.",
        ),
        view,
    )


STOPS: tuple[Callable[[], Stop], ...] = (
    one_hot_ce,
    three_flowers,
    binary_series,
    drowned_positives,
    entropy_and_kl,
    softmax_gradient,
    label_smoothing,
    focal_loss,
    clipping,
    log_sum_exp,
    frameworks_differ,
)
