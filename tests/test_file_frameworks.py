"""``--like`` and ``--frameworks`` over a file: each library's value over the file's rows, as
the library computes it on those rows typed, whatever the batches; a weight column is the
library's sample weights (Keras: Σ w·ℓ / N; scikit-learn: Σ w·ℓ / Σ w)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from mpmath import mp, mpf

from cecli import frameworks
from cecli.frameworks import Command, Missing, Reproduction, compare_frameworks_on_file
from tests import oracle
from tests.helpers import assert_close, run, within_rounding

LABELS = [0, 2, 1, 2, 0]
P = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3], [0.0, 0.5, 0.5], [0.6, 0.3, 0.1]]
Z = [[2.0, -1.0, 0.5], [0.0, 1.0, 3.0], [-np.inf, 1.0, 0.0], [1000.0, -1000.0, 0.0],
     [0.5, 0.5, 0.5]]  # fmt: skip
BITS = [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
WEIGHTS = [1.2, 3.4, 0.0, 0.5, 2.0]


def _frame(labels: Any, preds: Any, weights: list[float] | None = None) -> pl.DataFrame:
    columns: dict[str, Any] = {}
    if isinstance(labels[0], list):
        columns.update({f"y{c}": [row[c] for row in labels] for c in range(len(labels[0]))})
    else:
        columns["label"] = labels
    columns.update({f"p{c}": [row[c] for row in preds] for c in range(len(preds[0]))})
    if weights is not None:
        columns["weight"] = weights
    return pl.DataFrame(columns)


def _csv(folder: Path, name: str, frame: pl.DataFrame) -> Path:
    path = folder / name
    frame.write_csv(path)
    return path


CASES: list[tuple[Command, Any, Any, dict[str, Any]]] = [
    ("ce", LABELS, P, {}),
    ("ce", LABELS, Z, {"logits": True}),
    ("ce", LABELS, P, {"weights": [1.0, 2.0, 0.5]}),
    ("smooth", LABELS, Z, {"logits": True, "smoothing": 0.1}),
    ("focal", LABELS, P, {"gamma": 2.0}),
    ("bce", BITS, P, {}),
    ("multilabel", BITS, Z, {"logits": True}),
    ("kl", P[::-1], P, {}),
]


@pytest.mark.parametrize(("loss", "labels", "preds", "options"), CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_each_library_over_a_file_is_its_value_on_the_rows_typed(
    tmp_path: Path, loss: Command, labels: Any, preds: Any, options: dict[str, Any],
    reduction: str,
) -> None:  # fmt: skip
    path = _csv(tmp_path, "rows.csv", _frame(labels, preds))
    found = compare_frameworks_on_file(path, loss, reduction=reduction, **options).found
    label_array = np.array(labels, dtype=np.float64)
    compared = 0
    for item in found:
        try:
            typed = frameworks.like(loss, label_array, np.array(preds), library=item.library,
                                    reduction=reduction, **options)  # fmt: skip
        except frameworks.Unsupported as gap:
            lacks = str(gap)
        else:
            lacks = ""
        if lacks:
            assert isinstance(item, Missing)
            assert item.message == lacks
            continue
        assert isinstance(item, Reproduction), item
        # The file's values are summed exactly; a float32 library sums in float32.
        assert within_rounding(item.value, typed.value, typed.dtype, 1.0), item.library
        compared += 1
    assert compared >= 1


@pytest.mark.parametrize("library", ["torch", "keras", "tf-keras"])
def test_an_ignore_index_is_followed_per_library(tmp_path: Path, library: str) -> None:
    labels = [0, -100, 1, 2, -100]
    path = _csv(tmp_path, "rows.csv", _frame(labels, P))
    (item,) = compare_frameworks_on_file(path, "ce", library=library, ignore_index=-100).found
    typed = frameworks.like("ce", np.array(labels, float), np.array(P), library=library,
                            ignore_index=-100)  # fmt: skip
    assert isinstance(item, Reproduction)
    assert within_rounding(item.value, typed.value, typed.dtype, 1.0)


def test_the_value_does_not_depend_on_how_the_rows_are_split(tmp_path: Path) -> None:
    whole = _csv(tmp_path, "whole.csv", _frame(LABELS, P, WEIGHTS))
    first = _csv(tmp_path, "a.csv", _frame(LABELS[:2], P[:2], WEIGHTS[:2]))
    rest = _csv(tmp_path, "b.csv", _frame(LABELS[2:], P[2:], WEIGHTS[2:]))
    one = compare_frameworks_on_file(whole, "ce").found
    two = compare_frameworks_on_file([first, rest], "ce").found
    for a, b in zip(one, two, strict=True):
        assert type(a) is type(b)
        if isinstance(a, Reproduction) and isinstance(b, Reproduction):
            assert float(a.value) == float(b.value)


def _keras_weighted_oracle() -> Any:
    """Σ w·ℓ / N with ℓ = −log clip(p_y): Keras' weighted loss, in exact arithmetic."""
    _, rows = oracle.ce(oracle.one_hot(LABELS, 3), P)
    return mp.fsum(mpf(w) * r for w, r in zip(WEIGHTS, rows, strict=True)) / len(rows)


