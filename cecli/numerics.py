"""Numerically stable primitives shared by every loss.

Everything here works on float64 arrays along the last axis and knows nothing about labels,
reductions or output.  Each function keeps its relative error at a few ulp over the whole
float64 range (logits of ±1000, probabilities of exactly 0 and 1), which the tests check
against an mpmath oracle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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


def parse_base(text: object) -> Base | None:
    """The canonical base for ``e``/``2``/``10``/``nats``/``bits``…, or None if unknown.

    A whole number from Python (``base=2``) is the base it names; other non-strings are
    unknown."""
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        text = str(int(text))
    if not isinstance(text, str):
        return None
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
    with np.errstate(over="ignore"):  # a gap beyond the largest float: -inf, then e^-inf = 0
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


def compensated_row_sums(terms: FloatArray, start: FloatArray) -> FloatArray:
    """``start + Σ_j terms[:, j]`` for each row, summed with each addition's rounding error
    carried along (TwoSum): the result is the exact sum rounded, give or take an ulp, even
    where the terms cancel to almost nothing (a row of probabilities minus 1)."""
    total = np.array(start, dtype=np.float64)
    carried = np.zeros_like(total)
    for column in terms.T:
        added = total + column
        part = added - total
        carried += (total - (added - part)) + (column - part)
        total = added
    result: FloatArray = total + carried
    return result


def x_log(x: npt.ArrayLike, log_y: npt.ArrayLike) -> FloatArray:
    """``x · log_y`` for an already computed ``log_y``, with ``0 · log(anything) = 0``."""
    xs = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # a huge weight times log y: ±inf
        product = xs * np.asarray(log_y, dtype=np.float64)
    result: FloatArray = np.where(xs == 0.0, 0.0, product)
    return result


def xlogy(x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
    """``x · log(y)`` with the convention ``0 · log(anything) = 0`` (so ``0 · log 0 = 0``)."""
    with np.errstate(divide="ignore"):
        log_y = np.log(np.asarray(y, dtype=np.float64))
    return x_log(x, log_y)


def _one_plus_r_log1p_r_minus_r(r: FloatArray) -> FloatArray:
    """``h(r) = (1 + r)·log1p(r) - r ≥ 0``, by its Taylor series where the direct form cancels."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        direct = (1.0 + r) * np.log1p(r) - r
    direct = np.where(r == -1.0, 1.0, direct)  # 0·log 0 = 0
    small = np.abs(r) < 0.1
    rs = np.where(small, r, 0.0)
    # h(r) = Σ_{k≥2} (-r)^k / (k(k-1)); 18 terms reach 1e-19 relative for |r| < 0.1.
    series = np.zeros_like(rs)
    for k in range(19, 1, -1):
        series = series * -rs + 1.0 / (k * (k - 1))
    series = series * rs * rs
    result: FloatArray = np.where(small, series, direct)
    return result


