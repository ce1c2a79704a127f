"""Two-file mode matched by id: a labels file and a predictions file whose rows come in any
order are paired by their id column; an id in one file only, or twice in one, is reported."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from mpmath import mp, mpf

import cecli
from cecli import render
from cecli.batch import Rejected
from cecli.inputs import InputError
from tests import oracle
from tests.helpers import assert_close, run

LABELS = "id,label\nimg1,0\nimg2,2\nimg3,1\nimg4,2\n"
# The same four ids, in another order, with the predictions of each.
PREDS = "id,p0,p1,p2\nimg3,0.2,0.5,0.3\nimg1,0.6,0.3,0.1\nimg4,0.1,0.1,0.8\nimg2,0.25,0.25,0.5\n"
TRUE_P = {"img1": "0.6", "img2": "0.5", "img3": "0.5", "img4": "0.8"}


def _files(tmp_path: Path, labels: str = LABELS, preds: str = PREDS) -> tuple[str, str]:
    (tmp_path / "labels.csv").write_text(labels, encoding="utf-8")
    (tmp_path / "preds.csv").write_text(preds, encoding="utf-8")
    return str(tmp_path / "labels.csv"), str(tmp_path / "preds.csv")


def _mean_nll(probabilities: list[str]) -> mpf:
    return mp.fsum(-mp.log(mpf(p)) for p in probabilities) / len(probabilities)


def test_rows_in_any_order_are_matched_by_their_id(tmp_path: Path) -> None:
    labels, preds = _files(tmp_path)
    summary = cecli.score_file((labels, preds), "ce")
    assert (summary.rows, summary.skipped) == (4, 0)
    assert_close(summary.loss, _mean_nll(list(TRUE_P.values())))
    # Top-1 is right for img1 (0 → 0.6), img3 (1 → 0.5) and img4 (2 → 0.8); img2's 0.5 is
    # its largest too (class 2): every row is right.
    assert summary.accuracy is not None
    assert summary.accuracy.accuracy == 1.0
    assert "both files have column 'id': their rows are matched by it" in " ".join(summary.notes)
    # The worst row is named by its id and the labels file's line.
    worst = summary.worst[0]
    assert (worst.identifier, worst.line) == ("img2", 3)
    assert_close(worst.loss, -mp.log(mpf("0.5")))


def test_per_row_output_follows_the_predictions_file(tmp_path: Path) -> None:
    labels, preds = _files(tmp_path)
    seen: list[tuple[str, float]] = []
    cecli.score_file(
        (labels, preds), "ce", reduction="none",
        on_rows=lambda rows: seen.extend(zip(rows.ids or [], rows.losses.tolist(), strict=True)),
    )  # fmt: skip
    assert [name for name, _ in seen] == ["img3", "img1", "img4", "img2"]
    for name, loss in seen:
        assert_close(loss, -mp.log(mpf(TRUE_P[name])))


def test_an_explicit_id_column_and_parquet_files_match_too(tmp_path: Path) -> None:
    labels = pl.DataFrame({"key": [10, 20, 30], "label": [1, 0, 1]})
    preds = pl.DataFrame({"p0": [0.9, 0.3, 0.4], "p1": [0.1, 0.7, 0.6], "key": [20, 30, 10]})
    labels.write_parquet(tmp_path / "labels.parquet")
    preds.write_parquet(tmp_path / "preds.parquet")
    summary = cecli.score_file(
        (str(tmp_path / "labels.parquet"), str(tmp_path / "preds.parquet")), "ce", id_col="key"
    )
    # key 10 → label 1, p1 = 0.6; key 20 → label 0, p0 = 0.9; key 30 → label 1, p1 = 0.7.
    assert_close(summary.loss, _mean_nll(["0.6", "0.9", "0.7"]))
    assert not any("matched" in note for note in summary.notes)  # chosen, not guessed


def test_weights_in_the_labels_file_follow_their_row(tmp_path: Path) -> None:
    labels, preds = _files(tmp_path, "id,label,weight\nimg1,0,1\nimg2,2,3\nimg3,1,0.5\nimg4,2,2\n")
    summary = cecli.score_file((labels, preds), "ce")
    weights = {"img1": "1", "img2": "3", "img3": "0.5", "img4": "2"}
    expected = mp.fsum(-mpf(weights[k]) * mp.log(mpf(p)) for k, p in TRUE_P.items())
    assert_close(summary.loss, expected / mp.fsum(mpf(w) for w in weights.values()))


def test_an_id_in_one_file_only_is_an_error_naming_it_and_both_counts(tmp_path: Path) -> None:
    extra = PREDS + "img9,0.3,0.3,0.4\n"
    labels, preds = _files(tmp_path, preds=extra)
    code, out, err = run("ce", "--labels", labels, "--preds", preds, "--no-progress")
    assert (code, out) == (2, "")
    lines = [line for line in err.splitlines() if line.startswith("cecli: error: ")]
    assert len(lines) == 1
    assert err.count("error") == 1
    assert lines[0] == (
        f"cecli: error: {preds}:6:1: 'img9' has no row in {labels} (rows are matched by column "
        f"'id'; {labels}: 4 rows, {preds}: 5 rows)"
    )


def test_a_labels_row_without_predictions_is_reported_after_the_others(tmp_path: Path) -> None:
    labels, preds = _files(tmp_path, labels=LABELS + "img5,1\n")
    with pytest.raises(InputError) as caught:
        cecli.score_file((labels, preds), "ce")
    assert str(caught.value) == (
        f"{labels}:6:1: 'img5' has no row in {preds} (rows are matched by column 'id'; "
        f"{labels}: 5 rows, {preds}: 4 rows)"
    )


def test_a_bad_value_before_an_unmatched_id_is_reported_first(tmp_path: Path) -> None:
    preds_text = "id,p0,p1,p2\nimg3,0.2,abc,0.3\nimg9,0.6,0.3,0.1\n"
    labels, preds = _files(tmp_path, preds=preds_text)
    with pytest.raises(InputError, match=r"preds.csv:2:3: 'abc' is not a number"):
        cecli.score_file((labels, preds), "ce")


def test_skip_invalid_counts_unmatched_rows_and_writes_them_to_rejects(tmp_path: Path) -> None:
    preds_text = "id,p0,p1,p2\nimg3,0.2,0.5,0.3\nimg9,0.6,0.3,0.1\nimg4,0.1,0.1,0.8\n"
    labels, preds = _files(tmp_path, preds=preds_text)
    found: list[Rejected] = []
    summary = cecli.score_file((labels, preds), "ce", skip_invalid=True, on_rejects=found.append)
    # Scored: img3 and img4; skipped: img9 (predictions only), img1 and img2 (labels only).
    assert (summary.rows, summary.skipped) == (2, 3)
    assert_close(summary.loss, _mean_nll(["0.5", "0.8"]))
    assert summary.skipped_reasons == (
        f"{preds}:3:1: 'img9' has no row in {labels} (rows are matched by column 'id')",
        f"{labels}:2:1: 'img1' has no row in {preds} (rows are matched by column 'id')",
        f"{labels}:3:1: 'img2' has no row in {preds} (rows are matched by column 'id')",
    )
    stream = io.StringIO()
    render.write_rejects(stream, found[0])
    rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert rows[0] == ["line", "reason", "id", "label", "id", "p0", "p1", "p2"]
    assert rows[1:] == [
        ["2", f"id: has no row in {preds} (rows are matched by column 'id')",
         "img1", "0", "", "", "", ""],
        ["3", f"id: has no row in {preds} (rows are matched by column 'id')",
         "img2", "2", "", "", "", ""],
        ["3", f"id: has no row in {labels} (rows are matched by column 'id')",
         "", "", "img9", "0.6", "0.3", "0.1"],
    ]  # fmt: skip


def test_a_bad_value_of_a_matched_row_names_the_predictions_files_line(tmp_path: Path) -> None:
    preds_text = (
        "id,p0,p1,p2\nimg3,0.2,0.5,0.3\nimg1,0.6,0.3,0.1\nimg4,0.1,0.1,x\nimg2,0.25,0.25,0.5\n"
    )
    labels, preds = _files(tmp_path, preds=preds_text)
    with pytest.raises(InputError) as caught:
        cecli.score_file((labels, preds), "ce")
    assert str(caught.value) == f"{preds}:4:4: 'x' is not a number"
    found: list[Rejected] = []
    summary = cecli.score_file((labels, preds), "ce", skip_invalid=True, on_rejects=found.append)
    assert summary.skipped == 1
    stream = io.StringIO()
    render.write_rejects(stream, found[0])
    # The labels file's line and fields, then the predictions file's fields of the same id.
    assert stream.getvalue().splitlines()[1] == "5,p2: 'x' is not a number,img4,2,img4,0.1,0.1,x"


@pytest.mark.parametrize(
    ("labels_text", "preds_text", "where"),
    [
        ("id,label\nimg1,0\nimg2,2\nimg3,1\nimg2,2\n", PREDS,
         "labels.csv:5: id 'img2' is also on line 3"),
        (LABELS, PREDS + "img1,0.6,0.3,0.1\n", "preds.csv:6: id 'img1' is also on line 3"),
        (LABELS, "id,p0,p1,p2\nimg1,0.6,0.3,0.1\nimg1,0.6,0.3,0.1\n",
         "preds.csv:3: id 'img1' is also on line 2"),
    ],
)  # fmt: skip
def test_an_id_twice_in_a_file_is_an_error_naming_its_line(
    tmp_path: Path, labels_text: str, preds_text: str, where: str
) -> None:
    labels, preds = _files(tmp_path, labels_text, preds_text)
    with pytest.raises(InputError) as caught:
        cecli.score_file((labels, preds), "ce", skip_invalid=True)
    assert str(caught.value).startswith(f"{tmp_path}/{where}; ")


def test_without_an_id_column_different_lengths_give_both_counts(tmp_path: Path) -> None:
    labels, preds = _files(tmp_path, "label\n0\n2\n1\n", "p0,p1,p2\n0.6,0.3,0.1\n0.2,0.3,0.5\n")
    code, _, err = run("ce", "--labels", labels, "--preds", preds, "--no-progress")
    assert code == 2
    assert err == (
        f"cecli: error: {labels} + {preds}: the files have different numbers of rows "
        f"({labels}: 3, {preds}: 2)\n"
    )


def test_the_guess_is_said_once_on_standard_error(tmp_path: Path) -> None:
    labels, preds = _files(tmp_path)
    code, out, err = run("ce", "--labels", labels, "--preds", preds, "--no-progress", "-q")
    assert code == 0
    assert err.count("their rows are matched by it") == 1
    expected = oracle.ce(
        oracle.one_hot([0, 2, 1, 2], 3),
        [[0.6, 0.3, 0.1], [0.25, 0.25, 0.5], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]],
    )[0]
    assert_close(float(out), expected)


def test_another_shared_column_is_still_refused(tmp_path: Path) -> None:
    labels, preds = _files(tmp_path, "id,label,x\nimg1,0,1\n", "id,p0,p1,x\nimg1,0.5,0.5,1\n")
    with pytest.raises(InputError, match="column 'x' is in both files"):
        cecli.score_file((labels, preds), "ce")


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_many_rows_in_small_blocks_match_as_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    import random

    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(cecli.files, "BATCH_ROWS", 7)
    generator = random.Random(13)
    rows = {f"r{n:03d}": (generator.randrange(3), generator.randrange(1, 99)) for n in range(300)}
    labels_order = list(rows)
    generator.shuffle(labels_order)
    preds_order = [key for key in labels_order if key not in {"r005", "r250"}] + ["x1", "x2"]
    generator.shuffle(preds_order)
    labels_text = "id,label\n" + "".join(f"{k},{rows[k][0]}\n" for k in labels_order)
    preds_text = "id,p0,p1,p2\n" + "".join(
        f"{k},0.{rows.get(k, (0, 50))[1]:02d},0,0.{100 - rows.get(k, (0, 50))[1]:02d}\n"
        for k in preds_order
    )
    labels, preds = _files(tmp_path, labels_text, preds_text)
    summary = cecli.score_file((labels, preds), "ce", skip_invalid=True)
    assert (summary.rows, summary.skipped) == (298, 4)
    # Each row's true class has probability p (class 0), 0 (class 1, clipped to eps) or 1 - p.
    eps = mpf(1e-7)
    terms = []
    for key, (label, percent) in rows.items():
        if key in {"r005", "r250"}:
            continue
        p = [mpf(percent) / 100, mpf(0), (100 - mpf(percent)) / 100][label]
        terms.append(-mp.log(min(max(p, eps), 1 - eps)))
    assert_close(summary.loss, mp.fsum(terms) / len(terms))
