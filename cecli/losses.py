r"""The seven losses, one pure function each.

Every function takes LABELS and PREDS as array-likes (one row per example), validates them
(raising :class:`~cecli.inputs.InputError`), computes in float64 and returns a frozen result
from :mod:`cecli.results` holding the reduced loss, one value per row and the per-term arrays
a teacher would want to see.  Nothing here prints, reads files or formats numbers.

Conventions shared by all of them:

* ``eps`` clips probability PREDS to ``[eps, 1 - eps]`` (``eps = 0``: no clipping, and
  ``log 0 = -inf`` gives an infinite loss).  With ``logits=True`` nothing is clipped: log
  probabilities come from log-sum-exp or log-sigmoid, never from ``log(softmax(z))``.
* ``0 · log 0 = 0``: a term whose weight (label) is zero is zero whatever the prediction.
* ``base`` (``"e"``, ``"2"``, ``"10"``) is the unit of every loss, term and gradient.
* ``reduction`` reduces across rows: ``"mean"``, ``"sum"`` or ``"none"`` (then ``loss`` is
  ``per_row``).
* ``sample_weights`` (one weight ≥ 0 per row, or one for every row) weight the rows:
  ``per_row`` becomes :math:`w_i L_i`, ``sum`` is :math:`\sum_i w_i L_i` and ``mean`` is
  :math:`\sum_i w_i L_i / \sum_i w_i d_i`, with :math:`d_i` the row's share of the unweighted
  mean's divisor (1, or C for element-wise means): the weighted mean that files get from a
  weight column.  A row of weight 0 counts for nothing, even where its loss is infinite.
  The per-term arrays stay unweighted.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar, get_args

import numpy as np
import numpy.typing as npt

from cecli import numerics
from cecli.inputs import (
    InputError,
    as_class_indices,
    as_distributions,
    as_log_probabilities,
    as_nonnegative,
    as_predictions,
    as_targets,
    as_targets_ignoring,
    check_class_names,
    check_masked_rows,
    predictions_with_range,
)
from cecli.numerics import Base, FloatArray
from cecli.results import (
    BinaryResult,
    BoolArray,
    CrossEntropyResult,
    FocalResult,
    GradResult,
    IntArray,
    KLResult,
    LossResult,
    MultilabelResult,
    Reduction,
    RowLosses,
    SmoothingResult,
)

DEFAULT_EPS = 1e-7

_Result = TypeVar("_Result", bound=LossResult)

# --- shared pieces -------------------------------------------------------------------------


def _number(name: str, value: object) -> float:
    """``value`` if it is a real number (Python's or NumPy's, not a bool), else one error
    naming ``name``: a string or None failed later as Python's own TypeError."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
        value = value.item()  # a 0-d array, as NumPy's reductions return
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number, got {value!r}", parameter=name)
    return float(value)


def _check_common(eps: float, base: str, reduction: str) -> tuple[Base, Reduction]:
    if not 0.0 <= _number("eps", eps) < 0.5:
        raise InputError(f"eps must be in [0, 0.5), got {eps:g}", parameter="eps")
    canonical = numerics.parse_base(base)
    if canonical is None:
        raise InputError(f"base must be e, 2 or 10 (or nats, bits), got {base!r}", parameter="base")
    if reduction not in get_args(Reduction):
        raise InputError(
            f"reduction must be mean, sum or none, got {reduction!r}", parameter="reduction"
        )
    return canonical, reduction  # type: ignore[return-value]


def _check_range(name: str, value: float, low: float, high: float, closed_high: bool) -> None:
    value = _number(name, value)
    inside = low <= value <= high if closed_high else low <= value < high
    if not inside:
        bracket = "]" if closed_high else ")"
        top = "∞" if math.isinf(high) else f"{high:g}"
        raise InputError(
            f"{name} must be in [{low:g}, {top}{bracket}, got {value:g}", parameter=name
        )


def _element_rows(row_totals: FloatArray, classes: int, reduction: Reduction) -> FloatArray:
    """Per-row values of an element-wise loss: the row's elements summed under ``sum``, else
    averaged (``mean`` and ``none``)."""
    return row_totals if reduction == "sum" else row_totals / classes


def _row_sums(matrix: FloatArray) -> FloatArray:
    """Each row's sum; one beyond the largest float is inf, without NumPy's warning."""
    with np.errstate(over="ignore"):
        totals: FloatArray = matrix.sum(axis=1)
    return totals


def _element_reduction(
    elements: FloatArray, reduction: Reduction
) -> tuple[FloatArray, FloatArray, float | FloatArray]:
    """Row totals, per-row values and the reduced loss of an element-wise loss (N, C).

    A row whose finite elements sum beyond the largest float (1e308 + 1e308) still has a
    finite mean: its per-row value is the sum of its elements divided by C first, and the
    ``mean`` over all elements comes from their exact sum."""
    rows, classes = elements.shape
    row_totals = _row_sums(elements)
    per_row = _element_rows(row_totals, classes, reduction)
    overflowed = np.isinf(row_totals) & np.isfinite(elements).all(axis=1)
    if reduction != "sum" and overflowed.any():
        per_row = per_row.copy()
        per_row[overflowed] = (elements[overflowed] / classes).sum(axis=1)
    loss = reduce_rows(row_totals, reduction, rows * classes, elements=elements)
    return row_totals, per_row, loss


def reduce_rows(
    row_totals: FloatArray,
    reduction: Reduction,
    divisor: float,
    elements: FloatArray | None = None,
) -> float | FloatArray:
    """Reduce per-row totals: their sum, their sum over ``divisor`` (mean), or themselves.

    ``elements``, the values the totals were summed from, give an overflowed row's share of
    a mean back."""
    if reduction == "none":
        return row_totals
    # The exact sum, rounded once, as a file's total is: the same rows typed and in a file
    # give the same last digit (np.sum's pairwise sum was seen one unit in the last place off).
    summed = row_totals
    if elements is not None and np.isinf(row_totals).any() and np.isfinite(elements).all():
        # Finite values whose row sums overflow (1e308 + 1e308): their own exact sum.
        summed = elements
    exact = numerics.ExactSum()
    exact.add(summed)
    if reduction == "sum":
        return exact.value()
    if float(divisor).is_integer():
        return exact.mean(int(divisor))
    exact_divisor = numerics.ExactSum()
    exact_divisor.add(np.array([divisor]))
    return exact.ratio(exact_divisor)


def sample_weight_vector(sample_weights: npt.ArrayLike | None, rows: int) -> FloatArray | None:
    """One finite weight ≥ 0 per row, from one per row or one for all."""
    if sample_weights is None:
        return None
    vector = _weights_array(sample_weights, "sample_weights")
    if vector.shape[0] == 1:
        vector = np.full(rows, vector[0])
    return _weight_vector(vector, "sample_weights", rows, "rows")


def _weights_array(weights: npt.ArrayLike, parameter: str) -> FloatArray:
    """``weights`` as a flat float64 array, or one error naming ``parameter``."""
    try:
        return np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"{parameter} is not an array of numbers ({error})", parameter=parameter
        ) from None


