"""cecli: compute, check and explain classification losses.

The Python API is the same seven computations the ``cecli`` command runs::

    >>> import cecli
    >>> cecli.ce([1, 0, 0, 0, 0], [0.1, 0.5, 0.1, 0.1, 0.2]).loss
    2.3025850929940455

Each function takes labels and predictions as array-likes and returns a frozen result (see
:mod:`cecli.results`); invalid input raises :class:`InputError`, a ``ValueError``.

:func:`score_file` scores a CSV or Parquet file; :func:`compare_frameworks` and :func:`like`
say what PyTorch, Keras, scikit-learn and optax return.  Every name is imported on first
use, so that ``import cecli`` stays quick (polars is not imported).
"""

from __future__ import annotations

import importlib

# Not typing's: `import cecli` runs before the console script can catch a Ctrl-C, and
# importing typing was most of that time (a Ctrl-C then ended in a traceback).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cecli.batch import BatchSummary
    from cecli.frameworks import (
        FileComparison,
        FrameworksComparison,
        Missing,
        Reproduction,
        Unsupported,
        compare_frameworks,
        compare_frameworks_on_file,
        like,
    )
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
    from cecli.scoring import ScoredRows, ScoringProgress, score_file

__version__ = "0.1.0"

_ON_FIRST_USE: dict[str, str] = {
    "bce": "cecli.losses",
    "binary_cross_entropy": "cecli.losses",
    "categorical_cross_entropy": "cecli.losses",
    "ce": "cecli.losses",
    "focal": "cecli.losses",
    "focal_gradient": "cecli.losses",
    "focal_loss": "cecli.losses",
    "grad": "cecli.losses",
    "kl": "cecli.losses",
    "kl_divergence": "cecli.losses",
    "label_smoothing": "cecli.losses",
    "logit_gradient": "cecli.losses",
    "multilabel": "cecli.losses",
    "multilabel_cross_entropy": "cecli.losses",
    "smooth": "cecli.losses",
    "BinaryResult": "cecli.results",
    "CrossEntropyResult": "cecli.results",
    "FocalResult": "cecli.results",
    "GradResult": "cecli.results",
    "KLResult": "cecli.results",
    "LossResult": "cecli.results",
    "MultilabelResult": "cecli.results",
    "SmoothingResult": "cecli.results",
    "InputError": "cecli.inputs",
    "BatchSummary": "cecli.batch",
    "FrameworksComparison": "cecli.frameworks",
    "Missing": "cecli.frameworks",
    "Reproduction": "cecli.frameworks",
    "Unsupported": "cecli.frameworks",
    "compare_frameworks": "cecli.frameworks",
    "compare_frameworks_on_file": "cecli.frameworks",
    "FileComparison": "cecli.frameworks",
    "like": "cecli.frameworks",
    "ScoredRows": "cecli.scoring",
    "ScoringProgress": "cecli.scoring",
    "score_file": "cecli.scoring",
}
"""Every public name, imported when first used: ``import cecli`` itself imports nothing
heavy, so the ``cecli`` command can be quiet on Ctrl-C from its first instant (see
:mod:`cecli._entry`), and polars is loaded only for files."""


def __getattr__(name: str) -> Any:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'cecli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BatchSummary",
    "BinaryResult",
    "CrossEntropyResult",
    "FileComparison",
    "FocalResult",
    "FrameworksComparison",
    "GradResult",
    "InputError",
    "KLResult",
    "LossResult",
    "Missing",
    "MultilabelResult",
    "Reproduction",
    "ScoredRows",
    "ScoringProgress",
    "SmoothingResult",
    "Unsupported",
    "__version__",
    "bce",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "ce",
    "compare_frameworks",
    "compare_frameworks_on_file",
    "focal",
    "focal_gradient",
    "focal_loss",
    "grad",
    "kl",
    "kl_divergence",
    "label_smoothing",
    "like",
    "logit_gradient",
    "multilabel",
    "multilabel_cross_entropy",
    "score_file",
    "smooth",
]


def __dir__() -> list[str]:
    return sorted([*globals(), *_ON_FIRST_USE])
