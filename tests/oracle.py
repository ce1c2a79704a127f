"""An independent high-precision oracle: every loss written from its definition in mpmath.

Nothing here shares code or tricks with ``cecli``: probabilities are clipped in exact
arithmetic, softmax and sigmoid are evaluated directly at 60 significant digits (which is
plenty for logits of ±1000), and reductions are plain sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpmath import mp, mpf

mp.dps = 60

Row = Sequence[float]
Matrix = Sequence[Row]
Mpf = Any


def ln_base(base: str) -> Mpf:
    return {"e": mpf(1), "2": mp.log(2), "10": mp.log(10)}[base]


def log(x: Mpf) -> Mpf:
    return -mp.inf if x == 0 else mp.log(x)


def clip(p: float, eps: float) -> Mpf:
    if eps == 0:
        return mpf(p)
    return min(max(mpf(p), mpf(eps)), 1 - mpf(eps))


def softmax(z: Row) -> list[Mpf]:
    exps = [mp.exp(mpf(v)) for v in z]
    total = mp.fsum(exps)
    return [e / total for e in exps]


def log_softmax(z: Row) -> list[Mpf]:
    lse = mp.log(mp.fsum(mp.exp(mpf(v)) for v in z))
    return [mpf(v) - lse for v in z]


def sigmoid(x: float) -> Mpf:
    return 1 / (1 + mp.exp(-mpf(x)))


def log_sigmoid(x: float) -> Mpf:
    return -mp.log(1 + mp.exp(-mpf(x)))


def term(weight: Mpf, log_value: Mpf) -> Mpf:
    """-weight·log_value with 0·log 0 = 0."""
    return mpf(0) if weight == 0 else -weight * log_value


def reduce(values: list[Mpf], reduction: str, divisor: Mpf) -> Mpf | list[Mpf]:
    if reduction == "none":
        return values
    total = mp.fsum(values)
    return total if reduction == "sum" else total / divisor


def one_hot(indices: Sequence[int], classes: int) -> list[list[float]]:
    return [[1.0 if c == i else 0.0 for c in range(classes)] for i in indices]


def log_probs(preds: Row, *, logits: bool, eps: float) -> list[Mpf]:
    if logits:
        return log_softmax(preds)
    return [log(clip(p, eps)) for p in preds]


def ce(
    targets: Matrix,
    preds: Matrix,
    *,
    logits: bool = False,
    eps: float = 1e-7,
    base: str = "e",
    reduction: str = "mean",
    weights: Row | None = None,
    smoothing: float = 0.0,
) -> tuple[Mpf | list[Mpf], list[Mpf]]:
    """Per row -Σ w·y'·log p; mean divides by N, or by Σ w·y' with weights."""
    rows: list[Mpf] = []
    divisor = mpf(0)
    for y_row, p_row in zip(targets, preds, strict=True):
        classes = len(p_row)
        lp = log_probs(p_row, logits=logits, eps=eps)
        w = [mpf(1)] * classes if weights is None else [mpf(v) for v in weights]
        y = [(1 - mpf(smoothing)) * mpf(v) + mpf(smoothing) / classes for v in y_row]
        rows.append(mp.fsum(term(w[c] * y[c], lp[c]) for c in range(classes)) / ln_base(base))
        divisor += mp.fsum(w[c] * y[c] for c in range(classes))
    if weights is None:
        divisor = mpf(len(rows))
    return reduce(rows, reduction, divisor), rows


def bce_elements(
    targets: Matrix,
    preds: Matrix,
    *,
    logits: bool = False,
    eps: float = 1e-7,
    base: str = "e",
    pos_weight: float = 1.0,
    neg_weight: float = 1.0,
    smoothing: float = 0.0,
    weights: Row | None = None,
) -> tuple[list[list[Mpf]], list[list[Mpf]]]:
    """Positive terms -w_c·W+·y·log p and negative terms -w_c·W-·(1-y)·log(1-p)."""
    positive, negative = [], []
    for y_row, p_row in zip(targets, preds, strict=True):
        pos_row, neg_row = [], []
        scales = [1.0] * len(p_row) if weights is None else weights
        for y_value, p_value, scale in zip(y_row, p_row, scales, strict=True):
            y = mpf(y_value) * (1 - mpf(smoothing)) + mpf(smoothing) / 2
            if logits:
                log_p, log_not_p = log_sigmoid(p_value), log_sigmoid(-p_value)
            else:
                p = clip(p_value, eps)
                log_p, log_not_p = log(p), log(1 - p)
            w = mpf(scale)
            pos_row.append(term(w * pos_weight * y, log_p) / ln_base(base))
            neg_row.append(term(w * neg_weight * (1 - y), log_not_p) / ln_base(base))
        positive.append(pos_row)
        negative.append(neg_row)
    return positive, negative


def bce(
    targets: Matrix, preds: Matrix, *, reduction: str = "mean", **options: Any
) -> tuple[Mpf | list[Mpf], list[Mpf]]:
    """Mean over all elements; per row the mean (or with ``sum`` the sum) of its elements."""
    positive, negative = bce_elements(targets, preds, **options)
    row_sums = [mp.fsum(p) + mp.fsum(n) for p, n in zip(positive, negative, strict=True)]
    classes = len(preds[0])
    per_row = row_sums if reduction == "sum" else [s / classes for s in row_sums]
    if reduction == "none":
        return per_row, per_row
    return reduce(row_sums, reduction, mpf(len(row_sums) * classes)), per_row


def multilabel(
    targets: Matrix, preds: Matrix, *, reduction: str = "mean", **options: Any
) -> tuple[Mpf | list[Mpf], list[Mpf], Mpf | list[Mpf], Mpf | list[Mpf]]:
    """Sum over classes, mean over rows; also the positive and negative parts."""
    positive, negative = bce_elements(targets, preds, **options)
    pos_rows = [mp.fsum(r) for r in positive]
    neg_rows = [mp.fsum(r) for r in negative]
    rows = [p + n for p, n in zip(pos_rows, neg_rows, strict=True)]
    n = mpf(len(rows))
    return (
        reduce(rows, reduction, n),
        rows,
        reduce(pos_rows, reduction, n),
        reduce(neg_rows, reduction, n),
    )


def kl(
    p_rows: Matrix,
    q_rows: Matrix,
    *,
    logits: bool = False,
    eps: float = 1e-7,
    base: str = "e",
    reduction: str = "mean",
) -> dict[str, Any]:
    """D_KL(P‖Q), H(P) and H(P, Q), from their definitions."""
    kls, entropies, crosses = [], [], []
    for p_row, q_row in zip(p_rows, q_rows, strict=True):
        q = softmax(q_row) if logits else [clip(v, eps) for v in q_row]
        p = [mpf(v) for v in p_row]
        kls.append(
            mp.fsum(
                mpf(0) if pc == 0 else pc * mp.log(pc / qc) for pc, qc in zip(p, q, strict=True)
            )
            / ln_base(base)
        )
        entropies.append(mp.fsum(term(pc, log(pc)) for pc in p) / ln_base(base))
        crosses.append(
            mp.fsum(term(pc, log(qc)) for pc, qc in zip(p, q, strict=True)) / ln_base(base)
        )
    n = mpf(len(kls))
    return {
        "loss": reduce(kls, reduction, n),
        "per_row": kls,
        "entropy": reduce(entropies, reduction, n),
        "cross_entropy": reduce(crosses, reduction, n),
    }


def softmax_grad(
    targets: Matrix, logits: Matrix, *, reduction: str = "mean", base: str = "e"
) -> list[list[Mpf]]:
    """∂/∂z of the reduced -Σ y·log softmax(z): softmax·Σy - y, over N for the mean."""
    scale = mpf(len(targets)) if reduction == "mean" else mpf(1)
    out = []
    for y_row, z_row in zip(targets, logits, strict=True):
        s = softmax(z_row)
        mass = mp.fsum(mpf(v) for v in y_row)
        out.append(
            [(sc * mass - mpf(y)) / scale / ln_base(base) for sc, y in zip(s, y_row, strict=True)]
        )
    return out


def softmax_ce_of_probabilities(targets: Matrix, preds: Matrix, *, eps: float = 1e-7) -> list[Mpf]:
    """Per row -Σ y·log softmax(log p) = -Σ y·log(p / Σp) for the clipped p: the loss whose
    logit gradient ``grad`` reports when it is given probabilities."""
    rows = []
    for y_row, p_row in zip(targets, preds, strict=True):
        clipped = [clip(p, eps) for p in p_row]
        total = mp.fsum(clipped)
        rows.append(
            mp.fsum(term(mpf(y), log(p / total)) for y, p in zip(y_row, clipped, strict=True))
        )
    return rows


def sigmoid_grad(
    targets: Matrix, logits: Matrix, *, reduction: str = "mean", base: str = "e"
) -> list[list[Mpf]]:
    """∂/∂z of the reduced element-wise BCE: σ(z) - y, over N·C for the mean."""
    scale = mpf(len(targets) * len(targets[0])) if reduction == "mean" else mpf(1)
    return [
        [(sigmoid(z) - mpf(y)) / scale / ln_base(base) for y, z in zip(y_row, z_row, strict=True)]
        for y_row, z_row in zip(targets, logits, strict=True)
    ]


def focal(
    targets: Matrix,
    preds: Matrix,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    logits: bool = False,
    eps: float = 1e-7,
    base: str = "e",
    reduction: str = "mean",
    smoothing: float = 0.0,
) -> tuple[Mpf | list[Mpf], list[Mpf]]:
    """Multiclass: per row -Σ y'·α·(1-p)^γ·log p, y' = (1-ε)·y + ε/C; mean over rows."""
    rows = []
    a = mpf(1) if alpha is None else mpf(alpha)
    for y_row, p_row in zip(targets, preds, strict=True):
        p = softmax(p_row) if logits else [clip(v, eps) for v in p_row]
        smoothed = [(1 - mpf(smoothing)) * mpf(y) + mpf(smoothing) / len(y_row) for y in y_row]
        rows.append(
            mp.fsum(
                mpf(0) if y == 0 else -y * a * (1 - pc) ** mpf(gamma) * mp.log(pc)
                for y, pc in zip(smoothed, p, strict=True)
            )
            / ln_base(base)
        )
    return reduce(rows, reduction, mpf(len(rows))), rows


def binary_focal(
    targets: Matrix,
    preds: Matrix,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    logits: bool = False,
    eps: float = 1e-7,
    base: str = "e",
    reduction: str = "mean",
) -> tuple[Mpf | list[Mpf], list[Mpf]]:
    """Element-wise -α_t·(1-p_t)^γ·log p_t, p_t = p if y = 1 else 1 - p; mean over elements."""
    row_sums = []
    for y_row, p_row in zip(targets, preds, strict=True):
        total = []
        for y, value in zip(y_row, p_row, strict=True):
            # 1 - σ(z) as σ(-z): even 60 digits cannot hold 1 - σ(1000).
            p, not_p = (sigmoid(value), sigmoid(-value)) if logits else (clip(value, eps), None)
            not_p = 1 - p if not_p is None else not_p
            p_t = p if y == 1 else not_p
            a_t = mpf(1) if alpha is None else (mpf(alpha) if y == 1 else 1 - mpf(alpha))
            not_p_t = not_p if y == 1 else p
            total.append(-a_t * not_p_t ** mpf(gamma) * log(p_t) / ln_base(base))
        row_sums.append(mp.fsum(total))
    classes = len(preds[0])
    per_row = row_sums if reduction == "sum" else [s / classes for s in row_sums]
    if reduction == "none":
        return per_row, per_row
    return reduce(row_sums, reduction, mpf(len(row_sums) * classes)), per_row


def weigh_rows(
    totals: list[Mpf], weights: Row, reduction: str, divisors: Row | None = None
) -> Mpf | list[Mpf]:
    """Rows weighted by ``weights``: w·t (none), Σ w·t (sum) or Σ w·t / Σ w·d (mean), for
    row totals t and each row's share d of the unweighted mean's divisor (1 unless given).
    A row of weight 0 counts for nothing, whatever its total."""
    w = [mpf(v) for v in weights]
    d = [mpf(1)] * len(totals) if divisors is None else [mpf(v) for v in divisors]
    shares = [mpf(0) if wi == 0 else wi * t for wi, t in zip(w, totals, strict=True)]
    if reduction == "none":
        return shares
    total = mp.fsum(shares)
    if reduction == "sum":
        return total
    return total / mp.fsum(wi * di for wi, di in zip(w, d, strict=True))


def soft_binary_focal(
    targets: Matrix, preds: Matrix, *, gamma: float = 2.0, smoothing: float = 0.0,
    logits: bool = False, eps: float = 1e-7,
) -> Mpf:  # fmt: skip
    """Mean over elements of (1 - p_t)^γ·BCE(y', p), y' = y(1-ε) + ε/2, p_t = y'p + (1-y')(1-p)."""
    total, count = [], 0
    for y_row, p_row in zip(targets, preds, strict=True):
        for y_value, value in zip(y_row, p_row, strict=True):
            y = mpf(y_value) * (1 - mpf(smoothing)) + mpf(smoothing) / 2
            p, not_p = (sigmoid(value), sigmoid(-value)) if logits else (clip(value, eps), None)
            not_p = 1 - p if not_p is None else not_p
            bce = term(y, log(p)) + term(1 - y, log(not_p))
            p_t = y * p + (1 - y) * not_p
            total.append((1 - p_t) ** mpf(gamma) * bce)
            count += 1
    return mp.fsum(total) / count


def generalized_kl(p_rows: Matrix, q_rows: Matrix, *, eps: float = 1e-7) -> list[Mpf]:
    """Per row Σ p·log(p/q) - p + q for unnormalised P and Q (q raised to at least eps)."""
    rows = []
    for p_row, q_row in zip(p_rows, q_rows, strict=True):
        terms = []
        for p_value, q_value in zip(p_row, q_row, strict=True):
            p, q = mpf(p_value), max(mpf(q_value), mpf(eps))
            terms.append((mpf(0) if p == 0 else p * mp.log(p / q)) - p + q)
        rows.append(mp.fsum(terms))
    return rows
