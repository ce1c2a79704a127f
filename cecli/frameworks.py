"""What PyTorch, Keras, tf.keras, scikit-learn and optax return for an input, and why it differs.

Each library's loss is one :class:`Entry`: the function, the dtype it computes in, where it
clips, whether it renormalises rows, what its mean divides by, its default α, which cecli
options map onto which of its arguments, the call a user can paste, and a NumPy kernel that
follows the library's own operations in the library's own dtype.  No library is imported:
``tests/frameworks`` checks every kernel against the real libraries.

What a library does the same way in every loss (its imports, whether ``--eps`` sets its
clip bound, whether it flushes subnormals, what it has nearest to an option it lacks) is one
small :class:`Framework` in :data:`FRAMEWORKS`; what depends on the loss or the input (the
variant a call uses, the inputs it refuses, the conventions it names) is carried by the
entry.  Adding a library (JAX, MLX, TensorFlow) is adding one :class:`Framework` and its
entries; nothing else in this module names a library.  The kernels are built from a handful
of primitives written the way those libraries write them.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

from cecli.inputs import InputError
from cecli.losses import DEFAULT_EPS, sample_weight_vector
from cecli.numerics import FloatArray
from cecli.registry import Command as Command  # re-exported: the names --like takes
from cecli.results import GradResult, LossResult

if TYPE_CHECKING:
    from cecli.batch import BatchSummary

Library = str
"""A library's short name, a key of :data:`FRAMEWORKS` (``torch``, ``keras``…)."""

Inputs = Literal["probs", "logits"]
DType = Literal["float32", "float64"]

KERAS_EPSILON = 1e-7
"""``keras.config.epsilon()``: Keras clips probabilities to [ε, 1-ε] with it."""
TORCH_LOG_CLAMP = -100.0
"""``torch.nn.functional.binary_cross_entropy`` clamps each log term at −100."""
SKLEARN_EPS = float(np.finfo(np.float64).eps)
"""scikit-learn's ``log_loss`` clips to [eps, 1-eps] with the dtype's machine epsilon."""


@dataclass(frozen=True)
class Framework:
    """What one library does the same way in every loss it has."""

    name: Library
    title: str
    """How the library calls itself (``PyTorch``)."""
    imports: str
    """What a pasted call needs first."""
    aliases: tuple[str, ...] = ()
    """Other names ``--like`` accepts for it (``pytorch``)."""
    eps_sets_clip: bool = False
    """``--eps`` maps onto the library's clip bound (Keras' ``keras.config.epsilon()``)."""
    flushes_subnormals: bool = False
    """Inputs and results below the dtype's smallest normal are 0 (XLA on the CPU)."""
    hints: Mapping[str, str] = field(default_factory=dict)
    """cecli option → what the library has nearest to it, where it lacks the option."""
    hint_parameters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """cecli option → the parameters its hint names, in order (see :class:`InputError`)."""


class _Imports(Mapping[str, str]):
    """Each library's imports, read from :data:`FRAMEWORKS` whenever asked."""

    def __getitem__(self, library: str) -> str:
        return FRAMEWORKS[library].imports

    def __iter__(self) -> Iterator[str]:
        return iter(FRAMEWORKS)

    def __len__(self) -> int:
        return len(FRAMEWORKS)


IMPORTS: Mapping[str, str] = _Imports()
"""What a pasted call of each library needs first."""


class Unsupported(InputError):
    """The library has no such loss, input kind or option; the message names the nearest."""


@dataclass(frozen=True)
class Problem:
    """One input as cecli understood it, in the terms the libraries need.

    ``targets`` is the (N, C) target matrix; ``indices`` the class indices when LABELS were
    typed as one index per row (PyTorch treats those differently from one-hot rows).
    ``options`` holds the options that change the computation: ``reduction`` always, the
    others only when the user gave them (``gamma`` and ``smoothing`` always for focal/smooth).
    """

    command: Command
    targets: FloatArray
    indices: npt.NDArray[np.intp] | None
    preds: FloatArray
    logits: bool
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(self.preds.shape[0])

    @property
    def classes(self) -> int:
        return int(self.preds.shape[1])

    @property
    def reduction(self) -> str:
        return str(self.options.get("reduction", "mean"))

    def hard_indices(self) -> npt.NDArray[np.intp] | None:
        """Class indices if every target row is one-hot (or typed as an index), else None."""
        if self.indices is not None:
            return self.indices
        ones = self.targets == 1.0
        zeros = self.targets == 0.0
        one_hot = bool(np.all(ones | zeros)) and bool(np.all(ones.sum(axis=1) == 1))
        if self.classes > 1 and one_hot:
            indices: npt.NDArray[np.intp] = np.argmax(self.targets, axis=1).astype(np.intp)
            return indices
        return None

    def given(self) -> list[str]:
        """The options the user gave beyond the reduction, in a stable order."""
        return [name for name in self.options if name not in ("reduction", "gamma")]


@dataclass(frozen=True)
class Reproduction:
    """A library's value for a :class:`Problem`, with the call that gives it."""

    library: Library
    function: str
    value: FloatArray
    """A 0-d array for a reduced loss; per row, per element or a gradient otherwise."""
    dtype: DType
    call: str
    conventions: tuple[str, ...]
    """The conventions that move this value away from the exact one, for this input."""

    def to_json(self) -> dict[str, Any]:
        from cecli.results import json_array

        return {
            "library": self.library,
            "function": self.function,
            "value": json_array(self.value),
            "dtype": self.dtype,
            "conventions": list(self.conventions),
            "call": self.call,
            "imports": FRAMEWORKS[self.library].imports,
        }


Kernel = Callable[[Problem, "Entry"], FloatArray]
CallText = Callable[[Problem, "Entry"], str]
Variant = Callable[[Problem], "str | None"]
Check = Callable[[Problem, "Entry"], None]
Notes = Callable[[Problem, "Entry"], list[str]]
ClipSees = Callable[[Problem, "Entry"], FloatArray]


@dataclass(frozen=True)
class Entry:
    """One library's loss for one cecli subcommand and one kind of PREDS."""

    library: Library
    command: Command
    inputs: Inputs
    function: str
    dtype: DType
    kernel: Kernel
    call: CallText
    options: Mapping[str, str] = field(default_factory=dict)
    """cecli option → the library's argument for it (or a phrase saying it is built in)."""
    clip: float | None = None
    """Predictions clipped to [clip, 1-clip] (None: no clipping)."""
    log_clamp: float | None = None
    renormalises: bool = False
    mean_over: Literal["rows", "elements"] = "rows"
    weighted_mean_by_rows: bool = False
    """A class-weighted mean divides by N instead of Σ w[y_n] (PyTorch, probability targets)."""
    default_alpha: float | None = None
    variant: Variant | None = None
    """The function the input picks among the library's variants, None for ``function``."""
    check: Check | None = None
    """Raises :class:`Unsupported` for inputs this function cannot take."""
    notes: Notes | None = None
    """Conventions this function adds for the input, in words."""
    clip_sees: ClipSees | None = None
    """What the clip acts on when PREDS are logits (None: nothing is clipped)."""
    elements_mean_note: str | None = None
    """How to say that ``mean`` divides by every element ({elements}, {rows})."""
    sample_weights_note: str | None = None
    """What a mean with ``sample_weights`` divides by, where the library takes them."""
    ignore_note: str | None = None
    """What a mean with ``ignore_index`` divides by, where it is worth saying."""


@dataclass(frozen=True)
class Gap:
    """A combination the library lacks, and what it has instead."""

    library: Library
    command: Command
    inputs: Inputs | None
    message: str
    parameter: tuple[str, ...] = ()
    """The parameters ``message`` names, in order (see :class:`InputError`)."""


# --- primitives, written as the libraries write them ----------------------------------------


def _dt(entry: Entry) -> type[np.floating[Any]]:
    return np.float32 if entry.dtype == "float32" else np.float64


def _cast(values: npt.ArrayLike, entry: Entry) -> FloatArray:
    array = np.asarray(values, dtype=_dt(entry))
    return _flush_subnormals(array) if FRAMEWORKS[entry.library].flushes_subnormals else array


def _flush_subnormals(array: FloatArray) -> FloatArray:
    """XLA on the CPU flushes subnormal floats to zero, inputs and results: log of one is
    then -inf, and a label smoothed to one is 0 (so 0·log 0 gives nan)."""
    return np.where(np.abs(array) < np.finfo(array.dtype).tiny, 0, array).astype(array.dtype)


def _log_softmax(z: FloatArray) -> FloatArray:
    """PyTorch's and JAX's: (z - max) - log Σ exp(z - max)."""
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))  # type: ignore[no-any-return]


def _softmax(z: FloatArray) -> FloatArray:
    shifted = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return shifted / np.sum(shifted, axis=-1, keepdims=True)  # type: ignore[no-any-return]


def _logsumexp_jax(z: FloatArray) -> FloatArray:
    top = np.max(z, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, np.zeros_like(top))
    return (np.log(np.sum(np.exp(z - top), axis=-1, keepdims=True)) + top)[..., 0]  # type: ignore[no-any-return]


def _log_sigmoid_torch(x: FloatArray) -> FloatArray:
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _log_sigmoid_jax(x: FloatArray) -> FloatArray:
    """-softplus(-x), softplus = logaddexp(x, 0)."""
    return -_logaddexp0_jax(-x)


def _logaddexp0_jax(x: FloatArray) -> FloatArray:
    zero = np.zeros_like(x)
    return np.maximum(x, zero) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x: FloatArray) -> FloatArray:
    one = x.dtype.type(1)
    return one / (one + np.exp(-x))


def _torch_bce(p: FloatArray, y: FloatArray) -> FloatArray:
    """``binary_cross_entropy`` per element: log1p(-p) and log p, each clamped at −100."""
    clamp = p.dtype.type(TORCH_LOG_CLAMP)
    return (y - 1) * np.maximum(np.log1p(-p), clamp) - y * np.maximum(np.log(p), clamp)


def _torch_bce_logits(z: FloatArray, y: FloatArray, pos_weight: FloatArray | None) -> FloatArray:
    if pos_weight is None:
        return (1 - y) * z - _log_sigmoid_torch(z)
    log_weight = (pos_weight - 1) * y + 1
    return (1 - y) * z - log_weight * _log_sigmoid_torch(z)


def _mean(values: FloatArray) -> FloatArray:
    return np.asarray(np.sum(values) / values.dtype.type(values.size))


def _reduce(values: FloatArray, reduction: str) -> FloatArray:
    """``reduction`` over every element: the libraries' mean, sum or none."""
    if reduction == "none":
        return values
    if reduction == "sum":
        return np.asarray(np.sum(values))
    return _mean(values)


def _option(problem: Problem, name: str, default: Any = None) -> Any:
    return problem.options.get(name, default)


def _clip_value(problem: Problem, entry: Entry) -> float:
    """The clip bound: the library's own, or ``--eps`` where it maps onto it (Keras)."""
    if FRAMEWORKS[entry.library].eps_sets_clip:
        return float(_option(problem, "eps", entry.clip or 0.0))
    return entry.clip or 0.0


def _clip(p: FloatArray, low: float, high: float) -> FloatArray:
    kind = p.dtype.type
    return np.clip(p, kind(low), kind(high))


# --- kernels: PyTorch ------------------------------------------------------------------------


def _torch_log_probs(problem: Problem, entry: Entry) -> tuple[FloatArray, FloatArray | None]:
    """The log-probabilities cross_entropy/nll_loss see, and the class weights."""
    z = _cast(problem.preds, entry)
    weights = _option(problem, "weights")
    w = None if weights is None else _cast(weights, entry)
    if problem.logits:
        return _log_softmax(z), w
    log_p = np.log(z)
    return (log_p if _uses_nll(problem) else _log_softmax(log_p)), w


