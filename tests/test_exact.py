"""Exact totals: a file's summary is the exact sum of its rows rounded once, however split."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cecli.files
from cecli.batch import Accumulator
from cecli.cli import main
from cecli.numerics import ExactSum
from cecli.results import RowLosses

# Magnitudes from 1e-300 to 1e300 of either sign, with zeros and subnormals among them.
MAGNITUDES = st.one_of(
    st.floats(min_value=1e-300, max_value=1e300),
    st.sampled_from([0.0, 5e-324, 1e-320, 2.2250738585072014e-308, 1.0, 0.1]),
)
VALUES = st.lists(st.builds(lambda m, negative: -m if negative else m, MAGNITUDES, st.booleans()),
                  min_size=1, max_size=40)  # fmt: skip
WEIGHTS = st.one_of(
    st.floats(min_value=0.0, max_value=1e300), st.sampled_from([0.0, 5e-324, 1e-320, 1e300])
)


def _rounded(exact: Fraction) -> float:
    """The float nearest to ``exact`` (ties to even), ±inf beyond the largest float."""
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def _rows(values: list[float], extra: list[float] | None = None) -> RowLosses:
    array = np.array(values)
    return RowLosses(
        name="ce", base="e", classes=2, per_row=array, row_totals=array,
        row_divisors=np.ones(array.size), row_extras={} if extra is None else
        {"entropy": np.array(extra)}, clipped_count=0, unnormalized_rows=(),
    )  # fmt: skip


def _accumulate(
    values: list[float],
    cuts: list[int],
    order: list[int],
    weights: list[float] | None = None,
) -> Accumulator:
    """One accumulator per slice between ``cuts``, merged in the order ``order`` gives."""
    bounds = sorted({0, len(values), *(c % (len(values) + 1) for c in cuts)})
    parts = []
    for start, stop in itertools.pairwise(bounds):
        part = Accumulator()
        part_weights = None if weights is None else np.array(weights[start:stop])
        rows = _rows(values[start:stop], [v / 3 for v in values[start:stop]])
        part.update(rows, np.arange(start, stop) + 2, None, part_weights)
        parts.append(part)
    ranked = sorted(range(len(parts)), key=lambda i: order[i % len(order)] if order else i)
    merged = Accumulator()
    for index in ranked:
        merged.merge(parts[index])
    return merged


@settings(max_examples=100, deadline=None)
@given(VALUES, st.lists(st.integers(0, 40), max_size=6), st.lists(st.integers(), max_size=8))
def test_the_total_is_the_exact_sum_rounded_once(
    values: list[float], cuts: list[int], order: list[int]
) -> None:
    accumulator = _accumulate(values, cuts, order)
    exact = sum((Fraction(v) for v in values), Fraction(0))
    summed = accumulator.compute(reduction="sum", source="t")
    assert summed.loss == _rounded(exact)
    assert summed.extras["entropy"] == _rounded(sum((Fraction(v / 3) for v in values), Fraction(0)))
    mean = accumulator.compute(reduction="mean", source="t")
    assert mean.loss == _rounded(exact / len(values))
    assert mean.row_mean == _rounded(exact / len(values))
    one_batch = _accumulate(values, [], [])
    assert one_batch.compute(reduction="mean", source="t").loss == mean.loss


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(min_value=-1e6, max_value=1e6), WEIGHTS), min_size=1, max_size=40),
    st.lists(st.integers(0, 40), max_size=6),
    st.lists(st.integers(), max_size=8),
)
def test_the_weighted_mean_is_the_ratio_of_exact_sums(
    rows: list[tuple[float, float]], cuts: list[int], order: list[int]
) -> None:
    values, weights = [v for v, _ in rows], [w for _, w in rows]
    accumulator = _accumulate(values, cuts, order, weights)
    weighted = sum((Fraction(v) * Fraction(w) for v, w in rows), Fraction(0))
    weight_total = sum((Fraction(w) for w in weights), Fraction(0))
    assert accumulator.compute(reduction="sum", source="t").loss == _rounded(weighted)
    if weight_total == 0:
        with pytest.raises(cecli.InputError, match="weights sum to 0"):
            accumulator.compute(reduction="mean", source="t")
        return
    assert accumulator.compute(reduction="mean", source="t").loss == _rounded(
        weighted / weight_total
    )


def test_the_exact_sum_keeps_what_a_float_sum_loses() -> None:
    total = ExactSum()
    total.add(np.array([1e308, 1e308, -1e308, 1.0, -1e308, 5e-324]))
    assert total.value() == 1.0  # 1 + 2^-1074, rounded
    assert total.mean(2) == 0.5
    huge = ExactSum()
    huge.add(np.array([1.7976931348623157e308] * 3))
    assert huge.value() == math.inf
    assert huge.mean(3) == 1.7976931348623157e308


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1.0, math.inf], math.inf), ([-math.inf, 2.0], -math.inf),
     ([math.inf, -math.inf], math.nan), ([math.nan, 1.0], math.nan)],
)  # fmt: skip
def test_infinities_and_nan_follow_float_rules(values: list[float], expected: float) -> None:
    total = ExactSum()
    total.add(np.array(values))
    assert total.value() == expected or (math.isnan(expected) and math.isnan(total.value()))


def _edge_rows(seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Class indices and probabilities whose losses span 1e-12 to 690 (p from 1e-300 to ~1)."""
    rng = np.random.default_rng(seed)
    true_p = 10.0 ** -rng.uniform(0.0, 300.0, rows) * (rng.random(rows) < 0.3)
    true_p = np.where(true_p == 0.0, 1.0 - 10.0 ** -rng.uniform(1.0, 12.0, rows), true_p)
    labels = rng.integers(0, 2, rows)
    preds = np.empty((rows, 2))
    preds[np.arange(rows), labels] = true_p
    preds[np.arange(rows), 1 - labels] = 1.0 - true_p
    return labels, preds