def _weight_vector(vector: FloatArray, parameter: str, expected: int, what: str) -> FloatArray:
    """``vector`` if it has one finite weight ≥ 0 for each of ``expected`` rows or classes."""
    if vector.shape[0] != expected:
        raise InputError(
            f"{parameter} has {vector.shape[0]} values, but PREDS has {expected} {what}",
            parameter=parameter,
        )
    bad = np.flatnonzero(~np.isfinite(vector) | (vector < 0))
    if bad.size:
        position = int(bad[0])
        raise InputError(
            f"{parameter} value {position + 1}: {vector[position]:g} is not a finite weight ≥ 0",
            parameter=parameter,
        )
    return vector


def _weigh(weights: FloatArray, values: FloatArray) -> FloatArray:
    """``w·values`` row by row; a row of weight 0 is 0 whatever its value (inf, nan)."""
    shaped = weights.reshape((-1,) + (1,) * (values.ndim - 1))
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(shaped == 0.0, 0.0, shaped * values)


def _weighted_reduction(
    weights: FloatArray,
    totals: FloatArray,
    divisors: FloatArray,
    reduction: Reduction,
    parameter: str | tuple[str, str] = "sample_weights",
) -> float:
    """``Σ w·totals`` (sum) or ``Σ w·totals / Σ w·divisors`` (mean), each sum exact."""
    counted = weights != 0.0
    total = numerics.ExactSum()
    total.add_products(weights[counted], totals[counted])
    if reduction == "sum":
        return total.value()
    divisor = numerics.ExactSum()
    divisor.add_products(weights[counted], divisors[counted])
    if divisor.is_zero():
        # The message names the parameter, so that the command line can say its flag.
        what = {
            "ignore_index": "every row is ignored (ignore_index)",
            "sample_weights": "the sample_weights sum to 0",
            ("sample_weights", "ignore_index"): (
                "the sample_weights of the rows not ignored (ignore_index) sum to 0"
            ),
        }[parameter]
        raise InputError(f"{what}; the weighted mean is undefined", parameter=parameter)
    return total.ratio(divisor)


def _row_weights(
    sample_weights: npt.ArrayLike | None, ignored: npt.NDArray[np.bool_] | None, rows: int
) -> FloatArray | None:
    """The sample weights with the ignored rows' set to 0 (None: every row weighs 1)."""
    weights = sample_weight_vector(sample_weights, rows)
    if ignored is None or not ignored.any():
        return weights
    return np.where(ignored, 0.0, 1.0 if weights is None else weights)


def _weights_parameter(
    sample_weights: npt.ArrayLike | None, ignored: npt.NDArray[np.bool_] | None
) -> str | tuple[str, str]:
    """What gave the rows their weights: the sample weights, ignored rows, or both."""
    if sample_weights is None:
        return "ignore_index"
    if ignored is None or not ignored.any():
        return "sample_weights"
    return ("sample_weights", "ignore_index")


def _with_sample_weights(
    result: _Result,
    sample_weights: npt.ArrayLike | None,
    ignored: npt.NDArray[np.bool_] | None = None,
) -> _Result:
    """``result`` with its rows weighted (ignored rows weigh 0): per-row values, row shares
    and every reduced value (the loss and its companions, ``entropy``, ``positive``, ``ce``…)."""
    weights = _row_weights(sample_weights, ignored, result.rows)
    if weights is None:
        return result
    parameter = _weights_parameter(sample_weights, ignored)
    reduction = result.reduction
    changes: dict[str, Any] = {
        # Every per-row value, the companions too (per_row_ce, per_row_entropy…), as per_row.
        **{
            field.name: _weigh(weights, getattr(result, field.name))
            for field in fields(result)
            if field.name.startswith("per_row_")
            and isinstance(getattr(result, field.name), np.ndarray)
        },
        "per_row": _weigh(weights, result.per_row),
        "row_totals": _weigh(weights, result.row_totals),
        "row_divisors": _weigh(weights, result.row_divisors),
        "row_extras": {name: _weigh(weights, v) for name, v in result.row_extras.items()},
    }
    for name, totals in {"loss": result.row_totals, **result.row_extras}.items():
        if reduction == "none":
            changes[name] = _weigh(weights, getattr(result, name))
        else:
            changes[name] = _weighted_reduction(
                weights, totals, result.row_divisors, reduction, parameter
            )
    return replace(result, **changes)


class _Model:
    """Model probabilities p and their logs (in nats), with 1 - p and log(1 - p) on demand.

    From probabilities, p is clipped to [ε, 1-ε] in exact arithmetic: 1 - ε is not a float
    (fl(1 - 1e-7) is off by 5e-17, which moves log(1 - ε) by 5e-10 relative), so above 1/2
    everything is computed from the complement 1 - p, which is exact there (Sterbenz):
    :math:`\\log \\hat p = \\mathrm{log1p}(-\\max(1-p, ε))`.  Only the complements that a
    loss asks for are computed, which keeps the plain cross-entropy of a large file to one
    logarithm per value.
    """

    def __init__(
        self,
        probs: FloatArray,
        log_p: FloatArray,
        clipped: BoolArray,
        clipped_high: BoolArray,
        complement: Callable[[], tuple[FloatArray, FloatArray]],
        from_probabilities: bool = False,
    ) -> None:
        self.probs = probs
        self.log_p = log_p
        self.clipped = clipped
        self.clipped_high = clipped_high
        self._complement = complement
        self.from_probabilities = from_probabilities

    def log_in(self, base: Base) -> FloatArray:
        """log p in ``base``.  From probabilities, log₂ p or log₁₀ p directly, so that a term
        that is one logarithm is rounded once: −log₁₀ 0.01 is 2 exactly, where
        ln(0.01) / ln 10 gives 1.9999999999999996.  A p clipped to 1 − ε keeps
        log1p(−ε) / ln b (1 − ε is not a float)."""
        if base == "e" or not self.from_probabilities:
            return _in_base(self.log_p, base)
        logarithm = np.log2 if base == "2" else np.log10
        with np.errstate(divide="ignore"):
            values: FloatArray = logarithm(self.probs)
        values[self.clipped_high] = _in_base(self.log_p[self.clipped_high], base)
        return values

    @functools.cached_property
    def _complements(self) -> tuple[FloatArray, FloatArray]:
        return self._complement()

    @property
    def not_probs(self) -> FloatArray:
        return self._complements[0]

    @property
    def log_not_p(self) -> FloatArray:
        return self._complements[1]


def _from_probabilities(preds: FloatArray, eps: float) -> _Model:
    high = np.nonzero(preds > 0.5)
    probs = np.maximum(preds, eps)
    with np.errstate(divide="ignore"):
        log_p = np.log(probs)
    clipped = preds < eps
    clipped_high = np.zeros(preds.shape, dtype=np.bool_)
    high_complement = np.maximum(1.0 - preds[high], eps)  # 1 - p is exact here
    probs[high] = 1.0 - high_complement
    log_p[high] = np.log1p(-high_complement)
    clipped_high[high] = (1.0 - preds[high]) < eps
    clipped |= clipped_high

    def complement() -> tuple[FloatArray, FloatArray]:
        not_p = 1.0 - probs
        with np.errstate(divide="ignore"):
            log_not_p = np.log1p(-probs)
            not_p[high] = high_complement
            log_not_p[high] = np.log(high_complement)
        return not_p, log_not_p

    return _Model(probs, log_p, clipped, clipped_high, complement, from_probabilities=True)