def _torch_index_loss(
    log_p: FloatArray, indices: npt.NDArray[np.intp], w: FloatArray | None, smoothing: float,
    reduction: str, ignore_index: int | None = None,
) -> FloatArray:  # fmt: skip
    """nll_loss (cross_entropy) of index targets; rows labelled ``ignore_index`` are never
    computed (0 under ``none``) and left out of the mean's divisor."""
    rows = np.arange(log_p.shape[0])
    kept = indices != ignore_index if ignore_index is not None else np.ones(rows.size, bool)
    safe = np.where(kept, indices, 0)
    picked = log_p[rows, safe]
    weight_of_row = np.ones_like(picked) if w is None else w[safe]
    weight_of_row = np.where(kept, weight_of_row, 0).astype(log_p.dtype)
    nll = np.where(kept, -weight_of_row * picked, 0).astype(log_p.dtype)
    kind = log_p.dtype.type
    divisor = np.sum(weight_of_row) if w is not None else kind(np.count_nonzero(kept))
    if reduction == "mean":
        nll_value = np.asarray(np.sum(nll) / divisor)
    else:
        nll_value = _reduce(nll, reduction)
    if not smoothing:
        return nll_value
    smooth = -np.sum(log_p * (w if w is not None else 1), axis=1)
    smooth = np.where(kept, smooth, 0).astype(log_p.dtype)
    if reduction == "mean":
        smooth_value = np.asarray(np.sum(smooth) / divisor)
    else:
        smooth_value = _reduce(smooth, reduction)
    classes = log_p.shape[1]
    return (1 - smoothing) * nll_value + smooth_value * (smoothing / classes)  # type: ignore[no-any-return]


def _torch_prob_loss(
    log_p: FloatArray, targets: FloatArray, w: FloatArray | None, smoothing: float, reduction: str
) -> FloatArray:
    if smoothing:
        targets = targets * (1 - smoothing) + (smoothing / targets.shape[1])
    product = log_p * targets if w is None else log_p * targets * w
    if reduction == "none":
        return -np.sum(product, axis=1)  # type: ignore[no-any-return]
    total = -np.sum(product)
    if reduction == "sum":
        return np.asarray(total)
    return np.asarray(total / log_p.dtype.type(log_p.shape[0]))


def _torch_ce(problem: Problem, entry: Entry) -> FloatArray:
    log_p, w = _torch_log_probs(problem, entry)
    smoothing = float(_option(problem, "smoothing", 0.0))
    indices = _torch_indices(problem)
    if indices is not None:
        ignore_index = _option(problem, "ignore_index")
        return _torch_index_loss(log_p, indices, w, smoothing, problem.reduction, ignore_index)
    targets = _cast(problem.targets, entry)
    return _torch_prob_loss(log_p, targets, w, smoothing, problem.reduction)


def _torch_indices(problem: Problem) -> npt.NDArray[np.intp] | None:
    """Index targets as PyTorch gets them: typed indices; one-hot rows too for nll_loss."""
    if _uses_nll(problem):
        return problem.hard_indices()
    return problem.indices


def _uses_nll(problem: Problem) -> bool:
    """Probabilities go to nll_loss(log p) when the targets are hard and nothing is smoothed."""
    return (
        not problem.logits
        and problem.hard_indices() is not None
        and not _option(problem, "smoothing", 0.0)
    )


def _torch_bce_kernel(problem: Problem, entry: Entry) -> FloatArray:
    y = _cast(problem.targets, entry)
    p = _cast(problem.preds, entry)
    if problem.logits:
        pos = _option(problem, "pos_weight")
        pos_weight = None if pos is None else np.full(problem.classes, pos, dtype=_dt(entry))
        elements = _torch_bce_logits(p, y, pos_weight)
    else:
        elements = _torch_bce(p, y)
    weights = _option(problem, "weights")
    if weights is not None:  # weight= rescales each element's loss, class by class
        elements = elements * _cast(weights, entry)
    return _reduce(elements, problem.reduction)


def _torch_kl(problem: Problem, entry: Entry) -> FloatArray:
    target = _cast(problem.targets, entry)
    q = _cast(problem.preds, entry)
    log_q = _log_softmax(q) if problem.logits else np.log(q)
    if _option(problem, "log_targets"):  # kl_div(log_target=True): exp(t)·(t - input)
        return _reduce(np.exp(target) * (target - log_q), problem.reduction)
    safe = np.where(target > 0, target, 1)
    pointwise = np.where(target > 0, target * np.log(safe), 0) - target * log_q
    return _reduce(pointwise, problem.reduction)


def _ignored(problem: Problem) -> npt.NDArray[np.bool_]:
    """The rows whose label is the ignore index."""
    ignore_index = _option(problem, "ignore_index")
    if ignore_index is None or problem.indices is None:
        return np.zeros(problem.rows, dtype=np.bool_)
    ignored: npt.NDArray[np.bool_] = problem.indices == int(ignore_index)
    return ignored


def _grad_inputs(problem: Problem, entry: Entry) -> tuple[FloatArray, FloatArray]:
    """The logits and the targets, in the library's dtype.  Probabilities become the logits
    cecli takes for them: log p (softmax), or log p − log(1 − p) (sigmoid, ``torch.logit``)."""
    z = _cast(problem.preds, entry)
    if not problem.logits:
        z = np.log(z) - np.log1p(-z) if _option(problem, "sigmoid") else np.log(z)
    return z, _cast(problem.targets, entry)


def _torch_grad(problem: Problem, entry: Entry) -> FloatArray:
    z, y = _grad_inputs(problem, entry)
    kind = z.dtype.type
    scale = kind(1) if problem.reduction == "sum" else None
    if _option(problem, "sigmoid"):
        grad = _sigmoid(z) - y
        return grad * kind(1) if scale is not None else grad * kind(1) / kind(z.size)
    log_p = _log_softmax(z)
    counted = problem.rows - int(np.count_nonzero(_ignored(problem)))  # ignored rows' y are 0
    upstream = -y if scale is not None else -y / kind(counted)
    return upstream - np.exp(log_p) * np.sum(upstream, axis=1, keepdims=True)  # type: ignore[no-any-return]


# --- kernels: Keras (torch backend) -------------------------------------------------------
# A Keras Loss object reduces the per-row values by their sum over the batch size: a mean.


def _keras_reduce(per_row: FloatArray, problem: Problem, entry: Entry) -> FloatArray:
    """``Loss.__call__``'s reduction: values times ``sample_weight``, then their sum over
    the batch size (N, zero weights included), their sum, or the values."""
    weights = _option(problem, "sample_weights")
    if weights is not None:
        per_row = per_row * _cast(weights, entry)
    return _reduce(per_row, problem.reduction)


def _keras_smooth_categorical(y: FloatArray, smoothing: float) -> FloatArray:
    kind = y.dtype.type
    return y * kind(1.0 - smoothing) + kind(smoothing) / kind(y.shape[-1])


def _keras_log_probs(problem: Problem, entry: Entry, preds: FloatArray) -> FloatArray:
    if problem.logits:
        return _log_softmax(preds)
    eps = _clip_value(problem, entry)
    output = preds / np.sum(preds, axis=-1, keepdims=True)
    return np.log(_clip(output, eps, 1.0 - eps))


def _keras_sparse_reduce(log_p: FloatArray, problem: Problem, entry: Entry) -> FloatArray:
    """-log p of each row's class, reduced as a sparse loss with ``ignore_class`` reduces."""
    rows = np.arange(problem.rows)
    assert problem.indices is not None
    ignored = _ignored(problem)
    picked = -log_p[rows, np.where(ignored, 0, problem.indices)]
    if not ignored.any():
        return _keras_reduce(picked, problem, entry)
    # ignore_class masks the values; the mask scales the kept ones by N / kept, as a
    # sample weight, so that the sum over the batch size is a mean over the kept rows.
    values = np.where(ignored, 0, picked).astype(picked.dtype)
    kind = values.dtype.type
    if problem.reduction in ("mean", "sum"):
        scale = kind(problem.rows) / kind(np.count_nonzero(~ignored))
        mask = np.where(ignored, kind(0), scale if problem.reduction == "mean" else kind(1))
        values = values * mask.astype(values.dtype)
    return _keras_reduce(values, problem, entry)


def _keras_ce(problem: Problem, entry: Entry) -> FloatArray:
    p = _cast(problem.preds, entry)
    smoothing = float(_option(problem, "smoothing", 0.0))
    log_p = _keras_log_probs(problem, entry, p)
    if problem.indices is not None and not smoothing:
        return _keras_sparse_reduce(log_p, problem, entry)
    y = _cast(problem.targets, entry)
    if smoothing:
        y = _keras_smooth_categorical(y, smoothing)
    return _keras_reduce(-np.sum(y * log_p, axis=-1), problem, entry)


def _keras_bce(problem: Problem, entry: Entry) -> FloatArray:
    y = _cast(problem.targets, entry)
    p = _cast(problem.preds, entry)
    smoothing = float(_option(problem, "smoothing", 0.0))
    kind = y.dtype.type
    if smoothing:
        y = y * kind(1.0 - smoothing) + kind(0.5 * smoothing)
    if problem.logits:
        elements = _torch_bce_logits(p, y, None)
    else:
        eps = _clip_value(problem, entry)
        elements = _torch_bce(_clip(p, eps, 1.0 - eps), y)
    per_row = np.sum(elements, axis=-1) / kind(problem.classes)
    return _keras_reduce(per_row, problem, entry)


def _keras_kl(problem: Problem, entry: Entry) -> FloatArray:
    eps = _clip_value(problem, entry)
    y = _clip(_cast(problem.targets, entry), eps, 1.0)
    q = _clip(_cast(problem.preds, entry), eps, 1.0)
    return _keras_reduce(np.sum(y * np.log(y / q), axis=-1), problem, entry)


def _keras_focal(problem: Problem, entry: Entry) -> FloatArray:
    y = _cast(problem.targets, entry)
    p = _cast(problem.preds, entry)
    kind = y.dtype.type
    gamma = kind(_option(problem, "gamma", 2.0))
    alpha = _option(problem, "alpha")
    eps = _clip_value(problem, entry)
    smoothing = float(_option(problem, "smoothing", 0.0))
    if _option(problem, "binary"):
        if smoothing:
            y = y * kind(1.0 - smoothing) + kind(0.5 * smoothing)
        if problem.logits:
            p = _sigmoid(p)
        bce = _torch_bce(_clip(p, eps, 1.0 - eps), y)
        p_t = y * p + (1 - y) * (1 - p)
        focal = np.power(1 - p_t, gamma) * bce
        if alpha is not None:
            a = kind(alpha)
            focal = (y * a + (1 - y) * kind(1.0 - alpha)) * focal
        per_row = np.sum(focal, axis=-1) / kind(problem.classes)
        return _keras_reduce(per_row, problem, entry)
    if smoothing:
        y = _keras_smooth_categorical(y, smoothing)
    if problem.logits:
        p = _softmax(p)
    output = _clip(p / np.sum(p, axis=-1, keepdims=True), eps, 1.0 - eps)
    cce = -y * np.log(output)
    weighting = np.power(1 - output, gamma) * kind(0.25 if alpha is None else alpha)
    return _keras_reduce(np.sum(weighting * cce, axis=-1), problem, entry)


# --- kernels: tf.keras (TensorFlow's Keras 2), float32 -----------------------------------
# As Keras 3 but for three things: binary cross-entropy adds ε inside both logarithms after
# clipping, SparseCategoricalCrossentropy clips and then renormalises (softmax of log p)
# where CategoricalCrossentropy renormalises and then clips, and from logits TensorFlow's
# fused ops are used.


