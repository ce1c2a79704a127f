"""Exact sums per group, formed for every group of a batch at once.

Each group's sum must be the exact sum of that group's values (checked as fractions), rounded
once, with infinities and NaN kept apart as :class:`~cecli.numerics.ExactSum` keeps them; the
per-group state an evaluation builds from them must not depend on how the rows were cut into
batches or in which order the states were merged.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import pickle
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cecli.evaluation
import cecli.files
import cecli.numerics
from cecli.cli import main
from cecli.evaluation import GroupBatch, RowValues, Tally
from cecli.files import KeyColumn
from cecli.numerics import ExactSum, group_counts, group_products, group_sums

LARGEST = 1.7976931348623157e308
SMALLEST = 5e-324
MAGNITUDES = st.one_of(
    st.floats(min_value=SMALLEST, max_value=LARGEST),
    st.sampled_from([0.0, SMALLEST, 1e-320, 2.2250738585072014e-308, 1.0, 0.1, LARGEST, 2.0**1023]),
)
FINITE = st.builds(lambda m, negative: -m if negative else m, MAGNITUDES, st.booleans())
VALUES = st.one_of(FINITE, FINITE, FINITE, FINITE, st.sampled_from([math.inf, -math.inf, math.nan]))
GROUPS = 6
ENTRIES = st.lists(st.tuples(st.integers(0, GROUPS - 1), VALUES), max_size=60)
PAIRS = st.lists(st.tuples(st.integers(0, GROUPS - 1), VALUES, VALUES), max_size=60)


def _rounded(exact: Fraction) -> float:
    """The float nearest to ``exact`` (ties to even), ±inf beyond the largest float."""
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def _expected(terms: Sequence[float]) -> float:
    """IEEE's sum of ``terms`` with every finite part added exactly, then rounded once."""
    if any(math.isnan(t) for t in terms) or (math.inf in terms and -math.inf in terms):
        return math.nan
    if math.inf in terms or -math.inf in terms:
        return math.inf if math.inf in terms else -math.inf
    return _rounded(sum((Fraction(t) for t in terms), Fraction(0)))


def _exact_products(pairs: Sequence[tuple[float, float]]) -> tuple[Fraction, list[float]]:
    """The exact sum of the finite products, and the IEEE products of the others."""
    exact = Fraction(0)
    others = []
    for left, right in pairs:
        if math.isfinite(left) and math.isfinite(right):
            exact += Fraction(left) * Fraction(right)
        else:
            others.append(left * right)  # inf·0 is NaN, as IEEE has it
    return exact, others


def _same(actual: float, expected: float) -> bool:
    return (math.isnan(actual) and math.isnan(expected)) or actual == expected


def _finite_part(total: ExactSum) -> Fraction:
    return Fraction(total.scaled, 1 << cecli.numerics._EXACT_UNIT)


@contextmanager
def _bins(dense: bool, rows_per_bincount: int) -> Iterator[None]:
    """Bins counted densely or numbered by sorting; values binned in parts of a given size."""
    with pytest.MonkeyPatch.context() as patch:
        if not dense:
            patch.setattr(cecli.numerics, "_DENSE_BINS_PER_VALUE", -(10**9))
        patch.setattr(cecli.numerics, "_ROWS_PER_BINCOUNT", rows_per_bincount)
        yield


BIN_SETTINGS = [(True, 1 << 25), (False, 1 << 25), (True, 3), (False, 2)]


@settings(max_examples=150, deadline=None)
@given(ENTRIES)
def test_each_group_sum_is_the_groups_exact_sum_rounded_once(
    entries: list[tuple[int, float]],
) -> None:
    groups = np.array([g for g, _ in entries], dtype=np.int64)
    values = np.array([v for _, v in entries], dtype=np.float64)
    for dense, rows in BIN_SETTINGS:
        with _bins(dense, rows):
            sums = group_sums(values, groups, GROUPS)
        for group in range(GROUPS):
            members = [v for g, v in entries if g == group]
            total = sums.total(group)
            assert _same(total.value(), _expected(members))
            finite = [v for v in members if math.isfinite(v)]
            assert _finite_part(total) == sum((Fraction(v) for v in finite), Fraction(0))
            if len(finite) == len(members) and all(abs(v) < 1e300 for v in finite):
                assert total.value() == math.fsum(members)  # fsum overflows past 1e300s