def _log_clipped(preds: FloatArray, eps: float) -> FloatArray:
    """``_from_probabilities(preds, eps).log_p`` alone, the same values with fewer passes:
    ln max(p, ε), and ln(1 − max(1 − p, ε)) by log1p where p > 1/2."""
    with np.errstate(divide="ignore"):
        log_p = np.log(np.maximum(preds, eps))
    high = np.flatnonzero(preds > 0.5)
    if high.size:
        log_p[high] = np.log1p(-np.maximum(1.0 - preds[high], eps))
    return log_p


def _categorical(preds: FloatArray, *, logits: bool, eps: float) -> _Model:
    if not logits:
        return _from_probabilities(preds, eps)
    check_masked_rows(preds)
    log_p = numerics.log_softmax(preds)

    def complement() -> tuple[FloatArray, FloatArray]:
        # 1 - p from log p: expm1 keeps the digits when p is close to 1.
        not_p = -np.expm1(log_p)
        with np.errstate(divide="ignore"):
            return not_p, np.log(not_p)

    no_clip = np.zeros(preds.shape, dtype=np.bool_)
    return _Model(np.exp(log_p), log_p, no_clip, no_clip, complement)


def _binary(preds: FloatArray, *, logits: bool, eps: float) -> _Model:
    if not logits:
        return _from_probabilities(preds, eps)
    # log(1 - σ(z)) = log σ(-z): no 1 - p is ever formed.
    log_p = numerics.log_sigmoid(preds)
    log_not_p = numerics.log_sigmoid(-preds)
    no_clip = np.zeros(preds.shape, dtype=np.bool_)
    return _Model(np.exp(log_p), log_p, no_clip, no_clip, lambda: (np.exp(log_not_p), log_not_p))


def _pick(matrix: FloatArray, indices: IntArray) -> FloatArray:
    """``matrix[i, indices[i]]`` for every row: one flat gather where the matrix is stored by
    columns (as a CSV batch is), half the time of fancy indexing on a large batch."""
    rows = matrix.shape[0]
    if matrix.flags.f_contiguous:
        flat: FloatArray = matrix.ravel(order="F").take(indices * rows + np.arange(rows))
        return flat
    picked: FloatArray = matrix[np.arange(rows), indices]
    return picked


def _weighted_neg_log(weight: FloatArray, log_values: FloatArray) -> FloatArray:
    """``-weight · log_values`` with ``0 · log 0 = 0``."""
    return numerics.x_log(-np.asarray(weight), log_values)


def _in_base(values: FloatArray, base: Base) -> FloatArray:
    return numerics.to_base(values, base)


def _prepare_categorical(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    logits: bool,
    normalize: bool,
    class_names: Sequence[str] | None,
    ignore_index: int | None = None,
) -> tuple[
    FloatArray, FloatArray, IntArray | None, tuple[int, ...], tuple[str, ...] | None, BoolArray
]:
    matrix = as_predictions(preds, logits=logits)
    targets, indices, ignored = as_targets_ignoring(labels, matrix, ignore_index=ignore_index)
    if ignored.any():  # the targets say which rows count; no index stands for an ignored row
        indices = None
    names = check_class_names(class_names, matrix.shape[1])
    off: tuple[int, ...] = ()
    if not logits:
        matrix, off = as_distributions(matrix, normalize=normalize)
    return matrix, targets, indices, off, names, ignored


# --- ce ------------------------------------------------------------------------------------


def categorical_cross_entropy(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    logits: bool = False,
    eps: float = DEFAULT_EPS,
    base: str = "e",
    reduction: Reduction = "mean",
    sample_weights: npt.ArrayLike | None = None,
    ignore_index: int | None = None,
    weights: npt.ArrayLike | None = None,
    smoothing: float = 0.0,
    normalize: bool = False,
    class_names: Sequence[str] | None = None,
) -> CrossEntropyResult:
    r"""Categorical cross-entropy between target distributions and predictions.

    .. math::
        L_i = -\sum_c w_c\, y_{ic} \log \hat p_{ic}, \qquad
        \hat p = \mathrm{clip}(p, \epsilon, 1-\epsilon)

    From logits, :math:`\log \hat p = \log\mathrm{softmax}(z)` by log-sum-exp (no clipping).
    With ``smoothing`` ε the targets become :math:`(1-ε)\,y + ε/C` first.  The mean divides
    by N, or with ``weights`` by :math:`\sum_i \sum_c w_c y_{ic}` (PyTorch's weighted mean for
    one-hot targets).

    Args:
        labels: (N, C) one-hot or soft targets, or (N,)/(N, 1) class indices.
        preds: (N, C) probabilities, or logits with ``logits=True``.
        weights: (C,) non-negative class weights.
        sample_weights: (N,) non-negative row weights, or one for every row.
        ignore_index: a class-index label that marks its row as left out: the row's value
            is 0 and the mean's divisor leaves it out (PyTorch's ``ignore_index``, Keras'
            ``ignore_class``).
        normalize: renormalise probability rows to sum to 1 before clipping.
        class_names: one name per class (only carried to the output).

    Returns:
        CrossEntropyResult with ``per_row`` (N,), ``terms`` (N, C) and the reduced ``loss``.

    Raises:
        InputError: shapes differ, probabilities outside [0, 1], non-finite values, bad options.

    References:
        Goodfellow, Bengio and Courville, *Deep Learning* (2016), §3.13 and §6.2.2.
    """
    canonical_base, reduction = _check_common(eps, base, reduction)
    _check_range("smoothing", smoothing, 0.0, 1.0, closed_high=True)
    matrix, targets, indices, off, names, ignored = _prepare_categorical(
        labels, preds, logits=logits, normalize=normalize, class_names=class_names,
        ignore_index=ignore_index,
    )  # fmt: skip
    rows, classes = matrix.shape
    weight_vector = _class_weights(weights, classes)
    if smoothing:
        targets = (1.0 - smoothing) * targets + smoothing / classes
        targets[ignored] = 0.0
    model = _categorical(matrix, logits=logits, eps=eps)
    # Huge weights may make a term or a row's total overflow: inf is then its rounded value.
    with np.errstate(over="ignore"):
        weighted_targets = targets if weight_vector is None else targets * weight_vector
        log_p_in_base = model.log_in(canonical_base)
        terms = _weighted_neg_log(weighted_targets, log_p_in_base)
        per_row: FloatArray = terms.sum(axis=1)
        row_divisors = np.ones(rows) if weight_vector is None else weighted_targets.sum(axis=1)
        loss = reduce_rows(per_row, reduction, float(rows))
    if weight_vector is not None and reduction == "mean" and not ignored.any():
        loss = _class_weighted_mean(targets, weight_vector, log_p_in_base)
    result = CrossEntropyResult(
        loss=loss,
        per_row=per_row,
        base=canonical_base,
        reduction=reduction,
        logits=logits,
        eps=0.0 if logits else eps,
        class_names=names,
        unnormalized_rows=off,
        targets=targets,
        label_indices=indices,
        preds=matrix,
        probs=model.probs,
        clipped=model.clipped,
        log_probs=log_p_in_base,
        terms=terms,
        weights=weight_vector,
        smoothing=smoothing,
        row_totals=per_row,
        row_divisors=row_divisors,
    )
    return _with_sample_weights(result, sample_weights, ignored)