def _tf_binary_crossentropy(y: FloatArray, p: FloatArray, eps: float, logits: bool) -> FloatArray:
    """``tf_keras.backend.binary_crossentropy`` element by element."""
    elements: FloatArray
    if logits:  # tf.nn.sigmoid_cross_entropy_with_logits
        zero = np.zeros_like(p)
        elements = np.maximum(p, zero) - p * y + np.log1p(np.exp(-np.abs(p)))
        return elements
    kind = p.dtype.type
    output = _clip(p, eps, 1.0 - eps)
    elements = -(y * np.log(output + kind(eps)) + (1 - y) * np.log(1 - output + kind(eps)))
    return elements


def _tf_keras_bce(problem: Problem, entry: Entry) -> FloatArray:
    y = _cast(problem.targets, entry)
    p = _cast(problem.preds, entry)
    kind = y.dtype.type
    smoothing = float(_option(problem, "smoothing", 0.0))
    if smoothing:  # a label smoothed to a subnormal is 0 (flush-to-zero)
        y = _flush_subnormals(y * kind(1.0 - smoothing) + kind(0.5 * smoothing))
    elements = _tf_binary_crossentropy(y, p, _clip_value(problem, entry), problem.logits)
    per_row = np.sum(elements, axis=-1) / kind(problem.classes)
    return _keras_reduce(per_row, problem, entry)


def _tf_keras_ce(problem: Problem, entry: Entry) -> FloatArray:
    smoothing = float(_option(problem, "smoothing", 0.0))
    if smoothing:  # CategoricalCrossentropy as Keras 3, a label smoothed to a subnormal is 0
        y = _flush_subnormals(_keras_smooth_categorical(_cast(problem.targets, entry), smoothing))
        log_p = _keras_log_probs(problem, entry, _cast(problem.preds, entry))
        return _keras_reduce(-np.sum(y * log_p, axis=-1), problem, entry)
    if problem.indices is None:
        return _keras_ce(problem, entry)  # CategoricalCrossentropy: as Keras 3
    z = _cast(problem.preds, entry)
    if not problem.logits:  # clip, log, then sparse_softmax_cross_entropy_with_logits
        eps = _clip_value(problem, entry)
        z = np.log(_clip(z, eps, 1.0 - eps))
    return _keras_sparse_reduce(_log_softmax(z), problem, entry)


def _tf_keras_focal(problem: Problem, entry: Entry) -> FloatArray:
    if not _option(problem, "binary"):
        return _keras_focal(problem, entry)  # categorical: as Keras 3
    y = _cast(problem.targets, entry)
    output = _cast(problem.preds, entry)
    kind = y.dtype.type
    smoothing = float(_option(problem, "smoothing", 0.0))
    if smoothing:
        y = _flush_subnormals(y * kind(1.0 - smoothing) + kind(0.5 * smoothing))
    sigmoidal = _sigmoid(output) if problem.logits else output
    p_t = y * sigmoidal + (1 - y) * (1 - sigmoidal)
    focal = np.power(1 - p_t, kind(_option(problem, "gamma", 2.0)))
    focal = focal * _tf_binary_crossentropy(y, output, _clip_value(problem, entry), problem.logits)
    alpha = _option(problem, "alpha")
    if alpha is not None:  # a subnormal α (or α·y) is 0, so α = 1e-40 times inf is nan
        a = _flush_subnormals(np.asarray(kind(alpha)))
        focal = _flush_subnormals(y * a + (1 - y) * (1 - a)) * focal
    per_row = np.sum(focal, axis=-1) / kind(problem.classes)
    return _keras_reduce(per_row, problem, entry)


def _tf_keras_ce_notes(problem: Problem, entry: Entry) -> list[str]:
    """The order of renormalising and clipping: CategoricalCrossentropy renormalises first,
    SparseCategoricalCrossentropy (softmax of log p) clips first."""
    if problem.logits or not _unnormalised(problem.preds):
        return []
    order_matters = _order_matters(problem, _clip_value(problem, entry))
    if _integer_labels(problem):
        found = ["renormalised rows (softmax of log p)"]
        if order_matters:
            found.append("clipped, then renormalised (renormalising first gives another value)")
        return found
    found = ["renormalised rows"]
    if order_matters:
        found.append("renormalised, then clipped (clipping first gives another value)")
    return found


# --- kernels: scikit-learn ---------------------------------------------------------------


def _sklearn_probabilities(problem: Problem, entry: Entry) -> FloatArray:
    """PREDS, or what scipy.special.softmax / expit make of logits, as the call passes them."""
    p = _cast(problem.preds, entry)
    if not problem.logits:
        return p
    return _softmax(p) if problem.command == "ce" else _sigmoid(p)


def _sklearn_log_loss(problem: Problem, entry: Entry) -> FloatArray:
    per_sample = _sklearn_per_sample(problem, entry)
    weights = _sklearn_sample_weight(problem)
    if problem.reduction == "sum":
        return np.asarray(np.sum(per_sample if weights is None else weights * per_sample))
    return np.asarray(np.average(per_sample, weights=weights))


def _sklearn_per_sample(problem: Problem, entry: Entry) -> FloatArray:
    """log_loss's per-sample values before its average: one per row, or per element (BCE)."""
    p = _sklearn_probabilities(problem, entry)
    if problem.command == "ce":
        indices = problem.hard_indices()
        assert indices is not None  # checked by _sklearn_check
        picked = p[np.arange(problem.rows), indices]
    else:
        y = problem.targets.ravel()
        flat = p.ravel()
        picked = np.where(y == 1.0, flat, 1 - flat)
    per_sample: FloatArray = -np.log(_clip(picked, SKLEARN_EPS, 1 - SKLEARN_EPS))
    return per_sample


def _sklearn_sample_weight(problem: Problem) -> FloatArray | None:
    """``sample_weight`` as the call passes it: one per row, repeated per class for BCE
    (whose call flattens the rows into one sample per element)."""
    weights = _option(problem, "sample_weights")
    if weights is None:
        return None
    vector = np.asarray(weights, dtype=np.float64)
    return vector if problem.command == "ce" else np.repeat(vector, problem.classes)


# --- kernels: optax (float32, as JAX computes by default) ---------------------------------


def _optax_logits(problem: Problem, entry: Entry) -> FloatArray:
    """The logits optax gets: PREDS, or probabilities turned into logits as the call does
    (``jnp.log(p)`` for softmax losses, ``jax.scipy.special.logit(p)`` for sigmoid ones)."""
    z = _cast(problem.preds, entry)
    if problem.logits:
        return z
    if _sigmoid_loss(problem):
        return np.log(z / (1 - z))
    return np.log(z)


def _sigmoid_loss(problem: Problem) -> bool:
    return problem.command in ("bce", "multilabel") or (
        problem.command == "focal" and bool(_option(problem, "binary"))
    )


def _optax_ce(problem: Problem, entry: Entry) -> FloatArray:
    z = _optax_logits(problem, entry)
    smoothing = _option(problem, "smoothing", 0.0)
    if problem.indices is not None and not smoothing:
        picked = z[np.arange(problem.rows), problem.indices]
        return _reduce(_logsumexp_jax(z) - picked, problem.reduction)
    y = _cast(problem.targets, entry)
    if smoothing:
        y = _flush_subnormals((1.0 - smoothing) * y + y.dtype.type(smoothing / problem.classes))
    products = y * _log_softmax(z)
    if _masked_targets(problem):  # safe_softmax_cross_entropy: 0·log 0 = 0 where y = 0
        products = np.where(y != 0, products, 0).astype(products.dtype)
    return _reduce(-np.sum(products, axis=-1), problem.reduction)


def _masked_targets(problem: Problem) -> bool:
    """Logits with a mask (-inf) against target rows: optax.safe_softmax_cross_entropy."""
    return (
        problem.logits and not _integer_labels(problem) and bool(np.any(problem.preds == -np.inf))
    )


def _optax_bce(problem: Problem, entry: Entry) -> FloatArray:
    z = _optax_logits(problem, entry)
    y = _cast(problem.targets, entry)
    elements = -y * _log_sigmoid_jax(z) - (1 - y) * _log_sigmoid_jax(-z)
    return _reduce(elements, problem.reduction)


def _optax_kl(problem: Problem, entry: Entry) -> FloatArray:
    q = _cast(problem.preds, entry)
    y = _cast(problem.targets, entry)
    log_q = _log_softmax(q) if problem.logits else np.log(q)
    if _option(problem, "log_targets"):
        return _reduce(np.sum(np.exp(y) * (y - log_q), axis=-1), problem.reduction)
    log_y = np.where(y == 0, 0, np.log(np.where(y == 0, 1, y)))
    divergence = np.sum(y * (log_y - log_q), axis=-1)
    if _option(problem, "generalized"):  # convex_kl_divergence adds Σ exp(log q) - p
        divergence = divergence + np.sum(np.exp(log_q) - y, axis=-1)
    return _reduce(divergence, problem.reduction)


def _optax_focal(problem: Problem, entry: Entry) -> FloatArray:
    z = _optax_logits(problem, entry)
    y = _cast(problem.targets, entry)
    kind = z.dtype.type
    gamma = kind(_option(problem, "gamma", 2.0))
    ce = -y * _log_sigmoid_jax(z) - (1 - y) * _log_sigmoid_jax(-z)
    log_p = _log_sigmoid_jax(z)
    log_q = _log_sigmoid_jax(-z)
    # logsumexp([log_p, log_q], b=[1-y, y]) as JAX computes it: terms with b = 0 drop out.
    weight_p, weight_q = 1 - y, y
    masked_p = np.where(weight_p != 0, log_p, -np.inf)
    masked_q = np.where(weight_q != 0, log_q, -np.inf)
    top = np.maximum(masked_p, masked_q)
    top = np.where(np.isfinite(top), top, 0)
    total = _flush_subnormals(np.exp(masked_p - top) * weight_p + np.exp(masked_q - top) * weight_q)
    log_one_minus_pt = np.log(np.abs(total)) + top
    loss = ce * _flush_subnormals(np.exp(gamma * log_one_minus_pt))
    alpha = _option(problem, "alpha")
    if alpha is not None:
        # 1 - α is taken in Python's float64 before it meets the float32 array; a subnormal α
        # (or α·y) is flushed to zero, so α = 1.4e-45 times an infinite loss is nan, as in XLA.
        a = _flush_subnormals(np.asarray(kind(alpha)))
        weighting = _flush_subnormals(a * y + kind(1.0 - alpha) * (1 - y))
        loss = _flush_subnormals(weighting * loss)
    return _reduce(loss, problem.reduction)


def _optax_grad(problem: Problem, entry: Entry) -> FloatArray:
    z, y = _grad_inputs(problem, entry)
    kind = z.dtype.type
    count = z.size if _option(problem, "sigmoid") else problem.rows
    g = kind(1) if problem.reduction == "sum" else kind(1) / kind(count)
    if _option(problem, "sigmoid"):
        # d/dz of -y·log σ(z) - (1-y)·log σ(-z), through logaddexp's derivative.
        def finite(x: FloatArray) -> FloatArray:  # JAX's _replace_inf: +inf → 0
            return np.where(np.isposinf(x), 0, x)

        up = finite(_logaddexp0_jax(-z))
        down = finite(_logaddexp0_jax(z))
        return g * (-y * np.exp(finite(-z) - up) + (1 - y) * np.exp(finite(z) - down))
    top = np.max(z, axis=-1, keepdims=True)
    exp_shifted = np.exp(z - top)
    total = np.sum(exp_shifted, axis=-1, keepdims=True)
    if problem.indices is not None:
        onehot = np.zeros_like(z)
        onehot[np.arange(problem.rows), problem.indices] = 1
        return exp_shifted * (g / total) - onehot * g  # type: ignore[no-any-return]
    upstream = -y * g
    return upstream + exp_shifted * (-np.sum(upstream, axis=-1, keepdims=True) / total)  # type: ignore[no-any-return]


# --- the calls a user can paste ------------------------------------------------------------