@settings(max_examples=150, deadline=None)
@given(PAIRS)
def test_each_group_sum_of_products_is_exact(entries: list[tuple[int, float, float]]) -> None:
    groups = np.array([g for g, _, _ in entries], dtype=np.int64)
    left = np.array([w for _, w, _ in entries], dtype=np.float64)
    right = np.array([v for _, _, v in entries], dtype=np.float64)
    for dense, rows in BIN_SETTINGS:
        with _bins(dense, rows):
            sums = group_products(left, right, groups, GROUPS)
        for group in range(GROUPS):
            exact, others = _exact_products([(w, v) for g, w, v in entries if g == group])
            total = sums.total(group)
            assert _finite_part(total) == exact
            if others:
                assert _same(total.value(), _expected(others))
            else:
                assert total.value() == _rounded(exact)


def test_signed_zeros_subnormals_and_the_extremes_of_the_range() -> None:
    values = np.array([-0.0, 0.0, SMALLEST, -SMALLEST, SMALLEST, LARGEST, LARGEST, -LARGEST,
                       1e-310, 2.0**-1022, 1.0, -1.0, 2.0**-60])  # fmt: skip
    groups = np.array([0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4])
    sums = group_sums(values, groups, 6)
    assert [sums.total(g).value() for g in range(6)] == [
        0.0, SMALLEST, LARGEST, float(Fraction(1e-310) + Fraction(2.0**-1022)), 2.0**-60, 0.0
    ]  # fmt: skip
    assert sums.total(5).is_zero()  # a group without values
    # Two largest floats overflow as a float but not as an exact sum: only the rounding does.
    overflow = group_sums(np.array([LARGEST, LARGEST, -LARGEST]), np.array([0, 0, 1]), 2)
    assert overflow.total(0).value() == math.inf
    assert overflow.total(0).mean(2) == LARGEST
    # Products far beyond the float range either way are still exact.
    products = group_products(np.array([1e300, 1e-300, 3.0]), np.array([1e300, 1e-300, SMALLEST]),
                              np.array([0, 0, 1]), 2)  # fmt: skip
    assert _finite_part(products.total(0)) == Fraction(1e300) ** 2 + Fraction(1e-300) ** 2
    assert _finite_part(products.total(1)) == 3 * Fraction(SMALLEST)


def test_infinities_and_nan_stay_in_their_own_group() -> None:
    values = np.array([math.inf, 1.0, -math.inf, math.inf, math.nan, 2.0, -math.inf])
    groups = np.array([0, 0, 1, 1, 2, 3, 4])
    sums = group_sums(values, groups, 5)
    assert sums.total(0).value() == math.inf
    assert math.isnan(sums.total(1).value())
    assert math.isnan(sums.total(2).value())
    assert sums.total(3).value() == 2.0
    assert sums.total(4).value() == -math.inf
    weights = np.array([0.0, 1.0, 2.0, 1.0, 1.0, 1.0, 0.5])
    products = group_products(weights, values, groups, 5)
    assert math.isnan(products.total(0).value())  # 0·inf
    assert products.total(4).value() == -math.inf


def test_group_counts_are_whole_numbers_of_ones() -> None:
    counts = group_counts(np.array([0, 3, 1 << 60]))
    assert [counts.total(g).value() for g in range(3)] == [0.0, 3.0, float(1 << 60)]
    ones = ExactSum()
    ones.add_constant(1.0, 3)
    assert counts.total(1).scaled == ones.scaled


# --- a batch's rows folded into each group's tally -----------------------------------------


