"""A file of model outputs evaluated as a new user would: what the README promises, checked."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

import pytest
from mpmath import mpf

from cecli.cli import main
from tests.helpers import assert_close, run

SAMPLE = str(Path(__file__).resolve().parent.parent / "sample_data" / "model_outputs.csv")


@pytest.mark.parametrize(
    ("option", "sink"),
    [
        (["--per-class"], ["--reduction", "none"]),
        (["--by", "split"], ["--reduction", "none", "--json"]),
        (["--top-k", "3"], ["--reduction", "none", "-q"]),
        (["--by-file"], ["--output", "-"]),
        (["--per-class"], ["--reduction", "none", "--output", "-"]),
    ],
)
def test_a_summary_option_without_a_summary_is_refused(
    option: list[str], sink: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # The per-row CSV on standard output has no summary: the table asked for would be lost.
    assert main(["ce", "--csv", SAMPLE, *option, *sink]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"cecli: error: {option[0]} ")
    assert "--output FILE" in captured.err


def test_a_summary_option_with_the_rows_in_a_file_keeps_its_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "rows.csv"
    args = ["ce", "--csv", SAMPLE, "--reduction", "none", "--output", str(rows), "--by", "split"]
    assert main(args) == 0
    assert "By split" in capsys.readouterr().out
    assert rows.read_text().count("\n") == 37


def test_help_gives_the_column_defaults_the_readme_gives() -> None:
    code, out, _ = run("ce", "--help")
    assert code == 0
    text = " ".join(out.replace("│", " ").split())
    assert "p_CLASS, prob_CLASS or logit_CLASS" in text
    assert "(default: 'weight' or 'sample_weight')" in text
    assert "(default: 'id')" in text
    assert "--labels and --preds" in text.split("--id-col", 1)[1].split("--delimiter", 1)[0]


CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _model_outputs(path: Path) -> list[tuple[int, str, int, float, list[float]]]:
    """A file laid out as a model's outputs, with bad rows; the good rows as (line, split,
    class index, weight, probabilities)."""
    generator = random.Random(13)
    rows: list[tuple[int, str, int, float, list[float]]] = []
    lines = ["id,split,label,weight," + ",".join(f"p_{name}" for name in CLASSES)]
    for index in range(300):
        label = generator.randrange(len(CLASSES))
        raw = [generator.random() ** 3 for _ in CLASSES]
        raw[label] += generator.choice([0.0, 0.5, 1.0])
        probabilities = [round(value / math.fsum(raw), 6) for value in raw]
        weight = 0.0 if index % 7 == 0 else generator.choice([0.5, 1.0, 2.0])
        split = generator.choice(["train", "valid", "test"])
        fields = ",".join(repr(value) for value in probabilities)
        lines.append(f"r{index},{split},{CLASSES[label]},{weight:g},{fields}")
        rows.append((len(lines), split, label, weight, probabilities))
        if index == 20:
            lines.append("bad1,train,cat,1,abc" + ",0.1" * 9)
        elif index == 40:
            lines.append("bad2,train,cat,1,0.5,0.5")
        elif index == 60:
            lines.append("")
        elif index == 80:
            lines.append("bad4,valid,unicorn,1" + ",0.1" * 10)
    path.write_text("\n".join(lines) + "\n")
    return rows


def _expected(rows: list[tuple[int, str, int, float, list[float]]], k: int) -> dict[str, float]:
    """Loss, accuracy, top-k accuracy and mean p of the true class, weighted; by hand."""
    losses, top1, topk, p_true = [], [], [], []
    for _, _, label, weight, probabilities in rows:
        p = probabilities[label]
        rank = 1 + sum(
            1
            for c, q in enumerate(probabilities)
            if q > p or (q == p and c < label)  # equal predictions: the lower index first
        )
        losses.append((weight, -math.log(min(max(p, 1e-7), 1 - 1e-7))))
        top1.append(weight if rank == 1 else 0.0)
        topk.append(weight if rank <= k else 0.0)
        p_true.append(weight * p)
    total = math.fsum(weight for _, _, _, weight, _ in rows)
    return {
        "loss": math.fsum(w * loss for w, loss in losses) / total,
        "summed": math.fsum(w * loss for w, loss in losses),
        "per_row_mean": math.fsum(loss for _, loss in losses) / len(losses),
        "accuracy": math.fsum(top1) / total,
        "top_k_accuracy": math.fsum(topk) / total,
        "mean_p_true": math.fsum(p_true) / total,
    }


def test_a_weighted_file_is_evaluated_as_the_readme_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, rejects = tmp_path / "outputs.csv", tmp_path / "rejects.csv"
    rows = _model_outputs(table)
    args = ["ce", "--csv", str(table), "--per-class", "--by", "split", "--skip-invalid"]
    assert main([*args, "--rejects", str(rejects), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    whole = _expected(rows, 5)
    assert summary["rows"] == len(rows)
    assert summary["skipped"] == 3
    assert summary["blank_lines"] == 1
    assert summary["weighted"] is True
    for key in ("loss", "accuracy", "top_k_accuracy", "mean_p_true"):
        assert_close(summary[key], mpf(whole[key]))
    # The per-row statistics are of the rows' own losses, unweighted.
    assert_close(summary["per_row_stats"]["mean"], mpf(whole["per_row_mean"]))
    cat = _expected([row for row in rows if row[2] == CLASSES.index("cat")], 5)
    reported = summary["per_class"]["cat"]
    assert reported["rows"] == sum(1 for row in rows if row[2] == CLASSES.index("cat"))
    assert_close(reported["share"], mpf(cat["summed"]) / mpf(whole["summed"]))
    for key in ("loss", "accuracy", "top_k_accuracy", "mean_p_true"):
        assert_close(reported[key], mpf(cat[key]))
    valid = _expected([row for row in rows if row[1] == "valid"], 5)
    (group,) = [g for g in summary["groups"] if g["by"] == {"split": "valid"}]
    for key in ("loss", "accuracy", "top_k_accuracy", "mean_p_true"):
        assert_close(group[key], mpf(valid[key]))
    with rejects.open(newline="") as stream:
        written = list(csv.reader(stream))
    assert [int(row[0]) for row in written[1:]] == [23, 44, 86]
    assert [row[2] for row in written[1:]] == ["bad1", "bad2", "bad4"]


def test_two_files_in_different_orders_give_the_one_files_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _model_outputs(tmp_path / "outputs.csv")
    order = random.Random(5)
    by_labels, by_preds = list(enumerate(rows)), list(enumerate(rows))
    order.shuffle(by_labels)
    order.shuffle(by_preds)
    labels, preds = tmp_path / "labels.csv", tmp_path / "preds.csv"
    labels.write_text(
        "split,label,id,weight\n"
        + "".join(f"{r[1]},{CLASSES[r[2]]},r{i},{r[3]:g}\n" for i, r in by_labels)
    )
    preds.write_text(
        "id," + ",".join(f"p_{name}" for name in CLASSES) + "\n"
        + "".join(f"r{i}," + ",".join(repr(p) for p in r[4]) + "\n" for i, r in by_preds)
    )  # fmt: skip
    args = ["ce", "--labels", str(labels), "--preds", str(preds), "--by", "split", "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    whole = _expected(rows, 5)
    assert summary["rows"] == len(rows)
    for key in ("loss", "accuracy", "top_k_accuracy", "mean_p_true"):
        assert_close(summary[key], mpf(whole[key]))
    # The worst row's line is the labels file's: header, then the rows in their shuffled order.
    worst = summary["worst"][0]
    position = [f"r{i}" for i, _ in by_labels].index(worst["id"])
    assert worst["line"] == position + 2


@pytest.mark.parametrize("layout", ["one file", "two files"])
def test_grouped_by_a_label_column_of_names_its_groups_are_the_names(
    layout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "outputs.csv"
    rows = _model_outputs(table)
    good = [line for line in table.read_text().splitlines() if not line.startswith("bad")]
    table.write_text("\n".join(line for line in good if line) + "\n")
    files = ["--csv", str(table)]
    if layout == "two files":
        labels, preds = tmp_path / "labels.csv", tmp_path / "preds.csv"
        records = [line.split(",") for line in good if line]
        labels.write_text("".join(",".join(r[:4]) + "\n" for r in records))
        rows_in_reverse = [records[0], *reversed(records[1:])]  # the header stays first
        preds.write_text("".join(",".join([r[0], *r[4:]]) + "\n" for r in rows_in_reverse))
        files = ["--labels", str(labels), "--preds", str(preds)]
    assert main(["ce", *files, "--by", "label", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert {group["by"]["label"] for group in groups} == {CLASSES[row[2]] for row in rows}
    (cat,) = [group for group in groups if group["by"] == {"label": "cat"}]
    expected = _expected([row for row in rows if row[2] == CLASSES.index("cat")], 5)
    assert_close(cat["loss"], mpf(expected["loss"]))


@pytest.mark.parametrize("k", ["6", "7"])
def test_a_top_k_that_every_row_passes_is_refused(
    k: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # sample_data/model_outputs.csv has 6 classes: any true class is in the top 6.
    assert main(["ce", "--csv", SAMPLE, "--top-k", k, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err == f"cecli: error: --top-k must be below the number of classes (6), got {k}\n"
    )


@pytest.mark.parametrize("option", [["--columns", "pred"], ["--keep", "split"]])
def test_fields_for_the_per_row_csv_are_refused_where_q_writes_bare_losses(
    option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ce", "--csv", SAMPLE, "--reduction", "none", "-q", *option]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"cecli: error: {option[0]} adds to the per-row CSV")
    # Into a file, -q keeps its one number and the file has the field.
    rows = tmp_path / "rows.csv"
    assert main(["ce", "--csv", SAMPLE, "--output", str(rows), "-q", *option]) == 0
    assert capsys.readouterr().out.count("\n") == 1
    assert rows.read_text().splitlines()[0] == f"id,loss,{option[1]}"


def test_a_class_without_rows_has_every_key_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "no_ship.csv"
    lines = Path(SAMPLE).read_text().splitlines()
    table.write_text("\n".join(line for line in lines if ",ship," not in line) + "\n")
    assert main(["ce", "--csv", str(table), "--per-class", "--top-k", "2", "--json"]) == 0
    per_class = json.loads(capsys.readouterr().out)["per_class"]
    assert per_class["ship"]["rows"] == 0
    assert set(per_class["ship"]) == set(per_class["cat"])
    undefined = {key for key, value in per_class["ship"].items() if value is None}
    assert {"top_k_accuracy", "worst_line", "worst_loss", "loss", "accuracy"} <= undefined
