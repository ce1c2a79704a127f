"""The accumulator: exact reductions, merging, statistics; and batch validation."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mpmath import mp, mpf

import cecli
from cecli.batch import EXACT_PERCENTILE_ROWS, Accumulator, find_problems, prefetched
from cecli.files import Batch, Columns
from cecli.losses import categorical_cross_entropy_rows
from cecli.results import RowLosses
from tests.helpers import assert_close

RNG = np.random.default_rng(5)


def _batches(rows: int, size: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    labels = RNG.integers(0, 4, rows).astype(float)
    preds = RNG.dirichlet([1.0] * 4, rows)
    lines = np.arange(2, rows + 2)
    return [
        (labels[i : i + size], preds[i : i + size], lines[i : i + size])
        for i in range(0, rows, size)
    ]


def test_batched_mean_equals_the_whole_and_the_oracle() -> None:
    parts = _batches(1000, 128)
    accumulator = Accumulator()
    for labels, preds, lines in parts:
        accumulator.update(categorical_cross_entropy_rows(labels, preds), lines)
    summary = accumulator.compute(reduction="mean", source="test")
    labels = np.concatenate([p[0] for p in parts])
    preds = np.concatenate([p[1] for p in parts])
    whole = cecli.ce(labels, preds)
    assert summary.loss == pytest.approx(float(whole.loss), rel=1e-15)
    exact = mp.fsum(-mp.log(mpf(preds[i, int(labels[i])])) for i in range(len(labels))) / 1000
    assert_close(summary.loss, exact)
    assert summary.rows == 1000
    assert summary.worst[0].loss == pytest.approx(float(whole.per_row.max()))
    assert summary.worst[0].line == int(np.argmax(whole.per_row)) + 2
    assert summary.percentiles_exact
    assert summary.percentiles[50] == pytest.approx(float(np.percentile(whole.per_row, 50)))


def test_merge_equals_one_pass() -> None:
    parts = _batches(600, 100)
    single, left, right = Accumulator(), Accumulator(), Accumulator()
    for index, (labels, preds, lines) in enumerate(parts):
        rows = categorical_cross_entropy_rows(labels, preds)
        single.update(rows, lines)
        (left if index % 2 else right).update(rows, lines)
    left.merge(right)
    one = single.compute(reduction="sum", source="a")
    two = left.compute(reduction="sum", source="a")
    assert one.loss == two.loss
    assert one.row_min == two.row_min
    assert [w.line for w in one.worst] == [w.line for w in two.worst]


def test_worst_rows_are_the_five_largest_with_ties_to_the_earlier_line() -> None:
    per_row = RNG.exponential(size=5000)
    per_row[[10, 4000]] = 50.0  # a tie: line 12 is kept first
    per_row[[7, 2500, 4999]] = [60.0, 55.0, 70.0]
    per_row[3000] = 50.0  # the sixth largest, with the same loss as two kept rows
    accumulator = Accumulator()
    for start in range(0, per_row.size, 300):
        chunk = per_row[start : start + 300]
        rows = RowLosses(
            name="ce", base="e", classes=2, per_row=chunk, row_totals=chunk,
            row_divisors=np.ones(chunk.size), row_extras={}, clipped_count=0,
            unnormalized_rows=(),
        )  # fmt: skip
        accumulator.update(rows, np.arange(start, start + chunk.size) + 2)
    worst = accumulator.compute(reduction="mean", source="t").worst
    assert [(w.line, w.loss) for w in worst] == [
        (5001, 70.0), (9, 60.0), (2502, 55.0), (12, 50.0), (3002, 50.0)
    ]  # fmt: skip


@pytest.mark.parametrize("batch_rows", [7, 300, 5000])
def test_ties_at_the_fifth_place_keep_the_earliest_line_in_one_batch_or_many(
    batch_rows: int,
) -> None:
    per_row = RNG.exponential(size=5000) / 100
    per_row[[40, 1000, 2000, 3000]] = [9.0, 8.0, 7.0, 6.0]
    tied = np.sort(RNG.choice(np.setdiff1d(np.arange(5000), [40, 1000, 2000, 3000]), 30))
    per_row[tied] = 5.0  # thirty rows tie for the fifth place: the first of them is kept
    accumulator = Accumulator()
    for start in range(0, per_row.size, batch_rows):
        chunk = per_row[start : start + batch_rows]
        rows = RowLosses(
            name="ce", base="e", classes=2, per_row=chunk, row_totals=chunk,
            row_divisors=np.ones(chunk.size), row_extras={}, clipped_count=0,
            unnormalized_rows=(),
        )  # fmt: skip
        accumulator.update(rows, np.arange(start, start + chunk.size) + 2)
    worst = accumulator.compute(reduction="mean", source="t").worst
    assert [(w.line, w.loss) for w in worst] == [
        (42, 9.0),
        (1002, 8.0),
        (2002, 7.0),
        (3002, 6.0),
        (int(tied[0]) + 2, 5.0),
    ]


@pytest.mark.parametrize("logits", [False, True])
def test_rows_of_a_matrix_stored_by_columns_equal_rows_stored_by_rows(logits: bool) -> None:
    labels = RNG.integers(0, 7, 500).astype(float)
    preds = RNG.normal(size=(500, 7)) * 30 if logits else RNG.dirichlet([0.3] * 7, 500)
    by_rows = categorical_cross_entropy_rows(labels, np.ascontiguousarray(preds), logits=logits)
    by_columns = categorical_cross_entropy_rows(labels, np.asfortranarray(preds), logits=logits)
    whole = cecli.ce(labels, preds, logits=logits, reduction="none")
    np.testing.assert_array_equal(by_rows.per_row, by_columns.per_row)
    np.testing.assert_array_equal(by_rows.per_row, whole.per_row)


def test_sample_weights_make_a_weighted_mean() -> None:
    labels, preds = np.array([0.0, 1.0]), np.array([[0.5, 0.5], [0.2, 0.8]])
    accumulator = Accumulator()
    accumulator.update(
        categorical_cross_entropy_rows(labels, preds), np.array([2, 3]), None, np.array([3.0, 1.0])
    )
    expected = (3 * math.log(2) - math.log(0.8)) / 4
    assert accumulator.compute(reduction="mean", source="w").loss == pytest.approx(
        expected, rel=1e-15
    )


def test_extras_are_reduced_like_the_loss() -> None:
    p = np.array([[0.5, 0.5], [0.1, 0.9]])
    q = np.array([[0.9, 0.1], [0.2, 0.8]])
    accumulator = Accumulator()
    accumulator.update(cecli.kl(p, q), np.array([2, 3]))
    summary = accumulator.compute(reduction="mean", source="kl")
    whole = cecli.kl(p, q)
    assert summary.extras["entropy"] == pytest.approx(float(whole.entropy), rel=1e-15)
    assert summary.extras["cross_entropy"] == pytest.approx(float(whole.cross_entropy), rel=1e-15)


def test_percentiles_switch_to_a_histogram_beyond_the_exact_limit() -> None:
    accumulator = Accumulator()
    values = RNG.exponential(1.0, EXACT_PERCENTILE_ROWS + 10)
    for start in range(0, values.size, 200_000):
        chunk = values[start : start + 200_000]
        accumulator.update(
            cecli.results.RowLosses(
                name="ce", base="e", classes=2, per_row=chunk, row_totals=chunk,
                row_divisors=np.ones(chunk.size), row_extras={}, clipped_count=0,
                unnormalized_rows=(),
            ),
            np.arange(start, start + chunk.size),
        )  # fmt: skip
    summary = accumulator.compute(reduction="mean", source="h")
    assert not summary.percentiles_exact
    for q in (50, 90, 99):
        assert summary.percentiles[q] == pytest.approx(float(np.percentile(values, q)), rel=5e-3)


def test_no_rows_is_an_error() -> None:
    with pytest.raises(cecli.InputError, match="no rows to score"):
        Accumulator().compute(reduction="mean", source="empty.csv")


def test_find_problems_reports_each_kind() -> None:
    columns = Columns(("label",), ("p0", "p1"), True)
    batch = Batch(
        labels=np.array([[0.0], [5.0], [np.nan], [1.0], [np.nan], [0.5]]),
        preds=np.array(
            [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [1.5, 0.1], [np.nan, np.nan], [0.5, 0.5]]
        ),
        weights=None,
        ids=None,
        lines=np.arange(2, 8),
        blank=np.array([False, False, False, False, True, False]),  # an empty line
    )
    blank, bad, problems = find_problems(batch, columns, probabilities=True, classes=2)
    assert blank.tolist() == [False, False, False, False, True, False]
    assert bad.tolist() == [False, True, True, True, False, True]
    reasons = {(p.row, p.column): p.reason for p in problems}
    assert "is not a class index 0 to 1" in reasons[(1, "label")]
    assert reasons[(2, "label")].startswith("is not a number")
    assert reasons[(3, "p0")].startswith("is not a probability")
    assert "is not a class index" in reasons[(5, "label")]


def test_clean_batches_take_the_fast_path() -> None:
    columns = Columns(("label",), ("p0", "p1"), True)
    batch = Batch(
        np.array([[0.0], [1.0]]), np.array([[0.5, 0.5], [0.2, 0.8]]), None, None, np.arange(2, 4)
    )
    blank, bad, problems = find_problems(batch, columns, probabilities=True, classes=2)
    assert not blank.any()
    assert not bad.any()
    assert problems == []


def test_prefetched_keeps_order_and_passes_errors_on() -> None:
    assert [b.lines[0] for b in prefetched(_fake_batches(5))] == [0, 1, 2, 3, 4]

    def broken() -> object:
        yield from _fake_batches(2)
        raise cecli.InputError("bad file")

    with pytest.raises(cecli.InputError, match="bad file"):
        list(prefetched(broken()))  # type: ignore[arg-type]


def _fake_batches(count: int) -> list[Batch]:
    return [
        Batch(np.zeros((1, 1)), np.zeros((1, 2)), None, None, np.array([i])) for i in range(count)
    ]


def test_percentiles_beside_an_infinite_loss_are_the_rows_values() -> None:
    # Three rows: the median is the middle row (0.5), never inf - inf or 0 · inf; p90 falls
    # between 0.5 and inf, so it is inf.
    accumulator = Accumulator()
    accumulator.values = [np.array([0.25, np.inf, 0.5])]
    accumulator.rows = 3
    found = accumulator._percentiles()
    assert found == {50: 0.5, 90: math.inf, 99: math.inf}
    accumulator.values = [np.array([np.inf, np.inf, 0.5, 0.25, 1.0])]
    accumulator.rows = 5
    assert accumulator._percentiles() == {50: 1.0, 90: math.inf, 99: math.inf}


_BAD_VALUES = [
    ("p1", "nan"), ("p1", "inf"), ("p1", "-inf"), ("p1", "-0.1"), ("p1", "1.5"), ("p1", ""),
    ("p1", "x"), ("label", "2.5"), ("label", "-1"), ("label", "3"), ("label", "nan"),
    ("label", "inf"), ("label", ""), ("label", "cat"),
]  # fmt: skip


def _score_ce(path: Path, *, logits: bool, skip_invalid: bool, trusting: bool) -> Any:
    """The summary's JSON (or the error message) of scoring ``path`` with ce, with or
    without handing each batch to the loss before its values are checked one by one."""
    from cecli.batch import score_table
    from cecli.files import open_table, select_columns
    from cecli.scoring import _batch_function

    options = {"logits": logits, "eps": 1e-7, "base": "e", "reduction": "mean"}
    with open_table(str(path), kind="csv", delimiter=None, stdin=None) as table:
        columns = select_columns(table.columns, "categorical")
        try:
            accumulator = score_table(
                table, columns, _batch_function("ce", options, None),
                probabilities=not logits, class_names=None, skip_invalid=skip_invalid,
                compute_checks_values=trusting,
            )  # fmt: skip
        except cecli.InputError as error:
            return str(error)
    return accumulator.compute(reduction="mean", source=str(path)).to_json()


@pytest.mark.parametrize(("column", "value"), _BAD_VALUES)
@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("skip_invalid", [False, True])
def test_a_batch_handed_to_ce_unchecked_reports_bad_values_as_when_checked(
    tmp_path: Path, column: str, value: str, logits: bool, skip_invalid: bool
) -> None:
    rows = [["0", "0.2", "0.3", "0.5"], ["2", "0.1", "0.1", "0.8"], ["1", "0.6", "0.3", "0.1"]]
    rows[1][["label", "p0", "p1", "p2"].index(column)] = value
    path = tmp_path / "scores.csv"
    path.write_text("label,p0,p1,p2\n" + "".join(",".join(row) + "\n" for row in rows))
    checked = _score_ce(path, logits=logits, skip_invalid=skip_invalid, trusting=False)
    unchecked = _score_ce(path, logits=logits, skip_invalid=skip_invalid, trusting=True)
    assert unchecked == checked
    a_logit = logits and column == "p1" and value in ("-inf", "-0.1", "1.5")  # -inf: a mask
    if a_logit:
        assert (checked["rows"], checked["skipped"]) == (3, 0)
    elif skip_invalid:
        assert (checked["rows"], checked["skipped"]) == (2, 1)
        assert sorted(row["line"] for row in checked["worst"]) == [2, 4]
    else:
        assert checked.startswith(f"{path}:3:")  # the bad value is the error, with its place


def test_a_row_of_masked_logits_is_refused_by_the_per_row_ce() -> None:
    labels, logits = np.array([[0.0], [1.0]]), np.array([[0.0, 1.0], [-np.inf, -np.inf]])
    with pytest.raises(cecli.InputError, match="row 2: every logit is -inf"):
        categorical_cross_entropy_rows(labels, logits, logits=True)


@pytest.mark.parametrize("label", ["1", "0.5", "1e-320"])
def test_one_class_labels_that_are_no_class_index_are_refused_with_their_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], label: str
) -> None:
    # With one class the loss reads one label per row as a target probability; the file's
    # label column still holds class indices, and only 0 is one.
    path = tmp_path / "one.csv"
    path.write_text(f"label,p\n0,0.5\n{label},0.3\n")
    from cecli.cli import main

    assert main(["ce", "--csv", str(path), "--pred-cols", "p", "--label-col", "label"]) == 2
    reason = "is not a class index 0 to 0 (nor a class name)"
    assert capsys.readouterr().err == f"cecli: error: {path}:3:1: '{label}' {reason}\n"
