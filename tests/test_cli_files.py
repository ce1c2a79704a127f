"""File mode end to end: every subcommand on small files, every bad-input kind, every output."""

from __future__ import annotations

import gzip
import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import cecli
from tests.helpers import run, run_json

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
IRIS = str(SAMPLES / "iris3_index.csv")
IRIS_PROBS = [[0.57, 0.21, 0.22], [0.20, 0.58, 0.22], [0.25, 0.23, 0.52]]


def test_ce_on_the_sample_file_equals_the_api() -> None:
    document = run_json("ce", "--csv", IRIS)
    assert document["loss"] == pytest.approx(float(cecli.ce([0, 1, 2], IRIS_PROBS).loss), rel=1e-15)
    assert document["rows"] == 3
    assert document["classes"] == 3
    assert document["worst"][0] == {"line": 4, "loss": pytest.approx(-math.log(0.52), rel=1e-15)}


def test_one_hot_file_gives_the_same_loss() -> None:
    index = run_json("ce", "--csv", IRIS)["loss"]
    one_hot = run_json("ce", "--csv", str(SAMPLES / "iris3_onehot.csv"))["loss"]
    assert one_hot == pytest.approx(index, rel=1e-15)


def test_quiet_and_table() -> None:
    code, out, _ = run("ce", "--csv", IRIS, "-q")
    assert code == 0
    assert float(out) == pytest.approx(float(cecli.ce([0, 1, 2], IRIS_PROBS).loss), rel=1e-15)
    table = run("ce", "--csv", IRIS)[1]
    assert "3 rows scored" in table
    assert "Worst rows" in table
    assert "per-row p90" in table


@pytest.mark.parametrize(
    ("args", "api"),
    [
        (["bce", "--csv", str(SAMPLES / "multilabel.csv")], "bce"),
        (["multilabel", "--csv", str(SAMPLES / "multilabel.csv")], "multilabel"),
        (["focal", "--binary", "--csv", str(SAMPLES / "multilabel.csv")], "focal_binary"),
        (["kl", "--csv", str(SAMPLES / "iris3_onehot.csv")], "kl"),
        (["smooth", "--csv", IRIS], "smooth"),
        (["focal", "--csv", IRIS], "focal"),
        (["grad", "--probs", "--csv", IRIS], "grad"),
    ],
)
def test_every_subcommand_scores_files(args: list[str], api: str) -> None:
    frame = pl.read_csv(SAMPLES / "multilabel.csv")
    y = frame.select("y0", "y1", "y2", "y3").to_numpy().astype(float)
    p = frame.select("p0", "p1", "p2", "p3").to_numpy()
    one_hot = np.eye(3)
    expected_by_api: dict[str, Callable[[], cecli.LossResult]] = {
        "bce": lambda: cecli.bce(y, p),
        "multilabel": lambda: cecli.multilabel(y, p),
        "focal_binary": lambda: cecli.focal(y, p, binary=True),
        "kl": lambda: cecli.kl(one_hot, IRIS_PROBS),
        "smooth": lambda: cecli.smooth([0, 1, 2], IRIS_PROBS),
        "focal": lambda: cecli.focal([0, 1, 2], IRIS_PROBS),
        "grad": lambda: cecli.grad([0, 1, 2], IRIS_PROBS, probs=True),
    }
    expected = expected_by_api[api]()
    document = run_json(*args)
    assert document["loss"] == pytest.approx(float(expected.loss), rel=1e-14)
    extra = {"kl": "entropy", "multilabel": "positive", "smooth": "loss_hard", "focal": "ce"}.get(
        api
    )
    if extra:
        assert document[extra] == pytest.approx(float(getattr(expected, extra)), rel=1e-14)


def test_logits_file_with_a_glob() -> None:
    document = run_json("ce", "--csv", str(SAMPLES / "logits.csv"), "--logits", "--pred-cols", "z*")
    z = [[2.0, 1.0, 0.1], [-1.2, 0.3, 2.0], [0.5, 2.5, -0.5], [1000.0, -1000.0, 0.0]]
    assert document["loss"] == pytest.approx(
        float(cecli.ce([0, 2, 1, 0], z, logits=True).loss), rel=1e-15
    )


