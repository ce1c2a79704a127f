"""The library calls behind the CLI: ``cecli.score_file``, ``compare_frameworks`` and ``like``.

Each is checked against the command it replaces (same JSON, key for key) and, where a number
is computed, against an independent computation.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cecli
from cecli.cli import main
from cecli.cli.options import with_flags
from cecli.frameworks import Missing

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
IRIS = str(SAMPLES / "iris3_index.csv")
ONE_HOT = str(SAMPLES / "iris3_onehot.csv")
LOGITS = str(SAMPLES / "logits.csv")
MULTILABEL = str(SAMPLES / "multilabel.csv")
BAD_ROW = str(SAMPLES / "bad_row.csv")


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """What ``cecli ARGS --json`` prints, parsed (the run must succeed)."""
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document: dict[str, Any] = json.loads(captured.out)
    return document


def cli_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one error line of ``cecli ARGS`` (the run must fail with exit code 2)."""
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    return captured.err


FILE_CASES: list[tuple[list[str], str, dict[str, Any]]] = [
    (["ce", "--csv", IRIS], IRIS, {}),
    (
        ["ce", "--csv", ONE_HOT, "--smoothing", "0.1", "--base", "2", "--weights", "1,2,3"],
        ONE_HOT,
        {"smoothing": 0.1, "base": "2", "weights": [1.0, 2.0, 3.0]},
    ),
    (
        ["ce", "--csv", LOGITS, "--logits", "--pred-cols", "z*", "--reduction", "sum"],
        LOGITS,
        {"logits": True, "pred_cols": "z*", "reduction": "sum"},
    ),
    (
        ["ce", "--csv", IRIS, "--classes", "setosa,versicolor,virginica", "--eps", "0.3"],
        IRIS,
        {"class_names": ["setosa", "versicolor", "virginica"], "eps": 0.3},
    ),
    (["ce", "--csv", BAD_ROW, "--skip-invalid"], BAD_ROW, {"skip_invalid": True}),
    (
        ["bce", "--csv", MULTILABEL, "--pos-weight", "3", "--id-col", "id"],
        MULTILABEL,
        {"pos_weight": 3.0, "id_col": "id"},
    ),
    (
        ["multilabel", "--csv", MULTILABEL, "--neg-weight", "0.5", "--label-cols", "y*"],
        MULTILABEL,
        {"neg_weight": 0.5, "label_cols": "y*"},
    ),
    (["kl", "--csv", ONE_HOT, "--base", "bits"], ONE_HOT, {"base": "bits"}),
    (
        ["grad", "--csv", LOGITS, "--pred-cols", "z*", "--logits"],
        LOGITS,
        {"pred_cols": "z*", "logits": True},
    ),
    (["smooth", "--csv", IRIS, "--smoothing", "0.2"], IRIS, {"smoothing": 0.2}),
    (
        ["focal", "--csv", IRIS, "--gamma", "1", "--alpha", "0.25", "--label-col", "label"],
        IRIS,
        {"gamma": 1.0, "alpha": 0.25, "label_col": "label"},
    ),
    (["focal", "--csv", MULTILABEL, "--binary"], MULTILABEL, {"binary": True}),
]


@pytest.mark.parametrize(
    ("args", "path", "options"), FILE_CASES, ids=[" ".join(a[:1] + a[3:]) for a, _, _ in FILE_CASES]
)
def test_score_file_gives_the_summary_the_cli_prints(
    capsys: pytest.CaptureFixture[str], args: list[str], path: str, options: dict[str, Any]
) -> None:
    loss: Any = args[0]  # one of the seven names, as the command line gives it
    summary = cecli.score_file(path, loss, **options)
    assert isinstance(summary, cecli.BatchSummary)
    document = summary.to_json()
    # The notes name the parameters; the command line names its options instead.
    if "notes" in document:
        assert isinstance(document["notes"], list)
        document["notes"] = [with_flags(str(note), None) for note in document["notes"]]
    assert document == cli_json(capsys, *args)


