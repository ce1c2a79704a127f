"""A logit of -inf in a file is a mask, as typed: its probability is exactly 0, and the loss
is +inf only where the true class is masked; +inf and nan stay errors with their place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import pytest

from cecli.registry import Command, compute
from cecli.scoring import score_file
from tests import oracle
from tests.helpers import assert_close, run

NEG = -np.inf
LABELS = [0, 2, 1, 2]
LOGITS = [[2.0, NEG, 0.5], [NEG, 1.0, 3.0], [0.0, 1.0, NEG], [1000.0, NEG, 999.0]]
TARGETS = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
P = [[0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.1, 0.8, 0.1], [0.4, 0.4, 0.2]]


def _write(path: Path, columns: dict[str, list[Any]], kind: Literal["csv", "parquet"]) -> Path:
    frame = pl.DataFrame(columns)
    if kind == "csv":
        frame.write_csv(path.with_suffix(".csv"))
        return path.with_suffix(".csv")
    frame.write_parquet(path.with_suffix(".parquet"))
    return path.with_suffix(".parquet")


def _columns(labels: list[Any], preds: list[list[float]], prefix: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    if isinstance(labels[0], list):
        found.update({f"y{c}": [row[c] for row in labels] for c in range(len(labels[0]))})
    else:
        found["label"] = labels
    found.update({f"{prefix}{c}": [row[c] for row in preds] for c in range(len(preds[0]))})
    return found


# Smoothed targets and P of KL put mass on every class, masked ones too: those rows are inf.
CASES: list[tuple[Command, list[Any], dict[str, Any], bool]] = [
    ("ce", LABELS, {}, True),
    ("ce", TARGETS, {"smoothing": 0.1}, False),
    ("smooth", LABELS, {"smoothing": 0.2}, False),
    ("focal", LABELS, {"gamma": 2.0}, True),
    ("grad", LABELS, {}, True),
    ("kl", P, {}, False),
    ("bce", TARGETS, {}, True),
    ("multilabel", TARGETS, {}, True),
    ("focal", TARGETS, {"binary": True}, True),
]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize(("loss", "labels", "options", "finite"), CASES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_a_file_of_masked_logits_gives_the_typed_values(
    tmp_path: Path,
    kind: Literal["csv", "parquet"],
    loss: Command,
    labels: list[Any],
    options: dict[str, Any],
    finite: bool,
    reduction: Literal["mean", "none"],
) -> None:
    path = _write(tmp_path / "rows", _columns(labels, LOGITS, "p"), kind)
    rows: list[float] = []
    summary = score_file(
        path, loss, logits=True, reduction=reduction, **options,
        on_rows=lambda scored: rows.extend(scored.losses.tolist()),
    )  # fmt: skip
    typed = compute(loss, np.array(labels), np.array(LOGITS), logits=True, reduction=reduction,
                    **options)  # fmt: skip
    assert rows == typed.per_row.tolist()
    if reduction == "mean":
        # The file's mean is an exact sum rounded once; typed element-wise means (binary focal)
        # add in float64 first, one rounding apart.
        assert summary.loss == pytest.approx(typed.loss, rel=1e-15)
    assert bool(np.isfinite(typed.per_row).all()) == finite


def test_a_masked_true_class_is_an_infinite_loss_with_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path / "rows", _columns([1, 0], [[2.0, NEG], [0.0, 1.0]], "z"), "csv")
    code, out, err = run("ce", "--csv", str(path), "--logits", "--json")
    assert code == 0, err
    assert json.loads(out)["loss"] == "inf"
    assert "a true class's logit is -inf (masked)" in err
    assert err.startswith("cecli: warning: ")


def test_the_values_are_the_oracles(tmp_path: Path) -> None:
    path = _write(tmp_path / "rows", _columns(LABELS, LOGITS, "z"), "csv")
    summary = score_file(path, "ce", logits=True, reduction="sum")
    loss, _ = oracle.ce(oracle.one_hot(LABELS, 3), LOGITS, logits=True, reduction="sum")
    assert_close(summary.loss, loss)


@pytest.mark.parametrize(
    ("row", "logits", "message"),
    [
        ("0,inf,1", True, ":2:2: 'inf' is not a finite number"),
        ("0,+inf,1", True, ":2:2: '+inf' is not a finite number"),
        ("0,1,nan", True, ":2:3: 'nan' is not a finite number"),
        ("0,-inf,-inf", True, ":2:2: '-inf' is masked, as is every logit of its row"),
        ("0,-inf,0.5", False, ":2:2: '-inf' is not a finite number"),
    ],
)
def test_other_non_finite_values_stay_errors_with_their_place(
    tmp_path: Path, row: str, logits: bool, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"label,z0,z1\n{row}\n")
    code, out, err = run("ce", "--csv", str(path), *(["--logits"] if logits else []))
    assert code == 2
    assert out == ""
    assert err == f"cecli: error: {path}{message}" + err.split(message, 1)[1]
    assert err.count("\n") == 1


def test_a_row_of_masked_binary_logits_is_scored(tmp_path: Path) -> None:
    """Sigmoid outputs are independent: every one of them may be masked."""
    path = _write(tmp_path / "rows", _columns([[0.0, 0.0]], [[NEG, NEG]], "z"), "csv")
    assert score_file(path, "multilabel", logits=True).loss == 0.0
