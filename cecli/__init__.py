"""cecli: compute, check and explain classification losses.

The Python API is the same seven computations the ``cecli`` command runs::

    >>> import cecli
    >>> cecli.ce([1, 0, 0, 0, 0], [0.1, 0.5, 0.1, 0.1, 0.2]).loss
    2.3025850929940455

Each function takes labels and predictions as array-likes and returns a frozen result (see
:mod:`cecli.results`); invalid input raises :class:`InputError`, a ``ValueError``.
"""

from cecli.inputs import InputError
from cecli.losses import (
    bce,
    binary_cross_entropy,
    categorical_cross_entropy,
    ce,
    focal,
    focal_gradient,
    focal_loss,
    grad,
    kl,
    kl_divergence,
    label_smoothing,
    logit_gradient,
    multilabel,
    multilabel_cross_entropy,
    smooth,
)
from cecli.results import (
    BinaryResult,
    CrossEntropyResult,
    FocalResult,
    GradResult,
    KLResult,
    LossResult,
    MultilabelResult,
    SmoothingResult,
)

__version__ = "0.1.0"

__all__ = [
    "BinaryResult",
    "CrossEntropyResult",
    "FocalResult",
    "GradResult",
    "InputError",
    "KLResult",
    "LossResult",
    "MultilabelResult",
    "SmoothingResult",
    "__version__",
    "bce",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "ce",
    "focal",
    "focal_gradient",
    "focal_loss",
    "grad",
    "kl",
    "kl_divergence",
    "label_smoothing",
    "logit_gradient",
    "multilabel",
    "multilabel_cross_entropy",
    "smooth",
]