def categorical_cross_entropy_rows(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    logits: bool = False,
    eps: float = DEFAULT_EPS,
    base: str = "e",
    weights: npt.ArrayLike | None = None,
    smoothing: float = 0.0,
    normalize: bool = False,
    class_names: Sequence[str] | None = None,
) -> RowLosses:
    """The per-row values of :func:`categorical_cross_entropy`, for scoring large batches.

    With class-index labels the true class's probability is gathered before any logarithm is
    taken, one per row instead of one per class; other labels take the full computation.
    """
    canonical_base, _ = _check_common(eps, base, "mean")
    _check_range("smoothing", smoothing, 0.0, 1.0, closed_high=True)
    # Per-row values keep no inputs: the batch is used as it is, not copied.
    matrix, low, high = predictions_with_range(preds, logits=logits, kept=False)
    indices = None if smoothing else as_class_indices(labels, matrix)
    if indices is None:
        options = {"logits": logits, "eps": eps, "base": base, "normalize": normalize}
        return categorical_cross_entropy(
            labels, matrix, weights=weights, smoothing=smoothing, class_names=class_names,
            **options,  # type: ignore[arg-type]
        ).row_losses()  # fmt: skip
    rows, classes = matrix.shape
    check_class_names(class_names, classes)
    weight_vector = _class_weights(weights, classes)
    off: tuple[int, ...] = ()
    clipped_count = clipped_terms = 0  # every clip, and those of the true class alone
    if logits:
        if low == -math.inf:  # a masked logit: its row needs one that is not
            check_masked_rows(matrix)
        log_p = _in_base(_pick(numerics.log_softmax(matrix), indices), canonical_base)
    else:
        matrix, off = as_distributions(matrix, normalize=normalize)
        if normalize:
            low, high = float(matrix.min()), float(matrix.max())
        picked = _pick(matrix, indices)
        if eps > 0.0 and (low < eps or 1.0 - high < eps):
            clipped_count = int(np.count_nonzero((matrix < eps) | (1.0 - matrix < eps)))
            clipped_terms = int(np.count_nonzero((picked < eps) | (1.0 - picked < eps)))
        if canonical_base == "e":
            log_p = _log_clipped(picked, eps)
        else:
            log_p = _from_probabilities(picked, eps).log_in(canonical_base)
    row_weights = np.ones(rows) if weight_vector is None else weight_vector[indices]
    # Without class weights, −1 · log p is −log p: no pass multiplying by the ones.  + 0.0: a
    # row with p = 1 costs 0, not −0 (−1 · log 1), as the full computation's sum gives.
    per_row = (-log_p if weight_vector is None else _weighted_neg_log(row_weights, log_p)) + 0.0
    return RowLosses(
        name="ce",
        base=canonical_base,
        classes=classes,
        per_row=per_row,
        row_totals=per_row,
        row_divisors=row_weights,
        row_extras={},
        clipped_count=clipped_count,
        unnormalized_rows=off,
        clipped_terms=clipped_terms,
    )


def _class_weighted_mean(
    targets: FloatArray, weight_vector: FloatArray, log_p: FloatArray
) -> float:
    """``Σ w·y·(−log p) / Σ w·y`` over every row and class, the same for weights of any scale.

    The weights are first scaled by a power of two that brings the largest into [0.5, 1), so
    that ``w·y`` neither overflows (weights of 1e308) nor loses digits as a subnormal (weights
    of 1e-320); each ``w·y·(−log p)`` is then an exact product and both sums are exact
    (:class:`~cecli.numerics.ExactSum`), so the ratio is rounded once.
    """
    largest_exponent = math.frexp(float(weight_vector.max()))[1]
    scaled = targets * np.ldexp(weight_vector, -largest_exponent)
    counted = scaled != 0.0  # 0·log 0 = 0: a term of weight 0 is 0 whatever p is
    divisor = numerics.ExactSum()
    divisor.add(scaled[counted])
    if divisor.is_zero():
        raise InputError(
            "weights give every target weight 0; the weighted mean is undefined",
            parameter="weights",
        )
    total = numerics.ExactSum()
    total.add_products(scaled[counted], -log_p[counted])
    return total.ratio(divisor)


def _class_weights(weights: npt.ArrayLike | None, classes: int) -> FloatArray | None:
    if weights is None:
        return None
    return _weight_vector(_weights_array(weights, "weights"), "weights", classes, "classes")


# --- smooth --------------------------------------------------------------------------------


def label_smoothing(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    smoothing: float = 0.1,
    logits: bool = False,
    eps: float = DEFAULT_EPS,
    base: str = "e",
    reduction: Reduction = "mean",
    sample_weights: npt.ArrayLike | None = None,
    ignore_index: int | None = None,
    normalize: bool = False,
    class_names: Sequence[str] | None = None,
) -> SmoothingResult:
    r"""Cross-entropy against label-smoothed targets, beside the loss against the hard ones.

    .. math:: y' = (1-ε)\,y + ε / C, \qquad L_i = -\sum_c y'_{ic} \log \hat p_{ic}

    This is the variant of Szegedy et al. (2016) and PyTorch's ``label_smoothing``: every
    class, the true one included, receives ε/C.  ``loss_hard`` is the plain cross-entropy.

    References:
        Szegedy et al., *Rethinking the Inception Architecture for Computer Vision* (2016), §7.
    """
    options = {
        "logits": logits,
        "eps": eps,
        "base": base,
        "reduction": reduction,
        "normalize": normalize,
        "class_names": class_names,
        "sample_weights": sample_weights,
        "ignore_index": ignore_index,
    }
    # Both are weighted (and their ignored rows left out) by categorical_cross_entropy.
    smoothed = categorical_cross_entropy(labels, preds, smoothing=smoothing, **options)  # type: ignore[arg-type]
    hard = categorical_cross_entropy(labels, preds, **options)  # type: ignore[arg-type]
    result = SmoothingResult(
        loss=smoothed.loss,
        per_row=smoothed.per_row,
        base=smoothed.base,
        reduction=smoothed.reduction,
        logits=smoothed.logits,
        eps=smoothed.eps,
        class_names=smoothed.class_names,
        unnormalized_rows=smoothed.unnormalized_rows,
        targets=smoothed.targets,
        label_indices=smoothed.label_indices,
        preds=smoothed.preds,
        probs=smoothed.probs,
        clipped=smoothed.clipped,
        log_probs=smoothed.log_probs,
        terms=smoothed.terms,
        weights=None,
        smoothing=smoothing,
        row_totals=smoothed.row_totals,
        row_divisors=smoothed.row_divisors,
        row_extras={"loss_hard": hard.per_row},
        hard_targets=hard.targets,
        hard_terms=hard.terms,
        per_row_hard=hard.per_row,
        loss_hard=hard.loss,
    )
    return result


# --- bce and multilabel --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _BinaryTerms:
    matrix: FloatArray
    targets: FloatArray
    model: _Model
    positive: FloatArray
    negative: FloatArray