def _row_values(rng: np.random.Generator, rows: int, outputs: int, weighted: bool) -> RowValues:
    """Random rows with losses of every kind: NaN and inf among them, ±0, subnormals, huge."""
    specials = np.array([0.0, -0.0, SMALLEST, 1e-310, LARGEST, math.inf, math.nan, 1e300])

    def column(shape: tuple[int, ...]) -> Any:
        values = rng.uniform(0.0, 10.0, shape) * 10.0 ** rng.integers(-300, 300, shape)
        return np.where(rng.random(shape) < 0.15, rng.choice(specials, shape), values)

    weights = None
    if weighted:
        weights = rng.choice(np.array([0.0, 0.5, 1.0, 3.0, SMALLEST, 1e300]), rows)
    p_true = column((rows, outputs) if outputs > 1 else (rows,))
    return RowValues(
        totals=column((rows,)), divisors=rng.choice(np.array([1.0, 2.0, 0.5]), rows),
        per_row=column((rows,)), lines=np.arange(2, rows + 2), weights=weights,
        correct=rng.integers(0, outputs + 1, rows).astype(np.float64),
        top_k=rng.integers(0, 2, rows).astype(np.float64) if outputs == 1 else None,
        p_true=p_true,
        exact=rng.integers(0, 2, rows).astype(np.float64) if outputs > 1 else None,
        p_offset=rng.integers(0, outputs + 1, rows).astype(np.float64) if outputs > 1 else None,
    )  # fmt: skip


def _state(tally: Tally) -> tuple[object, ...]:
    def parts(total: ExactSum) -> tuple[object, ...]:
        return (total.scaled, total.nan, total.positive_infinite, total.negative_infinite)

    sums = (tally.weight, tally.loss, tally.divisor, tally.correct, tally.top_k, tally.p_true,
            tally.exact)  # fmt: skip
    return (tally.rows, tally.worst, *(parts(total) for total in sums))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rows=st.integers(1, 80),
    groups=st.integers(1, 30),
    outputs=st.sampled_from([1, 3]),
    weighted=st.booleans(),
)
def test_a_batch_folded_into_every_group_equals_each_groups_own_rows_added(
    seed: int, rows: int, groups: int, outputs: int, weighted: bool
) -> None:
    rng = np.random.default_rng(seed)
    values = _row_values(rng, rows, outputs, weighted)
    codes = rng.integers(0, groups, rows).astype(np.intp)
    batch = GroupBatch.of(values, codes, groups)
    everyone = [Tally() for _ in range(groups)]
    batch.add_all(everyone)
    for code in range(groups):
        bulk, own = Tally(), Tally()
        batch.add_to(code, bulk)
        own.add(values.take(np.flatnonzero(codes == code)))
        assert _state(bulk) == _state(own)
        assert _state(everyone[code]) == _state(own)
        if code % 2:  # folded into a tally that already holds rows
            batch.add_to(code, bulk)
            own.add(values.take(np.flatnonzero(codes == code)))
            assert _state(bulk) == _state(own)


def test_the_worst_row_of_each_group_leaves_nan_out_and_takes_the_first_of_equals() -> None:
    per_row = np.array([math.nan, 2.0, 5.0, 5.0, math.nan, -math.inf, math.nan, math.inf, 1.0])
    lines = np.arange(10, 19)
    codes = np.array([0, 0, 0, 0, 1, 2, 2, 3, 3], dtype=np.intp)
    values = RowValues(per_row, np.ones(9), per_row, lines, None, np.zeros(9), None,
                       np.zeros(9), None)  # fmt: skip
    batch = GroupBatch.of(values, codes, 5)
    assert batch.worst == [(5.0, -12), None, (-math.inf, -15), (math.inf, -17), None]


# --- states of many groups, however cut and merged ----------------------------------------