def _numbers(values: FloatArray, *, integers: bool = False) -> str:
    """A nested list literal that round-trips every float64 exactly."""

    def one(x: float) -> str:
        if integers:
            return str(int(x))
        if math.isnan(x) or math.isinf(x):
            return f"float('{x}')"
        return repr(float(x))

    if values.ndim == 1:
        return "[" + ", ".join(one(float(x)) for x in values) + "]"
    return "[" + ", ".join(_numbers(row, integers=integers) for row in values) + "]"


def _kw(arguments: Sequence[tuple[str, str | None]]) -> str:
    return "".join(f", {name}={value}" for name, value in arguments if value is not None)


def _reduction_kw(problem: Problem, default: str = "mean") -> str | None:
    reduction = problem.reduction
    return None if reduction == default else repr(reduction)


def _torch_tensor(values: FloatArray, *, integers: bool = False) -> str:
    if integers:
        return f"torch.tensor({_numbers(values, integers=True)})"
    return f"torch.tensor({_numbers(values)}, dtype=torch.float64)"


def _torch_input(problem: Problem) -> str:
    if problem.logits:
        return _torch_tensor(problem.preds)
    return f"torch.log({_torch_tensor(problem.preds)})"


def _torch_target_text(problem: Problem, indices: npt.NDArray[np.intp] | None) -> str:
    if indices is not None:
        return _torch_tensor(indices.astype(np.float64), integers=True)
    return _torch_tensor(problem.targets)


def _torch_ce_call(problem: Problem, entry: Entry) -> str:
    weights = _option(problem, "weights")
    smoothing = _option(problem, "smoothing")
    ignore_index = _option(problem, "ignore_index")
    arguments = [
        ("weight", None if weights is None else _torch_tensor(np.asarray(weights, dtype=float))),
        ("ignore_index", None if ignore_index is None else repr(int(ignore_index))),
        ("label_smoothing", None if not smoothing else repr(float(smoothing))),
        ("reduction", _reduction_kw(problem)),
    ]
    name = _function_name(problem, entry)
    target = _torch_target_text(problem, _torch_indices(problem))
    return f"{name}({_torch_input(problem)}, {target}{_kw(arguments)})"


def _function_name(problem: Problem, entry: Entry) -> str:
    """The function a call uses, where the input picks among the library's variants."""
    picked = entry.variant(problem) if entry.variant is not None else None
    return picked or entry.function


def _integer_labels(problem: Problem) -> bool:
    return problem.indices is not None and not _option(problem, "smoothing")


def _variant_when(test: Callable[[Problem], bool], function: str) -> Variant:
    """A :data:`Variant`: ``function`` for the inputs that pass ``test``."""
    return lambda problem: function if test(problem) else None


def _torch_bce_call(problem: Problem, entry: Entry) -> str:
    pos = _option(problem, "pos_weight")
    weights = _option(problem, "weights")
    arguments = [
        ("weight", None if weights is None else _torch_tensor(np.asarray(weights, dtype=float))),
        (
            "pos_weight",
            None
            if pos is None
            else f"torch.full(({problem.classes},), {pos!r}, dtype=torch.float64)",
        ),
        ("reduction", _reduction_kw(problem)),
    ]
    return (
        f"{entry.function}({_torch_tensor(problem.preds)}, {_torch_tensor(problem.targets)}"
        f"{_kw(arguments)})"
    )


def _torch_kl_call(problem: Problem, entry: Entry) -> str:
    source = (
        f"torch.log_softmax({_torch_tensor(problem.preds)}, dim=1)"
        if problem.logits
        else f"torch.log({_torch_tensor(problem.preds)})"
    )
    log_target = "True" if _option(problem, "log_targets") else None
    arguments = [("reduction", _reduction_kw(problem)), ("log_target", log_target)]
    return f"{entry.function}({source}, {_torch_tensor(problem.targets)}{_kw(arguments)})"


def _torch_grad_call(problem: Problem, entry: Entry) -> str:
    preds = _torch_tensor(problem.preds)
    to_logits = "torch.logit" if _option(problem, "sigmoid") else "torch.log"
    z = preds if problem.logits else f"{to_logits}({preds})"
    ignore_index = _option(problem, "ignore_index")
    ignore = None if ignore_index is None else repr(int(ignore_index))
    reduction = _kw([("ignore_index", ignore), ("reduction", _reduction_kw(problem))])
    if _option(problem, "sigmoid"):
        targets = _torch_tensor(problem.targets)
        loss = f"{_TORCH_BCE_LOGITS}(z, {targets}{reduction})"
    else:
        target = _torch_target_text(problem, problem.indices)
        loss = f"torch.nn.functional.cross_entropy(z, {target}{reduction})"
    return f"z = {z}.requires_grad_(); {loss}.backward(); z.grad"


def _np(values: FloatArray, *, integers: bool = False) -> str:
    return f"np.array({_numbers(values, integers=integers)})"


def _keras_call(problem: Problem, entry: Entry) -> str:
    return _keras_style_call(problem, entry, "keras.config.set_epsilon", "None", _np)


def _tf_keras_call(problem: Problem, entry: Entry) -> str:
    """tf.keras computes in the inputs' dtype: the call passes float32 arrays, as its own
    tests do (with float64 arrays it would compute in float64)."""
    return _keras_style_call(problem, entry, "tf_keras.backend.set_epsilon", "'none'", _np32)


def _np32(values: FloatArray, *, integers: bool = False) -> str:
    if integers:
        return _np(values, integers=True)
    return f"np.array({_numbers(values)}, dtype=np.float32)"


def _keras_style_call(
    problem: Problem, entry: Entry, set_epsilon: str, no_reduction: str,
    array: Callable[..., str],
) -> str:  # fmt: skip
    """``Loss(arguments)(y_true, y_pred)`` as Keras 3 and tf.keras both take it."""
    arguments: list[tuple[str, str | None]] = []
    name = _function_name(problem, entry)
    targets = problem.targets
    smoothing = _option(problem, "smoothing")
    if ".losses.Sparse" in name and problem.indices is not None:
        targets = problem.indices.astype(np.float64)
    if entry.command == "focal":
        binary = bool(_option(problem, "binary"))
        alpha = _option(problem, "alpha")
        if binary and alpha is not None:
            arguments.append(("apply_class_balancing", "True"))
        arguments.append(("alpha", None if alpha is None else repr(float(alpha))))
        arguments.append(("gamma", repr(float(_option(problem, "gamma", 2.0)))))
    if problem.logits:
        arguments.append(("from_logits", "True"))
    ignore_index = _option(problem, "ignore_index")
    if ignore_index is not None:
        arguments.append(("ignore_class", repr(int(ignore_index))))
    if smoothing:
        arguments.append(("label_smoothing", repr(float(smoothing))))
    reduction = problem.reduction
    if reduction != "mean":
        arguments.append(("reduction", no_reduction if reduction == "none" else repr(reduction)))
    inside = _kw(arguments)[2:]
    y = array(targets, integers=targets.ndim == 1)
    weights = _option(problem, "sample_weights")
    weighted = _kw([("sample_weight", None if weights is None else array(np.asarray(weights)))])
    eps = _option(problem, "eps")
    prefix = "" if eps is None else f"{set_epsilon}({eps!r}); "
    return f"{prefix}{name}({inside})({y}, {array(problem.preds)}{weighted})"


def _sklearn_call(problem: Problem, entry: Entry) -> str:
    normalize = None if problem.reduction == "mean" else "False"
    if problem.command == "ce":
        indices = problem.hard_indices()
        assert indices is not None
        y = _numbers(indices.astype(np.float64), integers=True)
        proba = _numbers(problem.preds)
        if problem.logits:
            proba = f"scipy.special.softmax({proba}, axis=1)"
        arguments = [("labels", repr(list(range(problem.classes)))), ("normalize", normalize)]
        arguments += _sklearn_weight_kw(problem)
        return f"{entry.function}({y}, {proba}{_kw(arguments)})"
    y = _numbers(problem.targets.ravel(), integers=True)
    proba = _numbers(problem.preds.ravel())
    if problem.logits:
        proba = f"scipy.special.expit({proba})"
    arguments = [("labels", "[0, 1]"), ("normalize", normalize), *_sklearn_weight_kw(problem)]
    return f"{entry.function}({y}, {proba}{_kw(arguments)})"


def _sklearn_weight_kw(problem: Problem) -> list[tuple[str, str | None]]:
    weights = _sklearn_sample_weight(problem)
    return [("sample_weight", None if weights is None else _numbers(weights))]


def _jnp(values: FloatArray, *, integers: bool = False) -> str:
    return f"jnp.array({_numbers(values, integers=integers)})"


def _optax_reduce(problem: Problem) -> str:
    return {"mean": ".mean()", "sum": ".sum()"}.get(problem.reduction, "")


def _optax_input(problem: Problem) -> str:
    """The logits argument of an optax call (probabilities converted, as the kernels do)."""
    if problem.logits:
        return _jnp(problem.preds)
    if _sigmoid_loss(problem):
        return f"jax.scipy.special.logit({_jnp(problem.preds)})"
    return f"jnp.log({_jnp(problem.preds)})"


def _optax_ce_call(problem: Problem, entry: Entry) -> str:
    z = _optax_input(problem)
    smoothing = _option(problem, "smoothing")
    if problem.indices is not None and not smoothing:
        labels = _jnp(problem.indices.astype(np.float64), integers=True)
        call = f"optax.softmax_cross_entropy_with_integer_labels({z}, {labels})"
    else:
        labels = _jnp(problem.targets)
        if smoothing:
            labels = f"optax.smooth_labels({labels}, {float(smoothing)!r})"
        call = f"{_function_name(problem, entry)}({z}, {labels})"
    return call + _optax_reduce(problem)


def _optax_call(problem: Problem, entry: Entry) -> str:
    z = _jnp(problem.preds)
    y = _jnp(problem.targets)
    if entry.command == "kl":
        log_q = f"jax.nn.log_softmax({z})" if problem.logits else f"jnp.log({z})"
        function = _function_name(problem, entry)
        return f"{function}({log_q}, {y}){_optax_reduce(problem)}"
    z = _optax_input(problem)
    if entry.command == "focal":
        alpha = _option(problem, "alpha")
        arguments = [
            ("alpha", None if alpha is None else repr(float(alpha))),
            ("gamma", repr(float(_option(problem, "gamma", 2.0)))),
        ]
        return f"{entry.function}({z}, {y}{_kw(arguments)}){_optax_reduce(problem)}"
    return f"{entry.function}({z}, {y}){_optax_reduce(problem)}"


def _optax_grad_call(problem: Problem, entry: Entry) -> str:
    to_logits = "jax.scipy.special.logit" if _option(problem, "sigmoid") else "jnp.log"
    z = _jnp(problem.preds) if problem.logits else f"{to_logits}({_jnp(problem.preds)})"
    reduce = _optax_reduce(problem)
    if _option(problem, "sigmoid"):
        loss = f"optax.sigmoid_binary_cross_entropy(z, {_jnp(problem.targets)}){reduce}"
    elif problem.indices is not None:
        labels = _jnp(problem.indices.astype(np.float64), integers=True)
        loss = f"optax.softmax_cross_entropy_with_integer_labels(z, {labels}){reduce}"
    else:
        loss = f"optax.softmax_cross_entropy(z, {_jnp(problem.targets)}){reduce}"
    return f"jax.grad(lambda z: {loss})({z})"


# --- the entries ---------------------------------------------------------------------------

