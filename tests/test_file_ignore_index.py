"""``ignore_index`` on files: the rows labelled K are left out of every sum, as typed input
leaves them out, and counted as ignored rows."""

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

LABELS = [0, -100, 2, 1, -100, 2]
PREDS = [
    [0.7, 0.2, 0.1],
    [0.1, 0.1, 0.8],
    [0.2, 0.2, 0.6],
    [0.3, 0.4, 0.3],
    [0.5, 0.25, 0.25],
    [1e-9, 0.5, 0.5 - 1e-9],
]
WEIGHTS = [1.5, 2.0, 0.0, 3.25, 1.0, 0.5]
LOGITS = [[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 1.0, 4.0],
          [1.0, 1.0, -2.0], [5.0, 0.0, 0.0], [-1000.0, 0.0, 1000.0]]  # fmt: skip


def _write(
    folder: Path, preds: list[list[float]], kind: Literal["csv", "parquet"], weights: bool = False
) -> Path:
    frame: dict[str, Any] = {"label": LABELS}
    frame.update({f"p{c}": [row[c] for row in preds] for c in range(3)})
    if weights:
        frame["weight"] = WEIGHTS
    path = folder / f"rows.{kind}"
    if kind == "csv":
        pl.DataFrame(frame).write_csv(path)
    else:
        pl.DataFrame(frame).write_parquet(path)
    return path


CASES: list[tuple[Command, dict[str, Any]]] = [
    ("ce", {}),
    ("ce", {"logits": True}),
    ("ce", {"smoothing": 0.1}),
    ("smooth", {"smoothing": 0.2}),
    ("focal", {"gamma": 2.0}),
    ("focal", {"gamma": 1.5, "smoothing": 0.1, "logits": True}),
    ("grad", {"logits": True}),
]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("loss", "options"), CASES)
def test_a_file_gives_the_typed_value_bit_for_bit(
    tmp_path: Path,
    kind: Literal["csv", "parquet"],
    weighted: bool,
    loss: Command,
    options: dict[str, Any],
) -> None:
    preds = LOGITS if options.get("logits") else PREDS
    path = _write(tmp_path, preds, kind, weights=weighted)
    summary = score_file(path, loss, ignore_index=-100, **options)
    typed = compute(
        loss, np.array(LABELS, dtype=np.float64), np.array(preds), ignore_index=-100,
        sample_weights=WEIGHTS if weighted else None, **options,
    )  # fmt: skip
    assert summary.loss == typed.loss
    assert summary.ignored == 2
    assert summary.rows == 4


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_value_is_the_oracles_over_the_rows_not_ignored(
    tmp_path: Path, reduction: Literal["mean", "sum"]
) -> None:
    path = _write(tmp_path, PREDS, "csv", weights=True)
    summary = score_file(path, "ce", ignore_index=-100, reduction=reduction)
    kept = [i for i, label in enumerate(LABELS) if label != -100]
    _, per_row = oracle.ce(oracle.one_hot([LABELS[i] for i in kept], 3), [PREDS[i] for i in kept])
    expected = oracle.weigh_rows(per_row, [WEIGHTS[i] for i in kept], reduction)
    assert_close(summary.loss, expected)


def test_an_ignored_row_is_0_in_the_per_row_output_and_counted_in_json(tmp_path: Path) -> None:
    path = _write(tmp_path, PREDS, "csv")
    code, out, err = run("ce", "--csv", str(path), "--ignore-index", "-100", "--reduction", "none")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "line,loss"
    losses = {int(line): float(value) for line, value in (row.split(",") for row in lines[1:])}
    assert losses[3] == 0.0
    assert losses[6] == 0.0
    assert len(losses) == len(LABELS)
    _, per_row = oracle.ce(oracle.one_hot([0], 3), [PREDS[0]])
    assert_close(losses[2], per_row[0])

    code, out, err = run("ce", "--csv", str(path), "--ignore-index", "-100", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["ignored_rows"] == 2
    assert document["rows"] == 4
    assert document["accuracy"] == 3 / 4  # of the four rows scored (see below)

    code, out, err = run("ce", "--csv", str(path), "--ignore-index", "-100")
    assert code == 0, err
    assert "ignored rows" in out
    assert "4 rows scored" in out


def test_accuracy_and_per_class_leave_the_ignored_rows_out(tmp_path: Path) -> None:
    path = _write(tmp_path, PREDS, "csv")
    summary = score_file(path, "ce", ignore_index=-100, per_class=True)
    assert summary.accuracy is not None
    # Rows 0, 2 and 3 have their true class on top; row 5's class 2 is below class 1.
    assert summary.accuracy.accuracy == 3 / 4
    assert summary.per_class is not None
    assert [row.rows for row in summary.per_class] == [1, 1, 2]


def test_the_json_key_is_absent_without_an_ignore_index(tmp_path: Path) -> None:
    path = _write(tmp_path, PREDS, "csv")
    code, out, err = run("ce", "--csv", str(path), "--json", "--skip-invalid")
    assert code == 0, err
    assert "ignored_rows" not in json.loads(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ce", "--ignore-index", "7"], ":3:1: '-100' is not a class index 0 to 2"),
        (
            ["focal", "--binary", "--ignore-index", "-100"],
            "--ignore-index needs class-index labels",
        ),
    ],
)
def test_bad_uses_on_a_file_are_one_error_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    path = _write(tmp_path, PREDS, "csv")
    code, out, err = run(*args, "--csv", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("cecli: error: ")
    assert message in err


def test_per_class_target_columns_have_no_index_to_ignore(tmp_path: Path) -> None:
    path = tmp_path / "one_hot.csv"
    path.write_text("y0,y1,p0,p1\n1,0,0.5,0.5\n")
    code, _, err = run("ce", "--csv", str(path), "--ignore-index", "-100")
    assert code == 2
    assert err == (
        "cecli: error: --ignore-index needs one label column of class indices, not per-class "
        "columns (y0, y1)\n"
    )


def test_every_row_ignored_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "all.csv"
    path.write_text("label,p0,p1\n-1,0.5,0.5\n-1,0.2,0.8\n")
    code, _, err = run("ce", "--csv", str(path), "--ignore-index", "-1")
    assert code == 2
    assert "every row is ignored" in err


def test_a_file_of_ignored_rows_only_writes_zeros_among_other_files(tmp_path: Path) -> None:
    """Its batch has no scored row: the per-row output still has a 0 and a 0 gradient."""
    ignored = tmp_path / "ignored.csv"
    ignored.write_text("label,p0,p1\n-1,0.5,0.5\n")
    scored = tmp_path / "scored.csv"
    scored.write_text("label,p0,p1\n0,0.2,0.8\n")
    code, out, err = run(
        "grad", "--csv", str(ignored), "--csv", str(scored), "--ignore-index", "-1",
        "--reduction", "none",
    )  # fmt: skip
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "line,loss,dL/dz_p0,dL/dz_p1"
    assert lines[1] == "2,0.0,0.0,0.0"
    # −log 0.2 and softmax(log p) − y = (0.2 − 1, 0.8) for the scored row
    line, loss, first, second = lines[2].split(",")
    assert line == "2"
    assert float(loss) == pytest.approx(1.6094379124341003, rel=1e-15)
    assert float(first) == pytest.approx(-0.8, rel=1e-15)
    assert float(second) == pytest.approx(0.8, rel=1e-15)
