"""A file scored as a model evaluation: accuracy, per-class and per-group rows.

Every number is checked against a plain-Python reference over the same rows: counts and
probabilities summed as fractions (a correctly rounded ratio of exact sums must come out
bit for bit), losses from their definition in mpmath.
"""

from __future__ import annotations

import itertools
import json
import pickle
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpmath import mp, mpf

import cecli
import cecli.evaluation
import cecli.files
from cecli.batch import BatchSummary
from cecli.evaluation import Breakdown
from cecli.files import KeyColumn
from cecli.inputs import InputError
from cecli.scoring import LossName
from tests import oracle
from tests.helpers import assert_close

RNG = np.random.default_rng(13)
NAMES = ("cat", "dog", "bird", "fish")


def _mpf(value: Fraction) -> Any:
    """A fraction as an mpmath number (mpmath before 1.4 does not take a Fraction)."""
    return mpf(value.numerator) / mpf(value.denominator)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    lines = [",".join(header)]
    lines += [",".join(repr(v) if isinstance(v, float) else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ratio(numerator: Fraction, denominator: Fraction) -> float:
    """The correctly rounded quotient of two exact sums: what the library must give."""
    return float(numerator / denominator)


def _rank(scores: Sequence[float], true_class: int) -> int:
    """0 for the top class: higher scores first, the lower index first among equal scores."""
    order = sorted(range(len(scores)), key=lambda k: (-scores[k], k))
    return order.index(true_class)


class CategoricalRows:
    """Random rows of class names, probabilities, weights and a split column."""

    def __init__(self, count: int, classes: int = 4, *, missing_class: int | None = None):
        names = [*NAMES, *(f"c{k}" for k in range(len(NAMES), classes))][:classes]
        self.names = names
        labels = RNG.integers(0, classes, count)
        if missing_class is not None:
            labels[labels == missing_class] = (missing_class + 1) % classes
        self.labels = [int(v) for v in labels]
        preds = RNG.dirichlet([0.7] * classes, count)
        # Ties: a few rows with the true class level with another class.
        for row in range(0, count, 17):
            other = (self.labels[row] + 1) % classes
            preds[row, other] = preds[row, self.labels[row]]
        self.preds = [[float(v) for v in row] for row in preds]
        self.weights = [float(v) for v in RNG.choice([0.5, 1.0, 2.0, 0.25, 3.0], count)]
        self.splits = [str(v) for v in RNG.choice(["train", "test", "valid"], count)]
        self.splits[-1] = "holdout"  # a group of one row

    def write(self, path: Path) -> Path:
        header = ["id", "label", "weight", "split", *(f"p_{n}" for n in self.names)]
        rows = [
            [f"r{i}", self.names[y], w, s, *p]
            for i, (y, w, s, p) in enumerate(
                zip(self.labels, self.weights, self.splits, self.preds, strict=True)
            )
        ]
        return _write_csv(path, header, rows)

    def reference(self, rows: Sequence[int], top_k: int | None) -> dict[str, object]:
        """Exact weighted accuracy, top-k accuracy and mean p of the true class over ``rows``;
        the weighted mean of -log p (mpmath) and the worst row."""
        weight = sum((Fraction(self.weights[i]) for i in rows), Fraction(0))
        correct = sum(
            (Fraction(self.weights[i]) for i in rows if _rank(self.preds[i], self.labels[i]) == 0),
            Fraction(0),
        )
        p_true = sum(
            (Fraction(self.weights[i]) * Fraction(self.preds[i][self.labels[i]]) for i in rows),
            Fraction(0),
        )
        losses = {i: -mp.log(mpf(self.preds[i][self.labels[i]])) for i in rows}
        loss = mp.fsum(mpf(self.weights[i]) * losses[i] for i in rows) / _mpf(weight or Fraction(1))
        worst = max(rows, key=lambda i: (losses[i], -i)) if rows else None
        result: dict[str, object] = {
            "rows": len(rows), "weight": float(weight),
            "accuracy": _ratio(correct, weight) if rows else None,
            "mean_p_true": _ratio(p_true, weight) if rows else None,
            "loss": loss, "worst_line": None if worst is None else worst + 2,
        }  # fmt: skip
        if top_k is not None:
            in_top = sum(
                (
                    Fraction(self.weights[i])
                    for i in rows
                    if _rank(self.preds[i], self.labels[i]) < top_k
                ),
                Fraction(0),
            )
            result["top_k_accuracy"] = _ratio(in_top, weight)
        return result


def _score(path: Path, **options: Any) -> BatchSummary:
    return cecli.score_file(path, "ce", weight_col="weight", id_col="id", **options)


def _check_row(row: Breakdown, expected: dict[str, object]) -> None:
    assert row.rows == expected["rows"]
    assert row.weight == expected["weight"]
    assert row.accuracy == expected["accuracy"]
    assert row.mean_p_true == expected["mean_p_true"]
    if "top_k_accuracy" in expected:
        assert row.top_k_accuracy == expected["top_k_accuracy"]
    assert row.worst_line == expected["worst_line"]
    if row.rows:
        assert_close(row.loss, expected["loss"])


# --- accuracy beside the loss -----------------------------------------------------------------


def test_accuracy_and_mean_p_true_equal_exact_weighted_sums(tmp_path: Path) -> None:
    data = CategoricalRows(300)
    summary = _score(data.write(tmp_path / "rows.csv"), pred_cols="p_*", label_col="label",
                     class_names=data.names)  # fmt: skip
    expected = data.reference(range(300), None)
    assert summary.accuracy is not None
    assert summary.accuracy.accuracy == expected["accuracy"]
    assert summary.accuracy.mean_p_true == expected["mean_p_true"]
    assert summary.accuracy.top_k is None  # 4 classes: top-5 would say nothing
    assert summary.weighted
    document = summary.to_json()
    assert document["accuracy"] == expected["accuracy"]
    assert document["mean_p_true"] == expected["mean_p_true"]
    assert "top_k" not in document


def test_a_thousand_classes_from_logits_rank_top_1_and_top_5(tmp_path: Path) -> None:
    classes, count = 1000, 60
    logits = RNG.normal(0.0, 3.0, (count, classes))
    labels = RNG.integers(0, classes, count)
    # Some rows whose true class is the top one, or just inside or outside the top five.
    for chosen in range(0, count, 4):
        order = np.argsort(-logits[chosen], kind="stable")
        labels[chosen] = order[chosen % 7]
    header = ["label", *(f"p{k}" for k in range(classes))]
    rows = [[int(y), *(float(v) for v in z)] for y, z in zip(labels, logits, strict=True)]
    path = _write_csv(tmp_path / "wide.csv", header, rows)
    summary = cecli.score_file(path, "ce", logits=True, per_class=True)
    ranks = [_rank(list(map(float, z)), int(y)) for y, z in zip(labels, logits, strict=True)]
    assert summary.accuracy is not None
    assert summary.accuracy.accuracy == _ratio(Fraction(ranks.count(0)), Fraction(count))
    assert summary.accuracy.top_k == 5  # the default past five classes
    assert summary.accuracy.top_k_accuracy == _ratio(
        Fraction(sum(r < 5 for r in ranks)), Fraction(count)
    )
    with mp.workdps(30):  # plenty for a relative error of 1e-13, and quicker over 1000 classes
        log_p = [
            oracle.log_softmax(list(map(float, z)))[int(y)]
            for y, z in zip(labels, logits, strict=True)
        ]
    p_true = [mp.exp(value) for value in log_p]
    assert_close(summary.accuracy.mean_p_true, mp.fsum(p_true) / count, rel=1e-13)
    assert summary.per_class is not None
    assert len(summary.per_class) == classes
    present = {int(y) for y in labels}
    for index, row in enumerate(summary.per_class):
        assert row.name == f"p{index}"
        rows_of_class = [i for i in range(count) if labels[i] == index]
        assert row.rows == len(rows_of_class)
        if index not in present:  # an empty class: nothing to report, nothing invented
            assert (row.loss, row.accuracy, row.share, row.worst_line) == (None, None, None, None)
        else:
            hits = sum(ranks[i] == 0 for i in rows_of_class)
            assert row.accuracy == _ratio(Fraction(hits), Fraction(len(rows_of_class)))
            loss = mp.fsum(-log_p[i] for i in rows_of_class) / len(rows_of_class)
            assert_close(row.loss, loss)


def test_top_k_can_be_chosen_and_ties_rank_the_lower_index_first(tmp_path: Path) -> None:
    rows = [[1, 0.4, 0.4, 0.2], [0, 0.4, 0.4, 0.2], [2, 0.3, 0.3, 0.4], [2, 0.5, 0.3, 0.2]]
    path = _write_csv(tmp_path / "ties.csv", ["label", "p0", "p1", "p2"], rows)
    summary = cecli.score_file(path, "ce", top_k=2)
    assert summary.accuracy is not None
    # Row 1: class 1 level with class 0, which ranks first: wrong at top-1, right at top-2.
    assert summary.accuracy.accuracy == 0.5
    assert summary.accuracy.top_k == 2
    assert summary.accuracy.top_k_accuracy == 0.75
    assert summary.to_json()["top_k_accuracy"] == 0.75


@pytest.mark.parametrize("loss", ["focal", "smooth"])
def test_focal_and_smoothing_report_the_same_accuracy_as_ce(tmp_path: Path, loss: LossName) -> None:
    data = CategoricalRows(80)
    path = data.write(tmp_path / "rows.csv")
    summary = cecli.score_file(
        path, loss, label_col="label", pred_cols="p_*", class_names=data.names,
        weight_col="weight",
    )  # fmt: skip
    expected = data.reference(range(80), None)
    assert summary.accuracy is not None
    assert summary.accuracy.accuracy == expected["accuracy"]
    assert summary.accuracy.mean_p_true == expected["mean_p_true"]


def test_one_hot_label_columns_take_the_largest_label_as_the_true_class(tmp_path: Path) -> None:
    rows = [[0.0, 1.0, 0.0, 0.2, 0.7, 0.1], [1.0, 0.0, 0.0, 0.2, 0.7, 0.1],
            [0.0, 0.0, 1.0, 0.1, 0.1, 0.8]]  # fmt: skip
    path = _write_csv(tmp_path / "onehot.csv", ["y0", "y1", "y2", "p0", "p1", "p2"], rows)
    summary = cecli.score_file(path, "ce")
    assert summary.accuracy is not None
    assert summary.accuracy.accuracy == _ratio(Fraction(2), Fraction(3))
    assert summary.accuracy.mean_p_true == float(
        (Fraction(0.7) + Fraction(0.2) + Fraction(0.8)) / 3
    )


# --- binary outputs ----------------------------------------------------------------------------


class BinaryRows:
    def __init__(self, count: int, outputs: int, *, logits: bool = False) -> None:
        self.labels = RNG.integers(0, 2, (count, outputs)).astype(float).tolist()
        if logits:
            self.preds = RNG.normal(0.0, 2.0, (count, outputs)).tolist()
        else:
            self.preds = RNG.uniform(0.0, 1.0, (count, outputs)).tolist()
            self.preds[0][0] = 0.5  # on the threshold: not above it, so negative
        self.weights = RNG.choice([1.0, 0.5, 4.0], count).tolist()
        self.outputs = outputs

    def write(self, path: Path) -> Path:
        header = [*(f"y{k}" for k in range(self.outputs)), *(f"p{k}" for k in range(self.outputs))]
        header.append("w")
        rows = [[*y, *p, w] for y, p, w in zip(self.labels, self.preds, self.weights, strict=True)]
        return _write_csv(path, header, rows)


@pytest.mark.parametrize("loss", ["bce", "multilabel"])
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_outputs_accuracy_at_a_threshold_and_per_output_rows(
    tmp_path: Path, loss: LossName, threshold: float
) -> None:
    data = BinaryRows(150, 3)
    path = data.write(tmp_path / "multi.csv")
    summary = cecli.score_file(
        path, loss, pred_cols="p*", weight_col="w", threshold=threshold, per_class=True, eps=0.0
    )
    weight = sum(map(Fraction, data.weights), Fraction(0))
    right = [[(p > threshold) == (y >= 0.5) for y, p in zip(ys, ps, strict=True)]
             for ys, ps in zip(data.labels, data.preds, strict=True)]  # fmt: skip
    correct = sum(
        (Fraction(w) * sum(r) for w, r in zip(data.weights, right, strict=True)), Fraction(0)
    )
    exact = sum(
        (Fraction(w) for w, r in zip(data.weights, right, strict=True) if all(r)), Fraction(0)
    )
    p_true = sum(
        (Fraction(w) * (Fraction(p) if y else 1 - Fraction(p))
         for ys, ps, w in zip(data.labels, data.preds, data.weights, strict=True)
         for y, p in zip(ys, ps, strict=True)),
        Fraction(0),
    )  # fmt: skip
    assert summary.accuracy is not None
    assert summary.accuracy.threshold == threshold
    assert summary.accuracy.accuracy == _ratio(correct, 3 * weight)
    assert summary.accuracy.exact_match == _ratio(exact, weight)
    assert summary.accuracy.mean_p_true == _ratio(p_true, 3 * weight)
    assert summary.per_class is not None
    assert [r.name for r in summary.per_class] == [
        "p0",
        "p1",
        "p2",
    ]
    total = mp.fsum(
        mpf(w) * oracle.term(mpf(1), oracle.log(mpf(p) if y else 1 - mpf(p)))
        for ys, ps, w in zip(data.labels, data.preds, data.weights, strict=True)
        for y, p in zip(ys, ps, strict=True)
    )
    for column, row in enumerate(summary.per_class):
        triples = [
            (ys[column], ps[column], w)
            for ys, ps, w in zip(data.labels, data.preds, data.weights, strict=True)
        ]
        assert row.positives == sum(1 for y, _, _ in triples if y)
        hits = sum(
            (Fraction(w) for y, p, w in triples if (p > threshold) == (y >= 0.5)), Fraction(0)
        )
        assert row.accuracy == _ratio(hits, weight)
        positive = mp.fsum(-mpf(w) * mp.log(mpf(p)) for y, p, w in triples if y)
        negative = mp.fsum(-mpf(w) * mp.log(1 - mpf(p)) for y, p, w in triples if not y)
        assert_close(row.positive_loss, positive / _mpf(weight))
        assert_close(row.negative_loss, negative / _mpf(weight))
        assert_close(row.loss, (positive + negative) / _mpf(weight))
        assert_close(row.share, (positive + negative) / total)


def test_binary_accuracy_from_logits_thresholds_the_sigmoid(tmp_path: Path) -> None:
    data = BinaryRows(100, 2, logits=True)
    path = data.write(tmp_path / "logits.csv")
    summary = cecli.score_file(path, "multilabel", pred_cols="p*", logits=True, threshold=0.7)
    right = [(oracle.sigmoid(p) > mpf(0.7)) == (y >= 0.5)
             for ys, ps in zip(data.labels, data.preds, strict=True)
             for y, p in zip(ys, ps, strict=True)]  # fmt: skip
    assert summary.accuracy is not None
    assert summary.accuracy.accuracy == _ratio(Fraction(sum(right)), Fraction(200))
    p_true = mp.fsum(
        oracle.sigmoid(p) if y else oracle.sigmoid(-p)
        for ys, ps in zip(data.labels, data.preds, strict=True)
        for y, p in zip(ys, ps, strict=True)
    )
    assert_close(summary.accuracy.mean_p_true, p_true / 200, rel=1e-14)


# --- per class and per group -------------------------------------------------------------------


def test_per_class_rows_with_an_empty_class_and_weights(tmp_path: Path) -> None:
    data = CategoricalRows(200, missing_class=2)
    path = data.write(tmp_path / "rows.csv")
    summary = _score(path, pred_cols="p_*", label_col="label", class_names=data.names,
                     per_class=True)  # fmt: skip
    assert summary.per_class is not None
    assert [row.name for row in summary.per_class] == list(data.names)
    total_loss = mp.fsum(
        mpf(w) * -mp.log(mpf(p[y]))
        for y, p, w in zip(data.labels, data.preds, data.weights, strict=True)
    )
    for index, row in enumerate(summary.per_class):
        rows = [i for i, y in enumerate(data.labels) if y == index]
        _check_row(row, data.reference(rows, None))
        if rows:
            share = mp.fsum(mpf(data.weights[i]) * -mp.log(mpf(data.preds[i][index])) for i in rows)
            assert_close(row.share, share / total_loss)
    empty = summary.per_class[2]
    assert empty.rows == 0
    assert empty.loss is None
    assert empty.accuracy is None
    document = summary.to_json()
    per_class: Any = document["per_class"]
    assert per_class["bird"]["rows"] == 0
    assert per_class["bird"]["loss"] is None
    json.dumps(document, allow_nan=False)


def test_groups_by_one_column_are_sorted_by_loss_with_a_group_of_one_row(tmp_path: Path) -> None:
    data = CategoricalRows(250)
    path = data.write(tmp_path / "rows.csv")
    summary = _score(path, pred_cols="p_*", label_col="label", class_names=data.names,
                     by="split", top_k=2)  # fmt: skip
    assert summary.groups is not None
    assert summary.group_by == ("split",)
    assert sorted(row.key for row in summary.groups) == [
        ("holdout",),
        ("test",),
        ("train",),
        ("valid",),
    ]
    losses = [row.loss for row in summary.groups]
    assert losses == sorted(losses, key=lambda v: -v if v is not None else 0.0)
    for row in summary.groups:
        rows = [i for i, s in enumerate(data.splits) if s == row.key[0]]
        _check_row(row, data.reference(rows, 2))
    (single,) = [row for row in summary.groups if row.key == ("holdout",)]
    assert single.rows == 1
    assert single.worst_line == 251
    document = summary.to_json()
    assert document["group_by"] == ["split"]
    groups: Any = document["groups"]
    assert [g["by"] for g in groups] == [{"split": row.key[0]} for row in summary.groups]


def test_groups_by_two_columns_and_the_sum_reduction(tmp_path: Path) -> None:
    header = ["label", "model", "split", "p0", "p1"]
    rows: list[list[object]] = []
    for i in range(60):
        p = float(RNG.uniform(0.05, 0.95))
        rows.append([i % 2, ["a", "b"][i % 4 // 2], ["x", "y", "z"][i % 3], p, 1.0 - p])
    path = _write_csv(tmp_path / "two.csv", header, rows)
    summary = cecli.score_file(path, "ce", by=["model", "split"], reduction="sum")
    assert summary.groups is not None
    assert len(summary.groups) == 6
    for group in summary.groups:
        members = [r for r in rows if (r[1], r[2]) == group.key]
        expected = mp.fsum(-mp.log(mpf(str(r[3 + int(str(r[0]))]))) for r in members)
        assert group.rows == len(members)
        assert_close(group.loss, expected)
        assert group.name == "/".join(group.key)


def test_more_groups_than_the_limit_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cecli.evaluation, "GROUP_LIMIT", 3)
    rows = [[0, f"g{i}", 0.6, 0.4] for i in range(4)]
    path = _write_csv(tmp_path / "many.csv", ["label", "g", "p0", "p1"], rows)
    with pytest.raises(InputError, match=r"more than 3 distinct values of g"):
        cecli.score_file(path, "ce", by="g")
    monkeypatch.setattr(cecli.evaluation, "GROUP_LIMIT", 4)
    summary = cecli.score_file(path, "ce", by="g")
    assert summary.groups is not None
    assert len(summary.groups) == 4


def test_groups_work_for_losses_without_accuracy(tmp_path: Path) -> None:
    rows = [["x", 0.5, 0.5, 0.25, 0.75], ["y", 0.1, 0.9, 0.5, 0.5], ["x", 1.0, 0.0, 0.5, 0.5]]
    path = _write_csv(tmp_path / "kl.csv", ["g", "p0", "p1", "q0", "q1"], rows)
    summary = cecli.score_file(path, "kl", label_cols="p*", pred_cols="q*", by="g")
    assert summary.accuracy is None
    assert summary.groups is not None
    assert {row.key: row.rows for row in summary.groups} == {("x",): 2, ("y",): 1}
    assert all(row.accuracy is None for row in summary.groups)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"top_k": 0}, "top_k must be ≥ 1"),
        ({"threshold": 1.5}, "threshold must be a probability"),
        ({"top_k": 2, "loss": "bce"}, "top_k ranks the classes"),
        ({"per_class": True, "loss": "kl"}, "per-class results need"),
        ({"by": "nope"}, "^by: no column 'nope'"),
    ],
)
def test_bad_evaluation_settings_are_refused(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    path = _write_csv(tmp_path / "a.csv", ["y0", "y1", "p0", "p1"], [[0.0, 1.0, 0.3, 0.7]])
    loss: LossName = options.pop("loss", "ce")
    if loss == "kl":
        options.update(label_cols="y*", pred_cols="p*")
    with pytest.raises(InputError, match=message):
        cecli.score_file(path, loss, **options)


# --- batches, skipped rows, merging ------------------------------------------------------------


def test_results_are_bit_identical_whatever_the_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = CategoricalRows(400, classes=8)
    path = data.write(tmp_path / "rows.csv")
    options = {"pred_cols": "p_*", "label_col": "label", "class_names": data.names,
               "per_class": True, "by": "split"}  # fmt: skip
    documents = []
    for chunk in (1 << 20, 4096, 300, 64):
        monkeypatch.setattr(cecli.files, "CHUNK_BYTES", chunk)
        documents.append(_score(path, **options).to_json())
    assert all(document == documents[0] for document in documents[1:])
    frame = pl.read_csv(path)
    frame.write_parquet(tmp_path / "rows.parquet")
    for rows in (7, 1000):
        monkeypatch.setattr(cecli.files, "BATCH_ROWS", rows)
        parquet = _score(tmp_path / "rows.parquet", **options).to_json()
        for key in ("accuracy", "top_k_accuracy", "mean_p_true", "per_class", "groups"):
            assert parquet[key] == _parquet_lines(documents[0][key])


def _parquet_lines(document: Any) -> Any:
    """A CSV document's numbers with its lines counted as Parquet rows (the header is no row)."""
    if isinstance(document, dict):
        return {
            key: value - 1 if key == "worst_line" else _parquet_lines(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_parquet_lines(value) for value in document]
    return document


def test_skipped_rows_are_left_out_of_every_number(tmp_path: Path) -> None:
    data = CategoricalRows(120)
    path = data.write(tmp_path / "rows.csv")
    text = path.read_text().splitlines()
    bad = {5, 40, 41, 99}  # data rows turned invalid: a probability above 1, or not a number
    for i in bad:
        fields = text[i + 1].split(",")
        fields[4] = "1.5" if i % 2 else "oops"
        text[i + 1] = ",".join(fields)
    path.write_text("\n".join(text) + "\n")
    summary = _score(path, pred_cols="p_*", label_col="label", class_names=data.names,
                     per_class=True, by="split", skip_invalid=True)  # fmt: skip
    assert summary.skipped == len(bad)
    kept = [i for i in range(120) if i not in bad]
    expected = data.reference(kept, None)
    assert summary.accuracy is not None
    assert summary.accuracy.accuracy == expected["accuracy"]
    assert summary.accuracy.mean_p_true == expected["mean_p_true"]
    assert summary.groups is not None
    for row in summary.groups:
        _check_row(row, data.reference([i for i in kept if data.splits[i] == row.key[0]], None))


def test_accumulators_merged_in_any_order_equal_one_pass_and_pickle(tmp_path: Path) -> None:
    from cecli.batch import Accumulator
    from cecli.losses import categorical_cross_entropy_rows
    from cecli.scoring import evaluation_for

    data = CategoricalRows(90, classes=7)
    labels = np.array(data.labels, dtype=float)[:, None]
    preds = np.array(data.preds)
    weights = np.array(data.weights)
    values = tuple(dict.fromkeys(data.splits))
    keys = KeyColumn(np.array([values.index(s) for s in data.splits], np.uint32), values)
    lines = np.arange(2, 92)

    def accumulator() -> Accumulator:
        evaluation = evaluation_for("ce", {}, data.names, per_class=True, by=["split"])
        return Accumulator(evaluation=evaluation)

    def fold(part: slice) -> Accumulator:
        state = accumulator()
        state.update(
            categorical_cross_entropy_rows(labels[part], preds[part]), lines[part], None,
            weights[part], labels=labels[part], preds=preds[part], keys=[keys.take(part)],
        )  # fmt: skip
        return state

    whole = fold(slice(0, 90)).compute(reduction="mean", source="t").to_json()
    parts = [pickle.loads(pickle.dumps(fold(slice(a, a + 30)))) for a in (60, 0, 30)]
    merged = accumulator()
    for part in parts:
        merged.merge(part)
    assert merged.compute(reduction="mean", source="t").to_json() == whole
    expected = data.reference(range(90), 5)
    assert whole["accuracy"] == expected["accuracy"]
    assert whole["top_k_accuracy"] == expected["top_k_accuracy"]
    # The state is sums, not rows: ten times the rows, the same size within a few bytes a sum.
    tenfold = accumulator()
    for _ in range(10):
        tenfold.merge(pickle.loads(pickle.dumps(fold(slice(0, 90)))))
    once = pickle.dumps(fold(slice(0, 90)).evaluation)
    assert len(pickle.dumps(tenfold.evaluation)) < 1.05 * len(once)


# --- per-row details ---------------------------------------------------------------------------


def test_row_details_name_the_true_and_predicted_class_and_the_rank() -> None:
    from cecli.evaluation import Evaluation

    evaluation = Evaluation.create("categorical", ["cat", "dog", "bird"])
    labels = np.array([[0.0], [1.0], [2.0]])
    preds = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [0.5, 0.2, 0.3]])
    details = evaluation.row_details(labels, preds)
    assert details == {
        "label": ["cat", "dog", "bird"],
        "pred": ["cat", "cat", "cat"],  # row 2: dog level with cat, which ranks first
        "p_true": [0.7, 0.4, 0.3],
        "rank": [1, 2, 2],
        "correct": [1, 0, 0],
    }
    logits = Evaluation.create("categorical", ["a", "b"], logits=True)
    (p_true,) = logits.row_details(np.array([[1.0]]), np.array([[0.0, 2.0]]))["p_true"]
    assert_close(p_true, oracle.softmax([0.0, 2.0])[1])