def kl_parts(p: npt.ArrayLike, q: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    r"""``p·log(p/q)`` as two parts whose sum it is: ``q·h(r) ≥ 0`` and ``p - q``.

    With :math:`r = (p - q)/q`, :math:`p \log(p/q) = q\,h(r) + (p - q)` where
    :math:`h(r) = (1 + r)\log(1 + r) - r \ge 0`.  Summed over classes the first parts never
    cancel and the second parts are exact differences, so a KL divergence of 1e-17 between
    nearly equal distributions keeps its digits, where summing ``p·log(p/q)`` (terms of
    both signs, 1e8 times larger) would not.  ``p = 0`` gives ``(q, -q)`` (0·log 0 = 0);
    ``q = 0 < p`` gives ``(inf, p)``.
    """
    ps = np.asarray(p, dtype=np.float64)
    qs = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = (ps - qs) / qs
        ratio_part = qs * _one_plus_r_log1p_r_minus_r(r)
        # Where r overflows (q tiny next to p), the direct form has nothing left to cancel.
        direct = ps * (np.log(ps) - np.log(qs)) - (ps - qs)
    ratio_part = np.where(np.isfinite(r), ratio_part, direct)
    ratio_part = np.where((qs == 0.0) & (ps > 0.0), np.inf, ratio_part)
    ratio_part = np.where((qs == 0.0) & (ps == 0.0), 0.0, ratio_part)
    return ratio_part, ps - qs


# --- exact sums ------------------------------------------------------------------------------

# A total is kept as one Python integer in units of 2^-_EXACT_UNIT, so that merging totals is
# adding integers.  Every float64 is a multiple of 2^-1074, and each half of the error-free
# product of two mantissas in [0.5, 1) is a multiple of 2^-106 times 2^(sum of two exponents
# ≥ -1073): 2^-2400 divides them all.
_EXACT_UNIT = 2400
# Values are added in groups of one binary exponent, each split as high + low with the high
# part keeping the top 27 bits of the 53-bit mantissa: within a group, up to 2^26 high parts
# (multiples of 2^(e-27) below 2^e) and low parts (multiples of 2^(e-53) below 2^(e-26)) add up
# exactly in float64, whatever the order, because every partial sum stays below 2^53 units.
_LOW_BITS = 26
_HIGH_MASK = ~((1 << _LOW_BITS) - 1)
_ROWS_PER_BINCOUNT = 1 << 25
_LARGE_FIELD = 2047 - 27  # exponent field of 2^997
_SIGN_FIELD = 2048  # the sign bit, above the 11 bits of the exponent
_SHIFT_BIAS = 2400
_SPLITTER = 134217729.0  # 2^27 + 1: Dekker's split of a 53-bit mantissa into two halves


class ExactSum:
    """The exact sum of float64 values (or of exact products of two), as one integer.

    ``add`` folds in an array, ``+`` merges two sums, and :meth:`value` and :meth:`ratio`
    round the exact result once, correctly, so the outcome depends neither on how the values
    were split into arrays nor on the order in which sums were merged.  Infinities and NaN
    are kept apart and follow IEEE rules (``inf + -inf`` is NaN).
    """

    __slots__ = ("nan", "negative_infinite", "positive_infinite", "scaled")

    def __init__(self) -> None:
        self.scaled = 0
        """The finite part, in units of 2^-_EXACT_UNIT."""
        self.positive_infinite = False
        self.negative_infinite = False
        self.nan = False

    def __getstate__(self) -> tuple[int, int, bool, bool, bool]:
        # A total in units of 2^-2400 mostly ends in zero bits (0.75 is 3 << 2398): sent
        # without them, a state of many sums (one set per group) is several times smaller.
        zeros = (self.scaled & -self.scaled).bit_length() - 1 if self.scaled else 0
        return (
            self.scaled >> zeros,
            zeros,
            self.nan,
            self.positive_infinite,
            self.negative_infinite,
        )

    def __setstate__(self, state: tuple[int, int, bool, bool, bool]) -> None:
        significant, zeros, self.nan, self.positive_infinite, self.negative_infinite = state
        self.scaled = significant << zeros

    def __add__(self, other: ExactSum) -> ExactSum:
        result = ExactSum()
        result.scaled = self.scaled + other.scaled
        result.positive_infinite = self.positive_infinite or other.positive_infinite
        result.negative_infinite = self.negative_infinite or other.negative_infinite
        result.nan = self.nan or other.nan
        return result

    def add(self, values: FloatArray) -> None:
        """Add ``Σ values``, exactly."""
        flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        for start in range(0, flat.size, _ROWS_PER_BINCOUNT):
            self._add_by_exponent(flat[start : start + _ROWS_PER_BINCOUNT])

    def add_constant(self, value: float, count: int) -> None:
        """Add ``value`` ``count`` times (a column of ones, say) without a pass over it."""
        if math.isfinite(value):
            self.scaled += count * _units(value)
        elif count:
            self._add_non_finite(np.array([value]))

    def add_products(self, left: FloatArray, right: FloatArray) -> None:
        """Add ``Σ left·right`` with every product exact (no overflow, underflow or rounding).

        Each factor is scaled into [0.5, 1) by its own power of two; the product of the two
        mantissas is split error-free into ``high + low`` (Dekker's TwoProduct, exact here
        because nothing can overflow or underflow), and both halves are added with the
        exponents put back.
        """
        left = np.asarray(left, dtype=np.float64).reshape(-1)
        right = np.asarray(right, dtype=np.float64).reshape(-1)
        finite = np.isfinite(left) & np.isfinite(right)
        if not finite.all():
            with np.errstate(invalid="ignore", over="ignore"):
                self._add_non_finite(left[~finite] * right[~finite])
            left, right = left[finite], right[finite]
        left_mantissas, left_exponents = np.frexp(left)
        right_mantissas, right_exponents = np.frexp(right)
        exponents = left_exponents.astype(np.int64) + right_exponents
        for part in _two_product(left_mantissas, right_mantissas):
            mantissas, own_exponents = np.frexp(part)
            for start in range(0, part.size, _ROWS_PER_BINCOUNT):
                stop = start + _ROWS_PER_BINCOUNT
                shifts = own_exponents[start:stop] + exponents[start:stop]
                self._add_shifted(mantissas[start:stop], shifts)

    def _add_by_exponent(self, values: FloatArray) -> None:
        # Grouped by sign and exponent field (the top 12 bits, 0 to 4095): one shift.
        fields = (values.view(np.uint64) >> np.uint64(52)).view(np.int64)
        high = (values.view(np.int64) & _HIGH_MASK).view(np.float64)
        with np.errstate(invalid="ignore"):  # inf - inf: the value is set apart below
            low = values - high
        high_totals = np.bincount(fields, weights=high)
        top = high_totals[_LARGE_FIELD:_SIGN_FIELD], high_totals[_SIGN_FIELD + _LARGE_FIELD :]
        if any(np.count_nonzero(part) for part in top):
            # Infinities and NaN are kept apart, and values within 2^27 of the largest float,
            # whose group totals could overflow, go by mantissa and exponent.
            finite = np.isfinite(values)
            self._add_non_finite(values[~finite])
            large = finite & (np.abs(values) >= 2.0 ** (_LARGE_FIELD - 1023))
            mantissas, exponents = np.frexp(values[large])
            self._add_shifted(mantissas, exponents.astype(np.int64))
            self._add_by_exponent(values[finite & ~large])
            return
        low_totals = np.bincount(fields, weights=low)
        used = np.flatnonzero((high_totals != 0.0) | (low_totals != 0.0))
        self.scaled += sum(
            _units(high_total) + _units(low_total)
            for high_total, low_total in zip(
                high_totals[used].tolist(), low_totals[used].tolist(), strict=True
            )
        )

    def _add_shifted(self, mantissas: FloatArray, shifts: npt.NDArray[np.int64]) -> None:
        """Add ``Σ mantissas·2^shifts`` for mantissas in [0.5, 1) or 0."""
        bits = mantissas.view(np.int64)
        high = (bits & _HIGH_MASK).view(np.float64)
        low = mantissas - high
        bins = shifts + _SHIFT_BIAS
        high_totals = np.bincount(bins, weights=high)
        low_totals = np.bincount(bins, weights=low)
        used = np.flatnonzero((high_totals != 0.0) | (low_totals != 0.0))
        self.scaled += sum(
            _units(high_total, shift) + _units(low_total, shift)
            for shift, high_total, low_total in zip(
                (used - _SHIFT_BIAS).tolist(),
                high_totals[used].tolist(),
                low_totals[used].tolist(),
                strict=True,
            )
        )

    def _add_non_finite(self, values: FloatArray) -> None:
        self.nan = self.nan or bool(np.isnan(values).any())
        self.positive_infinite = self.positive_infinite or bool((values == np.inf).any())
        self.negative_infinite = self.negative_infinite or bool((values == -np.inf).any())

    def is_zero(self) -> bool:
        return self.scaled == 0 and not self._special()

    def _special(self) -> bool:
        return self.nan or self.positive_infinite or self.negative_infinite

    def _special_value(self) -> float:
        if self.nan or (self.positive_infinite and self.negative_infinite):
            return math.nan
        return math.inf if self.positive_infinite else -math.inf

    def value(self) -> float:
        """The exact sum, correctly rounded to float64 (±inf beyond the largest float)."""
        if self._special():
            return self._special_value()
        return _divide(self.scaled, 1 << _EXACT_UNIT)

    def mean(self, count: int) -> float:
        """``self / count``, correctly rounded; ``count`` > 0."""
        if self._special():
            return self._special_value()
        return _divide(self.scaled, count << _EXACT_UNIT)

    def ratio(self, divisor: ExactSum) -> float:
        """``self / divisor``, from the exact sums, correctly rounded; ``divisor`` not 0."""
        if divisor._special():
            return self.value() / divisor.value()
        if self._special():  # ±inf or NaN over a finite divisor (whose float may round to 0)
            return self._special_value() * (1.0 if divisor.scaled > 0 else -1.0)
        return _divide(self.scaled, divisor.scaled)


class GroupSums:
    """One batch's exact sums per group index (0 to ``count - 1``), formed for all groups at once.

    Made by :func:`group_sums`, :func:`group_products` and :func:`group_counts`; each group's
    sum is what :meth:`ExactSum.add` (or ``add_products``, ``add_constant``) would have folded
    into an :class:`ExactSum` from that group's values alone, so :meth:`add_to` gives the same
    integer and the same IEEE flags as the per-group calls, in one NumPy pass per batch
    instead of several small ones per group.
    """

    __slots__ = ("scaled", "special")

    def __init__(self, scaled: list[int], special: dict[int, tuple[bool, bool, bool]]) -> None:
        self.scaled = scaled
        """Each group's finite part, in units of 2^-_EXACT_UNIT."""
        self.special = special
        """(NaN, +inf, -inf) seen, for the few groups with a value that is not finite."""

    def add_to(self, group: int, total: ExactSum) -> None:
        """Fold group ``group``'s sum into ``total``."""
        total.scaled += self.scaled[group]
        if group in self.special:
            self._add_flags(group, total)

    def add_all(self, totals: Sequence[ExactSum]) -> None:
        """Fold each group's sum into ``totals[group]`` (one total per group)."""
        for total, scaled in zip(totals, self.scaled, strict=True):
            total.scaled += scaled
        for group in self.special:
            self._add_flags(group, totals[group])

    def _add_flags(self, group: int, total: ExactSum) -> None:
        nan, positive, negative = self.special[group]
        total.nan = total.nan or nan
        total.positive_infinite = total.positive_infinite or positive
        total.negative_infinite = total.negative_infinite or negative

    def total(self, group: int) -> ExactSum:
        """Group ``group``'s sum as an :class:`ExactSum` of its own."""
        result = ExactSum()
        self.add_to(group, result)
        return result


IntArray = npt.NDArray[np.int64]


def group_counts(counts: npt.ArrayLike) -> GroupSums:
    """Each group's whole number ``counts[g]`` (rows, say) as an exact sum of that many ones."""
    whole = np.asarray(counts, dtype=np.int64).reshape(-1).astype(object)
    scaled: list[int] = (whole * _units(1.0)).tolist()
    return GroupSums(scaled, {})


def group_sums(values: FloatArray, groups: npt.ArrayLike, count: int) -> GroupSums:
    """``Σ values[i]`` over the ``i`` of each group, exactly (``groups[i]`` in 0…count-1)."""
    flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    codes = np.asarray(groups, dtype=np.int64).reshape(-1)
    special: dict[int, tuple[bool, bool, bool]] = {}
    finite = np.isfinite(flat)
    if not finite.all():
        special = _group_flags(flat[~finite], codes[~finite])
        flat, codes = flat[finite], codes[finite]
    mantissas, exponents = np.frexp(flat)
    scaled = _group_shifted(mantissas, exponents.astype(np.int64), codes, count)
    return GroupSums(scaled, special)


def group_products(
    left: FloatArray, right: FloatArray, groups: npt.ArrayLike, count: int
) -> GroupSums:
    """``Σ left[i]·right[i]`` over the ``i`` of each group, every product exact, as
    :meth:`ExactSum.add_products` forms it."""
    left = np.asarray(left, dtype=np.float64).reshape(-1)
    right = np.asarray(right, dtype=np.float64).reshape(-1)
    codes = np.asarray(groups, dtype=np.int64).reshape(-1)
    special: dict[int, tuple[bool, bool, bool]] = {}
    finite = np.isfinite(left) & np.isfinite(right)
    if not finite.all():
        with np.errstate(invalid="ignore", over="ignore"):
            products = left[~finite] * right[~finite]
        special = _group_flags(products, codes[~finite])
        left, right, codes = left[finite], right[finite], codes[finite]
    left_mantissas, left_exponents = np.frexp(left)
    right_mantissas, right_exponents = np.frexp(right)
    exponents = left_exponents.astype(np.int64) + right_exponents
    parts = []
    for part in _two_product(left_mantissas, right_mantissas):
        mantissas, own_exponents = np.frexp(part)
        parts.append((mantissas, own_exponents + exponents))
    scaled = _group_shifted(
        np.concatenate([mantissas for mantissas, _ in parts]),
        np.concatenate([shifts for _, shifts in parts]),
        np.concatenate([codes, codes]),
        count,
    )
    return GroupSums(scaled, special)


def _group_flags(values: FloatArray, codes: IntArray) -> dict[int, tuple[bool, bool, bool]]:
    """(NaN, +inf, -inf) among each group's values that are not finite."""
    flags: dict[int, tuple[bool, bool, bool]] = {}
    for code, value in zip(codes.tolist(), values.tolist(), strict=True):
        nan, positive, negative = flags.get(code, (False, False, False))
        flags[code] = (
            nan or math.isnan(value),
            positive or value == math.inf,
            negative or value == -math.inf,
        )
    return flags


# Bins of (group, exponent) are counted densely while there are at most this many per value
# added (and a few more), else only the pairs present are numbered, by sorting.
_DENSE_BINS_PER_VALUE = 8


def _group_shifted(
    mantissas: FloatArray, shifts: IntArray, codes: IntArray, count: int
) -> list[int]:
    """Each group's ``Σ mantissas·2^shifts`` (mantissas in [0.5, 1) or 0) in units.

    As :meth:`ExactSum._add_shifted`, but binned by (group, shift): the float totals of each
    bin are exact, and only the bins used become integers.  Those are shifted relative to
    their group's lowest bin (small integers), added per group, and each group's sum is
    shifted into units once, so the costly work on 2400-bit integers is one shift per group.
    """
    result: npt.NDArray[np.object_] = np.zeros(count, dtype=object)  # Python ints
    for start in range(0, mantissas.size, _ROWS_PER_BINCOUNT):
        stop = start + _ROWS_PER_BINCOUNT
        present, scaled = _group_shifted_part(
            mantissas[start:stop], shifts[start:stop], codes[start:stop]
        )
        result[present] += scaled
    totals: list[int] = result.tolist()
    return totals


def _group_shifted_part(
    mantissas: FloatArray, shifts: IntArray, codes: IntArray
) -> tuple[IntArray, npt.NDArray[np.object_]]:
    """The groups with a sum other than 0, and their sums in units (Python ints)."""
    nothing = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))
    if mantissas.size == 0:
        return nothing
    high = (mantissas.view(np.int64) & _HIGH_MASK).view(np.float64)
    low = mantissas - high
    lowest = int(shifts.min())
    span = int(shifts.max()) - lowest + 1
    keys = codes * span + (shifts - lowest)
    bins = int(keys.max()) + 1
    if bins <= _DENSE_BINS_PER_VALUE * keys.size + 4096:
        high_totals = np.bincount(keys, weights=high, minlength=bins)
        low_totals = np.bincount(keys, weights=low, minlength=bins)
        used_keys = np.flatnonzero((high_totals != 0.0) | (low_totals != 0.0))
        high_totals, low_totals = high_totals[used_keys], low_totals[used_keys]
    else:
        used_keys, inverse = np.unique(keys, return_inverse=True)
        high_totals = np.bincount(inverse.reshape(-1), weights=high)
        low_totals = np.bincount(inverse.reshape(-1), weights=low)
    # Both totals of a bin, in group order (the keys are sorted, so their groups are).
    totals = np.stack([high_totals, low_totals], axis=1).reshape(-1)
    bin_keys = np.repeat(used_keys, 2)
    kept = totals != 0.0
    totals, bin_keys = totals[kept], bin_keys[kept]
    if totals.size == 0:
        return nothing
    bin_codes = bin_keys // span
    # total = m·2^k with m·2^53 a whole number: its value in units is that number shifted by
    # k - 53 + shift + _EXACT_UNIT ≥ 0 (totals are multiples of 2^-53, shifts ≥ -2251).
    fractions, exponents = np.frexp(totals)
    whole = np.ldexp(fractions, 53).astype(np.int64)
    amounts = exponents.astype(np.int64) + (bin_keys % span + (lowest - 53 + _EXACT_UNIT))
    firsts = np.flatnonzero(np.concatenate([[True], bin_codes[1:] != bin_codes[:-1]]))
    group_lowest = np.minimum.reduceat(amounts, firsts)
    relative = amounts - np.repeat(group_lowest, np.diff(np.append(firsts, amounts.size)))
    small = whole.astype(object) << relative.astype(object)
    sums: npt.NDArray[np.object_] = np.add.reduceat(small, firsts) << group_lowest.astype(object)
    return bin_codes[firsts], sums


def _divide(numerator: int, denominator: int) -> float:
    """``numerator / denominator`` correctly rounded: Python divides integers exactly."""
    try:
        return numerator / denominator
    except OverflowError:  # the rounded quotient is beyond the largest float
        return math.inf if (numerator < 0) == (denominator < 0) else -math.inf


def _units(value: float, shift: int = 0) -> int:
    """``value·2^shift`` as an integer number of units of 2^-_EXACT_UNIT (exact)."""
    numerator, denominator = value.as_integer_ratio()  # the denominator is a power of two
    return numerator << (_EXACT_UNIT + shift - denominator.bit_length() + 1)


def _two_product(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``a·b = high + low`` exactly (Dekker), for factors whose products cannot underflow."""
    high = a * b
    a_high, a_low = _split(a)
    b_high, b_low = _split(b)
    low = ((a_high * b_high - high) + a_high * b_low + a_low * b_high) + a_low * b_low
    return high, low


def _split(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    scaled = _SPLITTER * a
    high = scaled - (scaled - a)
    return high, a - high
