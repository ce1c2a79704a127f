"""Odd files and odd ways to name them, on the batch path: every record is scored, skipped and
counted, or refused in one line; no input is written over; no output is left half written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.helpers import run

TABLE = "label,p0,p1\n0,0.3,0.7\n1,0.4,0.6\n"


def _one_error(code: int, out: str, err: str, message: str) -> None:
    assert code == 2
    assert out == ""
    assert err.startswith("cecli: error: ")
    assert err.count("\n") == 1
    assert message in err


# --- an output named by a glob or a folder of the inputs ------------------------------------


@pytest.mark.parametrize(
    ("inputs", "option", "target"),
    [
        ("a*", "--rejects", "a.csv"),
        ("*.csv", "--output", "b.csv"),
        ("parts", "--output", "parts/p2.csv"),
        ("parts/", "--rejects", "parts/p1.csv"),
    ],
)
def test_an_output_that_a_glob_or_folder_reads_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inputs: str, option: str, target: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "parts").mkdir()
    for name in ("a.csv", "b.csv", "parts/p1.csv", "parts/p2.csv"):
        (tmp_path / name).write_text(TABLE)
    extra = ["--reduction", "none"] if option == "--output" else ["--skip-invalid"]
    if option == "--rejects" and inputs.startswith("parts"):
        inputs = "parts/p1.*"  # the rejected rows are written for one input only
    code, out, err = run("ce", "--csv", inputs, option, target, *extra, "-q")
    _one_error(code, out, err, f"{option}: {target} is also an input file")
    for name in ("a.csv", "b.csv", "parts/p1.csv", "parts/p2.csv"):
        assert (tmp_path / name).read_text() == TABLE


def test_a_glob_run_twice_does_not_read_its_own_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows kept with their columns make an output that reads as an input: the second run
    must not score it, and then write over it with twice the rows."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text(TABLE)
    args = ("ce", "--csv", "*.csv", "-o", "out.csv", "--reduction", "none", "--keep", "label,p0,p1")
    code, _, err = run(*args, "-q")
    assert code == 0, err
    written = (tmp_path / "out.csv").read_text()
    assert written.count("\n") == 3  # the header and the two rows of a.csv
    code, out, err = run(*args, "-q")
    _one_error(code, out, err, "--output: out.csv is also an input file")
    assert (tmp_path / "out.csv").read_text() == written


# --- options that name no column ----------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "extra"),
    [
        ("--by", "", ()),
        ("--by", ",", ()),
        ("--keep", " , ", ("--reduction", "none", "-o", "rows.csv")),
        ("--columns", "", ("--reduction", "none", "-o", "rows.csv")),
    ],
)
def test_an_option_naming_no_column_is_refused_not_ignored(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    value: str,
    extra: tuple[str, ...],
) -> None:
    """``--by ''`` printed the summary without its groups, as if the option were not given."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text(TABLE)
    code, out, err = run("ce", "--csv", "a.csv", option, value, *extra)
    _one_error(code, out, err, f"cecli: error: {option} names no column")
    assert not (tmp_path / "rows.csv").exists()


def test_the_library_refuses_a_group_list_naming_no_column(tmp_path: Path) -> None:
    from cecli.inputs import InputError
    from cecli.scoring import score_file

    (tmp_path / "a.csv").write_text(TABLE)
    with pytest.raises(InputError, match=r"^by names no column"):
        score_file(tmp_path / "a.csv", by=" ")
    assert score_file(tmp_path / "a.csv", by=[]).groups is None  # nothing asked for


# --- prediction columns that name their classes ---------------------------------------------


def test_class_names_in_another_order_than_the_columns_read_each_class_from_its_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--classes cat,dog`` went to the columns p_dog, p_cat by position: the row labelled
    cat was scored against p_dog, 0.1, a loss of -ln 0.1 where -ln 0.9 is right."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.csv").write_text("label,p_dog,p_cat\ncat,0.1,0.9\n1,0.4,0.6\n")
    code, out, err = run("ce", "--csv", "s.csv", "--classes", "cat,dog", "--reduction", "none")
    assert code == 0, err
    # Line 3's label 1 is the second class given, dog: its column p_dog holds 0.4.
    losses = [float(line.split(",")[1]) for line in out.splitlines()[1:]]
    assert losses == pytest.approx([-math.log(0.9), -math.log(0.4)], rel=1e-12)
    # One of the columns' names in another place: refused, not read from the wrong column.
    code, out, err = run("ce", "--csv", "s.csv", "--classes", "cat,bird", "-q")
    _one_error(code, out, err, "--classes gives 'cat' as class 0, but the prediction column")
    assert "--pred-cols" in err
    code, out, err = run("ce", "--csv", "s.csv", "--classes", "cat", "-q")
    _one_error(code, out, err, "--classes names 1 classes, but PREDS has 2")  # the count first
    # Per-class label columns are read in their own order, which names cannot change.
    (tmp_path / "y.csv").write_text("y0,y1,p_dog,p_cat\n0,1,0.1,0.9\n")
    code, out, err = run("ce", "--csv", "y.csv", "--classes", "cat,dog", "-q")
    _one_error(code, out, err, "--classes gives 'cat' as class 0, but the prediction column")