def test_row_details_of_binary_outputs() -> None:
    from cecli.evaluation import Evaluation

    evaluation = Evaluation.create("binary", ["x", "y"], threshold=0.5)
    labels = np.array([[1.0, 0.0], [1.0, 1.0]])
    preds = np.array([[0.9, 0.2], [0.6, 0.4]])
    details = evaluation.row_details(labels, preds)
    assert details["label"] == ["x", "x|y"]
    assert details["pred"] == ["x", "x"]
    assert details["correct"] == [1, 0]
    # A per-row value, computed in float: within rounding of the exact mean.
    expected = [(Fraction(0.9) + 1 - Fraction(0.2)) / 2, (Fraction(0.6) + Fraction(0.4)) / 2]
    assert details["p_true"] == pytest.approx([float(e) for e in expected], rel=1e-15)


def test_focal_outputs_have_no_positive_and_negative_split(tmp_path: Path) -> None:
    data = BinaryRows(30, 2)
    path = data.write(tmp_path / "focal.csv")
    summary = cecli.score_file(path, "focal", binary=True, pred_cols="p*", per_class=True)
    assert summary.per_class is not None
    for column, row in enumerate(summary.per_class):
        assert row.positive_loss is None  # focal's terms do not come apart by label
        assert row.negative_loss is None
        assert row.positives == sum(1 for ys in data.labels if ys[column])


