"""Numerically stable primitives shared by every loss.

Everything here works on float64 arrays along the last axis and knows nothing about labels,
reductions or output.  Each function keeps its relative error at a few ulp over the whole
float64 range (logits of ±1000, probabilities of exactly 0 and 1), which the tests check
against an mpmath oracle.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Base = Literal["e", "2", "10"]

_BASE_ALIASES: dict[str, Base] = {
    "e": "e",
    "nat": "e",
    "nats": "e",
    "2": "2",
    "bit": "2",
    "bits": "2",
    "10": "10",
    "dit": "10",
    "dits": "10",
    "hartley": "10",
    "hartleys": "10",
}
UNITS: dict[Base, str] = {"e": "nats", "2": "bits", "10": "hartleys"}
_LN_BASE: dict[Base, float] = {"e": 1.0, "2": math.log(2.0), "10": math.log(10.0)}


def parse_base(text: str) -> Base | None:
    """The canonical base for ``e``/``2``/``10``/``nats``/``bits``…, or None if unknown."""
    return _BASE_ALIASES.get(text.strip().lower())


def to_base(nats: FloatArray | float, base: Base) -> FloatArray:
    """Convert a value in nats (natural log) into the unit of ``base``: ``x / ln(base)``."""
    values = np.asarray(nats, dtype=np.float64)
    if base == "e":
        return values
    return values / _LN_BASE[base]


def log_softmax(logits: npt.ArrayLike) -> FloatArray:
    r"""``log softmax(z)`` along the last axis, without forming ``softmax`` first.

    With :math:`m = \max_k z_k` and :math:`s_k = z_k - m`,

    .. math::
        \log \mathrm{softmax}(z)_c = s_c - \log\bigl(1 + \textstyle\sum_{k \ne k^*} e^{s_k}\bigr)

    where :math:`k^*` is the arg-max.  Taking the arg-max's ``1`` out of the sum and using
    ``log1p`` keeps the result accurate when the true class dominates: the textbook
    ``z - logsumexp(z)`` subtracts two nearly equal numbers there (for ``z = [30, 0]`` it loses
    all but two digits of ``-log p_0 ≈ 9.4e-14``).  Both parts of the difference are ≤ 0 and ≥ 0
    respectively, so nothing cancels.
    """
    z = np.asarray(logits, dtype=np.float64)
    top = np.max(z, axis=-1, keepdims=True)
    shifted = z - top
    exps = np.exp(shifted)
    top_index = np.argmax(z, axis=-1)[..., np.newaxis]
    np.put_along_axis(exps, top_index, 0.0, axis=-1)
    rest = np.sum(exps, axis=-1, keepdims=True)
    result: FloatArray = shifted - np.log1p(rest)
    return result


def softmax(logits: npt.ArrayLike) -> FloatArray:
    """``softmax(z)`` along the last axis, as ``exp(log_softmax(z))``."""
    result: FloatArray = np.exp(log_softmax(logits))
    return result


def log_sigmoid(x: npt.ArrayLike) -> FloatArray:
    r"""``log σ(x) = -log(1 + e^{-x})``, accurate for every finite ``x``.

    ``np.logaddexp(0, -x)`` evaluates ``max(0, -x) + log1p(exp(-|x|))``, which neither
    overflows nor cancels.  ``log(1 - σ(x))`` is ``log_sigmoid(-x)``.
    """
    result: FloatArray = -np.logaddexp(0.0, -np.asarray(x, dtype=np.float64))
    return result


def sigmoid(x: npt.ArrayLike) -> FloatArray:
    """``σ(x) = 1 / (1 + e^{-x})`` as ``exp(log σ(x))``: accurate in both tails."""
    result: FloatArray = np.exp(log_sigmoid(x))
    return result


def xlogy(x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
    """``x · log(y)`` with the convention ``0 · log(anything) = 0`` (so ``0 · log 0 = 0``)."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        product = xs * np.log(ys)
    result: FloatArray = np.where(xs == 0.0, 0.0, product)
    return result


def log_ratio(p: npt.ArrayLike, q: npt.ArrayLike) -> FloatArray:
    r"""``log(p / q)`` for ``p, q ≥ 0``, accurate whether ``p ≈ q`` or not.

    Near ``p = q`` it is ``log1p((p - q) / q)``: ``p - q`` is then exact (Sterbenz) and
    ``log1p`` keeps the small result's digits, where ``log p - log q`` would cancel.  Elsewhere
    ``log(p / q)``, and ``log p - log q`` where the quotient would overflow or underflow.
    ``q = 0 < p`` gives ``+inf``; ``p = 0`` gives ``-inf`` (``nan`` for ``p = q = 0``), which
    callers resolve with the ``0 · log 0 = 0`` convention.
    """
    ps = np.asarray(p, dtype=np.float64)
    qs = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ratio = ps / qs
        near_one = np.log1p((ps - qs) / qs)
        direct = np.log(ratio)
        apart = np.log(ps) - np.log(qs)
    tiny = np.finfo(np.float64).tiny
    representable = np.isfinite(ratio) & (ratio >= tiny)
    result: FloatArray = np.where(
        (ratio >= 0.5) & (ratio <= 2.0), near_one, np.where(representable, direct, apart)
    )
    return result
