"""Plain-language notes on what a result's numbers mean (``--explain``).

Pure functions from results to sentences: which term dominates, whether clipping changed the
value, what the gradient pushes.  Every number quoted is read from the result.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from cecli.numerics import FloatArray
from cecli.results import (
    BinaryResult,
    CrossEntropyResult,
    FocalResult,
    GradResult,
    KLResult,
    LossResult,
    MultilabelResult,
    SmoothingResult,
    json_array,
)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Comparison:
    """The same labels scored against two predictions (``--vs``), with their gradients."""

    a: LossResult
    b: LossResult
    grad_a: FloatArray | None
    """∂L/∂z of A's loss w.r.t. the logits (None where cecli has no closed form)."""
    grad_b: FloatArray | None

    def to_json(self) -> dict[str, object]:
        document: dict[str, object] = {"a": self.a.to_json(), "b": self.b.to_json()}
        if self.grad_a is not None and self.grad_b is not None:
            document["grad_a"] = json_array(self.grad_a)
            document["grad_b"] = json_array(self.grad_b)
        return document


def _g(value: float) -> str:
    return f"{float(value):.4g}"


def _name(result: LossResult, index: int) -> str:
    return result.class_names[index] if result.class_names else f"class {index}"


def _subject(result: LossResult, index: int) -> str:
    """A class at the start of a sentence: "Class 2", or its name exactly as given (upper-casing
    a name's first letter and lower-casing the rest would turn mRNA into Mrna)."""
    return result.class_names[index] if result.class_names else f"Class {index}"


def _worst_row(result: LossResult) -> list[str]:
    if result.rows < 2:
        return []
    row = int(np.nanargmax(result.per_row))
    return [f"Row {row + 1} costs the most ({_g(result.per_row[row])} {result.unit})."]


def explain(result: LossResult) -> list[str]:
    """A few sentences about ``result``, first row first."""
    return _sentences(result) + _worst_row(result)


@functools.singledispatch
def _sentences(result: LossResult) -> list[str]:
    """What the first row of ``result`` shows, by the type of loss."""
    return []


@_sentences.register(CrossEntropyResult)
def _cross_entropy(result: CrossEntropyResult) -> list[str]:
    terms = result.terms[0]
    top = int(np.argmax(terms))
    total = float(terms.sum())
    sentences = []
    if result.label_indices is not None or np.count_nonzero(result.targets[0]) == 1:
        p = float(result.probs[0, top])
        sentences.append(
            f"Only the true class counts: the model gives {_name(result, top)} p = {_g(p)}, so the "
            f"loss is −log {_g(p)} = {_g(total)} {result.unit}; how "
            + (
                "the other class takes"
                if result.classes == 2
                else f"the other {result.classes - 1} classes share"
            )
            + " the rest does not change it."
        )
    elif total > 0:
        sentences.append(
            f"{_subject(result, top)} contributes most: {_g(terms[top])} of "
            f"{_g(total)} {result.unit} ({terms[top] / total:.0%})."
        )
    clipped_targets = result.clipped[0] & (result.targets[0] > 0)
    if clipped_targets.any():
        sentences.append(
            f"Clipping changed the result: a target class had p outside [{_g(result.eps)}, 1 − "
            f"{_g(result.eps)}], so its log was taken of the clipped value (without clipping, "
            f"p = 0 would give an infinite loss)."
        )
    elif result.clipped_count:
        sentences.append(
            "Some predictions were clipped, but only on classes with target 0, whose terms are 0 "
            "either way."
        )
    return sentences


@_sentences.register(SmoothingResult)
def _smoothing(result: SmoothingResult) -> list[str]:
    hard, smooth = float(result.per_row_hard[0]), float(result.per_row[0])
    return [
        f"Smoothing moves {_g(result.smoothing)} of the target's mass onto all "
        f"{result.classes} classes, so the wrong classes' terms now count: the loss goes from "
        f"{_g(hard)} to {_g(smooth)} {result.unit}. A model can no longer reach 0 by putting "
        f"probability 1 on the true class."
    ]


