"""``--like`` over a file equals what the real library returns for the file's rows.

A small file is scored with :func:`cecli.frameworks.compare_frameworks_on_file`; the same
rows typed give the call that :func:`cecli.frameworks.like` prints, which is run in the real
library: the two values must agree within the library's own precision.  A weight column is
the library's ``sample_weight``, an ignore index its ``ignore_index``/``ignore_class``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from cecli import frameworks
from cecli.frameworks import Command, Library, Reproduction, compare_frameworks_on_file
from tests.frameworks.real import run
from tests.frameworks.test_like import installed
from tests.helpers import within_rounding

generator = np.random.default_rng(14)
ROWS, CLASSES = 40, 4
INDICES = generator.integers(0, CLASSES, ROWS)
P = generator.dirichlet(np.full(CLASSES, 0.7), ROWS)
P[0] = [0.0, 1.0, 0.0, 0.0]  # a probability of exactly 0 and 1
Z = generator.normal(0.0, 4.0, (ROWS, CLASSES))
Z[1, (INDICES[1] + 1) % CLASSES] = -np.inf  # a masked class that is not the true one
BITS = (generator.random((ROWS, CLASSES)) < 0.4).astype(float)
WEIGHTS = generator.choice([0.0, 0.5, 1.0, 3.4], ROWS)
WEIGHTS[0] = 1.0
IGNORED = np.where(generator.random(ROWS) < 0.25, -100, INDICES)
IGNORED[0] = INDICES[0]

CASES: list[tuple[str, Command, Any, Any, dict[str, Any]]] = [
    ("ce of probabilities", "ce", INDICES, P, {}),
    ("ce of logits, a masked class", "ce", INDICES, Z, {"logits": True}),
    ("ce, weighted rows", "ce", INDICES, P, {"weighted": True}),
    ("ce, ignored rows", "ce", IGNORED, Z, {"logits": True, "ignore_index": -100}),
    ("ce, ignored and weighted rows", "ce", IGNORED, P, {"ignore_index": -100, "weighted": True}),
    ("smooth", "smooth", INDICES, Z, {"logits": True, "smoothing": 0.1}),
    ("focal", "focal", INDICES, P, {"gamma": 2.0}),
    ("bce, weighted rows", "bce", BITS, P, {"weighted": True}),
    ("multilabel of logits", "multilabel", BITS, Z, {"logits": True}),
    ("kl", "kl", P[::-1], np.clip(P, 1e-3, None), {}),
]


def _file(folder: Path, labels: Any, preds: Any, weighted: bool) -> Path:
    columns: dict[str, Any] = {}
    if np.ndim(labels) == 1:
        columns["label"] = labels.tolist()
    else:
        columns.update({f"y{c}": labels[:, c].tolist() for c in range(labels.shape[1])})
    columns.update({f"p{c}": preds[:, c].tolist() for c in range(preds.shape[1])})
    if weighted:
        columns["weight"] = WEIGHTS.tolist()
    path = folder / "rows.csv"
    pl.DataFrame(columns).write_csv(path)
    return path


@pytest.mark.parametrize("library", list(frameworks.FRAMEWORKS))
@pytest.mark.parametrize(("name", "loss", "labels", "preds", "given"), CASES)
def test_like_over_a_file_equals_the_library_on_its_rows(
    tmp_path: Path, library: Library, name: str, loss: Command, labels: Any, preds: Any,
    given: dict[str, Any],
) -> None:  # fmt: skip
    if not installed(library):
        pytest.skip(f"{library} is not installed (see README.md, Set-up: the framework tests)")
    options = {key: value for key, value in given.items() if key != "weighted"}
    weighted = bool(given.get("weighted"))
    typed_options = {**options, **({"sample_weights": WEIGHTS} if weighted else {})}
    label_array = np.asarray(labels, dtype=np.float64)
    try:
        typed = frameworks.like(loss, label_array, preds, library=library, **typed_options)
    except frameworks.Unsupported:
        with pytest.raises(frameworks.Unsupported):
            compare_frameworks_on_file(
                _file(tmp_path, labels, preds, weighted), loss, library=library, **options
            )
        return
    path = _file(tmp_path, labels, preds, weighted)
    (found,) = compare_frameworks_on_file(path, loss, library=library, **options).found
    assert isinstance(found, Reproduction)
    real = run(library, typed.call)
    scale = max(1.0, float(np.abs(real[np.isfinite(real)]).max(initial=0.0)))
    assert within_rounding(real, found.value, typed.dtype, scale), (
        f"{name}: {library} gives {real!r} on the rows, {found.value!r} over the file"
    )
