"""Inputs at the edges of float64: every run ends with exit 0 or 2 and no NumPy warning.

Each case runs ``cecli.cli.main`` with warnings turned into errors and NumPy's divide,
overflow and invalid-operation flags set to raise, so a floating-point event that no code
expected (and that would print a ``RuntimeWarning`` to a user) fails the case.  Underflow is
left alone: ``exp(-1000) = 0`` is the right answer, not an accident.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest
from mpmath import mpf

from cecli.cli import main
from tests import oracle

TWO_CLASS_PREDS = ["0.5,0.5", "0,1", "1,0", "1e-320,1", "5e-324,1"]
LOGITS = ["1e308,-1e308", "-1e308,1e308", "1e308,1e308", "-1e308,-1e308"]
WEIGHTS = ["1e308,1e308", "1e-320,1e-320", "5e-324,5e-324", "1e308,5e-324", "0,1"]
OUTPUTS: list[list[str]] = [[], ["--json"], ["-q"]]


def _categorical_cases() -> list[list[str]]:
    cases = []
    for command, preds in itertools.product(
        ["ce", "smooth", "focal", "kl", "grad"], TWO_CLASS_PREDS
    ):
        labels = "0.5,0.5" if command == "kl" else "0"
        options = [[], ["--eps", "0"], ["--base", "2"], ["--reduction", "sum"]]
        options += [["--reduction", "none"]]
        if command == "focal":
            options += [["--gamma", "1e300"], ["--gamma", "1e300", "--eps", "0"]]
        if command in ("ce", "smooth"):
            options += [["--smoothing", "1"], ["--smoothing", "1", "--eps", "0"]]
        if command == "grad":
            options = [["--probs", *option] for option in options]
        cases += [[command, labels, preds, *o] for o in options]
    for command, logits in itertools.product(["ce", "smooth", "focal", "kl", "grad"], LOGITS):
        flag = ["--logits"]
        labels = "0.5,0.5" if command == "kl" else "1"
        cases += [[command, labels, logits, *flag, *output] for output in OUTPUTS]
    cases += [
        ["grad", "0", "1e308,-1e308", "--sigmoid", "--logits"],
        ["grad", "1", "0,1", "--probs", "--eps", "0"],
    ]
    return cases


def _binary_cases() -> list[list[str]]:
    cases = []
    for command in ["bce", "multilabel", "focal"]:
        binary = ["--binary"] if command == "focal" else []
        for labels, preds in [("0", "1"), ("1", "0"), ("0", "0"), ("1", "1"), ("0.5", "1e-320")]:
            options = [[], ["--eps", "0"]]
            options += [["--gamma", "1e300"]] if command == "focal" else []
            options += [["--smoothing", "1"], ["--eps", "0", "--pos-weight", "1e308"]] * (
                command == "bce"
            )
            for option, output in itertools.product(options, OUTPUTS):
                cases.append([command, labels, preds, *binary, *option, *output])
        for labels, logit in itertools.product(["0", "1"], ["1e308", "-1e308"]):
            cases.append([command, labels, logit, "--logits", *binary])
    for command, weight in itertools.product(["bce", "multilabel"], ["1e308", "5e-324"]):
        cases.append([command, "1;0", "0.5;0.5", "--pos-weight", weight])
    # The table's Σ of terms with a weight of 1e308 on several rows overflows float64.
    for flag in ["--pos-weight", "--neg-weight"]:
        cases.append(["multilabel", "0,0,1,0;1,0,0,0", "0.2,0.2,0.3,0.3;0.2,0.1,0.2,0.5", flag])
        cases[-1].append("1e308")
    return cases


def _weighted_cases() -> list[list[str]]:
    cases = []
    for weights, preds in itertools.product(WEIGHTS, ["0.5,0.5;0.5,0.5", "0,1;1,0"]):
        for option in [[], ["--eps", "0"], ["--reduction", "sum"], ["--smoothing", "1"]]:
            cases += [["ce", "0;1", preds, "--weights", weights, *option, *o] for o in OUTPUTS]
    return cases


def _file_cases(folder: Path) -> list[list[str]]:
    rows = [
        "label,p0,p1,z0,z1,w",
        "0,0.5,0.5,1e308,-1e308,1e308",
        "1,0,1,-1e308,1e308,1e-320",
        "0,0,1,1e308,1e308,5e-324",
        "1,1e-320,1,0,1e308,1e308",
    ]
    csv = folder / "edges.csv"
    csv.write_text("\n".join(rows) + "\n")
    import polars as pl

    parquet = folder / "edges.parquet"
    pl.read_csv(csv).write_parquet(parquet)
    cases = []
    for source in (["--csv", str(csv)], ["--parquet", str(parquet)]):
        for columns, option in itertools.product(
            [["--pred-cols", "p0,p1"], ["--pred-cols", "z0,z1", "--logits"]],
            [
                [],
                ["--eps", "0"],
                ["--weight-col", "w"],
                ["--reduction", "sum"],
                ["--eps", "0", "--weight-col", "w", "--weights", "5e-324,5e-324"],
            ],
        ):
            if "--logits" in columns and option[:1] == ["--eps"]:
                continue
            for output in [["--json"], ["-q"], []]:
                cases.append(["ce", *source, "--label-col", "label", *columns, *option, *output])
        cases.append(["grad", *source, "--pred-cols", "z0,z1", "--reduction", "none"])
    # An infinite loss over a weight total that is not 0 but rounds to 0 as a float.
    tiny = folder / "tiny.csv"
    tiny.write_text("label,p0,p1,w\n0,0,1,1e-300\n")
    cases.append(["ce", "--csv", str(tiny), "--weights", "5e-324,5e-324", "--weight-col", "w",
                  "--eps", "0"])  # fmt: skip
    return cases


def _run_all(cases: list[list[str]], capsys: pytest.CaptureFixture[str]) -> list[str]:
    failures = []
    for args in cases:
        with warnings.catch_warnings(), np.errstate(divide="raise", over="raise", invalid="raise"):
            warnings.simplefilter("error")
            try:
                code: int | str = main(args)
            except Exception as error:  # a warning or floating-point error escaped
                code = repr(error)
        err = capsys.readouterr().err
        if code not in (0, 2) or "Warning" in err or "Traceback" in err:
            failures.append(f"{args}: {code} {err[-300:]}")
    return failures


@pytest.mark.parametrize(
    "cases",
    [_categorical_cases, _binary_cases, _weighted_cases],
    ids=["categorical", "binary", "weighted"],
)
def test_edge_inputs_end_cleanly(cases: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert callable(cases)
    assert _run_all(cases(), capsys) == []


def test_edge_files_end_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_all(_file_cases(tmp_path), capsys) == []


@pytest.mark.parametrize("weight", ["1e308", "1e-320", "5e-324"])
def test_class_weights_of_any_scale_give_the_unweighted_mean(
    weight: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ce", "0;1", "0.5,0.5;0.5,0.5", "--weights", f"{weight},{weight}", "-q"]) == 0
    printed = capsys.readouterr().out.strip()
    expected, _ = oracle.ce(oracle.one_hot([0, 1], 2), [[0.5, 0.5], [0.5, 0.5]], weights=[1.0, 1.0])
    assert printed == "0.6931471805599453"
    assert float(printed) == float(mpf(expected))


@pytest.mark.parametrize("scale", [1e300, 1.0, 1e-310])
def test_unequal_class_weights_are_scale_invariant(
    scale: float, capsys: pytest.CaptureFixture[str]
) -> None:
    preds = [[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]]
    weights = [3.0 * scale, 0.5 * scale]
    text_weights = ",".join(repr(w) for w in weights)
    text_preds = ";".join(",".join(map(str, row)) for row in preds)
    assert main(["ce", "0;1;1", text_preds, "--weights", text_weights, "-q"]) == 0
    printed = float(capsys.readouterr().out)
    expected, _ = oracle.ce(oracle.one_hot([0, 1, 1], 2), preds, weights=weights)
    assert printed == pytest.approx(float(mpf(expected)), rel=2e-16)


@pytest.mark.parametrize("weight", ["1e308", "1e-320"])
def test_sample_weights_of_any_scale_give_the_unweighted_mean(
    weight: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "weighted.csv"
    path.write_text(f"label,p0,p1,w\n0,0.5,0.5,{weight}\n1,0.5,0.5,{weight}\n")
    assert main(["ce", "--csv", str(path), "--weight-col", "w", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "0.6931471805599453"
    assert captured.err == ""
