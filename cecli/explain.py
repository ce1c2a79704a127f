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


def _first_counted(result: LossResult) -> int:
    """The first row that counts in the loss: not ignored (ignore_index) and not of weight 0.
    An ignored row's terms are all 0, and sentences about them would say nothing true."""
    counted = np.flatnonzero(result.row_divisors != 0)
    return int(counted[0]) if counted.size else 0


def explain(result: LossResult) -> list[str]:
    """A few sentences about ``result``'s first row that counts, then its costliest row."""
    row = _first_counted(result)
    sentences = _sentences(result, row)
    if row and sentences:
        before = {1: "Row 1 counts", 2: "Rows 1 and 2 count"}.get(row, f"Rows 1 to {row} count")
        sentences.insert(
            0, f"{before} for nothing (ignored, or of weight 0), so this is about row {row + 1}."
        )
    return sentences + _worst_row(result)


@functools.singledispatch
def _sentences(result: LossResult, row: int) -> list[str]:
    """What row ``row`` of ``result`` shows, by the type of loss."""
    return []


@_sentences.register(CrossEntropyResult)
def _cross_entropy(result: CrossEntropyResult, row: int) -> list[str]:
    terms, targets = result.terms[row], result.targets[row]
    total = float(terms.sum())
    target_classes = np.flatnonzero(targets)
    sentences = []
    # One class with a target (a class index, unsmoothed): the loss is that class's term
    # alone.  Smoothed or soft targets give every class with a target its own term.
    if target_classes.size == 1:
        true = int(target_classes[0])
        p = float(result.probs[row, true])
        # p = 1 clipped to 1 − 1e-07 would read "1", and −log 1 = 1e-07 would be false.
        shown = f"1 − {_g(result.eps)}" if result.clipped[row, true] and p > 0.5 else _g(p)
        log_p = f"log({shown})" if " " in shown else f"log {shown}"
        weight = float(targets[true]) * (1.0 if result.weights is None else result.weights[true])
        # A class weight (or a target below 1) scales the term.
        scaled = f"its term is −{_g(weight)}×{log_p}"
        term = f"the loss is −{log_p}" if weight == 1.0 else scaled
        sentences.append(
            f"Only the true class counts: the model gives {_name(result, true)} p = {shown}, so "
            f"{term} = {_g(total)} {result.unit}; how "
            + (
                "the other class takes"
                if result.classes == 2
                else f"the other {result.classes - 1} classes share"
            )
            + " the rest does not change it."
        )
    elif total > 0:
        top = int(np.argmax(terms))
        sentences.append(
            f"{_subject(result, top)} contributes most: {_g(terms[top])} of "
            f"{_g(total)} {result.unit} ({terms[top] / total:.0%})."
        )
    clipped_targets = result.clipped[row] & (targets > 0)
    if clipped_targets.any():
        given = result.preds[row][clipped_targets]
        without = (
            "without clipping, p = 0 would give an infinite loss"
            if np.any(given < result.eps)
            else "without clipping, p = 1 would cost 0"
        )
        sentences.append(
            f"Clipping changed the result: a target class had p outside [{_g(result.eps)}, 1 − "
            f"{_g(result.eps)}], so its log was taken of the clipped value ({without})."
        )
    elif result.clipped[row].any():
        sentences.append(
            "Some predictions were clipped, but only on classes with target 0, whose terms are 0 "
            "either way."
        )
    return sentences


@_sentences.register(SmoothingResult)
def _smoothing(result: SmoothingResult, row: int) -> list[str]:
    # The row's terms, as its table sums them (per_row carries the row's sample weight).
    hard, smooth = float(result.hard_terms[row].sum()), float(result.terms[row].sum())
    return [
        f"Smoothing moves {_g(result.smoothing)} of the target's mass onto all "
        f"{result.classes} classes, so the wrong classes' terms now count: the loss goes from "
        f"{_g(hard)} to {_g(smooth)} {result.unit}. A model can no longer reach 0 by putting "
        f"probability 1 on the true class."
    ]


@_sentences.register(BinaryResult)
def _binary(result: BinaryResult, row: int) -> list[str]:
    terms = result.terms[row]
    top = int(np.argmax(terms))
    y, p = float(result.targets[row, top]), float(result.probs[row, top])
    side = "yes" if y >= 0.5 else "no"
    output = result.class_names[top] if result.class_names else f"Output {top}"
    return [
        f"{output} dominates: its answer is {side} (y = {_g(y)}) but the model says "
        f"p = {_g(p)}, costing {_g(terms[top])} of the row's {_g(terms.sum())} {result.unit}."
    ]


@_sentences.register(MultilabelResult)
def _multilabel(result: MultilabelResult, row: int) -> list[str]:
    positive = float(result.positive_terms[row].sum())
    negative = float(result.negative_terms[row].sum())
    total = positive + negative
    count_pos = int(np.count_nonzero(result.targets[row] > 0.5))
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
def _kl(result: KLResult, row: int) -> list[str]:
    terms = result.terms[row]
    top = int(np.argmax(np.abs(terms)))
    # The row's own sums, unweighted as its terms are: a sample weight scales D_KL alone.
    divergence, entropy, cross = (float(sums[row]) for sums in result.row_sums())
    differs = (
        f"{_subject(result, top)} differs most "
        f"(p = {_g(result.targets[row, top])}, q = {_g(result.probs[row, top])})."
    )
    if result.generalized_rows[row]:  # unnormalised P and Q: no code lengths to compare
        return [
            f"Generalized D_KL = {_g(divergence)} {result.unit} adds what Q's mass exceeds "
            f"P's, Σ(q − p) = {_g(divergence - (cross - entropy))}, to H(P,Q) − H(P) = "
            f"{_g(cross - entropy)}. {differs}"
        ]
    return [
        f"D_KL = {_g(divergence)} {result.unit} is the extra cost of coding P with Q: "
        f"H(P,Q) = {_g(cross)} against H(P) = {_g(entropy)}. {differs}"
    ]


@_sentences.register(GradResult)
def _grad(result: GradResult, row: int) -> list[str]:
    g = result.grad[row]
    up, down = int(np.argmin(g)), int(np.argmax(g))
    if g[up] == g[down]:
        return [f"Every logit's gradient is {_g(g[up])}: no class is pushed more than another."]
    return [
        f"Gradient descent moves each logit against its gradient: {_name(result, up)}'s logit goes "
        f"up most (gradient {_g(g[up])}), {_name(result, down)}'s goes down most "
        f"(gradient {_g(g[down])})."
    ]


@_sentences.register(FocalResult)
def _focal(result: FocalResult, row: int) -> list[str]:
    # From the row's terms, unweighted both: per_row carries a sample weight, per_row_ce not.
    focal, ce = float(result.terms[row].sum()), float(result.ce_terms[row].sum())
    if result.element_wise and result.reduction != "sum":  # binary: a row's mean over outputs
        focal, ce = focal / result.classes, ce / result.classes
    sentences = [
        f"With γ = {_g(result.gamma)} the row's loss is {_g(focal)} against {_g(ce)} for plain "
        f"cross-entropy" + (f", {ce / focal:.3g}× smaller." if focal > 0 and ce > focal else ".")
    ]
    active = result.targets[row] > 0 if not result.binary else np.ones(result.classes, dtype=bool)
    if np.any(active):
        p_t = result.p_t[row][active]
        easy = int(np.argmax(p_t))
        sentences.append(
            f"The easiest term (p_t = {_g(p_t[easy])}) keeps only "
            f"{float(result.modulating[row][active][easy]):.2%} of its cross-entropy: easy "
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
