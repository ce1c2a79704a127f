"""The evaluation flags on the command line: --per-class, --by, --top-k, --threshold,
--columns and --keep; numbers are those of the library, checked in test_evaluation.py."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import cecli
from cecli.cli import main
from cecli.cli.options import with_flags

OUTPUTS = """id,label,weight,split,p_cat,p_dog,p_bird
a,cat,1,train,0.7,0.2,0.1
b,dog,2,test,0.3,0.3,0.4
c,bird,1,test,0.1,0.1,0.8
d,cat,0.5,train,0.2,0.5,0.3
"""


def _file(tmp_path: Path, text: str = OUTPUTS, name: str = "outputs.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, Any], str]:
    assert main([*args, "--json", "--no-progress"]) == 0
    captured = capsys.readouterr()
    document: dict[str, Any] = json.loads(captured.out)
    return document, captured.err


def test_json_carries_accuracy_per_class_and_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path)
    document, err = _json(capsys, "ce", "--csv", path, "--per-class", "--by", "split",
                          "--top-k", "2")  # fmt: skip
    # Weighted: rows a and c right (weights 1 and 1) of a total weight 4.5.
    assert document["accuracy"] == float(Fraction(2) / Fraction(9, 2))
    assert document["top_k"] == 2
    assert list(document["per_class"]) == ["cat", "dog", "bird"]
    assert [g["by"]["split"] for g in document["groups"]] == ["test", "train"]
    assert document["weighted"] is True
    library = cecli.score_file(path, "ce", per_class=True, by="split", top_k=2).to_json()
    # The library's notes name its parameters; the command line's, its options.
    assert isinstance(library["notes"], list)
    notes = [with_flags(str(note), None) for note in library["notes"]]
    assert document == {**library, "source": document["source"], "notes": notes}
    # The guesses are said once each on standard error, and are in the JSON.
    for note in document["notes"]:
        assert err.count(note) == 1


def test_by_takes_repeated_columns_and_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "label,model,split,p0,p1\n0,a,x,0.9,0.1\n1,a,y,0.2,0.8\n0,b,x,0.4,0.6\n"
    path = _file(tmp_path, text)
    repeated, _ = _json(capsys, "ce", "--csv", path, "--by", "model", "--by", "split")
    listed, _ = _json(capsys, "ce", "--csv", path, "--by", "model,split")
    assert repeated["groups"] == listed["groups"]
    assert [g["by"] for g in repeated["groups"]] == [
        {"model": "b", "split": "x"}, {"model": "a", "split": "y"}, {"model": "a", "split": "x"}
    ]  # fmt: skip


def test_threshold_for_binary_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, "y0,y1,p0,p1\n1,0,0.45,0.2\n0,1,0.3,0.6\n")
    at_half, _ = _json(capsys, "multilabel", "--csv", path, "--pred-cols", "p*")
    lower, _ = _json(capsys, "multilabel", "--csv", path, "--pred-cols", "p*", "--threshold", "0.4")
    assert at_half["accuracy"] == 0.75  # 0.45 is not above 0.5: one of four outputs wrong
    assert at_half["exact_match"] == 0.5
    assert lower["accuracy"] == 1.0
    assert lower["threshold"] == 0.4


def test_per_row_output_with_columns_and_keep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path)
    args = ["ce", "--csv", path, "--reduction", "none", "--no-progress"]
    assert main([*args, "--columns", "pred,rank,correct", "--keep", "split"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id,loss,pred,rank,correct,split"
    assert [line.split(",")[0:1] + line.split(",")[2:] for line in lines[1:]] == [
        ["a", "cat", "1", "1", "train"],
        ["b", "bird", "3", "0", "test"],  # dog ties cat, which ranks first; bird is above both
        ["c", "bird", "1", "1", "test"],
        ["d", "dog", "3", "0", "train"],
    ]
    assert main([*args, "--json", "--columns", "label,p_true"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(row["id"], row["label"], row["p_true"]) for row in rows] == [
        ("a", "cat", 0.7), ("b", "dog", 0.3), ("c", "bird", 0.8), ("d", "cat", 0.2)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--top-k", "0"], "--top-k must be ≥ 1, got 0"),
        (["--threshold", "0.3"], "--threshold is where bce, multilabel and focal --binary"),
        (["--by", "nope"], "--by: no column 'nope'"),
        (["--columns", "pred"], "--columns adds to the per-row output"),
        (["--reduction", "none", "--columns", "size"], "--columns: no column 'size'"),
        (["--reduction", "none", "--keep", "nope"], "--keep: no column 'nope'"),
    ],
)
def test_bad_evaluation_flags_are_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["ce", "--csv", _file(tmp_path), "--no-progress", *extra]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("cecli: error: ")
    assert message in line
    assert captured.out == ""


REJECTS = 'label,p0,p1,note\n0,0.5,0.5,a\n1,"x",0.5,"b, quoted"\n\n1,0.2,0.8,c\n7,0.1,0.9,d\n'


def test_rejects_file_holds_the_skipped_rows_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, REJECTS, "rows.csv")
    rejects = tmp_path / "rejects.csv"
    args = ["ce", "--csv", path, "--pred-cols", "p*", "--skip-invalid", "--no-progress", "-q"]
    assert main([*args, "--rejects", str(rejects)]) == 0
    capsys.readouterr()
    assert rejects.read_text().splitlines() == [
        "line,reason,label,p0,p1,note",
        "3,p0: 'x' is not a number,1,x,0.5,\"b, quoted\"",
        "6,label: '7' is not a class index 0 to 1 (nor a class name),7,0.1,0.9,d",
    ]


def test_rejects_from_parquet_and_from_python(tmp_path: Path) -> None:
    import polars as pl

    frame = pl.DataFrame({"label": [0, 3, 1, 1], "p0": [0.5, 0.5, 1.5, 0.2], "p1": [0.5] * 4})
    frame.write_parquet(tmp_path / "rows.parquet")
    found: list[tuple[int, str, list[str]]] = []
    summary = cecli.score_file(
        tmp_path / "rows.parquet", skip_invalid=True,
        on_rejects=lambda rejected: found.extend(rejected.rows),
    )  # fmt: skip
    assert summary.skipped == 2
    assert [(line, values) for line, _, values in found] == [
        (2, ["3", "0.5", "0.5"]), (3, ["1", "1.5", "0.5"])
    ]  # fmt: skip
    assert found[1][1].startswith("p0: '1.5' is not a probability in [0, 1]")


def test_rejects_needs_skip_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, REJECTS, "rows.csv")
    rejects = tmp_path / "rejects.csv"
    assert main(["ce", "--csv", path, "--rejects", str(rejects), "--no-progress"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "cecli: error: --rejects writes the rows --skip-invalid skips; add it"
    assert not rejects.exists()