_TORCH_CE = "torch.nn.functional.cross_entropy"
_TORCH_BCE = "torch.nn.functional.binary_cross_entropy"
_TORCH_BCE_LOGITS = "torch.nn.functional.binary_cross_entropy_with_logits"
_TORCH_BCE_WEIGHT = {"weights": "weight"}
_TORCH_GRAD_OPTIONS = {
    "sigmoid": "binary_cross_entropy_with_logits", "ignore_index": "ignore_index",
}  # fmt: skip
_SMOOTH_OPTIONS = {"smoothing": "label_smoothing", "ignore_index": "ignore_index"}
_CE_OPTIONS = {"weights": "weight", "smoothing": "label_smoothing", "ignore_index": "ignore_index"}
_KERAS_CE = "keras.losses.CategoricalCrossentropy"
_KERAS_BCE = "keras.losses.BinaryCrossentropy"
_KERAS_WEIGHTS = {"sample_weights": "sample_weight"}
_TF_EPS = {"probs": {"eps": "tf_keras.backend.set_epsilon"}}
_KERAS_IGNORE = {"ignore_index": "ignore_class"}
OLD_KERAS_MASKED = "masked logits: Keras 3.8 gives nan here (one-hot × log softmax)"
_KERAS_IGNORE_NOTE = (
    "ignored rows left out of the mean; keras.metrics.SparseCategoricalCrossentropy keeps "
    "them in its divisor"
)
_KERAS_OPTIONS = {"eps": "keras.config.set_epsilon", **_KERAS_WEIGHTS}
_LOG_LOSS = "sklearn.metrics.log_loss"
_KERAS_DIVISOR = (
    "sample-weighted mean ÷ N (zero weights counted), not ÷ Σ w; keras.metrics divide by Σ w"
)
_OPTAX_BCE = "optax.sigmoid_binary_cross_entropy"


FRAMEWORKS: dict[Library, Framework] = {
    "torch": Framework(
        "torch", "PyTorch", "import torch", aliases=("pytorch",),
        hint_parameters={"pos_weight": ("logits",)},
        hints={
            "pos_weight": f" (add logits=True: {_TORCH_BCE_LOGITS} has pos_weight)",
            "neg_weight": " (its weight= multiplies both terms of an element)",
            "eps": " (PyTorch does not clip)",
            "generalized": " (nearest: kl_div(log q, p, reduction='none') + q - p, summed)",
            "sample_weights": " (nearest: reduction='none', then (loss * w).sum() / w.sum())",
        },
    ),
    "keras": Framework(
        "keras", "Keras 3",
        "import os; os.environ['KERAS_BACKEND'] = 'torch'; import keras, numpy as np",
        eps_sets_clip=True,
        hints={
            "log_targets": " (nearest: pass keras.ops.exp(log_p) as y_true)",
            "generalized": " (nearest: add keras.ops.sum(q - p, axis=-1) to its per-row values)",
            "weights": " (nearest: class_weight in Model.fit)",
            "pos_weight": " (nearest: class_weight in Model.fit)",
        },
    ),
    "tf-keras": Framework(
        "tf-keras", "tf.keras 2", "import tf_keras, numpy as np",
        aliases=("tf.keras", "tf_keras", "tfkeras"), eps_sets_clip=True,
        # TensorFlow's CPU kernels run with flush-to-zero: a subnormal sample weight is 0, and
        # 0 times an infinite loss is nan.
        flushes_subnormals=True,
        hints={
            "weights": " (nearest: class_weight in Model.fit)",
            "pos_weight": " (nearest: class_weight in Model.fit)",
            "log_targets": " (nearest: pass tf.exp(log_p) as y_true)",
            "generalized": " (nearest: add tf.reduce_sum(q - p, axis=-1) to its per-row values)",
        },
    ),
    "sklearn": Framework(
        "sklearn", "scikit-learn", "import sklearn.metrics, scipy.special",
        aliases=("scikit-learn",),
        hints={
            "weights": " (nearest: sample_weight, one weight per row)",
            "ignore_index": " (nearest: leave those rows out of y_true and y_pred)",
            "eps": " (its eps argument is gone since 1.5; it clips at machine epsilon)",
        },
    ),
    "optax": Framework(
        "optax", "optax", "import jax, jax.numpy as jnp, optax", flushes_subnormals=True,
        hints={
            "weights": " (nearest: multiply the per-example losses yourself)",
            "eps": " (optax does not clip)",
            "ignore_index": " (nearest: where=labels != K, then .sum() / (labels != K).sum())",
            "sample_weights": " (nearest: (loss * w).sum() / w.sum() on its per-example losses)",
        },
    ),
}  # fmt: skip
"""Every library ``--like`` knows, by its short name."""

LIBRARIES: tuple[Library, ...] = tuple(FRAMEWORKS)


class _KerasLike(TypedDict):
    """What every Keras-style entry shares: float32, clip at ε, Σ w·ℓ / N."""

    dtype: DType
    clip: float
    sample_weights_note: str


def _entries() -> tuple[Entry | Gap, ...]:
    torch_nll = _variant_when(_uses_nll, "torch.nn.functional.nll_loss")
    torch_ce = {
        "function": _TORCH_CE,
        "dtype": "float64",
        "kernel": _torch_ce,
        "call": _torch_ce_call,
        "variant": torch_nll,
        "notes": _torch_log_p_as_logits,
    }
    keras = {"dtype": "float32", "clip": KERAS_EPSILON, "sample_weights_note": _KERAS_DIVISOR}
    keras_sparse = _variant_when(_integer_labels, "keras.losses.SparseCategoricalCrossentropy")
    tf_keras = _KerasLike(dtype="float32", clip=KERAS_EPSILON, sample_weights_note=_KERAS_DIVISOR)
    tf_sparse = _variant_when(_integer_labels, "tf_keras.losses.SparseCategoricalCrossentropy")
    tf_binary_focal = _variant_when(
        lambda problem: bool(_option(problem, "binary")), "tf_keras.losses.BinaryFocalCrossentropy"
    )
    keras_binary_focal = _variant_when(
        lambda problem: bool(_option(problem, "binary")), "keras.losses.BinaryFocalCrossentropy"
    )

    def optax_variant(problem: Problem) -> str | None:
        if _integer_labels(problem):
            return "optax.softmax_cross_entropy_with_integer_labels"
        return "optax.safe_softmax_cross_entropy" if _masked_targets(problem) else None

    sklearn = {"check": _sklearn_check, "notes": _squashed_logits,
               "clip_sees": _sklearn_probabilities, "options": {"sample_weights": "sample_weight"},
               "sample_weights_note": "sample-weighted mean ÷ Σ w, as cecli's"}  # fmt: skip
    kl_mean = "reduction='mean' divides by all {elements} elements ('batchmean' is KL)"
    return (
        # PyTorch: float64 tensors as the calls build them; no clipping but BCE's log clamp.
        Entry("torch", "ce", "logits", options=_CE_OPTIONS, weighted_mean_by_rows=True, **torch_ce),  # type: ignore[arg-type]
        Entry("torch", "ce", "probs", options=_CE_OPTIONS, weighted_mean_by_rows=True, **torch_ce),  # type: ignore[arg-type]
        Entry("torch", "smooth", "logits", options=_SMOOTH_OPTIONS, **torch_ce),  # type: ignore[arg-type]
        Entry("torch", "smooth", "probs", options=_SMOOTH_OPTIONS, **torch_ce),  # type: ignore[arg-type]
        Entry("torch", "bce", "probs", _TORCH_BCE, "float64", _torch_bce_kernel, _torch_bce_call,
              options=_TORCH_BCE_WEIGHT, log_clamp=TORCH_LOG_CLAMP, mean_over="elements"),
        Entry("torch", "bce", "logits", _TORCH_BCE_LOGITS, "float64", _torch_bce_kernel,
              _torch_bce_call, options={**_TORCH_BCE_WEIGHT, "pos_weight": "pos_weight"},
              mean_over="elements"),
        Entry("torch", "multilabel", "probs", _TORCH_BCE, "float64", _torch_bce_kernel,
              _torch_bce_call, options=_TORCH_BCE_WEIGHT, log_clamp=TORCH_LOG_CLAMP,
              mean_over="elements"),
        Entry("torch", "multilabel", "logits", _TORCH_BCE_LOGITS, "float64", _torch_bce_kernel,
              _torch_bce_call, options={**_TORCH_BCE_WEIGHT, "pos_weight": "pos_weight"},
              mean_over="elements"),
        Entry("torch", "kl", "probs", "torch.nn.functional.kl_div", "float64", _torch_kl,
              _torch_kl_call, options={"log_targets": "log_target"}, mean_over="elements",
              elements_mean_note=kl_mean),
        Entry("torch", "kl", "logits", "torch.nn.functional.kl_div", "float64", _torch_kl,
              _torch_kl_call, options={"log_targets": "log_target"}, mean_over="elements",
              elements_mean_note=kl_mean),
        Entry("torch", "grad", "logits", "torch.autograd", "float64", _torch_grad,
              _torch_grad_call, options=_TORCH_GRAD_OPTIONS),
        Entry("torch", "grad", "probs", "torch.autograd", "float64", _torch_grad,
              _torch_grad_call, options=_TORCH_GRAD_OPTIONS),
        Gap("torch", "focal", None, "PyTorch has no focal loss; nearest: "
            "torchvision.ops.sigmoid_focal_loss(z, y, alpha=0.25, gamma=2, reduction='none'), "
            "binary and from logits, with α = 0.25 applied unless alpha=-1"),
        # Keras 3 Loss objects with the torch backend: float32, clip at epsilon = 1e-7.
        Entry("keras", "ce", "probs", _KERAS_CE, kernel=_keras_ce, call=_keras_call,
              options={**_KERAS_OPTIONS, **_KERAS_IGNORE, "smoothing": "label_smoothing",
                       "normalize": "built in"},
              renormalises=True, variant=keras_sparse, check=_keras_ignore_check,
              ignore_note=_KERAS_IGNORE_NOTE, **keras),  # type: ignore[arg-type]
        Entry("keras", "ce", "logits", _KERAS_CE, "float32", _keras_ce, _keras_call,
              options={**_KERAS_WEIGHTS, **_KERAS_IGNORE, "smoothing": "label_smoothing"},
              variant=keras_sparse, sample_weights_note=_KERAS_DIVISOR,
              check=_keras_ignore_check, ignore_note=_KERAS_IGNORE_NOTE,
              notes=_keras_masked_sparse),
        Entry("keras", "smooth", "probs", _KERAS_CE, kernel=_keras_ce, call=_keras_call,
              options={**_KERAS_OPTIONS, **_KERAS_IGNORE, "smoothing": "label_smoothing",
                       "normalize": "built in"},
              renormalises=True, variant=keras_sparse, check=_keras_ignore_check,
              ignore_note=_KERAS_IGNORE_NOTE, **keras),  # type: ignore[arg-type]
        Entry("keras", "smooth", "logits", _KERAS_CE, "float32", _keras_ce, _keras_call,
              options={**_KERAS_WEIGHTS, **_KERAS_IGNORE, "smoothing": "label_smoothing"},
              variant=keras_sparse, sample_weights_note=_KERAS_DIVISOR,
              check=_keras_ignore_check, ignore_note=_KERAS_IGNORE_NOTE,
              notes=_keras_masked_sparse),
        Entry("keras", "bce", "probs", _KERAS_BCE, kernel=_keras_bce, call=_keras_call,
              options={**_KERAS_OPTIONS, "smoothing": "label_smoothing"}, mean_over="elements",
              **keras),  # type: ignore[arg-type]
        Entry("keras", "bce", "logits", _KERAS_BCE, "float32", _keras_bce, _keras_call,
              options={**_KERAS_WEIGHTS, "smoothing": "label_smoothing"}, mean_over="elements",
              sample_weights_note=_KERAS_DIVISOR),
        Entry("keras", "multilabel", "probs", _KERAS_BCE, kernel=_keras_bce, call=_keras_call,
              options=_KERAS_OPTIONS, mean_over="elements", **keras),  # type: ignore[arg-type]
        Entry("keras", "multilabel", "logits", _KERAS_BCE, "float32", _keras_bce, _keras_call,
              options=_KERAS_WEIGHTS, mean_over="elements", sample_weights_note=_KERAS_DIVISOR),
        Entry("keras", "kl", "probs", "keras.losses.KLDivergence", kernel=_keras_kl,
              call=_keras_call, options=_KERAS_OPTIONS, **keras),  # type: ignore[arg-type]
        Gap("keras", "kl", "logits", "keras.losses.KLDivergence takes probabilities, not "
            "logits; nearest: pass keras.ops.softmax(z)"),
        Gap("keras", "grad", None, "Keras has no gradient function; nearest: the backend's "
            "autograd (torch backend: torch.autograd, as library='torch')", ("library",)),
        Entry("keras", "focal", "probs", "keras.losses.CategoricalFocalCrossentropy",
              kernel=_keras_focal, call=_keras_call,
              options={**_KERAS_OPTIONS, "alpha": "alpha", "binary": "BinaryFocalCrossentropy",
                       "smoothing": "label_smoothing", "normalize": "built in"},
              renormalises=True, default_alpha=0.25, variant=keras_binary_focal,
              **keras),  # type: ignore[arg-type]
        Entry("keras", "focal", "logits", "keras.losses.CategoricalFocalCrossentropy",
              kernel=_keras_focal, call=_keras_call,
              options={**_KERAS_OPTIONS, "alpha": "alpha", "binary": "BinaryFocalCrossentropy",
                       "smoothing": "label_smoothing"},
              default_alpha=0.25, variant=keras_binary_focal, clip_sees=_focal_probabilities,
              **keras),  # type: ignore[arg-type]
        # tf.keras 2 (the tf-keras package): float32 inputs, clip at epsilon = 1e-7.
        *[Entry("tf-keras", command, kind, "tf_keras.losses.CategoricalCrossentropy",
                kernel=_tf_keras_ce, call=_tf_keras_call, variant=tf_sparse,
                notes=_tf_keras_ce_notes, check=_keras_ignore_check, ignore_note=_KERAS_IGNORE_NOTE,
                options={**_KERAS_WEIGHTS, **_KERAS_IGNORE,
                         **({"eps": "tf_keras.backend.set_epsilon",
                         "normalize": "built in"} if kind == "probs" else {}),
                         "smoothing": "label_smoothing"},
                **tf_keras)
          for command in ("ce", "smooth") for kind in ("probs", "logits")],
        *[Entry("tf-keras", command, kind, "tf_keras.losses.BinaryCrossentropy",
                kernel=_tf_keras_bce, call=_tf_keras_call, mean_over="elements",
                options={**_KERAS_WEIGHTS, **_TF_EPS.get(kind, {}),
                         **({"smoothing": "label_smoothing"} if command == "bce" else {})},
                **tf_keras)
          for command in ("bce", "multilabel") for kind in ("probs", "logits")],
        Entry("tf-keras", "kl", "probs", "tf_keras.losses.KLDivergence", kernel=_keras_kl,
              call=_tf_keras_call, options={**_KERAS_WEIGHTS, **_TF_EPS["probs"]},
              **tf_keras),
        Gap("tf-keras", "kl", "logits", "tf_keras.losses.KLDivergence takes probabilities, not "
            "logits; nearest: pass tf.nn.softmax(z)"),
        Gap("tf-keras", "grad", None, "tf.keras has no gradient function; nearest: "
            "tf.GradientTape around the loss"),
        *[Entry("tf-keras", "focal", kind, "tf_keras.losses.CategoricalFocalCrossentropy",
                kernel=_tf_keras_focal, call=_tf_keras_call, variant=tf_binary_focal,
                options={**_KERAS_WEIGHTS, **_TF_EPS.get(kind, {}), "alpha": "alpha",
                         "binary": "BinaryFocalCrossentropy", "smoothing": "label_smoothing",
                         **({"normalize": "built in"} if kind == "probs" else {})},
                renormalises=kind == "probs", default_alpha=0.25,
                clip_sees=_focal_probabilities if kind == "logits" else None,
                **tf_keras)
          for kind in ("probs", "logits")],
        # scikit-learn: float64, clip at machine epsilon, no renormalising (a warning instead).
        # It takes probabilities: logits go in through scipy.special.softmax or expit.
        *[Entry("sklearn", "ce", kind, _LOG_LOSS, "float64", _sklearn_log_loss, _sklearn_call,
                clip=SKLEARN_EPS, **sklearn)  # type: ignore[arg-type]
          for kind in ("probs", "logits")],
        *[Entry("sklearn", command, kind, _LOG_LOSS, "float64", _sklearn_log_loss,
                _sklearn_call, clip=SKLEARN_EPS, mean_over="elements", **sklearn)  # type: ignore[arg-type]
          for command in ("bce", "multilabel") for kind in ("probs", "logits")],
        Gap("sklearn", "kl", None, "scikit-learn has no KL divergence; nearest: "
            "scipy.stats.entropy(p, q) (which renormalises both rows)"),
        Gap("sklearn", "grad", None, "scikit-learn has no gradient of a loss; nearest: "
            "library='torch' or library='optax'", ("library", "library")),
        Gap("sklearn", "smooth", None, "scikit-learn's log_loss has no label smoothing; "
            "nearest: log_loss with the smoothed targets' arg-max (no smoothing at all)"),
        Gap("sklearn", "focal", None, "scikit-learn has no focal loss; nearest: "
            "sklearn.metrics.log_loss (the γ = 0 case)"),
        # optax: JAX arrays, float32 by default; losses per example, reduced by the caller.
        # Its losses take logits: probabilities go in as jnp.log(p) (softmax losses) or
        # jax.scipy.special.logit(p) (sigmoid losses).
        *[Entry("optax", "ce", kind, "optax.softmax_cross_entropy", "float32", _optax_ce,
                _optax_ce_call, options={"smoothing": "optax.smooth_labels"},
                variant=optax_variant, notes=_log_p_as_logits)
          for kind in ("logits", "probs")],
        *[Entry("optax", "smooth", kind, "optax.softmax_cross_entropy", "float32", _optax_ce,
                _optax_ce_call, options={"smoothing": "optax.smooth_labels"},
                variant=optax_variant, notes=_log_p_as_logits)
          for kind in ("logits", "probs")],
        *[Entry("optax", command, kind, _OPTAX_BCE, "float32", _optax_bce, _optax_call,
                mean_over="elements")
          for command in ("bce", "multilabel") for kind in ("logits", "probs")],
        *[Entry("optax", "kl", kind, "optax.kl_divergence", "float32", _optax_kl, _optax_call,
                options={"log_targets": "optax.losses.kl_divergence_with_log_targets",
                         "generalized": "optax.convex_kl_divergence"},
                variant=_optax_kl_variant)
          for kind in ("logits", "probs")],
        *[Entry("optax", "grad", kind, "jax.grad", "float32", _optax_grad, _optax_grad_call,
                options={"sigmoid": "sigmoid_binary_cross_entropy"})
          for kind in ("logits", "probs")],
        *[Entry("optax", "focal", kind, "optax.sigmoid_focal_loss", "float32", _optax_focal,
                _optax_call, options={"alpha": "alpha", "binary": "sigmoid"},
                check=_optax_focal_check)
          for kind in ("logits", "probs")],
    )  # fmt: skip