def _binary_terms(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    logits: bool,
    eps: float,
    base: Base,
    pos_weight: float,
    neg_weight: float,
    smoothing: float,
    weights: npt.ArrayLike | None = None,
) -> _BinaryTerms:
    _check_range("pos_weight", pos_weight, 0.0, math.inf, closed_high=False)
    _check_range("neg_weight", neg_weight, 0.0, math.inf, closed_high=False)
    _check_range("smoothing", smoothing, 0.0, 1.0, closed_high=True)
    matrix = as_predictions(preds, logits=logits)
    targets, _ = as_targets(labels, matrix, allow_indices=False)
    if smoothing:
        targets = targets * (1.0 - smoothing) + smoothing / 2.0
    model = _binary(matrix, logits=logits, eps=eps)
    # Class weights scale both terms of an element, as PyTorch's weight= does.
    scale = _class_weights(weights, matrix.shape[1])
    scale = np.ones(matrix.shape[1]) if scale is None else scale
    with np.errstate(over="ignore"):
        positive_weight, negative_weight = pos_weight * scale, neg_weight * scale
        positive = _weighted_neg_log(positive_weight * targets, model.log_in(base))
        negative_terms = _weighted_neg_log(negative_weight * (1.0 - targets), model.log_not_p)
    negative = _in_base(negative_terms, base)
    return _BinaryTerms(matrix, targets, model, positive, negative)


def binary_cross_entropy(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    logits: bool = False,
    eps: float = DEFAULT_EPS,
    base: str = "e",
    reduction: Reduction = "mean",
    sample_weights: npt.ArrayLike | None = None,
    pos_weight: float = 1.0,
    smoothing: float = 0.0,
    weights: npt.ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
) -> BinaryResult:
    r"""Binary cross-entropy, element by element.

    .. math::
        \ell_{ic} = -\bigl(W\, y_{ic} \log \hat p_{ic} + (1-y_{ic}) \log(1-\hat p_{ic})\bigr)

    From logits, :math:`\log \hat p = \log σ(z)` and :math:`\log(1-\hat p) = \log σ(-z)`.
    Labels may be soft (in [0, 1]); ``smoothing`` ε maps them to :math:`y(1-ε) + ε/2` first.
    ``mean`` averages over all N·C elements, ``sum`` adds them; ``per_row`` is each row's
    elements averaged (``mean``, ``none``) or summed (``sum``).

    Args:
        labels: (N, C) labels in [0, 1], the same shape as ``preds``.
        preds: (N, C) probabilities, or logits with ``logits=True``.
        pos_weight: W, the weight of the positive term.
        weights: (C,) class weights w_c ≥ 0 scaling both terms of each element of class c
            (PyTorch's ``weight``); the mean still divides by N·C.
    """
    canonical_base, reduction = _check_common(eps, base, reduction)
    parts = _binary_terms(
        labels,
        preds,
        logits=logits,
        eps=eps,
        base=canonical_base,
        pos_weight=pos_weight,
        neg_weight=1.0,
        smoothing=smoothing,
        weights=weights,
    )
    rows, classes = parts.matrix.shape
    row_totals, per_row, loss = _element_reduction(parts.positive + parts.negative, reduction)
    result = BinaryResult(
        loss=per_row if reduction == "none" else loss,
        per_row=per_row,
        base=canonical_base,
        reduction=reduction,
        logits=logits,
        eps=0.0 if logits else eps,
        class_names=check_class_names(class_names, parts.matrix.shape[1]),
        unnormalized_rows=(),
        targets=parts.targets,
        preds=parts.matrix,
        probs=parts.model.probs,
        clipped=parts.model.clipped,
        log_probs=_in_base(parts.model.log_p, canonical_base),
        log_not_p=_in_base(parts.model.log_not_p, canonical_base),
        positive_terms=parts.positive,
        negative_terms=parts.negative,
        pos_weight=pos_weight,
        neg_weight=1.0,
        smoothing=smoothing,
        row_totals=row_totals,
        row_divisors=np.full(rows, float(classes)),
    )
    return _with_sample_weights(result, sample_weights)


def multilabel_cross_entropy(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    logits: bool = False,
    eps: float = DEFAULT_EPS,
    base: str = "e",
    reduction: Reduction = "mean",
    sample_weights: npt.ArrayLike | None = None,
    pos_weight: float = 1.0,
    neg_weight: float = 1.0,
    weights: npt.ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
) -> MultilabelResult:
    r"""Multi-label loss: one sigmoid BCE per class, summed over classes.

    .. math::
        L_i = \underbrace{-\sum_c W_+\, y_{ic} \log \hat p_{ic}}_{\text{positive}}
              \;\underbrace{-\sum_c W_-\,(1-y_{ic}) \log(1-\hat p_{ic})}_{\text{negative}}

    The per-row value is a sum over classes (not a mean), so many easy negatives add up and
    can drown out a few positives; ``positive`` and ``negative`` report the two sums under the
    same reduction across rows.  ``weights`` (C,) scale both terms of class c.
    """
    canonical_base, reduction = _check_common(eps, base, reduction)
    parts = _binary_terms(
        labels,
        preds,
        logits=logits,
        eps=eps,
        base=canonical_base,
        pos_weight=pos_weight,
        neg_weight=neg_weight,
        smoothing=0.0,
        weights=weights,
    )
    rows, classes = parts.matrix.shape
    per_row_positive = _row_sums(parts.positive)
    per_row_negative = _row_sums(parts.negative)
    per_row = _row_sums(parts.positive + parts.negative)
    result = MultilabelResult(
        loss=reduce_rows(per_row, reduction, rows),
        per_row=per_row,
        base=canonical_base,
        reduction=reduction,
        logits=logits,
        eps=0.0 if logits else eps,
        class_names=check_class_names(class_names, classes),
        unnormalized_rows=(),
        targets=parts.targets,
        preds=parts.matrix,
        probs=parts.model.probs,
        clipped=parts.model.clipped,
        log_probs=_in_base(parts.model.log_p, canonical_base),
        log_not_p=_in_base(parts.model.log_not_p, canonical_base),
        positive_terms=parts.positive,
        negative_terms=parts.negative,
        pos_weight=pos_weight,
        neg_weight=neg_weight,
        smoothing=0.0,
        positive=reduce_rows(per_row_positive, reduction, rows),
        negative=reduce_rows(per_row_negative, reduction, rows),
        row_totals=per_row,
        row_divisors=np.ones(rows),
        row_extras={"positive": per_row_positive, "negative": per_row_negative},
    )
    return _with_sample_weights(result, sample_weights)


# --- kl ------------------------------------------------------------------------------------