def test_reduction_none_streams_csv_with_ids() -> None:
    code, out, _ = run(
        "multilabel",
        "--csv",
        str(SAMPLES / "multilabel.csv"),
        "--id-col",
        "id",
        "--reduction",
        "none",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "id,loss"
    assert lines[1].startswith("img-001,1.19600463467675")
    assert len(lines) == 5


def test_reduction_none_quiet_and_json_lines() -> None:
    quiet = run("ce", "--csv", IRIS, "--reduction", "none", "-q")[1].split()
    assert [float(v) for v in quiet] == pytest.approx(
        [-math.log(0.57), -math.log(0.58), -math.log(0.52)], rel=1e-15
    )
    rows = [
        json.loads(line)
        for line in run("ce", "--csv", IRIS, "--reduction", "none", "--json")[1].splitlines()
    ]
    assert [row["line"] for row in rows] == [2, 3, 4]


def test_output_file_and_summary(tmp_path: Path) -> None:
    target = tmp_path / "per_row.csv"
    code, out, _ = run("grad", "--csv", IRIS, "--probs", "--output", str(target), "-q")
    assert code == 0
    assert float(out) > 0
    written = pl.read_csv(target)
    assert written.columns == ["line", "loss", "dL/dz_p0", "dL/dz_p1", "dL/dz_p2"]
    assert written["dL/dz_p0"][0] == pytest.approx(0.57 - 1, rel=1e-14)


def test_a_failed_run_leaves_no_output_file(tmp_path: Path) -> None:
    target = tmp_path / "per_row.csv"
    code, out, err = run("ce", "--csv", str(SAMPLES / "bad_row.csv"), "--output", str(target))
    assert code == 2
    assert out == ""
    assert "bad_row.csv:4:3" in err
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("label,p0,p1\n0,0.5,0.5\n1,abc,0.5\n", "bad.csv:3:2: 'abc' is not a number"),
        ("label,p0,p1\n0,0.5,0.5\n1,,0.5\n", "bad.csv:3:2: an empty value is not a number"),
        (
            "label,p0,p1\n0,0.5,0.5\n1,1.5,-0.5\n",
            "bad.csv:3:2: '1.5' is not a probability in [0, 1]",
        ),
        ("label,p0,p1\n2,0.5,0.5\n", "bad.csv:2:1: '2' is not a class index 0 to 1"),
        ("label,p0,p1\n-1,0.5,0.5\n", "bad.csv:2:1: '-1' is not a class index 0 to 1"),
        ("label,p0,p1\n0,0.5,0.5\n1,0.1,0.9,7\n", "bad.csv:3: 4 fields, but the header has 3"),
        ("label,p0,p1\n0,nan,0.5\n", "bad.csv:2:2: 'nan' is not a finite number"),
        ("label,p0,p1\n0,inf,0.5\n", "bad.csv:2:2: 'inf' is not a finite number"),
        ("label,p0,p1\n", "bad.csv: no rows to score"),
        ("a,b\n1,2\n", "no label column"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, out, err = run("ce", "--csv", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert message in err


def test_skip_invalid_scores_the_rest() -> None:
    code, out, err = run("ce", "--csv", str(SAMPLES / "bad_row.csv"), "--skip-invalid", "-q")
    assert code == 0
    expected = (-math.log(0.57) - math.log(0.58) - math.log(0.80)) / 3
    assert float(out) == pytest.approx(expected, rel=1e-15)
    assert "skipped 1 invalid row(s)" in err
    assert "bad_row.csv:4:3: 'abc' is not a number" in err


def test_stdin_gzip_and_parquet_agree(tmp_path: Path) -> None:
    direct = run_json("ce", "--csv", IRIS)["loss"]
    text = Path(IRIS).read_bytes()
    piped = json.loads(run("ce", "--csv", "-", "--json", input=text)[1])["loss"]
    compressed = tmp_path / "iris.csv.gz"
    compressed.write_bytes(gzip.compress(text))
    parquet = tmp_path / "iris.parquet"
    pl.read_csv(IRIS).write_parquet(parquet)
    assert piped == direct
    assert run_json("ce", "--csv", str(compressed))["loss"] == direct
    assert run_json("ce", "--parquet", str(parquet))["loss"] == direct


def test_gzip_on_standard_input_and_a_pipe_as_the_file(tmp_path: Path) -> None:
    direct = run_json("ce", "--csv", IRIS)["loss"]
    text = Path(IRIS).read_bytes()
    piped = run("ce", "--csv", "-", "--json", input=gzip.compress(text))
    assert piped[0] == 0, piped[2]
    assert json.loads(piped[1])["loss"] == direct
    # bash's <(command) hands over a pipe's path; it is read once, like standard input.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(text))
    writer.start()
    code, out, err = run("ce", "--csv", str(fifo), "--json")
    writer.join()
    assert code == 0, err
    assert json.loads(out)["loss"] == direct


def _cut_short(path: Path) -> None:
    pl.read_csv(IRIS).write_parquet(path)
    path.write_bytes(path.read_bytes()[:-20])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (Path.mkdir, "is a directory, not a file"),
        (lambda path: path.write_bytes(b"PAR1 not really"), "cannot be read as a Parquet file"),
        (_cut_short, "cannot be read as a Parquet file"),
    ],
)
def test_a_directory_or_a_damaged_parquet_file_is_one_error_line(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "in.parquet"
    make(path)
    code, out, err = run("ce", "--parquet", str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert message in err


def test_weight_column(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("label,p0,p1,w\n0,0.5,0.5,3\n1,0.2,0.8,1\n")
    document = run_json("ce", "--csv", str(path), "--weight-col", "w")
    assert document["loss"] == pytest.approx((3 * math.log(2) - math.log(0.8)) / 4, rel=1e-15)


def test_class_names_in_the_label_column(tmp_path: Path) -> None:
    path = tmp_path / "named.csv"
    path.write_text(
        "label,setosa,virginica,versicolor\nsetosa,0.57,0.21,0.22\nversicolor,0.25,0.23,0.52\n"
    )
    document = run_json("ce", "--csv", str(path))
    assert document["loss"] == pytest.approx((-math.log(0.57) - math.log(0.52)) / 2, rel=1e-15)
    code, _, err = run("ce", "--csv", str(path), "--classes", "a,b,c")
    assert code == 2
    assert "named.csv:2:1: 'setosa' is not a number nor a class name" in err


def test_unnormalised_rows_warn(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("label,p0,p1\n0,0.6,0.6\n1,0.5,0.5\n")
    code, _, err = run("ce", "--csv", str(path), "-q")
    assert code == 0
    assert "1 row(s) of predictions do not sum to 1" in err
    assert "line(s) 2" in err
    other = tmp_path / "v.csv"
    other.write_text("label,p0,p1\n0,0.5,0.5\n1,0.7,0.7\n")
    warning = "2 row(s) of predictions do not sum to 1 (within 1e-4), first at"
    for scoring in ([], ["--dask", "local:1"]):  # lines in their files, on a cluster too
        code, _, err = run("ce", "--csv", str(path), "--csv", str(other), "-q", *scoring)
        assert code == 0
        assert f"{warning} {path}:2, {other}:3;" in err


def test_kl_target_rows_that_do_not_sum_to_1_warn_as_typed_ones_do(tmp_path: Path) -> None:
    """kl's P, like Q, is used as given when a row does not sum to 1, and said so: typed, the
    warning names LABELS; from a file, it counts the rows and gives their lines."""
    path = tmp_path / "kl.csv"
    path.write_text(
        "y0,y1,p0,p1\n0.5,0.5,0.5,0.5\n1,1,0.5,0.5\n0.25,0.75,0.5,0.5\n0.5,0.25,0.6,0.6\n"
    )
    code, _, err = run("kl", "--csv", str(path), "-q")
    assert code == 0
    assert "2 row(s) of targets do not sum to 1 (within 1e-4), first at line(s) 3, 5" in err
    assert "1 row(s) of predictions do not sum to 1" in err
    document = run_json("kl", "--csv", str(path))
    assert (document["unnormalized_target_rows"], document["unnormalized_rows"]) == (2, 1)
    summary = cecli.score_file(path, "kl")
    assert (summary.unnormalized_targets, summary.unnormalized_target_lines) == (2, (3, 5))
    summary = cecli.score_file([path, path], "kl")
    assert summary.unnormalized_target_lines == (3, 5, 3, 5)
    assert summary.unnormalized_target_files == (str(path),) * 4
    code, _, err = run("kl", "--csv", str(path), "-q", "--normalize")
    assert (code, err) == (0, "")
    _, _, typed = run("kl", "1,1", "0.5,0.5", "-q")
    assert "LABELS row 1 does not sum to 1" in typed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ce", "0", "0.5,0.5", "--label-col", "x"], "--label-col goes with --csv FILE"),
        (["ce", "0", "0.5,0.5", "--csv", IRIS], "not both"),
        (["ce", "--csv", IRIS, "--parquet", "x.parquet"], "either --csv or --parquet"),
        (["ce", "--csv", "missing.csv"], "missing.csv: no such file"),
        (["ce"], "missing LABELS and PREDS"),
    ],
)
def test_file_option_errors(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert message in err


def test_installed_command_scores_a_file_and_imports_no_polars_for_vectors() -> None:
    script = Path(sys.executable).with_name("cecli")
    result = subprocess.run(
        [str(script), "ce", "--csv", IRIS, "-q"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert float(result.stdout) == pytest.approx(
        float(cecli.ce([0, 1, 2], IRIS_PROBS).loss), rel=1e-15
    )


def _two_files(tmp_path: Path, preds: str) -> tuple[str, str]:
    labels_path, preds_path = tmp_path / "labels.csv", tmp_path / "preds.csv"
    labels_path.write_text("label\n0\n1\n2\n")
    preds_path.write_text(preds)
    return str(labels_path), str(preds_path)


def test_labels_and_predictions_in_two_files(tmp_path: Path) -> None:
    labels, preds = _two_files(
        tmp_path, "p0,p1,p2\n0.57,0.21,0.22\n0.20,0.58,0.22\n0.25,0.23,0.52\n"
    )
    document = run_json("ce", "--labels", labels, "--preds", preds)
    assert document["loss"] == run_json("ce", "--csv", IRIS)["loss"]
    parquet = tmp_path / "preds.parquet"
    pl.read_csv(preds).write_parquet(parquet)
    assert run_json("ce", "--labels", labels, "--preds", str(parquet))["loss"] == document["loss"]


@pytest.mark.parametrize(
    ("preds", "message"),
    [
        ("p0,p1,p2\n0.57,0.21,0.22\n0.20,0.58,0.22\n", "the files have different numbers of rows"),
        (
            "p0,p1,p2\n0.57,0.21,0.22\n0.20,xx,0.22\n0.25,0.23,0.52\n",
            "preds.csv:3:2: 'xx' is not a number",
        ),
        ("label,p1,p2\n0,0.5,0.5\n", "column 'label' is in both files"),
    ],
)
def test_two_file_errors_name_the_right_file(tmp_path: Path, preds: str, message: str) -> None:
    labels, preds_path = _two_files(tmp_path, preds)
    code, out, err = run("ce", "--labels", labels, "--preds", preds_path)
    assert code == 2
    assert out == ""
    assert message in err


def test_labels_file_needs_a_preds_file(tmp_path: Path) -> None:
    labels, _ = _two_files(tmp_path, "p0\n0.5\n")
    assert "--labels FILE and --preds FILE go together" in run("ce", "--labels", labels)[2]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        # A column name holding a line break is shown escaped, on the one line.
        ('"a\nb",label,p0\n1,0,0.5\n', ["--id-col", "id"], "columns: a\\nb, label, p0"),
        # A block whose first record is longer than the header.
        ("label,p0,p1\n0,0.5,0.5,9\n", [], "f.csv:2: 4 fields, but the header has 3"),
        # Infinite logits: an error, without NumPy's warning about inf − inf.
        ("label,p0,p1\n0,1e400,1e400\n", ["--logits"], "f.csv:2:2: '1e400' is not a finite"),
    ],
)
def test_malformed_files_give_exactly_one_error_line(
    tmp_path: Path, text: str, args: list[str], message: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(text)
    code, out, err = run("ce", "--csv", str(path), *args)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1, err
    assert message in err


def test_a_stray_quote_prints_the_place_and_not_polars_warning(tmp_path: Path) -> None:
    # In a process of its own: pytest would catch the warning before it reached stderr.
    path = tmp_path / "f.csv"
    path.write_text('label,p0,p1\n0,0.5,"\n1,0.2,0.8\n')
    script = Path(sys.executable).with_name("cecli")
    result = subprocess.run(
        [str(script), "ce", "--csv", str(path)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"cecli: error: {path}:2:3: ")
    assert result.stderr.count("\n") == 1