@pytest.mark.parametrize(
    ("loss", "options"),
    [("ce", {}), ("focal", {"gamma": 2.0, "reduction": "sum"}), ("smooth", {"smoothing": 0.1})],
)
def test_score_file_without_details_gives_the_same_loss_and_counts(
    loss: Any, options: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(SAMPLES / "model_outputs.csv")
    full = cecli.score_file(path, loss, **options)
    bare = cecli.score_file(path, loss, details=False, **options)
    assert bare.loss == full.loss
    assert bare.extras == full.extras
    assert (bare.rows, bare.clipped, bare.skipped) == (full.rows, full.clipped, full.skipped)
    assert bare.row_mean == full.row_mean
    assert bare.weighted == full.weighted
    assert (bare.percentiles, bare.worst, bare.accuracy) == ({}, (), None)
    assert full.percentiles
    assert full.worst
    assert full.accuracy is not None
    reduction = options.get("reduction", "mean")
    extra = [] if loss == "ce" else ["--gamma", "2"] if loss == "focal" else ["--smoothing", "0.1"]
    assert main([loss, "--csv", path, "-q", "--reduction", reduction, *extra]) == 0
    assert float(capsys.readouterr().out) == full.loss


def test_score_file_takes_a_path_object_and_matches_the_logarithms() -> None:
    summary = cecli.score_file(Path(IRIS))
    # The true classes' probabilities in sample_data/iris3_index.csv.
    expected = [-math.log(0.57), -math.log(0.58), -math.log(0.52)]
    assert summary.loss == pytest.approx(math.fsum(expected) / 3, rel=1e-15)
    assert summary.rows == 3
    assert summary.source == IRIS


def test_two_files_score_as_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    labels, preds = tmp_path / "labels.csv", tmp_path / "preds.csv"
    labels.write_text("label\n0\n1\n2\n")
    preds.write_text("p0,p1,p2\n0.57,0.21,0.22\n0.20,0.58,0.22\n0.25,0.23,0.52\n")
    summary = cecli.score_file((labels, preds), "ce", base="2")
    document = cli_json(capsys, "ce", "--labels", str(labels), "--preds", str(preds), "--base", "2")
    assert summary.to_json() == document
    assert summary.loss == pytest.approx(cecli.score_file(IRIS, base="2").loss, rel=1e-15)
    assert summary.source == f"{labels} + {preds}"


def test_the_row_sink_gets_every_scored_row_in_order() -> None:
    seen: list[cecli.ScoredRows] = []
    cecli.score_file(BAD_ROW, skip_invalid=True, on_rows=seen.append)
    lines = [int(line) for rows in seen for line in rows.lines]
    values = [float(value) for rows in seen for value in rows.losses]
    # Line 4 ('abc') is skipped; the other rows' true-class probabilities are 0.57, 0.58, 0.80.
    assert lines == [2, 3, 5]
    assert values == pytest.approx([-math.log(0.57), -math.log(0.58), -math.log(0.80)], rel=1e-15)
    assert all(rows.ids is None for rows in seen)


def test_the_row_sink_sees_ids_and_gradients() -> None:
    seen: list[cecli.ScoredRows] = []
    cecli.score_file(MULTILABEL, "multilabel", id_col="id", on_rows=seen.append)
    assert [i for rows in seen for i in rows.ids or []] == [
        "img-001", "img-002", "img-003", "img-004",
    ]  # fmt: skip
    grads: list[Any] = []
    cecli.score_file(LOGITS, "grad", pred_cols="z*", logits=True, on_rows=grads.append)
    (rows,) = grads
    assert rows.class_labels == ("z0", "z1", "z2")
    first = np.exp([2.0, 1.0, 0.1]) / np.exp([2.0, 1.0, 0.1]).sum() - [1.0, 0.0, 0.0]
    np.testing.assert_allclose(rows.result.grad[0], first, rtol=1e-14)


def test_the_row_sink_matches_the_cli_rows(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[cecli.ScoredRows] = []
    cecli.score_file(LOGITS, logits=True, pred_cols="z*", reduction="none", on_rows=seen.append)
    assert (
        main(["ce", "--csv", LOGITS, "--logits", "--pred-cols", "z*", "--reduction", "none"]) == 0
    )
    header, *rows = capsys.readouterr().out.splitlines()
    assert header == "line,loss"
    assert [(int(line), float(loss)) for line, loss in (row.split(",") for row in rows)] == [
        (int(line), float(loss))
        for batch in seen
        for line, loss in zip(batch.lines, batch.losses, strict=True)
    ]


def test_progress_is_reported_from_the_start_to_the_last_row() -> None:
    steps: list[cecli.ScoringProgress] = []
    cecli.score_file(BAD_ROW, skip_invalid=True, on_progress=steps.append)
    assert steps[0].rows_read == 0
    assert steps[-1].rows_read == 4
    assert sum(step.rows_added for step in steps) == 4
    assert steps[-1].size_bytes == Path(BAD_ROW).stat().st_size


ERRORS: list[tuple[Any, str, list[str], str]] = [
    (
        lambda: cecli.score_file(IRIS, eps=0.7),
        "eps must be in [0, 0.5), got 0.7",
        ["ce", "--csv", IRIS, "--eps", "0.7"],
        "--eps must be in [0, 0.5), got 0.7",
    ),
    (
        lambda: cecli.ce([0], [[0.5, 0.5]], eps=0.5),
        "eps must be in [0, 0.5), got 0.5",
        ["ce", "0", "0.5,0.5", "--eps", "0.5"],
        "--eps must be in [0, 0.5), got 0.5",
    ),
    (
        lambda: cecli.ce([0], [[2.0, 1.0]]),
        "PREDS row 1, value 1: 2 is not a probability in [0, 1]; for raw scores use logits=True",
        ["ce", "0", "2,1"],
        "PREDS row 1, value 1: 2 is not a probability in [0, 1]; for raw scores use --logits",
    ),
    (
        lambda: cecli.ce([0], [[0.5, 0.5]], class_names=["a", "b", "c"]),
        "class_names names 3 classes, but PREDS has 2",
        ["ce", "0", "0.5,0.5", "--classes", "a,b,c"],
        "--classes names 3 classes, but PREDS has 2",
    ),
    (
        lambda: cecli.ce([0], [[0.5, 0.5]], weights=[1, 2, 3]),
        "weights has 3 values, but PREDS has 2 classes",
        ["ce", "0", "0.5,0.5", "--weights", "1,2,3"],
        "--weights has 3 values, but PREDS has 2 classes",
    ),
    (
        lambda: cecli.bce([1], [0.5], pos_weight=-1),
        "pos_weight must be in [0, ∞), got -1",
        ["bce", "1", "0.5", "--pos-weight", "-1"],
        "--pos-weight must be in [0, ∞), got -1",
    ),
    (
        lambda: cecli.like("ce", [0], [[0.5, 0.5]], library="jax"),
        "library takes torch, keras, tf-keras, sklearn or optax, not 'jax'",
        ["ce", "0", "0.5,0.5", "--like", "jax"],
        "--like takes torch, keras, tf-keras, sklearn or optax, not 'jax'",
    ),
]


@pytest.mark.parametrize(
    ("call", "python_message", "args", "cli_message"), ERRORS, ids=[e[1] for e in ERRORS]
)
def test_errors_name_the_parameter_in_python_and_the_option_on_the_command_line(
    capsys: pytest.CaptureFixture[str], call: Any, python_message: str, args: list[str],
    cli_message: str,
) -> None:  # fmt: skip
    with pytest.raises(cecli.InputError) as raised:
        call()
    assert str(raised.value) == python_message
    assert cli_error(capsys, *args) == f"cecli: error: {cli_message}\n"


def test_an_option_the_loss_lacks_is_refused_by_name() -> None:
    with pytest.raises(cecli.InputError, match=r"^gamma does not go with loss 'ce'$") as raised:
        cecli.score_file(IRIS, "ce", gamma=2.0)
    assert raised.value.parameter == "gamma"
    with pytest.raises(cecli.InputError, match=r"^pos_weight does not go with loss 'kl'$"):
        cecli.compare_frameworks("kl", [[0.5, 0.5]], [[0.9, 0.1]], pos_weight=2.0)
    unknown: Any = "hinge"
    with pytest.raises(cecli.InputError, match=r"^loss must be one of ce, bce"):
        cecli.score_file(IRIS, unknown)


FRAMEWORK_CASES: list[tuple[list[str], str, Any, Any, dict[str, Any]]] = [
    (
        ["ce", "0;2", "0.7,0.2,0.1;0.1,0.1,0.8"],
        "ce", [[0], [2]], [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], {},
    ),
    (
        ["ce", "0.9,0.1", "2,-1", "--logits", "--smoothing", "0.1", "--reduction", "sum"],
        "ce", [[0.9, 0.1]], [[2.0, -1.0]],
        {"logits": True, "smoothing": 0.1, "reduction": "sum"},
    ),
    (
        ["bce", "1,0,1", "0.9,0.2,1", "--pos-weight", "2"],
        "bce", [[1.0, 0.0, 1.0]], [[0.9, 0.2, 1.0]], {"pos_weight": 2.0},
    ),
    (["kl", "0.5,0.5", "0.9,0.1", "--base", "2"], "kl", [[0.5, 0.5]], [[0.9, 0.1]], {"base": "2"}),
    (["grad", "0", "2,1,0.1", "--logits"], "grad", [[0]], [[2.0, 1.0, 0.1]], {"logits": True}),
    (["smooth", "1", "0.2,0.7,0.1"], "smooth", [[1]], [[0.2, 0.7, 0.1]], {}),
    (
        ["focal", "1,0", "0.8,0.3", "--binary", "--gamma", "1", "--alpha", "0.25"],
        "focal", [[1.0, 0.0]], [[0.8, 0.3]], {"binary": True, "gamma": 1.0, "alpha": 0.25},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "loss", "labels", "preds", "options"),
    FRAMEWORK_CASES,
    ids=[" ".join(case[0]) for case in FRAMEWORK_CASES],
)
def test_compare_frameworks_gives_the_json_of_frameworks(
    capsys: pytest.CaptureFixture[str], args: list[str], loss: Any, labels: Any, preds: Any,
    options: dict[str, Any],
) -> None:  # fmt: skip
    comparison = cecli.compare_frameworks(loss, labels, preds, **options)
    assert isinstance(comparison, cecli.FrameworksComparison)
    document = cli_json(capsys, *args, "--frameworks")
    # What a library lacks names the parameters; the command line names its options instead.
    found = tuple(
        dataclasses.replace(item, message=with_flags(item.message, item.parameter))
        if isinstance(item, Missing)
        else item
        for item in comparison.found
    )
    assert dataclasses.replace(comparison, found=found).to_json() == document
    assert set(document["frameworks"]) == {"torch", "keras", "tf-keras", "sklearn", "optax"}


def test_like_gives_the_json_of_like_torch(capsys: pytest.CaptureFixture[str]) -> None:
    labels, preds = [[0], [2]], [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    reproduction = cecli.like("ce", labels, preds, library="pytorch")
    assert isinstance(reproduction, cecli.Reproduction)
    document = cli_json(capsys, "ce", "0;2", "0.7,0.2,0.1;0.1,0.1,0.8", "--like", "torch")
    assert document == {"cecli": document["cecli"], **reproduction.to_json()}
    comparison = cecli.compare_frameworks("ce", labels, preds, library="torch")
    assert comparison.to_json() == document
    # The mean of -log 0.7 and -log 0.8, from cecli and from PyTorch's nll_loss alike.
    expected = (-math.log(0.7) - math.log(0.8)) / 2
    assert document["cecli"] == pytest.approx(expected, rel=1e-15)
    assert float(reproduction.value) == pytest.approx(expected, rel=1e-15)


def test_like_names_what_a_library_lacks() -> None:
    with pytest.raises(cecli.Unsupported, match="has no focal loss"):
        cecli.like("focal", [[0]], [[0.5, 0.5]], library="torch")
    comparison = cecli.compare_frameworks("focal", [[0]], [[0.5, 0.5]])
    missing = [item.library for item in comparison.found if isinstance(item, cecli.Missing)]
    assert "torch" in missing


def test_import_cecli_does_not_import_polars() -> None:
    code = (
        "import sys, cecli\n"
        "assert cecli.ce([0], [[0.5, 0.5]]).loss > 0\n"
        "print(sorted(m for m in ('polars', 'pyarrow', 'rich', 'cecli.scoring', 'cecli.frameworks')"
        " if m in sys.modules))\n"
        "assert callable(cecli.score_file)\n"
        "print('cecli.scoring' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == ["[]", "True"]