def kl_divergence(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    logits: bool = False,
    eps: float = DEFAULT_EPS,
    base: str = "e",
    reduction: Reduction = "mean",
    sample_weights: npt.ArrayLike | None = None,
    log_targets: bool = False,
    generalized: bool = False,
    normalize: bool = False,
    class_names: Sequence[str] | None = None,
) -> KLResult:
    r"""Kullback-Leibler divergence of the model Q from the true P, with H(P) and H(P, Q).

    .. math::
        D_{KL}(P\|Q) = \sum_c p_c \log\frac{p_c}{q_c}, \qquad
        H(P) = -\sum_c p_c \log p_c, \qquad H(P, Q) = -\sum_c p_c \log q_c = H(P) + D_{KL}

    with :math:`0 \log(0/q) = 0` and :math:`p \log(p/0) = \infty` for :math:`p > 0`.  ``eps``
    clips Q only; P is never clipped.  From logits, :math:`\log q = \log\mathrm{softmax}(z)`.

    With ``generalized``, P and Q are unnormalised measures (any values ≥ 0) and each term is
    :math:`p \log(p/q) - p + q \ge 0` (the generalised KL divergence, optax's
    ``convex_kl_divergence``); ``eps`` then only raises q to at least ε.

    Args:
        labels: P, (N, C) true distributions; with ``log_targets`` their logarithms
            (each ≤ 0, -inf for 0), as PyTorch's ``kl_div(log_target=True)`` takes them.
        preds: Q, (N, C) model distributions, or logits with ``logits=True``.

    References:
        Cover and Thomas, *Elements of Information Theory* (2006), §2.3.
    """
    canonical_base, reduction = _check_common(eps, base, reduction)
    if generalized and not logits:
        q_given = as_nonnegative(preds, "PREDS")
    else:
        q_given = as_predictions(preds, logits=logits)
    given_log_p = None
    if log_targets:
        given_log_p = as_log_probabilities(labels, q_given)
        p = np.exp(given_log_p)
    elif generalized:
        p = as_nonnegative(labels, "LABELS", like=q_given)
    else:
        p, _ = as_targets(labels, q_given, allow_indices=False)
    names = check_class_names(class_names, q_given.shape[1])
    off_p: tuple[int, ...] = ()
    off_q: tuple[int, ...] = ()
    if not generalized:
        p, off_p = as_distributions(p, normalize=normalize, name="LABELS")
        if normalize and given_log_p is not None:
            given_log_p = None  # renormalised: log p is taken from the new p
    if not logits and not generalized:
        q_given, off_q = as_distributions(q_given, normalize=normalize)
    if generalized and not logits:
        q = np.maximum(q_given, eps)
        with np.errstate(divide="ignore"):
            log_q = np.log(q)
        no_high = np.zeros(q.shape, dtype=np.bool_)
        model = _Model(q, log_q, q_given < eps, no_high, lambda: (1.0 - q, np.log1p(-q)))
    else:
        model = _categorical(q_given, logits=logits, eps=eps)
    with np.errstate(divide="ignore"):
        log_p = np.log(p) if given_log_p is None else given_log_p
    # Where q is a float, split p·log(p/q) into a part ≥ 0 and the exact p - q, so sums over
    # classes keep their digits when Q ≈ P; where softmax underflowed or q was clipped to
    # 1 - eps (not a float), only log q itself is exact.
    # Log targets give log p itself, which exp(log p) only rounds: take it as given.
    exact_q = (model.probs >= np.finfo(np.float64).tiny) & ~model.clipped_high
    exact_q &= given_log_p is None
    ratio_part, difference = numerics.kl_parts(p, model.probs)
    with np.errstate(invalid="ignore"):
        fallback = _weighted_neg_log(p, model.log_p - log_p)
    if generalized:
        # p·log(p/q) - p + q: the ratio part alone where q is a float (its p - q cancels).
        with np.errstate(invalid="ignore", over="ignore"):
            fallback = fallback - p + model.probs
        difference = np.zeros_like(difference)
    ratio_part = np.where(exact_q, ratio_part, fallback)
    difference = np.where(exact_q, difference, 0.0)
    rows = p.shape[0]
    terms = _in_base(ratio_part + difference, canonical_base)
    per_row = _in_base(ratio_part.sum(axis=1) + difference.sum(axis=1), canonical_base)
    entropy_terms = _in_base(_weighted_neg_log(p, log_p), canonical_base)
    cross_terms = _in_base(_weighted_neg_log(p, model.log_p), canonical_base)
    per_row_entropy: FloatArray = entropy_terms.sum(axis=1)
    per_row_cross: FloatArray = cross_terms.sum(axis=1)
    result = KLResult(
        loss=reduce_rows(per_row, reduction, rows),
        per_row=per_row,
        base=canonical_base,
        reduction=reduction,
        logits=logits,
        eps=0.0 if logits else eps,
        class_names=names,
        unnormalized_rows=off_q,
        unnormalized_p_rows=off_p,
        targets=p,
        preds=q_given,
        probs=model.probs,
        clipped=model.clipped,
        terms=terms,
        entropy_terms=entropy_terms,
        cross_entropy_terms=cross_terms,
        per_row_entropy=per_row_entropy,
        per_row_cross_entropy=per_row_cross,
        entropy=reduce_rows(per_row_entropy, reduction, rows),
        cross_entropy=reduce_rows(per_row_cross, reduction, rows),
        row_totals=per_row,
        row_divisors=np.ones(rows),
        row_extras={"entropy": per_row_entropy, "cross_entropy": per_row_cross},
    )
    return _with_sample_weights(result, sample_weights)


# --- grad ----------------------------------------------------------------------------------


def logit_gradient(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    logits: bool = False,
    sigmoid: bool = False,
    eps: float = DEFAULT_EPS,
    base: str = "e",
    reduction: Reduction = "mean",
    sample_weights: npt.ArrayLike | None = None,
    ignore_index: int | None = None,
    class_names: Sequence[str] | None = None,
    probs: bool | None = None,
) -> GradResult:
    r"""The gradient of the cross-entropy with respect to the logits.

    .. math::
        \frac{\partial L_i}{\partial z_{ic}} = \mathrm{softmax}(z_i)_c \sum_k y_{ik} - y_{ic}
        \quad(= \mathrm{softmax} - y \text{ for one-hot } y)

    With ``sigmoid``, each class is its own binary problem and
    :math:`\partial \ell_{ic}/\partial z_{ic} = σ(z_{ic}) - y_{ic}`.  The gradient is that of
    the reported loss: ``mean`` divides it by N (by N·C with ``sigmoid``), ``sum`` and ``none``
    leave each row's own.  PREDS are probabilities, clipped by ``eps``, and the logits are
    :math:`z = \log p` (:math:`\log\frac{p}{1-p}` with ``sigmoid``); ``grad_probs`` then
    holds :math:`\partial L/\partial p = -y/p` (:math:`-y/p + (1-y)/(1-p)` with ``sigmoid``).
    With ``logits``, PREDS are the logits z.  In base b every value is divided by ln b.
    (``probs=True`` is the older spelling of the default, ``probs=False`` of ``logits=True``.)
    """
    canonical_base, reduction = _check_common(eps, base, reduction)
    if probs is not None:
        if logits and probs:
            raise InputError(
                "logits=True and probs=True contradict each other; give logits only",
                parameter="probs",
            )
        logits = not probs
    probs = not logits
    matrix = as_predictions(preds, logits=logits)
    ignored = None
    if sigmoid:
        if ignore_index is not None:
            raise InputError(
                "ignore_index needs class-index labels; the sigmoid gradient takes 0/1 labels",
                parameter="ignore_index",
            )
        targets, indices = as_targets(labels, matrix, allow_indices=False)
    else:
        targets, indices, ignored = as_targets_ignoring(labels, matrix, ignore_index=ignore_index)
        if ignored.any():
            indices = None
    names = check_class_names(class_names, matrix.shape[1])
    classes = matrix.shape[1]
    clipped = np.zeros(matrix.shape, dtype=np.bool_)
    z = matrix
    model = None
    if probs:
        model = _from_probabilities(matrix, eps)
        clipped = model.clipped
        z = model.log_p - model.log_not_p if sigmoid else model.log_p
    if sigmoid:
        logs = None if model is None else (model.log_p, model.log_not_p)
        grad, per_row_totals, used_probs, divisor = _sigmoid_gradient(targets, z, logs)
    else:
        log_s = None if model is None else _log_normalized(matrix, eps, model.log_p)
        grad, per_row_totals, used_probs, divisor = _softmax_gradient(targets, z, log_s)
    scale = 1.0 / divisor if reduction == "mean" else 1.0
    weights = _row_weights(sample_weights, ignored, matrix.shape[0])
    weights_parameter = _weights_parameter(sample_weights, ignored)
    row_scale = np.full(matrix.shape[0], scale)
    if weights is not None:
        # Each row's gradient times its weight; the mean divides by Σ w (Σ w·C with sigmoid).
        share = np.full(matrix.shape[0], float(classes) if sigmoid else 1.0)
        row_scale = weights
        if reduction == "mean":
            # Refuses weights that sum to 0 (or every row ignored).
            _weighted_reduction(weights, share, share, "mean", weights_parameter)
            total_weight = numerics.ExactSum()
            total_weight.add_products(weights, share)
            row_scale = weights / total_weight.value()
    grad_probs = None
    if model is not None:
        # y/p beyond the largest float (p subnormal) is ±inf, its rounded value.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            raw = np.where(targets == 0.0, 0.0, -targets / model.probs)
            if sigmoid:
                raw += np.where(targets == 1.0, 0.0, (1.0 - targets) / model.not_probs)
        grad_probs = _in_base(_weigh(row_scale, raw), canonical_base)
    per_row_totals = _in_base(per_row_totals, canonical_base)
    per_row = _element_rows(per_row_totals, classes, reduction) if sigmoid else per_row_totals
    loss = reduce_rows(per_row_totals, reduction, divisor)
    result = GradResult(
        loss=per_row if reduction == "none" else loss,
        per_row=per_row,
        base=canonical_base,
        reduction=reduction,
        logits=not probs,
        eps=eps if probs else 0.0,
        class_names=names,
        unnormalized_rows=(),
        targets=targets,
        label_indices=indices,
        preds=matrix,
        logits_used=z,
        probs=used_probs,
        clipped=clipped,
        grad=_in_base(grad * row_scale[:, np.newaxis], canonical_base),
        grad_probs=grad_probs,
        sigmoid=sigmoid,
        row_totals=per_row_totals,
        row_divisors=np.full(matrix.shape[0], float(classes) if sigmoid else 1.0),
    )
    return _with_sample_weights(result, sample_weights, ignored)