def _many_groups(rng: np.random.Generator, rows: int, groups: int) -> dict[str, Any]:
    preds = rng.dirichlet([0.5] * 4, rows)
    preds[::7] *= 10.0 ** rng.integers(-300, -1, (len(preds[::7]), 1))  # tiny, unnormalised
    return {
        "labels": rng.integers(0, 4, rows).astype(np.float64)[:, None],
        "preds": preds,
        "weights": rng.choice(np.array([0.5, 1.0, 3.0, 0.0, 1e-300]), rows),
        "keys": KeyColumn(
            rng.integers(0, groups, rows).astype(np.uint32), tuple(f"g{k}" for k in range(groups))
        ),
    }


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 1000),
    cuts=st.lists(st.integers(0, 300), max_size=6),
    weighted=st.booleans(),
)
def test_group_states_cut_and_merged_in_any_order_are_identical(
    seed: int, cuts: list[int], weighted: bool
) -> None:
    from cecli.batch import Accumulator
    from cecli.losses import categorical_cross_entropy_rows
    from cecli.scoring import evaluation_for

    rng = np.random.default_rng(seed)
    rows = 300
    data = _many_groups(rng, rows, 120)
    labels, preds, keys = data["labels"], data["preds"], data["keys"]
    weights = data["weights"] if weighted else None
    lines = np.arange(2, rows + 2)
    names = ["a", "b", "c", "d"]

    def fold(part: slice) -> Accumulator:
        evaluation = evaluation_for("ce", {"normalize": True}, names, by=["g"], top_k=2)
        state = Accumulator(evaluation=evaluation)
        result = categorical_cross_entropy_rows(labels[part], preds[part], normalize=True)
        if result.rows:
            state.update(
                result, lines[part], None, None if weights is None else weights[part],
                labels=labels[part], preds=preds[part], keys=[keys.take(part)],
            )  # fmt: skip
        return state

    whole = fold(slice(0, rows))
    bounds = sorted({0, rows, *cuts})
    parts = [fold(slice(a, b)) for a, b in itertools.pairwise(bounds)]
    order = rng.permutation(len(parts))
    merged = pickle.loads(pickle.dumps(parts[order[0]]))
    for index in order[1:]:
        merged.merge(pickle.loads(pickle.dumps(parts[index])))
    assert whole.evaluation is not None
    assert merged.evaluation is not None
    mine, theirs = whole.evaluation.groups, merged.evaluation.groups
    assert mine.keys() == theirs.keys()
    for key, tally in mine.items():
        assert _state(theirs[key]) == _state(tally)
    document = whole.compute(reduction="mean", source="t").to_json()
    assert merged.compute(reduction="mean", source="t").to_json() == document
    # The weights and the true class's probability, as exact fractions per group.
    groups: Any = document["groups"]
    for group in groups:
        code = keys.values.index(group["by"]["g"])
        members = np.flatnonzero(keys.codes == code).tolist()
        weight = [Fraction(1) if weights is None else Fraction(weights[i]) for i in members]
        p_true = [Fraction(preds[i, int(labels[i, 0])]) / sum(map(Fraction, preds[i]))
                  for i in members]  # fmt: skip
        assert group["rows"] == len(members)
        assert group["weight"] == float(sum(weight, Fraction(0)))
        if sum(weight):
            expected = sum((w * p for w, p in zip(weight, p_true, strict=True)), Fraction(0))
            # The library rounds each row's p/Σp once, then sums exactly: within a rounding.
            assert group["mean_p_true"] == pytest.approx(float(expected / sum(weight)), rel=1e-15)


# --- the command line, over a file of many groups -----------------------------------------


