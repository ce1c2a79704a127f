"""The seven losses by their command name, for callers that choose one by name.

``cecli.compute("ce", labels, preds, eps=…)`` is ``cecli.categorical_cross_entropy(labels,
preds, eps=…)``; :func:`versus` scores the same labels against two predictions, with the
gradient of each where it has a closed form (``cecli ce … --vs …``).  Nothing here reads files
or prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from cecli import losses
from cecli.inputs import InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy.typing as npt

    from cecli.explain import Comparison
    from cecli.numerics import FloatArray
    from cecli.results import LossResult

Command = Literal["ce", "bce", "multilabel", "kl", "grad", "smooth", "focal"]
COMMANDS: tuple[Command, ...] = get_args(Command)


@dataclass(frozen=True)
class Loss:
    """One command's loss function, and its gradient w.r.t. the logits (∂L/∂z) if cecli has
    one in closed form."""

    function: Callable[..., LossResult]
    gradient: Callable[..., FloatArray] | None


def _logit_gradient(*, sigmoid: bool) -> Callable[..., FloatArray]:
    def gradient(labels: FloatArray, preds: FloatArray, **options: Any) -> FloatArray:
        reweighted = (
            options.get("weights") is not None
            or options.get("smoothing", 0.0) != 0.0
            or options.get("pos_weight", 1.0) != 1.0
            or options.get("neg_weight", 1.0) != 1.0
        )
        if reweighted or _reshaped(options):
            raise _NoGradient
        keywords = {k: options[k] for k in ("logits", "eps", "base", "reduction") if k in options}
        return losses.logit_gradient(
            labels, preds, sigmoid=options.get("sigmoid", sigmoid), **keywords
        ).grad

    return gradient


def _reshaped(options: dict[str, Any]) -> bool:
    """Options whose gradient the closed forms here leave out: row weights, ignored rows,
    KL's log targets and generalised form."""
    keywords = ("sample_weights", "ignore_index", "log_targets", "generalized")
    return any(options.get(name) is not None and options.get(name) is not False
               for name in keywords)  # fmt: skip


def _focal_gradient(labels: FloatArray, preds: FloatArray, **options: Any) -> FloatArray:
    options.pop("normalize", None)
    if _reshaped(options) or options.pop("smoothing", 0.0) != 0.0:
        raise _NoGradient
    return losses.focal_gradient(labels, preds, **options)


class _NoGradient(Exception):
    """The options leave the loss without a closed-form gradient here (class weights)."""


LOSSES: dict[Command, Loss] = {
    "ce": Loss(losses.categorical_cross_entropy, _logit_gradient(sigmoid=False)),
    "bce": Loss(losses.binary_cross_entropy, _logit_gradient(sigmoid=True)),
    "multilabel": Loss(losses.multilabel_cross_entropy, _logit_gradient(sigmoid=True)),
    "kl": Loss(losses.kl_divergence, _logit_gradient(sigmoid=False)),
    "grad": Loss(losses.logit_gradient, _logit_gradient(sigmoid=False)),
    "smooth": Loss(losses.label_smoothing, None),
    "focal": Loss(losses.focal_loss, _focal_gradient),
}


def loss_named(command: str) -> Loss:
    for name, loss in LOSSES.items():
        if name == command:
            return loss
    raise InputError(f"loss takes {', '.join(COMMANDS)}, not {command!r}", parameter="loss")


def compute(
    loss: str,
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    *,
    class_names: Sequence[str] | None = None,
    **options: Any,
) -> LossResult:
    """``loss`` (a command name: ``ce``, ``bce``, …) of ``preds`` against ``labels``, with
    that loss function's keyword ``options``."""
    return loss_named(loss).function(labels, preds, class_names=class_names, **options)


def versus(
    loss: str,
    labels: npt.ArrayLike,
    preds: npt.ArrayLike,
    other_preds: npt.ArrayLike,
    *,
    class_names: Sequence[str] | None = None,
    **options: Any,
) -> Comparison:
    """The same ``labels`` scored against ``preds`` (A) and ``other_preds`` (B), side by side,
    with each one's ∂L/∂z where cecli has it in closed form."""
    from cecli.explain import Comparison

    first = np.asarray(preds, dtype=np.float64)
    second = np.asarray(other_preds, dtype=np.float64)
    if first.shape != second.shape:
        rows = [shape[0] if len(shape) > 1 else 1 for shape in (second.shape, first.shape)]
        width = [shape[-1] if shape else 1 for shape in (second.shape, first.shape)]
        raise InputError(
            f"other_preds has {rows[0]} row(s) of {width[0]} values but preds has "
            f"{rows[1]} row(s) of {width[1]}",
            parameter="other_preds",
        )
    chosen = loss_named(loss)
    a = chosen.function(labels, first, class_names=class_names, **options)
    b = chosen.function(labels, second, class_names=class_names, **options)
    grad_a = grad_b = None
    if chosen.gradient is not None:
        try:
            grad_a = chosen.gradient(labels, first, **options)
            grad_b = chosen.gradient(labels, second, **options)
        except _NoGradient:
            grad_a = grad_b = None
    return Comparison(a=a, b=b, grad_a=grad_a, grad_b=grad_b)