def _log_normalized(preds: FloatArray, eps: float, log_p: FloatArray) -> FloatArray:
    r"""``log softmax(log p) = log p_c - log Σ_k p_k`` for the clipped probabilities, without
    rounding the logits ``log p`` first: :math:`\log Σ_k p_k = \mathrm{log1p}(Σ_k p_k - 1)`,
    where the sum minus 1 is taken with compensation from the exact clipped values
    (:math:`1 - \max(1 - p, ε)` above 1/2 is counted as 1 and :math:`-\max(1 - p, ε)`).
    A row that sums to 1 to the last bit then gives ``log p`` itself, as ``ce`` does."""
    high = preds > 0.5
    with np.errstate(invalid="ignore"):
        terms = np.where(high, -np.maximum(1.0 - preds, eps), np.maximum(preds, eps))
    excess = numerics.compensated_row_sums(terms, high.sum(axis=1) - 1.0)
    result: FloatArray = log_p - np.log1p(excess)[:, np.newaxis]
    return result


def _softmax_gradient(
    targets: FloatArray, z: FloatArray, log_s: FloatArray | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """The softmax gradient, loss and probabilities at logits ``z``, or at ``log_s``
    (already ``log softmax(z)``) when it is given."""
    if log_s is None:
        check_masked_rows(z)
        log_s = numerics.log_softmax(z)
    softmax = np.exp(log_s)
    mass = targets.sum(axis=1, keepdims=True)
    grad = softmax * mass - targets
    # Where a row puts all its mass on one class, softmax·m - m = m·expm1(log softmax) keeps
    # the digits that 1 - softmax loses when the model is nearly right.
    concentrated = (targets == mass) & (targets > 0.0)
    grad = np.where(concentrated, mass * np.expm1(log_s), grad)
    per_row_totals: FloatArray = _weighted_neg_log(targets, log_s).sum(axis=1)
    return grad, per_row_totals, softmax, float(targets.shape[0])


def _sigmoid_gradient(
    targets: FloatArray, z: FloatArray, logs: tuple[FloatArray, FloatArray] | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """The sigmoid gradient, loss and probabilities at logits ``z``, or from ``logs``
    (``log σ(z)``, ``log σ(-z)``: from probabilities, ``log p`` and ``log(1 - p)`` themselves,
    which ``σ(log p - log(1 - p))`` would round)."""
    log_p, log_not_p = (numerics.log_sigmoid(z), numerics.log_sigmoid(-z)) if logs is None else logs
    p = np.exp(log_p)
    # σ(z) - 1 = -σ(-z): exact where the label is 1, instead of a cancelling difference.
    grad = np.where(targets == 1.0, -np.exp(log_not_p), p - targets)
    elements = _weighted_neg_log(targets, log_p) + _weighted_neg_log(1.0 - targets, log_not_p)
    per_row_totals = _row_sums(elements)
    return grad, per_row_totals, p, float(targets.size)


# --- focal ---------------------------------------------------------------------------------


def focal_loss(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    binary: bool = False,
    logits: bool = False,
    eps: float = DEFAULT_EPS,
    base: str = "e",
    reduction: Reduction = "mean",
    sample_weights: npt.ArrayLike | None = None,
    ignore_index: int | None = None,
    smoothing: float = 0.0,
    normalize: bool = False,
    class_names: Sequence[str] | None = None,
) -> FocalResult:
    r"""Focal loss: cross-entropy down-weighted by :math:`(1 - p_t)^γ` on easy examples.

    Multiclass (softmax), with soft targets allowed:

    .. math:: L_i = -\sum_c y_{ic}\, α\, (1 - \hat p_{ic})^γ \log \hat p_{ic}

    where α is a plain scalar factor (1 when not given).  With ``binary`` (sigmoid, element by
    element, mean over all elements like :func:`binary_cross_entropy`):

    .. math::
        p_t = \begin{cases} p & y = 1 \\ 1 - p & y = 0 \end{cases} \qquad
        α_t = \begin{cases} α & y = 1 \\ 1 - α & y = 0 \end{cases} \qquad
        \ell = -α_t (1 - p_t)^γ \log p_t

    (for soft labels :math:`p_t = y p + (1-y)(1-p)`, :math:`α_t = yα + (1-y)(1-α)` and the
    log term is the BCE term).  ``smoothing`` ε smooths the targets first, as Keras'
    ``label_smoothing`` does: :math:`(1-ε)\,y + ε/C`, binary :math:`y(1-ε) + ε/2`.
    Without ``alpha`` there is no α weighting at all.  ``ce`` in
    the result is the plain cross-entropy (γ = 0, no α) on the same input and reduction.

    References:
        Lin et al., *Focal Loss for Dense Object Detection* (ICCV 2017), eq. (5).
    """
    if binary and normalize:
        raise InputError(
            "normalize renormalises a row of class probabilities; binary focal loss has one "
            "probability per element",
            parameter="normalize",
        )
    canonical_base, reduction = _check_common(eps, base, reduction)
    _check_range("gamma", gamma, 0.0, math.inf, closed_high=False)
    _check_range("smoothing", smoothing, 0.0, 1.0, closed_high=True)
    if alpha is not None:
        high = 1.0 if binary else math.inf
        _check_range("alpha", alpha, 0.0, high, closed_high=binary)
    if binary:
        if ignore_index is not None:
            raise InputError(
                "ignore_index needs class-index labels; binary focal loss takes 0/1 labels",
                parameter="ignore_index",
            )
        binary_result = _binary_focal(
            labels, preds, gamma=gamma, alpha=alpha, logits=logits, eps=eps,
            base=canonical_base, reduction=reduction, class_names=class_names,
            smoothing=smoothing,
        )  # fmt: skip
        return _with_sample_weights(binary_result, sample_weights)
    matrix, targets, indices, off, names, ignored = _prepare_categorical(
        labels, preds, logits=logits, normalize=normalize, class_names=class_names,
        ignore_index=ignore_index,
    )  # fmt: skip
    rows, classes = matrix.shape
    if smoothing:
        targets = (1.0 - smoothing) * targets + smoothing / classes
        targets[ignored] = 0.0
    model = _categorical(matrix, logits=logits, eps=eps)
    modulating = model.not_probs**gamma
    ce_terms = _weighted_neg_log(targets, model.log_in(canonical_base))
    factor = modulating if alpha is None else alpha * modulating
    terms = np.where(targets == 0.0, 0.0, factor * ce_terms)
    per_row: FloatArray = terms.sum(axis=1)
    per_row_ce: FloatArray = ce_terms.sum(axis=1)
    result = FocalResult(
        loss=reduce_rows(per_row, reduction, rows),
        per_row=per_row,
        base=canonical_base,
        reduction=reduction,
        logits=logits,
        eps=0.0 if logits else eps,
        class_names=names,
        unnormalized_rows=off,
        targets=targets,
        label_indices=indices,
        preds=matrix,
        probs=model.probs,
        clipped=model.clipped,
        p_t=model.probs,
        modulating=modulating,
        alpha_t=None if alpha is None else np.full(matrix.shape, alpha),
        ce_terms=ce_terms,
        terms=terms,
        per_row_ce=per_row_ce,
        ce=reduce_rows(per_row_ce, reduction, rows),
        gamma=gamma,
        alpha=alpha,
        binary=False,
        row_totals=per_row,
        row_divisors=np.ones(rows),
        row_extras={"ce": per_row_ce},
    )
    return _with_sample_weights(result, sample_weights, ignored)


def _binary_focal(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    gamma: float,
    alpha: float | None,
    logits: bool,
    eps: float,
    base: Base,
    reduction: Reduction,
    class_names: Sequence[str] | None,
    smoothing: float = 0.0,
) -> FocalResult:
    parts = _binary_terms(
        labels, preds, logits=logits, eps=eps, base=base,
        pos_weight=1.0, neg_weight=1.0, smoothing=smoothing,
    )  # fmt: skip
    y = parts.targets
    model = parts.model
    rows, classes = parts.matrix.shape
    p_t = y * model.probs + (1.0 - y) * model.not_probs
    not_p_t = y * model.not_probs + (1.0 - y) * model.probs
    modulating = not_p_t**gamma
    alpha_t = None if alpha is None else alpha * y + (1.0 - alpha) * (1.0 - y)
    ce_terms = parts.positive + parts.negative
    terms = modulating * ce_terms if alpha_t is None else alpha_t * modulating * ce_terms
    row_totals, per_row, loss = _element_reduction(terms, reduction)
    ce_row_totals, per_row_ce, ce = _element_reduction(ce_terms, reduction)
    return FocalResult(
        loss=per_row if reduction == "none" else loss,
        per_row=per_row,
        base=base,
        reduction=reduction,
        logits=logits,
        eps=0.0 if logits else eps,
        class_names=check_class_names(class_names, classes),
        unnormalized_rows=(),
        targets=y,
        label_indices=None,
        preds=parts.matrix,
        probs=model.probs,
        clipped=model.clipped,
        p_t=p_t,
        modulating=modulating,
        alpha_t=alpha_t,
        ce_terms=ce_terms,
        terms=terms,
        per_row_ce=per_row_ce,
        ce=per_row_ce if reduction == "none" else ce,
        gamma=gamma,
        alpha=alpha,
        binary=True,
        row_totals=row_totals,
        row_divisors=np.full(rows, float(classes)),
        row_extras={"ce": ce_row_totals},
    )


def focal_gradient(
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    binary: bool = False,
    logits: bool = False,
    eps: float = DEFAULT_EPS,
    base: str = "e",
    reduction: Reduction = "mean",
) -> FloatArray:
    r"""The gradient of :func:`focal_loss` with respect to the logits.

    With :math:`q = 1 - p` and :math:`A(p) = q^γ\,(γ\,p \log p / q - 1)` (which is -1 at γ = 0
    and tends to 0 as p → 1):

    * multiclass (softmax): :math:`\partial L/\partial z_j = α\,(y_j A_j - p_j \sum_c y_c A_c)`;
    * binary (sigmoid, labels 0 or 1): :math:`\partial \ell/\partial z = \pm α_t\, q_t A(p_t)`,
      + for y = 1 and − for y = 0, with :math:`p_t` and :math:`α_t` as in :func:`focal_loss`.

    At γ = 0 they are softmax − y and σ(z) − y.  Probabilities stand for the softmax (sigmoid)
    of their log (logit), as in :func:`logit_gradient`; ``mean`` divides by N (binary: N·C)
    and base b by ln b.
    """
    canonical_base, reduction = _check_common(eps, base, reduction)
    _check_range("gamma", gamma, 0.0, math.inf, closed_high=False)
    matrix = as_predictions(preds, logits=logits)
    if binary:
        y, _ = as_targets(labels, matrix, allow_indices=False)
        if np.any((y != 0.0) & (y != 1.0)):
            raise InputError("the binary focal gradient needs labels of 0 or 1")
        model = _binary(matrix, logits=logits, eps=eps)
        positive = y == 1.0
        p = np.where(positive, model.probs, model.not_probs)
        q = np.where(positive, model.not_probs, model.probs)
        log_p = np.where(positive, model.log_p, model.log_not_p)
        weight = 1.0 if alpha is None else np.where(positive, alpha, 1.0 - alpha)
        grad = np.where(positive, 1.0, -1.0) * weight * q * _focal_slope(p, q, log_p, gamma)
        count = float(y.size)
    else:
        y, _ = as_targets(labels, matrix, allow_indices=True)
        model = _categorical(matrix, logits=logits, eps=eps)
        p = model.probs
        a = _focal_slope(p, model.not_probs, model.log_p, gamma)
        factor = 1.0 if alpha is None else alpha
        grad = factor * (y * a - p * np.sum(y * a, axis=1, keepdims=True))
        count = float(y.shape[0])
    if reduction == "mean":
        grad = grad / count
    return _in_base(grad, canonical_base)


def _focal_slope(p: FloatArray, q: FloatArray, log_p: FloatArray, gamma: float) -> FloatArray:
    """A = q^γ (γ p log p / q − 1), with p log p / q → −1 as q → 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(q > 0.0, p * log_p / q, -1.0)
    slope: FloatArray = q**gamma * (gamma * ratio - 1.0)
    return slope


# Short names, as the CLI's subcommands.
ce = categorical_cross_entropy
bce = binary_cross_entropy
multilabel = multilabel_cross_entropy
kl = kl_divergence
grad = logit_gradient
smooth = label_smoothing
focal = focal_loss