def test_by_over_many_groups_gives_each_groups_exact_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    rows, classes = 1500, 5
    preds = rng.dirichlet([0.6] * classes, rows)
    labels = rng.integers(0, classes, rows)
    weights = rng.choice([0.25, 1.0, 2.5, 0.0], rows)
    groups = [f"u{i // 3}" if i < 1200 else f"s{i % 7}" for i in range(rows)]  # 400 + 7 groups
    groups[-1] = "alone"
    path = tmp_path / "many.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "grp", "label", "w", *(f"p{k}" for k in range(classes))])
        for i in range(rows):
            writer.writerow([f"r{i}", groups[i], labels[i], repr(float(weights[i])),
                             *(repr(float(p)) for p in preds[i])])  # fmt: skip
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 4096)  # many batches, groups across them
    per_row = tmp_path / "losses.csv"
    code = main(["ce", "--csv", str(path), "--by", "grp", "--weight-col", "w", "--id-col", "id",
                 "--top-k", "2", "--json", "--no-progress", "-o", str(per_row)])  # fmt: skip
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    with per_row.open() as handle:
        losses = [Fraction(float(line["loss"])) for line in csv.DictReader(handle)]
    assert len(losses) == rows
    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, []).append(i)
    assert len(document["groups"]) == len(members) == 408
    total_loss = sum((Fraction(float(weights[i])) * losses[i] for i in range(rows)), Fraction(0))
    for group in document["groups"]:
        indices = members[group["by"]["grp"]]
        weight = sum((Fraction(float(weights[i])) for i in indices), Fraction(0))
        loss = sum((Fraction(float(weights[i])) * losses[i] for i in indices), Fraction(0))
        ranks = {i: int((preds[i] > preds[i, labels[i]]).sum()) for i in indices}
        correct = sum((Fraction(float(weights[i])) for i in indices if ranks[i] == 0), Fraction(0))
        top_2 = sum((Fraction(float(weights[i])) for i in indices if ranks[i] < 2), Fraction(0))
        p_true = sum(
            (Fraction(float(weights[i])) * Fraction(float(preds[i, labels[i]])) for i in indices),
            Fraction(0),
        )
        worst = max(indices, key=lambda i: (losses[i], -i))
        assert group["rows"] == len(indices)
        assert group["weight"] == float(weight)
        assert group["share"] == float(loss / total_loss)
        assert group["worst_line"] == worst + 2
        assert group["worst_loss"] == float(losses[worst])
        if weight:
            assert group["loss"] == float(loss / weight)
            assert group["accuracy"] == float(correct / weight)
            assert group["top_k_accuracy"] == float(top_2 / weight)
            assert group["mean_p_true"] == float(p_true / weight)
        else:
            assert group["loss"] is None
            assert group["accuracy"] is None


# --- the state sent between processes ---------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(VALUES, max_size=30))
def test_a_pickled_sum_is_the_same_sum(values: list[float]) -> None:
    total = ExactSum()
    total.add(np.array(values, dtype=np.float64))
    copy = pickle.loads(pickle.dumps(total))
    assert (copy.scaled, copy.nan, copy.positive_infinite, copy.negative_infinite) == (
        total.scaled, total.nan, total.positive_infinite, total.negative_infinite
    )  # fmt: skip
    assert _same(copy.value(), _expected(values))


def test_a_pickled_sum_leaves_out_the_zero_bits_below_its_last_one() -> None:
    # In units of 2^-2400, 0.75 is a 2400-bit integer: about 300 bytes, all but 2 bits zeros.
    total = ExactSum()
    total.add(np.array([0.5, 0.25]))
    assert len(pickle.dumps(total)) < 120
    negative = ExactSum()
    negative.add(np.array([-(2.0**-1074), -LARGEST]))
    copy = pickle.loads(pickle.dumps(negative))
    assert copy.scaled == negative.scaled
    assert _finite_part(copy) == -Fraction(2.0**-1074) - Fraction(LARGEST)


@settings(max_examples=200, deadline=None)
@given(
    codes=st.lists(st.integers(0, 2**40), max_size=50)
    | st.lists(st.integers(0, 70_000), max_size=50)
    | st.lists(st.integers(0, 5), max_size=50)
)
def test_group_codes_are_renumbered_as_np_unique_numbers_them(codes: list[int]) -> None:
    """By counting where the codes span little more than the rows, by sorting otherwise."""
    from cecli.evaluation import _renumbered

    array = np.array(codes, dtype=np.int64)
    present, inverse = _renumbered(array)
    expected_present, expected_inverse = np.unique(array, return_inverse=True)
    assert present.tolist() == expected_present.tolist()
    assert inverse.tolist() == expected_inverse.reshape(-1).tolist()