def find(library: Library, command: Command, inputs: Inputs) -> Entry | Gap:
    """The entry for this library, subcommand and kind of PREDS (or the gap where it has none)."""
    for entry in ENTRIES:
        if (entry.library, entry.command) == (library, command) and entry.inputs in (None, inputs):
            return entry
    raise LookupError(f"no entry for {library} {command} {inputs}")


# --- using them ----------------------------------------------------------------------------


def categorical(command: Command, options: Mapping[str, Any]) -> bool:
    """Whether ``command`` with ``options`` scores softmax rows (labels may be indices)."""
    if command in ("ce", "smooth"):
        return True
    if command == "focal":
        return not options.get("binary")
    if command == "grad":
        return not options.get("sigmoid")
    return False


def make_problem(
    command: Command, labels: FloatArray, preds: FloatArray, *, logits: bool,
    options: Mapping[str, Any],
) -> Problem:  # fmt: skip
    """A :class:`Problem` from LABELS and PREDS already checked by cecli's own loss."""
    from cecli.inputs import as_targets_ignoring

    matrix = np.atleast_2d(np.asarray(preds, dtype=np.float64))
    if categorical(command, options):
        ignore_index = options.get("ignore_index")
        targets, indices, _ = as_targets_ignoring(labels, matrix, ignore_index=ignore_index)
        return Problem(command, targets, indices, matrix, logits, dict(options))
    targets = np.atleast_2d(np.asarray(labels, dtype=np.float64))
    return Problem(command, targets, None, matrix, logits, dict(options))


def _check(problem: Problem, entry: Entry) -> None:
    """Raise :class:`Unsupported` for options and inputs the library cannot take."""
    function = _function_name(problem, entry)
    for name in problem.given():
        if name in entry.options:
            continue
        if name == "base":
            raise Unsupported(f"{function} reports nats; drop base to compare", parameter=("base",))
        nearest, named = _nearest(name, entry)
        raise Unsupported(
            f"{name} has no counterpart in {function}{nearest}", parameter=(name, *named)
        )
    if entry.check is not None:
        entry.check(problem, entry)
    if problem.reduction == "none" and entry.command == "grad":
        raise Unsupported(
            f"{function} needs a scalar loss: use reduction mean or sum", parameter=("reduction",)
        )


def _optax_kl_variant(problem: Problem) -> str | None:
    if _option(problem, "log_targets") and _option(problem, "generalized"):
        raise Unsupported(
            "optax has no generalised KL of log targets; nearest: "
            "optax.convex_kl_divergence(log_q, jnp.exp(log_p))"
        )
    if _option(problem, "log_targets"):
        return "optax.losses.kl_divergence_with_log_targets"
    return "optax.convex_kl_divergence" if _option(problem, "generalized") else None


def _optax_focal_check(problem: Problem, entry: Entry) -> None:
    if not _option(problem, "binary"):
        raise Unsupported(
            "optax's focal loss is the sigmoid (binary) one: add binary=True "
            "(optax.sigmoid_focal_loss); for softmax focal loss use library='keras'",
            parameter=("binary", "library"),
        )


def _keras_masked_sparse(problem: Problem, entry: Entry) -> list[str]:
    """Older Keras (3.8, checked) took the sparse loss from logits as one-hot × log softmax,
    which a masked logit (-inf) anywhere in the row turns into nan."""
    if problem.logits and _integer_labels(problem) and bool(np.any(problem.preds == -np.inf)):
        return [OLD_KERAS_MASKED]
    return []


def _keras_ignore_check(problem: Problem, entry: Entry) -> None:
    if _option(problem, "ignore_index") is not None and not _integer_labels(problem):
        raise Unsupported(
            "ignore_class belongs to keras.losses.SparseCategoricalCrossentropy, which takes "
            "class indices and has no label_smoothing; nearest: library='torch'",
            parameter=("library",),
        )


def _sklearn_check(problem: Problem, entry: Entry) -> None:
    function = _function_name(problem, entry)
    if problem.reduction == "none":
        raise Unsupported(
            f"{function} returns a mean or a sum (normalize=False); nearest: reduction='sum'",
            parameter=("reduction",),
        )
    if problem.command == "ce" and problem.hard_indices() is None:
        raise Unsupported(
            f"{function} takes class labels, not soft targets; nearest: "
            "library='torch' (cross_entropy takes probability targets)",
            parameter=("library",),
        )
    if problem.command != "ce" and not bool(np.all(np.isin(problem.targets, (0.0, 1.0)))):
        raise Unsupported(f"{function} takes labels 0 and 1, not soft targets")


