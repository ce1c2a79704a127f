"""File layouts that need no options (class names, weights and ids from column names), and how
an evaluation reads in the summary table."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from mpmath import mp, mpf

import cecli
from cecli import render
from cecli.batch import Rejected
from cecli.files import select_columns
from cecli.inputs import InputError
from tests.helpers import assert_close

MODEL_OUTPUTS = """id,label,weight,split,p_cat,p_dog,p_bird
a,cat,1,train,0.7,0.2,0.1
b,dog,2,test,0.3,0.3,0.4
c,bird,1,test,0.1,0.1,0.8
d,cat,0.5,train,0.2,0.5,0.3
e,dog,4,valid,0.25,0.5,0.25
"""
# (true class's probability, weight) of each row above, and whether its arg-max is right.
ROWS = [(0.7, 1.0, True), (0.3, 2.0, False), (0.8, 1.0, True), (0.2, 0.5, False),
        (0.5, 4.0, True)]  # fmt: skip


def _file(tmp_path: Path, text: str = MODEL_OUTPUTS, name: str = "outputs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_class_names_weights_and_ids_come_from_the_column_names(tmp_path: Path) -> None:
    summary = cecli.score_file(_file(tmp_path), "ce", per_class=True)
    weight = sum(w for _, w, _ in ROWS)
    expected = mp.fsum(mpf(w) * -mp.log(mpf(p)) for p, w, _ in ROWS) / weight
    assert_close(summary.loss, expected)
    assert summary.weighted
    assert summary.per_class is not None
    assert [row.name for row in summary.per_class] == ["cat", "dog", "bird"]
    assert [row.rows for row in summary.per_class] == [2, 2, 1]
    assert summary.worst[0].identifier == "d"  # the id column names rows; it is no prediction
    assert summary.classes == 3
    assert summary.accuracy is not None
    assert summary.accuracy.accuracy == sum(w for _, w, right in ROWS if right) / weight
    notes = " | ".join(summary.notes)
    assert "column 'id' names the rows" in notes
    assert "column 'weight' weights the rows" in notes
    assert "name the classes cat, dog, bird" in notes
    assert json.loads(json.dumps(summary.to_json()))["notes"] == list(summary.notes)


@pytest.mark.parametrize("prefix", ["p_", "prob_", "logit_"])
def test_every_prefix_names_classes(prefix: str) -> None:
    columns = select_columns(["label", f"{prefix}a", f"{prefix}b", "other"], "categorical")
    assert columns.preds == (f"{prefix}a", f"{prefix}b")
    assert columns.class_names == ("a", "b")


def test_sample_weight_is_a_weight_and_options_win_over_guesses() -> None:
    guessed = select_columns(["label", "sample_weight", "x", "y"], "categorical")
    assert guessed.weight == "sample_weight"
    assert guessed.preds == ("x", "y")
    chosen = select_columns(["label", "weight", "w2", "x", "y"], "categorical", weight_col="w2")
    assert chosen.weight == "w2"
    assert chosen.preds == ("weight", "x", "y")  # named by no option, a column is data
    assert chosen.notes == ()
    # Prediction columns chosen by name include "weight": it is a prediction, not a weight.
    as_pred = select_columns(["label", "weight", "x"], "categorical", pred_cols="weight,x")
    assert as_pred.weight is None
    assert as_pred.preds == ("weight", "x")


def test_no_label_column_lists_the_columns_found() -> None:
    with pytest.raises(InputError, match=r"no label column: .* the columns are id, a, b$"):
        select_columns(["id", "a", "b"], "categorical")


def test_a_non_number_in_guessed_prediction_columns_says_how_to_choose(tmp_path: Path) -> None:
    path = _file(tmp_path, "label,score,note\n0,0.3,x\n", "guessed.csv")
    with pytest.raises(InputError) as caught:
        cecli.score_file(path, "ce")
    message = str(caught.value)
    assert "'x' is not a number" in message
    assert "prediction columns were guessed as score, note; choose them with pred_cols" in (message)


def _table_text(summary: cecli.BatchSummary) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    render.emit_summary(summary, "table", out, err)
    return out.getvalue(), err.getvalue()


def test_the_summary_table_shows_accuracy_per_class_and_groups(tmp_path: Path) -> None:
    summary = cecli.score_file(_file(tmp_path), "ce", per_class=True, by="split", top_k=2)
    out, err = _table_text(summary)
    assert "loss (weighted mean)" in out
    assert "top-1 accuracy" in out
    assert "top-2 accuracy" in out
    assert "Per class" in out
    assert "By split" in out
    total = next(line for line in out.splitlines() if line.strip().startswith("total"))
    assert total.split()[1:3] == ["5", "100.00%"]
    # Groups worst first: test (2·-ln 0.3 + -ln 0.8)/3 = 0.877, train (-ln 0.7 + 0.5·-ln 0.2)/1.5
    # = 0.774, valid -ln 0.5 = 0.693.
    groups = out.split("By split")[1].splitlines()
    order = [
        line.split()[0] for line in groups if line.split()[:1] in (["test"], ["train"], ["valid"])
    ]
    assert order == ["test", "train", "valid"]
    for note in summary.notes:
        assert err.count(note) == 1


def test_the_words_of_the_summary(tmp_path: Path) -> None:
    path = _file(tmp_path, "y0,y1,p0,p1\n1,0,0.9,0.2\n0,1,0.3,0.6\n", "multi.csv")
    out, _ = _table_text(cecli.score_file(path, "multilabel", pred_cols="p*", reduction="none"))
    assert "loss (mean)" in out
    assert "loss (none)" not in out
    assert "rows not summing to 1" not in out  # independent outputs
    assert "accuracy (p > 0.5)" in out
    out, _ = _table_text(cecli.score_file(path, "ce", pred_cols="p*", reduction="sum"))
    assert "loss (sum)" in out
    assert "rows not summing to 1" in out


def test_scored_rows_carry_kept_columns_and_details(tmp_path: Path) -> None:
    from cecli.scoring import ScoredRows

    scored: list[ScoredRows] = []
    cecli.score_file(_file(tmp_path), "ce", keep="split,id", on_rows=scored.append)
    kept = {name: [v for rows in scored for v in rows.kept()[name]] for name in ("split", "id")}
    assert kept == {"split": ["train", "test", "test", "train", "valid"], "id": list("abcde")}
    details = [rows.details() for rows in scored]
    assert [p for d in details for p in d["p_true"]] == [p for p, _, _ in ROWS]
    assert [c for d in details for c in d["correct"]] == [int(right) for _, _, right in ROWS]
    assert [c for d in details for c in d["pred"]] == ["cat", "bird", "bird", "dog", "dog"]
    with pytest.raises(InputError, match=r"^keep: no column 'nope'"):
        cecli.score_file(_file(tmp_path), "ce", keep=["nope"])


def _collector(found: list[tuple[int, str, list[str]]]) -> Callable[[Rejected], None]:
    def collect(rejected: Rejected) -> None:
        found.extend(rejected.rows)

    return collect


def test_every_skipped_row_reaches_on_rejects_whatever_the_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cecli.files

    lines = ["label,p0,p1"]
    bad: list[int] = []
    for i in range(40):
        if i % 3 == 1:
            lines.append(f"0,oops{i},0.5")
            bad.append(i + 2)  # the header is line 1
        else:
            lines.append("1,0.25,0.75")
    path = _file(tmp_path, "\n".join(lines) + "\n", "many.csv")
    for chunk in (1 << 20, 64):
        monkeypatch.setattr(cecli.files, "CHUNK_BYTES", chunk)
        found: list[tuple[int, str, list[str]]] = []
        summary = cecli.score_file(path, skip_invalid=True, on_rejects=_collector(found))
        assert [line for line, _, _ in found] == bad
        assert [fields[1] for _, _, fields in found] == [f"oops{line - 2}" for line in bad]
        assert [reason for _, reason, _ in found] == [
            f"p0: 'oops{line - 2}' is not a number" for line in bad
        ]
        assert summary.skipped == len(bad)
        assert len(summary.skipped_reasons) == 5  # the summary still lists the first five


def test_group_column_names_are_shown_not_read_as_markup(tmp_path: Path) -> None:
    text = "label,[bold]x[/bold],p0,p1\n0,[red]a,0.6,0.4\n1,b,0.3,0.7\n"
    summary = cecli.score_file(_file(tmp_path, text, "markup.csv"), "ce", by="[bold]x[/bold]")
    out, _ = _table_text(summary)
    assert "By [bold]x[/bold]" in out
    assert "[red]a" in out


def test_row_writer_adds_columns_and_rejects_are_csv(tmp_path: Path) -> None:
    import numpy as np

    from cecli.files import Batch
    from cecli.results import RowLosses

    stream = io.StringIO()
    writer = render.RowWriter(stream, "table", "id", None)
    losses = np.array([0.5, 0.25])
    rows = RowLosses(
        name="ce", base="e", classes=2, per_row=losses, row_totals=losses,
        row_divisors=np.ones(2), row_extras={}, clipped_count=0, unnormalized_rows=(),
    )  # fmt: skip
    batch = Batch(np.zeros((2, 1)), np.zeros((2, 2)), None, ["a", "b"], np.array([2, 3]))
    writer(batch, np.array([True, True]), rows, {"pred": ["x", "y, z"], "correct": [1, 0]})
    assert stream.getvalue().splitlines() == [
        "id,loss,pred,correct", "a,0.5,x,1", 'b,0.25,"y, z",0'
    ]  # fmt: skip
    rejects = io.StringIO()
    found = Rejected(["label", "p0"], iter([(4, "p0: is not a number", ["1", "a,b"])]))
    render.write_rejects(rejects, found)
    assert rejects.getvalue() == 'line,reason,label,p0\n4,p0: is not a number,1,"a,b"\n'
