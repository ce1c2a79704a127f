"""Ids of two files matched by id: text is compared as written, a number by its value, a
whole number written as an integer, so a Parquet column of floats (10.0) meets the ids 10 of
a CSV file or of a Parquet column of integers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from mpmath import mp, mpf

import cecli
from cecli.inputs import InputError
from tests.helpers import assert_close, run

# Rows in another order than the labels', with the true class's probability of each id.
PREDS = "id,p0,p1\n12,0.25,0.75\n10,0.9,0.1\n11,0.4,0.6\n"
TRUE_P = ["0.9", "0.4", "0.75"]  # ids 10 (label 0), 11 (label 0), 12 (label 1)


def _mean_nll(probabilities: list[str]) -> mpf:
    return mp.fsum(-mp.log(mpf(p)) for p in probabilities) / len(probabilities)


def _labels_parquet(tmp_path: Path, ids: list[object]) -> str:
    path = tmp_path / "labels.parquet"
    pl.DataFrame({"id": ids, "label": [0, 0, 1]}).write_parquet(path)
    return str(path)


def _csv(tmp_path: Path, text: str, name: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("ids", [[10.0, 11.0, 12.0], [10, 11, 12]], ids=["float", "integer"])
def test_numeric_parquet_ids_meet_the_csv_ids_written_as_integers(
    tmp_path: Path, ids: list[object]
) -> None:
    labels = _labels_parquet(tmp_path, ids)
    preds = _csv(tmp_path, PREDS, "preds.csv")
    summary = cecli.score_file((labels, preds), "ce")
    assert (summary.rows, summary.skipped) == (3, 0)
    assert_close(summary.loss, _mean_nll(TRUE_P))


def test_float_ids_meet_integer_ids_of_another_parquet_file(tmp_path: Path) -> None:
    labels = _labels_parquet(tmp_path, [10.0, 11.0, 12.0])
    preds = tmp_path / "preds.parquet"
    pl.DataFrame(
        {"id": [12, 10, 11], "p0": [0.25, 0.9, 0.4], "p1": [0.75, 0.1, 0.6]}
    ).write_parquet(preds)
    summary = cecli.score_file((labels, str(preds)), "ce")
    assert (summary.rows, summary.skipped) == (3, 0)
    assert_close(summary.loss, _mean_nll(TRUE_P))


def test_float_ids_that_are_not_whole_meet_the_same_text(tmp_path: Path) -> None:
    labels = _labels_parquet(tmp_path, [10.5, 11.0, -0.0])
    preds = _csv(tmp_path, "id,p0,p1\n0,0.25,0.75\n10.5,0.9,0.1\n11,0.4,0.6\n", "preds.csv")
    summary = cecli.score_file((labels, preds), "ce")
    assert (summary.rows, summary.skipped) == (3, 0)
    assert_close(summary.loss, _mean_nll(TRUE_P))


def test_text_ids_are_compared_as_written(tmp_path: Path) -> None:
    # Two CSV files: every id is text, so 10.0 is not 10, nor 007 the integer 7.
    labels = _csv(tmp_path, "id,label\n10.0,0\n11,0\n12,1\n", "labels.csv")
    preds = _csv(tmp_path, PREDS, "preds.csv")
    with pytest.raises(InputError) as caught:
        cecli.score_file((labels, preds), "ce")
    assert str(caught.value).startswith(f"{preds}:3:1: '10' has no row in {labels}")
    labels = _labels_parquet(tmp_path, [7, 11, 12])
    preds = _csv(tmp_path, PREDS.replace("\n10,", "\n007,"), "padded.csv")
    with pytest.raises(InputError) as caught:
        cecli.score_file((labels, preds), "ce")
    assert str(caught.value).startswith(f"{preds}:3:1: '007' has no row in {labels}")


def test_a_float_id_given_twice_is_named_as_it_is_matched(tmp_path: Path) -> None:
    labels = _labels_parquet(tmp_path, [10.0, 11.0, 10.0])
    preds = _csv(tmp_path, PREDS, "preds.csv")
    with pytest.raises(InputError) as caught:
        cecli.score_file((labels, preds), "ce")
    assert str(caught.value).startswith(f"{labels}:3: id '10' is also on line 1")


def test_a_missing_float_id_matches_no_id(tmp_path: Path) -> None:
    labels = _labels_parquet(tmp_path, [10.0, None, 12.0])
    preds = _csv(tmp_path, PREDS, "preds.csv")
    summary = cecli.score_file((labels, preds), "ce", skip_invalid=True)
    assert (summary.rows, summary.skipped) == (2, 2)  # 11 in preds only, the null in labels
    assert_close(summary.loss, _mean_nll(["0.9", "0.75"]))


def test_the_command_line_matches_float_ids_with_integer_ids(tmp_path: Path) -> None:
    labels = _labels_parquet(tmp_path, [10.0, 11.0, 12.0])
    preds = _csv(tmp_path, PREDS, "preds.csv")
    code, out, err = run("ce", "--labels", labels, "--preds", preds, "-q")
    assert code == 0, err
    assert_close(float(out), _mean_nll(TRUE_P))