def test_files_whose_columns_name_the_classes_in_other_orders_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Merged by position, the second file's cat rows counted as dog in --per-class."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text("label,p_cat,p_dog\ncat,0.9,0.1\n")
    (tmp_path / "b.csv").write_text("label,p_dog,p_cat\ncat,0.1,0.9\n")
    code, out, err = run("ce", "--csv", "a.csv", "--csv", "b.csv", "--per-class", "--json")
    assert code == 2
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("cecli: error: ")]
    assert errors == [
        "cecli: error: b.csv: the prediction columns name the classes dog, cat, but those of "
        "a.csv name cat, dog; put the columns in one order, or score the files apart"
    ]
    (tmp_path / "b.csv").write_text("label,p_cat,p_dog\ncat,0.8,0.2\n")
    code, out, err = run("ce", "--csv", "a.csv", "--csv", "b.csv", "--per-class", "--json")
    assert code == 0, err
    per_class = json.loads(out)["per_class"]
    assert per_class["cat"]["rows"] == 2
    assert per_class["dog"]["rows"] == 0


def test_merging_rows_of_other_classes_is_refused() -> None:
    """What a cluster's tree of merges relies on: a state of 3 classes folded into one of 2
    (or of classes named in another order) is an error, not a mix."""
    from cecli.batch import Accumulator
    from cecli.inputs import InputError

    with pytest.raises(InputError, match=r"rows of 3 classes cannot be scored with rows of 2"):
        Accumulator(rows=1, classes=2).merge(Accumulator(rows=1, classes=3))
    cats = Accumulator(rows=1, classes=2, class_names=("cat", "dog"))
    with pytest.raises(InputError, match=r"naming the classes dog, cat cannot be scored"):
        cats.merge(Accumulator(rows=1, classes=2, class_names=("dog", "cat")))
    empty = Accumulator()
    empty.merge(Accumulator(rows=1, classes=3, class_names=("a", "b", "c")))
    empty.merge(Accumulator(classes=2))  # no rows: nothing to mix up
    assert (empty.rows, empty.classes, empty.class_names) == (1, 3, ("a", "b", "c"))


def test_a_cluster_refuses_files_of_other_classes_as_one_machine_does(tmp_path: Path) -> None:
    """On a cluster a file of 2 classes and one of 3 were merged into one loss."""
    pytest.importorskip("distributed")
    from cecli.inputs import InputError
    from cecli.scoring import score_file

    (tmp_path / "two.csv").write_text(TABLE)
    (tmp_path / "three.csv").write_text("label,p0,p1,p2\n0,0.2,0.3,0.5\n")
    paths = [tmp_path / "two.csv", tmp_path / "three.csv"]
    with pytest.raises(InputError, match=r"3 classes"):
        score_file(paths)
    with pytest.raises(InputError, match=r"rows of 3 classes cannot be scored with rows of 2"):
        score_file(paths, dask="local:1")


@pytest.mark.parametrize(
    "option",
    [["--by-file"], ["--per-class"], ["--by", "label"], ["--top-k", "1"]],
    ids=lambda option: option[0],
)
@pytest.mark.parametrize("rows", [[], ["--reduction", "none", "-o", "rows.csv"]], ids=["", "-o"])
def test_a_summary_option_with_quiet_is_refused_not_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: list[str], rows: list[str]
) -> None:
    """-q printed the loss alone and computed nothing else: the table asked for was lost."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text(TABLE)
    code, out, err = run("ce", "--csv", "a.csv", "--csv", "a.csv", *option, *rows, "-q")
    _one_error(code, out, err, f"{option[0]} adds to the summary, but -q prints the loss alone")
    assert not (tmp_path / "rows.csv").exists()


@pytest.mark.parametrize(
    ("sink", "message"),
    [
        (["-q"], "-q prints the loss alone: drop -q or --threshold"),
        (["--reduction", "none"], "add --columns pred,correct, or write the rows with --output"),
        (["--reduction", "none", "-o", "rows.csv", "-q"], "-q prints the loss alone"),
    ],
)
def test_a_threshold_nothing_uses_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sink: list[str], message: str
) -> None:
    """The threshold places the summary's accuracy and the rows' pred and correct: with
    neither printed, it was dropped without a word."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.csv").write_text("y0,p0\n1,0.4\n0,0.2\n")
    code, out, err = run("bce", "--csv", "b.csv", "--threshold", "0.3", *sink)
    _one_error(code, out, err, "cecli: error: --threshold is the accuracy's cut-off, but ")
    assert message in err
    assert not (tmp_path / "rows.csv").exists()
    # Where the rows say which outputs are positive, it is used: 0.4 is above 0.3.
    code, out, err = run(
        "bce", "--csv", "b.csv", "--threshold", "0.3", "--reduction", "none", "--columns", "pred"
    )
    assert code == 0, err
    assert [line.split(",")[2] for line in out.splitlines()] == ["pred", "p0", '""']