def _nearest(option: str, entry: Entry) -> tuple[str, tuple[str, ...]]:
    """What the library has nearest to ``option``, and the parameters that names."""
    framework = FRAMEWORKS[entry.library]
    hint = framework.hints.get(option)
    if hint is not None:
        return hint, tuple(framework.hint_parameters.get(option, ()))
    others = [
        other.library
        for other in ENTRIES
        if isinstance(other, Entry)
        and (other.command, other.inputs) == (entry.command, entry.inputs)
        and option in other.options
    ]
    if others:
        named = " or ".join(f"library={name!r}" for name in others)
        return f" ({named} has it)", ("library",) * len(others)
    return " (none of the libraries has it)", ()


def reproduce(library: Library, problem: Problem) -> Reproduction:
    """``library``'s value for ``problem``, computed as the library computes it."""
    entry = find(library, problem.command, "logits" if problem.logits else "probs")
    if isinstance(entry, Gap):
        raise Unsupported(entry.message, parameter=entry.parameter)
    _check(problem, entry)
    # The libraries' own overflows (exp(1000)) and 0·inf are part of what they return.
    with np.errstate(all="ignore"):
        value = np.asarray(entry.kernel(problem, entry)).astype(np.float64)
        named = tuple(conventions(problem, entry, value))
    return Reproduction(
        library=library,
        function=_function_name(problem, entry),
        value=value,
        dtype=entry.dtype,
        call=entry.call(problem, entry),
        conventions=named,
    )


@dataclass(frozen=True)
class Missing:
    """A library without this loss, input kind or option, and what it has instead."""

    library: Library
    message: str
    parameter: str | tuple[str, ...] | None = None
    """The parameters ``message`` names, as :class:`InputError` carries them."""

    def to_json(self) -> dict[str, Any]:
        return {"library": self.library, "value": None, "conventions": [], "call": None,
                "missing": self.message}  # fmt: skip


def reproduce_all(problem: Problem) -> list[Reproduction | Missing]:
    """Every library's value for ``problem``, or why it has none."""
    found: list[Reproduction | Missing] = []
    for library in FRAMEWORKS:
        try:
            found.append(reproduce(library, problem))
        except Unsupported as gap:
            found.append(Missing(library, str(gap), gap.named))
    return found


_ELEMENTS_NOTE = "mean over classes too (÷ {elements}, not ÷ {rows})"


def conventions(problem: Problem, entry: Entry, value: FloatArray) -> list[str]:
    """The conventions of ``entry`` that act on this input, in words."""
    found: list[str] = []
    p = problem.preds
    probabilities = not problem.logits
    binary_focal = problem.command == "focal" and bool(_option(problem, "binary"))
    if probabilities and entry.renormalises and not binary_focal and _unnormalised(p):
        found.append("renormalised rows")
        if entry.clip is not None and _order_matters(problem, _clip_value(problem, entry)):
            found.append("renormalised, then clipped (clipping first gives another value)")
    if entry.notes is not None:
        found.extend(entry.notes(problem, entry))
    found.extend(_clipping(problem, entry, value))
    if bool(np.any(np.isnan(value))):
        found.append("0·log 0 gives nan")
    by_elements = entry.mean_over == "elements" and problem.command in ("multilabel", "kl")
    if problem.reduction == "mean" and by_elements and problem.classes > 1:
        elements = problem.classes * problem.rows
        note = entry.elements_mean_note or _ELEMENTS_NOTE
        found.append(note.format(elements=elements, rows=problem.rows))
    weighs_rows = _option(problem, "sample_weights") is not None and problem.reduction == "mean"
    if weighs_rows and entry.sample_weights_note:
        found.append(entry.sample_weights_note)
    ignores = _option(problem, "ignore_index") is not None and problem.reduction == "mean"
    if ignores and entry.ignore_note and bool(np.any(_ignored(problem))):
        found.append(entry.ignore_note)
    weighted = _option(problem, "weights") is not None and entry.weighted_mean_by_rows
    row_targets = problem.indices is None and not _uses_nll(problem)
    if weighted and row_targets and problem.reduction == "mean":
        found.append("weighted mean divided by N, not Σ w[y]")
    elif weighted and _option(problem, "smoothing") and problem.reduction == "mean":
        found.append("smoothed, weighted mean divided by the hard labels' Σ w[y]")
    default_alpha = entry.default_alpha is not None and _option(problem, "alpha") is None
    if default_alpha and not _option(problem, "binary"):
        found.append(f"α = {entry.default_alpha:g} applied by default")
    if entry.dtype == "float32":
        found.append("computed in float32")
    return found


def _clipping(problem: Problem, entry: Entry, value: FloatArray) -> list[str]:
    """How the library's clipping (or its absence) differs from cecli's clip at ``eps``."""
    p = _clipped_probabilities(problem, entry)
    if p is None:
        return []
    eps = float(_option(problem, "eps", DEFAULT_EPS)) if not problem.logits else 0.0
    above = np.zeros(p.shape, dtype=bool) if _option(problem, "generalized") else p > 1 - eps
    cecli_clips = eps > 0 and bool(np.any((p < eps) | above))  # generalised KL: below only
    found: list[str] = []
    if entry.clip is not None:
        clip = _clip_value(problem, entry)
        kind = np.dtype(entry.dtype).type
        seen = p.astype(kind)
        if problem.command == "kl":  # Keras clips P and Q to [eps, 1]
            both = np.concatenate([seen, problem.targets.astype(kind)])
            if bool(np.any(both < kind(clip))) or cecli_clips:
                found.append(f"P and Q clipped at {_short(clip)}")
        elif cecli_clips or bool(np.any((seen < kind(clip)) | (seen > kind(1.0 - clip)))):
            cecli_bound = f", not {_short(eps)}" if eps and eps != clip else ""
            found.append(f"clip at {_short(clip)}{cecli_bound}")
        return found
    if entry.log_clamp is not None:
        floor = math.exp(entry.log_clamp)
        if bool(np.any((p < floor) | (1 - p < floor))):
            found.append(f"log clamp at {entry.log_clamp:g}")
    if cecli_clips:
        found.append(f"no clipping (cecli clips at {_short(eps)})")
    elif not bool(np.all(np.isfinite(value))) and bool(np.any((p == 0) | (p == 1))):
        found.append("no clipping: log 0 = -inf")
    return found


def _clipped_probabilities(problem: Problem, entry: Entry) -> FloatArray | None:
    """The probabilities a clip could act on: PREDS, or what the library makes of logits
    before it clips (Keras' focal loss, scikit-learn's call); cecli never clips logits."""
    if not problem.logits:
        return problem.preds
    return None if entry.clip_sees is None else entry.clip_sees(problem, entry)


def _focal_probabilities(problem: Problem, entry: Entry) -> FloatArray:
    """What Keras' focal losses make of logits: sigmoid (binary) or softmax."""
    return _sigmoid(problem.preds) if _option(problem, "binary") else _softmax(problem.preds)


def _log_p_as_logits(problem: Problem, entry: Entry) -> list[str]:
    """Probabilities passed as log p to a softmax loss: log_softmax renormalises their rows."""
    if not problem.logits and _unnormalised(problem.preds):
        return ["log p read as logits: log_softmax renormalised rows"]
    return []


def _torch_log_p_as_logits(problem: Problem, entry: Entry) -> list[str]:
    """As :func:`_log_p_as_logits` where cross_entropy gets log p (nll_loss takes it as is)."""
    return [] if _uses_nll(problem) else _log_p_as_logits(problem, entry)


def _squashed_logits(problem: Problem, entry: Entry) -> list[str]:
    """Logits turned into probabilities before a log (scikit-learn's call)."""
    if not problem.logits:
        return []
    squash = "softmax" if problem.command == "ce" else "expit"
    return [f"log of {squash}(z): digits lost where p is near 1"]


def _order_matters(problem: Problem, clip: float) -> bool:
    """Whether clipping before renormalising would change a probability the loss reads."""
    p = problem.preds
    with np.errstate(divide="ignore", invalid="ignore"):
        renormalised_first = np.clip(p / p.sum(axis=-1, keepdims=True), clip, 1 - clip)
        clipped = np.clip(p, clip, 1 - clip)
        clipped_first = clipped / clipped.sum(axis=-1, keepdims=True)
    read = problem.targets > 0
    differs = ~np.isclose(renormalised_first, clipped_first, rtol=1e-6, atol=0.0)
    return bool(np.any(differs & read))


def _short(number: float) -> str:
    """1e-07 → 1e-7, 2.220446049250313e-16 → 2.2e-16."""
    mantissa, _, exponent = f"{number:.2g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def _unnormalised(p: FloatArray) -> bool:
    return bool(np.any(np.abs(np.sum(p, axis=-1) - 1.0) > 1e-12))


# --- from Python: one call per comparison -----------------------------------------------------


ALWAYS_GIVEN: dict[Command, tuple[str, ...]] = {"smooth": ("smoothing",), "focal": ("gamma",)}
"""Options every library gets for these losses, even at cecli's default."""


def library_named(name: str) -> Library:
    """A key of :data:`FRAMEWORKS`, or one of its aliases (``pytorch``, ``scikit-learn``)."""
    wanted = name.strip().lower() if isinstance(name, str) else ""  # None, 3: no library
    for framework in FRAMEWORKS.values():
        if wanted == framework.name or wanted in framework.aliases:
            return framework.name
    known = list(FRAMEWORKS)
    listed = ", ".join(known[:-1]) + " or " + known[-1]
    raise InputError(f"library takes {listed}, not {name!r}", parameter="library")


@dataclass(frozen=True, eq=False)
class FrameworksComparison:
    """cecli's value beside each library's (or why a library has none)."""

    command: Command
    value: FloatArray
    """cecli's exact value: the loss (0-d, or per row), or the gradient for ``grad``."""
    result: LossResult
    """cecli's full :class:`~cecli.results.LossResult`."""
    found: tuple[Reproduction | Missing, ...]
    library: Library | None = None
    """The one library asked for (``--like``), or None for all four."""

    def to_json(self) -> dict[str, Any]:
        from cecli.results import json_array

        if self.library is not None:
            (single,) = self.found
            return {"cecli": json_array(self.value), **single.to_json()}
        return {
            "cecli": json_array(self.value),
            "frameworks": {item.library: item.to_json() for item in self.found},
        }


def compare_frameworks(
    loss: Command,
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    library: str | None = None,
    **options: Any,
) -> FrameworksComparison:
    """What PyTorch, Keras, tf.keras, scikit-learn and optax return for ``loss`` on this input.

    ``options`` are those of the loss's function (``logits``, ``eps``, ``weights``,
    ``smoothing``, ``gamma``, ``sample_weights``, ``ignore_index``, ``log_targets``,
    ``generalized``…, as :func:`cecli.ce` takes them); each library gets those that
    differ from cecli's defaults, mapped onto its own arguments.  A library without this
    loss, input or option is :class:`Missing`, with what it has instead; with ``library``
    only that one is asked, and its lack raises :class:`Unsupported`.
    """
    from cecli.scoring import LOSS_FUNCTIONS, loss_options

    if loss not in LOSS_FUNCTIONS:
        known = ", ".join(LOSS_FUNCTIONS)
        raise InputError(f"loss must be one of {known}, got {loss!r}", parameter="loss")
    only = None if library is None else library_named(library)
    function = LOSS_FUNCTIONS[loss]
    result = function(labels, preds, **loss_options(loss, options))
    given = _given_options(loss, options, result.reduction)
    logits = _reads_logits(loss, options)
    label_matrix = np.asarray(labels, dtype=np.float64)
    pred_matrix = np.atleast_2d(np.asarray(preds, dtype=np.float64))
    if given.get("sample_weights") is not None:  # one per row, as the libraries take them
        given["sample_weights"] = sample_weight_vector(given["sample_weights"], result.rows)
    problem = make_problem(loss, label_matrix, pred_matrix, logits=logits, options=given)
    exact = np.asarray(result.grad if isinstance(result, GradResult) else result.loss)
    found = [reproduce(only, problem)] if only is not None else reproduce_all(problem)
    return FrameworksComparison(loss, exact, result, tuple(found), only)