def _json_loss(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main([*args, "--json"]) == 0
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


def test_csv_and_parquet_of_the_same_rows_give_bit_identical_totals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small Parquet slices, so that the two formats split the rows differently.
    monkeypatch.setattr(cecli.files, "BATCH_ROWS", 7)
    labels, preds = _edge_rows(5, 400)
    frame = pl.DataFrame({"label": labels, "p0": preds[:, 0], "p1": preds[:, 1]})
    frame.write_csv(tmp_path / "rows.csv")
    frame.write_parquet(tmp_path / "rows.parquet")
    from_csv = _json_loss(capsys, "ce", "--csv", str(tmp_path / "rows.csv"), "--eps", "0")
    from_parquet = _json_loss(
        capsys, "ce", "--parquet", str(tmp_path / "rows.parquet"), "--eps", "0"
    )
    exact = sum(Fraction(-math.log(p)) for p in preds[np.arange(400), labels].tolist())
    assert from_csv["loss"] == from_parquet["loss"]
    assert from_csv["per_row_stats"] == from_parquet["per_row_stats"]
    assert from_csv["loss"] == float(exact / 400)


def test_a_summed_file_equals_the_exact_sum_of_its_own_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((300, 3)) * 10.0 ** rng.uniform(-8, 2, (300, 1))
    frame = pl.DataFrame(
        {"label": rng.integers(0, 3, 300)} | {f"z{i}": logits[:, i] for i in range(3)}
    )
    path = str(tmp_path / "logits.csv")
    frame.write_csv(path)
    assert main(["grad", "--csv", path, "--logits", "--reduction", "none", "--json"]) == 0
    per_row = [json.loads(line)["loss"] for line in capsys.readouterr().out.splitlines()]
    summed = _json_loss(capsys, "grad", "--csv", path, "--logits", "--reduction", "sum")
    assert len(per_row) == 300
    assert summed["loss"] == float(sum(Fraction(v) for v in per_row))


@pytest.mark.parametrize(
    ("command", "labels", "preds", "extra"),
    [
        ("ce", "0;2;1", "0.7,0.2,0.1;0.1,0.1,0.8;0.3,0.4,0.3", []),
        ("focal", "0;2;1", "0.7,0.2,0.1;0.1,0.1,0.8;0.3,0.4,0.3", ["--gamma", "2"]),
        ("bce", "1;0;1;1", "0.9;0.3;0.61;0.07", []),
        ("smooth", "0;2;1", "0.7,0.2,0.1;0.1,0.1,0.8;0.3,0.4,0.3", ["--smoothing", "0.1"]),
    ],
)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_typed_rows_reduce_to_the_exact_value_rounded_once_as_a_file_does(
    command: str,
    labels: str,
    preds: str,
    extra: list[str],
    reduction: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # np.sum's pairwise sum of these per-row values is one unit in the last place off for ce.
    args = [command, labels, preds, *extra, "--reduction", reduction]
    assert main([*args, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    per_row = [Fraction(value) for value in document["per_row"]]
    exact = sum(per_row, Fraction(0))
    expected = float(exact if reduction == "sum" else exact / len(per_row))
    assert document["loss"] == expected
    rows = [row.split(",") for row in preds.split(";")]
    header = "label," + ",".join(f"p{i}" for i in range(len(rows[0])))
    path = tmp_path / "rows.csv"
    if command == "bce":
        header = "y0,p0"
    body = "\n".join(f"{y},{','.join(p)}" for y, p in zip(labels.split(";"), rows, strict=True))
    path.write_text(f"{header}\n{body}\n")
    assert main([command, "--csv", str(path), *extra, "--reduction", reduction, "-q"]) == 0
    assert float(capsys.readouterr().out) == expected
