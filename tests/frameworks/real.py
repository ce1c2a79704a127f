"""Run a reproduction's pasted call in the real library and return what it gives."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from cecli.frameworks import IMPORTS, Library

os.environ.setdefault("KERAS_BACKEND", "torch")

NAMESPACES: dict[str, dict[str, Any]] = {}


def namespace(library: Library) -> dict[str, Any]:
    """The names a call of ``library`` uses, imported once."""
    if library not in NAMESPACES:
        scope: dict[str, Any] = {}
        exec(IMPORTS[library], scope)
        NAMESPACES[library] = scope
    return NAMESPACES[library]


def run(library: Library, call: str) -> np.ndarray:
    """Execute ``call`` as a user would paste it; the last statement's value as float64."""
    scope = dict(namespace(library))
    *statements, last = call.split("; ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for statement in statements:
                exec(statement, scope)
            value = eval(last, scope)
        finally:
            if library == "keras":
                scope["keras"].config.set_epsilon(1e-7)
            if library == "tf-keras":
                scope["tf_keras"].backend.set_epsilon(1e-7)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if hasattr(value, "numpy"):  # a TensorFlow tensor
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)