@_sentences.register(BinaryResult)
def _binary(result: BinaryResult) -> list[str]:
    terms = result.terms[0]
    top = int(np.argmax(terms))
    y, p = float(result.targets[0, top]), float(result.probs[0, top])
    side = "yes" if y >= 0.5 else "no"
    return [
        f"Output {top} dominates: its answer is {side} (y = {_g(y)}) but the model says "
        f"p = {_g(p)}, costing {_g(terms[top])} of the row's {_g(terms.sum())} {result.unit}."
    ]


@_sentences.register(MultilabelResult)
def _multilabel(result: MultilabelResult) -> list[str]:
    positive = float(result.positive_terms[0].sum())
    negative = float(result.negative_terms[0].sum())
    total = positive + negative
    count_pos = int(np.count_nonzero(result.targets[0] > 0.5))
    count_neg = result.classes - count_pos
    if total <= 0:
        return []
    return [
        f"The {count_pos} positive class(es) contribute {_g(positive)} and the {count_neg} "
        f"negative class(es) {_g(negative)} {result.unit}: {negative / total:.0%} of the loss "
        f"comes from the negatives."
        + (" Many easy negatives can drown a few positives; --pos-weight or focal loss "
           "rebalance them." if count_neg > 4 * max(count_pos, 1) else "")
    ]  # fmt: skip


@_sentences.register(KLResult)
def _kl(result: KLResult) -> list[str]:
    terms = result.terms[0]
    top = int(np.argmax(np.abs(terms)))
    return [
        f"D_KL = {_g(result.per_row[0])} {result.unit} is the extra cost of coding P with Q: "
        f"H(P,Q) = {_g(result.per_row_cross_entropy[0])} against H(P) = "
        f"{_g(result.per_row_entropy[0])}. {_subject(result, top)} differs most "
        f"(p = {_g(result.targets[0, top])}, q = {_g(result.probs[0, top])})."
    ]


@_sentences.register(GradResult)
def _grad(result: GradResult) -> list[str]:
    g = result.grad[0]
    up, down = int(np.argmin(g)), int(np.argmax(g))
    return [
        f"Gradient descent moves each logit against its gradient: {_name(result, up)}'s logit goes "
        f"up most (gradient {_g(g[up])}), {_name(result, down)}'s goes down most "
        f"(gradient {_g(g[down])})."
    ]


@_sentences.register(FocalResult)
def _focal(result: FocalResult) -> list[str]:
    ce, focal = float(result.per_row_ce[0]), float(result.per_row[0])
    sentences = [
        f"With γ = {_g(result.gamma)} the row's loss is {_g(focal)} against {_g(ce)} for plain "
        f"cross-entropy" + (f", {ce / focal:.3g}× smaller." if focal > 0 and ce > focal else ".")
    ]
    active = result.targets[0] > 0 if not result.binary else np.ones(result.classes, dtype=bool)
    if np.any(active):
        p_t = result.p_t[0][active]
        easy = int(np.argmax(p_t))
        sentences.append(
            f"The easiest term (p_t = {_g(p_t[easy])}) keeps only "
            f"{float(result.modulating[0][active][easy]):.2%} of its cross-entropy: easy "
            f"examples fade, hard ones stay."
        )
    return sentences


def compare(comparison: Comparison) -> list[str]:
    """What differs between two predictions for the same labels, and what does not."""
    a, b = comparison.a, comparison.b
    loss_a, loss_b = (float(np.sum(x.headline())) for x in (a, b))
    unit = a.unit
    if np.isclose(loss_a, loss_b, rtol=1e-12, atol=0.0):
        sentences = [f"The losses are equal ({_g(loss_a)} {unit})"]
    else:
        lower = "B" if loss_b < loss_a else "A"
        sentences = [
            f"{lower} has the lower loss: {_g(loss_a)} (A) against {_g(loss_b)} (B) {unit}"
        ]
    if comparison.grad_a is not None and comparison.grad_b is not None:
        differ = int(np.count_nonzero(~np.isclose(comparison.grad_a, comparison.grad_b)))
        total = comparison.grad_a.size
        sentences[0] += (
            f"; the gradients w.r.t. the logits differ in {differ} of {total} entries."
            if differ
            else "; the gradients w.r.t. the logits are equal too."
        )
    else:
        sentences[0] += "."
    return sentences