def test_a_group_column_read_as_numbers_keeps_whole_numbers_whole(tmp_path: Path) -> None:
    rows = [[0, 0.6, 0.4], [1, 0.3, 0.7], [0, 0.8, 0.2]]
    path = _write_csv(tmp_path / "by_label.csv", ["label", "p0", "p1"], rows)
    summary = cecli.score_file(path, "ce", by="label")
    assert summary.groups is not None
    assert sorted((row.key, row.rows) for row in summary.groups) == [(("0",), 2), (("1",), 1)]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 60),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    order_seed=st.integers(0, 1000),
    weighted=st.booleans(),
)
def test_binary_states_merged_from_any_cuts_equal_one_pass(
    rows: int, cuts: list[int], order_seed: int, weighted: bool
) -> None:
    from cecli.batch import Accumulator
    from cecli.losses import multilabel_cross_entropy
    from cecli.scoring import evaluation_for

    rng = np.random.default_rng(order_seed)
    labels = rng.integers(0, 2, (rows, 3)).astype(float)
    preds = rng.uniform(0.0, 1.0, (rows, 3))
    weights = rng.choice([0.5, 1.0, 3.0], rows) if weighted else None
    values = ("a", "b", "c")
    keys = KeyColumn(rng.integers(0, 3, rows).astype(np.uint32), values)
    lines = np.arange(2, rows + 2)

    def fold(part: slice) -> Accumulator:
        evaluation = evaluation_for("multilabel", {}, ["x", "y", "z"], per_class=True, by=["g"])
        state = Accumulator(evaluation=evaluation)
        result = multilabel_cross_entropy(labels[part], preds[part], reduction="none")
        if result.rows:
            state.update(
                result, lines[part], None, None if weights is None else weights[part],
                labels=labels[part], preds=preds[part], keys=[keys.take(part)],
            )  # fmt: skip
        return state

    bounds = sorted({0, rows, *(min(c, rows) for c in cuts)})
    parts = [fold(slice(a, b)) for a, b in itertools.pairwise(bounds)]
    parts = [parts[i] for i in rng.permutation(len(parts))]
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(pickle.loads(pickle.dumps(part)))
    whole = fold(slice(0, rows)).compute(reduction="mean", source="t").to_json()
    assert merged.compute(reduction="mean", source="t").to_json() == whole


def test_one_class_with_a_one_hot_label_column_is_scored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A label column of one class is its one-hot target, not a class index: a 1 is class 0.
    from cecli.cli import main

    path = tmp_path / "one.csv"
    path.write_text("y0,p0\n1,0.5\n0,0.3\n")
    args = ["ce", "--csv", str(path), "--label-cols", "y0", "--pred-cols", "p0"]
    assert main([*args, "-q"]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(float(mp.log(2) / 2), rel=1e-15)
    assert main([*args, "--reduction", "none", "--columns", "label,rank,correct"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header == "line,loss,label,rank,correct"
    assert [row.split(",")[2:] for row in rows] == [["p0", "1", "1"]] * 2