def _given_options(loss: Command, options: Mapping[str, Any], reduction: str) -> dict[str, Any]:
    """The options the libraries get: the reduction, and those that differ from cecli's
    defaults (and the ones every library gets for this loss), named as cecli names them."""
    from cecli.numerics import parse_base
    from cecli.scoring import LOSS_FUNCTIONS

    defaults = inspect.signature(LOSS_FUNCTIONS[loss]).parameters
    given: dict[str, Any] = {"reduction": reduction}
    names: list[str] = [n for n in ("eps", "base") if n in options]
    names += [n for n in [*options, *ALWAYS_GIVEN.get(loss, ())] if n not in names]
    for name in names:
        if name in ("reduction", "class_names", "logits", "probs") or name in given:
            continue
        default = defaults[name].default
        value = options.get(name, default)
        if name == "base":
            value = parse_base(value) or value
        changed = value is not None if default is None else bool(value != default)
        if changed or name in ALWAYS_GIVEN.get(loss, ()):
            given[name] = value
    return given


def _reads_logits(loss: Command, options: Mapping[str, Any]) -> bool:
    logits = bool(options.get("logits"))
    if loss == "grad" and options.get("probs") is not None:
        logits = not options["probs"]
    return logits


def like(
    loss: Command,
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    library: str = "torch",
    **options: Any,
) -> Reproduction:
    """``library``'s value for ``loss`` on this input, with the call that gives it.

    As :func:`compare_frameworks` for one library; a library without this loss, input or
    option raises :class:`Unsupported` saying what it has instead.
    """
    # None would ask every library, and one answer is wanted.
    (found,) = compare_frameworks(
        loss, labels, preds, library=library_named(library), **options
    ).found
    assert isinstance(found, Reproduction)  # reproduce raises instead of returning Missing
    return found


# --- over a file: each library's mean of the file's rows, streamed -------------------------


FILE_OPTIONS = frozenset(
    {"class_names", "label_col", "label_cols", "pred_cols", "weight_col", "id_col",
     "delimiter", "kind", "skip_invalid", "storage_options", "stdin", "on_progress"}
)  # fmt: skip
"""What :func:`compare_frameworks_on_file` passes to :func:`cecli.scoring.score_file` as it
is: where the rows are, not how they are scored."""

_WEIGHT_COLUMN = "the weight column (weight_col)"
"""Over a file, what stands for ``sample_weights`` in a message: the rows' weights come from
a column."""


@dataclass(frozen=True, eq=False)
class FileComparison:
    """cecli's value over a file beside each library's (or why a library has none)."""

    command: Command
    value: FloatArray
    """cecli's value over the file (0-d): the summary's loss."""
    summary: BatchSummary
    """cecli's summary of the file."""
    found: tuple[Reproduction | Missing, ...]
    library: Library | None = None

    def to_json(self) -> dict[str, Any]:
        from cecli.results import json_array

        document: dict[str, Any] = {
            "cecli": json_array(self.value), "rows": self.summary.rows,
            "source": self.summary.source,
        }  # fmt: skip
        if self.summary.ignored is not None:
            document["ignored_rows"] = self.summary.ignored
        if self.library is not None:
            (single,) = self.found
            return {**document, **single.to_json()}
        return {**document, "frameworks": {item.library: item.to_json() for item in self.found}}


@dataclass(eq=False)
class _FileTally:
    """One library's running sums over a file's batches: Σ of its values and its divisor."""

    entry: Entry
    total: Any
    divisor: Any
    conventions: list[str] = field(default_factory=list)
    elements: int = 0
    weighted: bool = False
    function: str = ""
    """The variant the rows called for (``nll_loss``, ``SparseCategoricalCrossentropy``…)."""
    missing: str | None = None
    named: str | tuple[str, ...] | None = None
    """The parameters ``missing`` names."""


def _per_row_values(problem: Problem, entry: Entry) -> tuple[FloatArray, FloatArray]:
    """A batch's values as the library returns them unreduced (per row or per element), each
    weighted, and what its mean divides their sum by, one share per value (scikit-learn's
    per-sample values and their ``sample_weight``)."""
    if entry.kernel is _sklearn_log_loss:
        per_sample = _sklearn_per_sample(problem, entry)
        weights = _sklearn_sample_weight(problem)
        if weights is None:
            return per_sample, np.ones(per_sample.size)
        return np.where(weights == 0, 0.0, weights * per_sample), weights
    unreduced = Problem(**{**problem.__dict__, "options": {**problem.options, "reduction": "none"}})
    values = np.asarray(entry.kernel(unreduced, entry)).astype(np.float64)
    ignored = _ignored(problem)
    indices = _torch_indices(problem) if entry.kernel is _torch_ce else None
    if indices is not None:  # nll_loss: ÷ Σ w[y] over the rows not ignored (or their count)
        kept = ~ignored
        weights = _option(problem, "weights")
        w = np.ones(problem.classes) if weights is None else np.asarray(weights, np.float64)
        return values, np.where(kept, w[np.where(kept, indices, 0)], 0.0)
    if values.ndim == 1 and values.size == problem.rows:
        return values, np.where(ignored, 0.0, 1.0)  # ignored rows leave the divisor
    return values, np.ones(values.size)


def compare_frameworks_on_file(
    path_or_table: Any,
    loss: Command = "ce",
    *,
    library: str | None = None,
    reduction: str = "mean",
    **options: Any,
) -> FileComparison:
    """What each library returns for ``loss`` over every row of a file, read in bounded
    batches as :func:`cecli.scoring.score_file` reads them (its file options are taken too).

    Each batch's rows go through the library's own computation (its dtype, clipping and
    conventions) unreduced; the values are summed exactly and divided by what the library's
    mean divides by: the rows (Keras' ``sample_weight``: zero weights counted), the elements
    (PyTorch's BCE), Σ w[y] (PyTorch's class weights), the rows not ignored, or Σ w
    (scikit-learn's ``sample_weight``).  A weight column is each library's sample weights;
    a library without them is :class:`Missing` (with ``library``: :class:`Unsupported`).
    """
    from cecli.numerics import ExactSum
    from cecli.scoring import ScoredRows, logits_by_name, loss_options, score_file

    if reduction not in ("mean", "sum"):
        raise InputError(
            "over a file the libraries give one value: use reduction mean or sum",
            parameter="reduction",
        )
    only = None if library is None else library_named(library)
    where = {name: value for name, value in options.items() if name in FILE_OPTIONS}
    chosen = {name: value for name, value in options.items() if name not in FILE_OPTIONS}
    ignore_index = chosen.pop("ignore_index", None)
    loss_options(loss, {k: v for k, v in chosen.items() if v is not None})
    ignoring = {} if ignore_index is None else {"ignore_index": ignore_index}
    given = _given_options(loss, {**chosen, **ignoring}, reduction)
    if loss == "grad":
        raise InputError(
            "over a file the libraries' gradient is one per row: compare typed LABELS and PREDS",
            parameter="library",
        )
    tallies: dict[Library, _FileTally] = {}
    gaps: dict[Library, Gap] = {}
    stated = {k: v for k, v in chosen.items() if v is not None}

    def entries(logits: bool) -> None:
        """Each library's entry for the file's kind of predictions, known at its first rows."""
        kind: Inputs = "logits" if logits else "probs"
        for name in [only] if only is not None else list(FRAMEWORKS):
            entry = find(name, loss, kind)
            if isinstance(entry, Gap):
                gaps[name] = entry
            else:
                tallies[name] = _FileTally(entry, ExactSum(), ExactSum())

    def tally(rows: ScoredRows) -> None:
        # Columns named logit_<class> hold logits unless the options say how to read them.
        logits = _reads_logits(loss, chosen) or logits_by_name(loss, stated, rows.columns)
        if not tallies and not gaps:
            entries(logits)
        if only is not None and only in gaps:
            raise Unsupported(gaps[only].message, parameter=gaps[only].parameter)
        keep = rows.keep
        labels, preds = rows.batch.labels[keep], rows.batch.preds[keep]
        batch_options = dict(given)
        if rows.batch.weights is not None:
            batch_options["sample_weights"] = rows.batch.weights[keep]
        problem = make_problem(loss, labels, preds, logits=logits, options=batch_options)
        for item in tallies.values():
            if item.missing is not None:
                continue
            try:
                _check(problem, item.entry)
            except Unsupported as gap:
                item.missing, item.named = _over_a_file(gap)
                if only is not None:
                    raise Unsupported(item.missing, parameter=item.named) from None
                continue
            with np.errstate(all="ignore"):
                values, shares = _per_row_values(problem, item.entry)
                summed = Problem(**{**problem.__dict__, "options": {
                    **problem.options, "reduction": "sum"}})  # fmt: skip
                found = conventions(summed, item.entry, values)
            item.total.add(values)
            item.divisor.add(shares)
            item.elements += problem.rows * problem.classes
            item.weighted = item.weighted or rows.batch.weights is not None
            item.function = item.function or _function_name(problem, item.entry)
            item.conventions += [text for text in found if text not in item.conventions]

    summary = score_file(
        path_or_table, loss, reduction="sum" if reduction == "sum" else "mean",
        ignore_index=ignore_index, on_rows=tally, **stated, **where,
    )  # fmt: skip
    found: list[Reproduction | Missing] = []
    for name in FRAMEWORKS:
        if name in gaps:
            if only is not None:
                raise Unsupported(gaps[name].message, parameter=gaps[name].parameter)
            found.append(Missing(name, gaps[name].message, gaps[name].parameter))
        elif name in tallies:
            found.append(_file_value(tallies[name], loss, reduction, summary.rows, given))
    return FileComparison(loss, np.asarray(summary.loss), summary, tuple(found), only)


def _over_a_file(gap: Unsupported) -> tuple[str, str | tuple[str, ...] | None]:
    """``gap``'s message and parameters where a file's weight column gives the weights that
    the message calls ``sample_weights``."""
    message, parameter = str(gap), gap.named
    if isinstance(parameter, tuple) and parameter[:1] == ("sample_weights",):
        message = message.replace("sample_weights", _WEIGHT_COLUMN, 1)
        parameter = ("weight_col", *parameter[1:])
    return message, parameter


def _file_value(
    item: _FileTally, loss: Command, reduction: str, rows: int, given: Mapping[str, Any]
) -> Reproduction | Missing:
    """A library's value over the file from its tally, with the conventions it met."""
    entry = item.entry
    if item.missing is not None:
        return Missing(entry.library, item.missing, item.named)
    total = item.total.value()
    if reduction == "mean":
        total = math.nan if item.divisor.is_zero() else item.total.ratio(item.divisor)
    notes = list(item.conventions)
    if reduction == "mean":
        by_elements = entry.mean_over == "elements" and loss in ("multilabel", "kl")
        if by_elements and item.elements != rows:
            template = (
                entry.elements_mean_note or "mean over classes too (÷ {elements}, not ÷ {rows})"
            )
            notes.append(template.format(elements=item.elements, rows=rows))
        if item.weighted and entry.sample_weights_note:
            notes.append(entry.sample_weights_note)
        if given.get("ignore_index") is not None and entry.ignore_note:
            notes.append(entry.ignore_note)
    function = item.function or entry.function
    call = f"# {function} over the file's rows in batches, their values summed"
    if reduction == "mean":
        call += f" and divided by {item.divisor.value():.17g}, as its mean divides"
    return Reproduction(
        library=entry.library, function=function, value=np.asarray(total), dtype=entry.dtype,
        call=call, conventions=tuple(notes),
    )  # fmt: skip


# Built last: the entries name the checks and notes defined above.
ENTRIES: tuple[Entry | Gap, ...] = _entries()
