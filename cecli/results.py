"""Frozen result types returned by :mod:`cecli.losses`, and their JSON form.

Every array is float64 with one row per example (N rows, C classes).  Values of losses, terms
and gradients are already in the unit of ``base``; probabilities are plain probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from cecli.numerics import UNITS, Base, FloatArray

Reduction = Literal["mean", "sum", "none"]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
JsonValue = Any


def json_number(value: float) -> float | str:
    """A float for RFC 8259 JSON: non-finite values become ``"inf"``, ``"-inf"``, ``"nan"``."""
    number = float(value)
    if math.isfinite(number):
        return number
    return "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")


def json_array(values: npt.ArrayLike) -> JsonValue:
    """Nested lists of JSON numbers."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        return json_number(float(array))
    return [json_array(item) for item in array]


def _read_only(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A view of ``array`` that cannot be written through."""
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class RowLosses:
    """Per-row values of a loss without its per-term arrays: what batch scoring needs."""

    name: str
    base: Base
    classes: int
    per_row: FloatArray
    row_totals: FloatArray
    row_divisors: FloatArray
    row_extras: dict[str, FloatArray]
    clipped_count: int
    unnormalized_rows: tuple[int, ...]
    clipped_terms: int | None = None
    """How many clips changed a term of the loss (None: as many as ``clipped_count``)."""
    unnormalized_p_rows: tuple[int, ...] = ()
    """The rows of targets that do not sum to 1 (kl's P), as on :class:`LossResult`."""

    @property
    def rows(self) -> int:
        return int(self.per_row.shape[0])

    def __repr__(self) -> str:
        return f"RowLosses(name={self.name!r}, rows={self.rows}, classes={self.classes})"


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class LossResult:
    """What every loss returns: the headline value, one value per row, and the settings."""

    name: ClassVar[str] = "loss"

    loss: float | FloatArray
    """The reduced loss (a float), or ``per_row`` itself under ``reduction='none'``."""
    per_row: FloatArray
    """One value per row before the reduction across rows."""
    base: Base
    reduction: Reduction
    logits: bool
    eps: float
    class_names: tuple[str, ...] | None
    unnormalized_rows: tuple[int, ...]
    """0-based rows of PREDS that should sum to 1 and do not (within 1e-4)."""
    unnormalized_p_rows: tuple[int, ...] = ()
    """0-based rows of LABELS that should sum to 1 and do not: P of KL divergence, the only
    loss whose LABELS are distributions that are not renormalised for it."""
    row_totals: FloatArray
    """Each row's share of the summed loss (``reduction='sum'`` adds these)."""
    row_divisors: FloatArray
    """Each row's share of the mean's denominator: 1, C for element-wise losses, Σ w·y."""
    row_extras: dict[str, FloatArray] = field(default_factory=dict)
    """Row shares of the other reduced values (``entropy``, ``positive``, ``ce``…)."""
    targets: FloatArray
    """(N, C) what the model should have said: one-hot or soft labels as used (after label
    smoothing), P for KL divergence."""
    preds: FloatArray
    """(N, C) PREDS as given: probabilities, or logits with ``logits=True`` (Q for KL)."""
    probs: FloatArray
    """(N, C) the probabilities used: clipped, or softmax (σ) of the logits."""
    clipped: BoolArray
    """(N, C) which probabilities clipping changed."""
    label_indices: IntArray | None = None
    """(N,) class indices when LABELS were given as indices (losses that take them)."""

    def __post_init__(self) -> None:
        # Frozen holds for the arrays too: ``result.per_row[0] = 0`` would change what the
        # result, its tables and its JSON say.  Read-only views, so that an array the caller
        # passed in stays theirs to change; the class weights (C values) may be the caller's
        # own array, and are copied so that changing it later does not change the result.
        weights = getattr(self, "weights", None)
        if isinstance(weights, np.ndarray):
            object.__setattr__(self, "weights", weights.copy())
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, np.ndarray) and value.flags.writeable:
                object.__setattr__(self, item.name, _read_only(value))
            elif isinstance(value, dict):
                extras = {key: _read_only(array) for key, array in value.items()}
                object.__setattr__(self, item.name, extras)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Unpickled (pickle, copy.deepcopy) arrays are new and writeable: frozen again.
        self.__dict__.update(state)
        self.__post_init__()

    @property
    def rows(self) -> int:
        return int(self.per_row.shape[0])

    @property
    def classes(self) -> int:
        return int(self.probs.shape[1])

    @property
    def unit(self) -> str:
        return UNITS[self.base]

    @property
    def clipped_count(self) -> int:
        """How many probabilities clipping changed (0 from logits or with eps = 0)."""
        return int(self.clipped.sum())

    @property
    def clipped_terms(self) -> int:
        """How many clips changed a term of the loss: a probability clipped where its target
        is 0 adds 0 · log p = 0 either way (one-hot rows: only the true class counts)."""
        return int(np.count_nonzero(self.clipped & (self.targets != 0)))

    @property
    def element_wise(self) -> bool:
        """Whether the loss reduces over every element (row × class) rather than over rows."""
        return False

    @property
    def reduced_elements(self) -> int:
        """How many values the reduction across rows averages or adds."""
        return self.rows * self.classes if self.element_wise else self.rows

    def row_losses(self) -> RowLosses:
        """The per-row part of this result."""
        return RowLosses(
            name=self.name,
            base=self.base,
            classes=self.classes,
            per_row=self.per_row,
            row_totals=self.row_totals,
            row_divisors=self.row_divisors,
            row_extras=self.row_extras,
            clipped_count=self.clipped_count,
            unnormalized_rows=self.unnormalized_rows,
            clipped_terms=self.clipped_terms,
            unnormalized_p_rows=self.unnormalized_p_rows,
        )

    def headline(self) -> list[float]:
        """The reported value(s) as floats: one, or one per row under ``reduction='none'``."""
        if isinstance(self.loss, np.ndarray):
            return [float(v) for v in self.loss]
        return [float(self.loss)]

    def __repr__(self) -> str:
        # The per-term arrays would bury the numbers that matter.
        loss = repr(self.loss) if isinstance(self.loss, float) else f"<{self.rows} values>"
        return (
            f"{type(self).__name__}(loss={loss}, base={self.base!r}, "
            f"reduction={self.reduction!r}, rows={self.rows}, classes={self.classes})"
        )

    def to_json(self) -> dict[str, JsonValue]:
        """The result as a JSON-ready dict (strict: no NaN/Infinity literals)."""
        document: dict[str, JsonValue] = {
            "loss": json_array(self.loss),
            "base": self.base,
            "unit": self.unit,
            "reduction": self.reduction,
            "rows": self.rows,
            "classes": self.classes,
            "per_row": json_array(self.per_row),
        }
        if self.class_names is not None:
            document["class_names"] = list(self.class_names)
        document.update(self._extra_json())
        return document

    def _extra_json(self) -> dict[str, JsonValue]:
        return {}


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class CrossEntropyResult(LossResult):
    """Categorical cross-entropy ``-Σ_c w_c·y_c·log p_c`` per row."""

    name: ClassVar[str] = "ce"

    log_probs: FloatArray
    """(N, C) ``log p`` in the chosen base."""
    terms: FloatArray
    """(N, C) ``-w_c·y_c·log p_c``; each row sums to ``per_row``."""
    weights: FloatArray | None
    smoothing: float


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class SmoothingResult(CrossEntropyResult):
    """Cross-entropy against smoothed targets, next to the loss against the hard ones."""

    name: ClassVar[str] = "smooth"

    hard_targets: FloatArray
    hard_terms: FloatArray
    per_row_hard: FloatArray
    loss_hard: float | FloatArray

    def _extra_json(self) -> dict[str, JsonValue]:
        return {
            "loss_hard": json_array(self.loss_hard),
            "per_row_hard": json_array(self.per_row_hard),
            "smoothing": json_number(self.smoothing),
            "targets": json_array(self.targets),
        }


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class BinaryResult(LossResult):
    """Element-wise binary cross-entropy ``-(W_+·y·log p + W_-·(1-y)·log(1-p))``."""

    name: ClassVar[str] = "bce"

    log_probs: FloatArray
    """(N, C) ``log p`` in the chosen base."""
    log_not_p: FloatArray
    """(N, C) ``log(1 - p)`` in the chosen base."""
    positive_terms: FloatArray
    """(N, C) ``-W_+·y·log p``."""
    negative_terms: FloatArray
    """(N, C) ``-W_-·(1-y)·log(1-p)``."""
    pos_weight: float
    neg_weight: float
    smoothing: float

    @property
    def terms(self) -> FloatArray:
        total: FloatArray = self.positive_terms + self.negative_terms
        return total

    @property
    def clipped_terms(self) -> int:
        """Every clip: p and 1 - p both enter an output's term."""
        return self.clipped_count

    @property
    def element_wise(self) -> bool:
        return True


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class MultilabelResult(BinaryResult):
    """Per-class sigmoid BCE summed over classes, split into positive and negative parts."""

    name: ClassVar[str] = "multilabel"

    positive: float | FloatArray
    negative: float | FloatArray

    @property
    def element_wise(self) -> bool:
        return False

    def _extra_json(self) -> dict[str, JsonValue]:
        return {"positive": json_array(self.positive), "negative": json_array(self.negative)}


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class KLResult(LossResult):
    """``D_KL(P‖Q) = Σ p·log(p/q)`` with ``H(P, Q) = H(P) + D_KL(P‖Q)``."""

    name: ClassVar[str] = "kl"

    terms: FloatArray
    """(N, C) ``p·log(p/q)``."""
    entropy_terms: FloatArray
    """(N, C) ``-p·log p``."""
    cross_entropy_terms: FloatArray
    """(N, C) ``-p·log q``."""
    per_row_entropy: FloatArray
    per_row_cross_entropy: FloatArray
    entropy: float | FloatArray
    cross_entropy: float | FloatArray

    def row_sums(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(N,) each row's D_KL, H(P) and H(P,Q) as the sums of its terms: unweighted, as the
        per-term arrays are (``per_row`` is weighted by ``sample_weights``)."""
        with np.errstate(over="ignore"):
            return (
                self.terms.sum(axis=1),
                self.entropy_terms.sum(axis=1),
                self.cross_entropy_terms.sum(axis=1),
            )

    @property
    def generalized_rows(self) -> BoolArray:
        """(N,) the rows whose D_KL is not H(P,Q) − H(P): generalized KL of unnormalised P
        and Q, whose terms p·log(p/q) − p + q add Σ(q − p) to it."""
        divergence, entropy, cross_entropy = self.row_sums()
        gap = cross_entropy - entropy
        scale = np.maximum(np.abs(cross_entropy), np.abs(entropy))
        with np.errstate(invalid="ignore"):  # inf − inf: an infinite D_KL, H(P,Q) − H(P) too
            same = np.isclose(divergence, gap, rtol=1e-9, atol=0.0) | (
                np.abs(divergence - gap) <= 1e-12 * scale
            )
        rows: BoolArray = ~same
        return rows

    def _extra_json(self) -> dict[str, JsonValue]:
        return {
            "entropy": json_array(self.entropy),
            "cross_entropy": json_array(self.cross_entropy),
        }


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class GradResult(LossResult):
    """The gradient of the reported loss with respect to the logits."""

    name: ClassVar[str] = "grad"

    logits_used: FloatArray
    """(N, C) the logits z (``log p`` for probabilities; ``logit(p)`` with ``sigmoid``)."""
    grad: FloatArray
    """(N, C) ∂L/∂z for the reported (reduced) loss, in the chosen base."""
    grad_probs: FloatArray | None
    """(N, C) ∂L/∂p = -y/p (scaled like ``grad``) when the input was probabilities."""
    sigmoid: bool

    @property
    def clipped_terms(self) -> int:
        """Every clip: the softmax of log p, and so each class's gradient, uses every p."""
        return self.clipped_count

    @property
    def element_wise(self) -> bool:
        return self.sigmoid

    def _extra_json(self) -> dict[str, JsonValue]:
        document: dict[str, JsonValue] = {"grad": json_array(self.grad)}
        if self.grad_probs is not None:
            document["grad_probs"] = json_array(self.grad_probs)
        return document


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class FocalResult(LossResult):
    """Focal loss ``-α_t·(1-p_t)^γ·log p_t`` next to plain cross-entropy."""

    name: ClassVar[str] = "focal"

    p_t: FloatArray
    """(N, C) the probability given to what happened: p where y=1, 1-p where y=0 (binary)."""
    modulating: FloatArray
    """(N, C) the factor (1 - p_t)^γ."""
    alpha_t: FloatArray | None
    ce_terms: FloatArray
    """(N, C) the cross-entropy terms, in the chosen base."""
    terms: FloatArray
    """(N, C) the focal terms, in the chosen base."""
    per_row_ce: FloatArray
    ce: float | FloatArray
    gamma: float
    alpha: float | None
    binary: bool

    @property
    def clipped_terms(self) -> int:
        """Binary: every clip (p and 1 - p both enter); else those of a nonzero target."""
        return self.clipped_count if self.binary else super().clipped_terms

    @property
    def element_wise(self) -> bool:
        return self.binary

    def _extra_json(self) -> dict[str, JsonValue]:
        return {
            "ce": json_array(self.ce),
            "per_row_ce": json_array(self.per_row_ce),
            "gamma": json_number(self.gamma),
            "alpha": None if self.alpha is None else json_number(self.alpha),
        }