def test_a_weight_column_is_keras_sample_weight_over_n(tmp_path: Path) -> None:
    path = _csv(tmp_path, "rows.csv", _frame(LABELS, P, WEIGHTS))
    code, out, err = run("ce", "--csv", str(path), "--like", "keras", "-q")
    assert code == 0, err
    # Keras computes each row in float32: within float32 rounding of the exact value.
    assert_close(float(out), _keras_weighted_oracle(), rel=2e-7)


def test_a_weight_column_is_sklearn_sample_weight_over_its_sum(tmp_path: Path) -> None:
    path = _csv(tmp_path, "rows.csv", _frame(LABELS, P, WEIGHTS))
    code, out, err = run("ce", "--csv", str(path), "--like", "sklearn", "--json")
    assert code == 0, err
    document = json.loads(out)
    _, rows = oracle.ce(oracle.one_hot(LABELS, 3), P, eps=2.220446049250313e-16)
    expected = mp.fsum(mpf(w) * r for w, r in zip(WEIGHTS, rows, strict=True)) / mp.fsum(
        mpf(w) for w in WEIGHTS
    )
    assert_close(document["value"], expected)
    assert document["rows"] == 5
    assert document["library"] == "sklearn"


@pytest.mark.parametrize("library", ["torch", "optax"])
def test_a_library_without_sample_weights_is_one_error_line(tmp_path: Path, library: str) -> None:
    path = _csv(tmp_path, "rows.csv", _frame(LABELS, P, WEIGHTS))
    code, out, err = run("ce", "--csv", str(path), "--like", library)
    assert code == 2
    assert out == ""
    assert err.startswith("cecli: error: the weight column (--weight-col) has no counterpart in ")
    assert "nearest: " in err
    assert err.count("\n") == 1


def test_frameworks_over_a_file_is_a_table_of_every_library(tmp_path: Path) -> None:
    path = _csv(tmp_path, "rows.csv", _frame(LABELS, P, WEIGHTS))
    code, out, err = run("ce", "--csv", str(path), "--frameworks")
    assert code == 0, err
    assert "5 rows of" in out
    for library in frameworks.FRAMEWORKS:
        assert f"\n  {library} " in out
    assert "÷ N (zero weights counted)" in out  # Keras' divisor is named

    code, out, err = run("ce", "--csv", str(path), "--frameworks", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert set(document["frameworks"]) == set(frameworks.FRAMEWORKS)
    assert document["frameworks"]["torch"]["value"] is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reduction", "none"], "use --reduction mean or sum"),
        (["--by-file"], "does not go with --by-file"),
        (["--per-class"], "does not go with --per-class"),
        (["--output", "rows.csv"], "does not go with --output"),
    ],
)
def test_per_row_and_per_group_outputs_do_not_go_with_like(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    path = _csv(tmp_path, "rows.csv", _frame(LABELS, P))
    code, out, err = run("ce", "--csv", str(path), "--like", "torch", *extra)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_a_file_name_in_the_title_is_shown_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _csv(tmp_path, "[bold]rows.csv", _frame(LABELS, P))
    monkeypatch.chdir(tmp_path)  # a short name: the title is one line
    code, out, err = run("ce", "--csv", "[bold]rows.csv", "--like", "torch")
    assert code == 0, err
    assert out.splitlines()[0].rstrip() == "cecli ce --like torch: 5 rows of [bold]rows.csv"


def test_columns_named_logit_are_read_as_logits_by_every_library(tmp_path: Path) -> None:
    """As cecli reads them without --logits: each library gets the rows as logits too."""
    frame = pl.DataFrame(
        {
            "label": LABELS,
            **{f"logit_{name}": [row[c] for row in Z] for c, name in enumerate("abc")},
        }
    )
    path = _csv(tmp_path, "logits.csv", frame)
    found = compare_frameworks_on_file(path, "ce").found
    for item in found:
        typed = frameworks.like(
            "ce", np.array(LABELS, float), np.array(Z), library=item.library, logits=True
        )
        assert isinstance(item, Reproduction)
        assert within_rounding(item.value, typed.value, typed.dtype, 1.0), item.library
