"""The command line's conventions: typed choices, strict commands, one error style, `grad`
like every other subcommand, `--vs` and `--classes` everywhere, and `plot --logits` a flag."""

from __future__ import annotations

import json
import math

import pytest

import cecli
from tests.helpers import run

IRIS = "sample_data/iris3_index.csv"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ce", "--csv", IRIS, "--reduction", "avg"], "--reduction must be mean, sum or none"),
        (["ce", "0", "0.5,0.5", "--reduction", "avg"], "--reduction must be mean, sum or none"),
        (["ce", "0", "0.5,0.5", "--base", "3"], "--base must be e, 2 or 10"),
        (["ce", "0", "0.5,0.5", "--like", "pytoch"], "--like takes torch, keras"),
        (["plot", "ce", "--wdth", "40"], "no such option: --wdth"),
        (["tour", "1", "extra", "junk"], "unexpected extra argument"),
        (["plot", "bce", "--gamma", "2"], "--gamma does not apply to `plot bce`"),
        (["plot", "smooth", "--at", "0.5"], "--at does not apply to `plot smooth`"),
        (["plot", "ce", "0.5"], "unexpected extra argument: 0.5"),
        (["cee", "1"], "no such command 'cee'"),
        (["ce", "0", "0.7", "0.2", "0.1"], "separate its values with commas"),
        (["ce", "0", "0.7,0.3", "--explain", "--json"], "--explain adds sentences"),
        (["ce", "--csv", IRIS, "--explain"], "--explain explains typed LABELS and PREDS"),
    ],
)
def test_refused_before_anything_runs(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err.startswith("cecli: error: ")
    assert err.count("\n") == 1
    assert message in err


def test_a_bad_choice_is_refused_before_the_file_is_read(tmp_path: object) -> None:
    code, _, err = run("ce", "--csv", "no/such/file.csv", "--reduction", "avg")
    assert code == 2
    assert "--reduction" in err
    assert "no/such/file.csv" not in err


def test_help_offers_shell_completion() -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "--install-completion" in out
    assert "--show-completion" in out


def test_h_is_help_for_every_command() -> None:
    for command in cecli.cli.COMMANDS:
        code, out, err = run(command, "-h")
        assert (code, err) == (0, ""), command
        assert f"cecli {command}" in out


def test_aliases_of_choices_still_work() -> None:
    assert run("ce", "0", "0.5,0.5", "--base", "bits", "-q")[1] == "1.0\n"
    assert run("ce", "0", "0.5,0.5", "--like", "pytorch", "-q")[0] == 0


# --- grad like every other subcommand -------------------------------------------------------


def test_grad_reads_probabilities_by_default_like_ce() -> None:
    """Before, `grad --csv` scored the probability columns as logits: 0.888 where ce says 0.587."""
    ce = json.loads(run("ce", "--csv", IRIS, "--json", "--no-progress")[1])
    grad = json.loads(run("grad", "--csv", IRIS, "--json", "--no-progress")[1])
    assert grad["loss"] == pytest.approx(ce["loss"], rel=1e-12)


def test_grad_quiet_prints_the_gradient_as_like_does() -> None:
    """softmax(log p) − y = p − y for a probability row that sums to 1."""
    code, out, _ = run("grad", "0", "0.5,0.25,0.25", "-q")
    assert code == 0
    assert out == "-0.5,0.25,0.25\n"
    code, like, _ = run("grad", "0", "0.5,0.25,0.25", "--like", "torch", "-q")
    assert code == 0
    assert [float(v) for v in like.split(",")] == pytest.approx([-0.5, 0.25, 0.25], rel=1e-12)


def test_grad_logits_flag() -> None:
    """z = (0, 0): softmax is (1/2, 1/2), so ∂L/∂z = (−1/2, 1/2)."""
    assert run("grad", "0", "0,0", "--logits", "-q")[1] == "-0.5,0.5\n"
    assert run("grad", "0", "0,0", "--probs", "--logits")[0] == 2


def test_grad_per_row_json_lines_carry_the_gradient(tmp_path: object) -> None:
    code, out, _ = run("grad", "--csv", IRIS, "--reduction", "none", "--json", "--no-progress")
    assert code == 0
    first = json.loads(out.splitlines()[0])
    assert set(first) == {"line", "loss", "grad"}
    assert len(first["grad"]) == 3
    assert sum(first["grad"]) == pytest.approx(0.0, abs=1e-12)


def test_grad_csv_columns_say_what_they_hold() -> None:
    code, out, _ = run("grad", "--csv", IRIS, "--output", "-", "--no-progress")
    assert code == 0
    assert out.splitlines()[0] == "line,loss,dL/dz_p0,dL/dz_p1,dL/dz_p2"


# --- --vs and --classes everywhere, plot --logits --------------------------------------------


@pytest.mark.parametrize(
    ("command", "labels", "a", "b"),
    [
        ("multilabel", "1,0", "0.5,0.5", "0.25,0.5"),
        ("smooth", "0", "0.5,0.5", "0.25,0.75"),
    ],
)
def test_vs_on_every_loss_command(command: str, labels: str, a: str, b: str) -> None:
    code, out, err = run(command, labels, a, "--vs", b, "--json")
    assert code == 0, err
    document = json.loads(out)
    alone_a = json.loads(run(command, labels, a, "--json")[1])
    alone_b = json.loads(run(command, labels, b, "--json")[1])
    assert document["a"]["loss"] == alone_a["loss"]
    assert document["b"]["loss"] == alone_b["loss"]


def test_multilabel_vs_gradient_is_sigma_minus_y() -> None:
    """For probabilities, σ(logit p) = p, so ∂L/∂z = (p − y)/C under the mean over C classes."""
    document = json.loads(run("multilabel", "1,0", "0.5,0.5", "--vs", "0.25,0.5", "--json")[1])
    assert document["grad_b"] == [[pytest.approx((0.25 - 1) / 2), pytest.approx(0.5 / 2)]]


def test_bce_takes_class_names() -> None:
    code, out, err = run("bce", "1,0", "0.75,0.5", "--classes", "cat,dog", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["loss"] == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2, rel=1e-15)
    assert "cat" in run("bce", "1,0", "0.75,0.5", "--classes", "cat,dog")[1]


def test_plot_softmax_takes_the_logits_as_its_argument() -> None:
    code, out, err = run("plot", "softmax", "2,1,0.1", "--width", "72")
    assert code == 0, err
    assert "softmax(z / T) of z = 2, 1, 0.1" in out


def test_plot_logits_flag_marks_sigma_of_z() -> None:
    """σ(0) = 1/2: the point is marked at p = 0.5, where −log p = log 2."""
    code, out, err = run("plot", "ce", "--at", "0", "--logits", "--width", "80")
    assert code == 0, err
    assert f"p = 0.5: loss = {math.log(2):.7g}" in out


@pytest.mark.parametrize("library", ["torch", "optax"])
def test_grad_sigmoid_like_takes_the_logit_of_probabilities(library: str) -> None:
    """σ(logit p) = p, so ∂L/∂z = (p − y)/(N·C); before, the libraries were given log p."""
    code, out, err = run(
        "grad", "1,0;0,1", "0.75,0.25;0.5,0.5", "--sigmoid", "--like", library, "-q"
    )
    assert code == 0, err
    rows = [[float(v) for v in line.split(",")] for line in out.splitlines()]
    expected = [[(0.75 - 1) / 4, 0.25 / 4], [0.5 / 4, (0.5 - 1) / 4]]
    for row, want in zip(rows, expected, strict=True):
        assert row == pytest.approx(want, rel=1e-6)
    code, out, _ = run("grad", "1,0;0,1", "0.75,0.25;0.5,0.5", "--sigmoid", "--frameworks")
    assert code == 0
    assert "torch.logit(" in out
    assert "jax.scipy.special.logit(" in out


@pytest.mark.parametrize("args", [["ce", "0", "0.3,0.7"], ["ce", "-h"], ["tour", "1"]])
def test_an_ascii_terminal_gets_escapes_not_a_traceback(args: list[str]) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "ascii", "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "cecli", *args], capture_output=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    done.stdout.decode("ascii")  # every byte is ASCII


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ("[a],b", ["[a]", "b"]),
        ("(a),b", ["(a)", "b"]),
        ("[bold]x[/bold],b", ["[bold]x[/bold]", "b"]),
        ("[a b]", ["a", "b"]),
        ("(a,b)", ["a", "b"]),
    ],
)
def test_class_names_keep_their_brackets(given: str, names: list[str]) -> None:
    """Before, `--classes '[a],b'` named the classes `a]` and `b`."""
    code, out, err = run("ce", "0", "0.25,0.75", "--classes", given, "--json")
    assert code == 0, err
    assert json.loads(out)["class_names"] == names


def test_a_label_with_brackets_is_its_class() -> None:
    assert run("ce", "[a]", "0.25,0.75", "--classes", "[a],b", "-q")[1] == f"{-math.log(0.25)!r}\n"
    both = run("ce", "[a];b", "0.25,0.75;0.5,0.5", "--classes", "[a],b", "-q")[1]
    assert float(both) == pytest.approx((-math.log(0.25) - math.log(0.5)) / 2, rel=1e-15)


@pytest.mark.parametrize(
    "args",
    [
        ["plot", "softmax", "--", "-1,2", "--width", "40"],
        ["plot", "--", "softmax", "-1,2", "--width", "40"],
        ["plot", "softmax", "-1,2", "--width", "40"],
    ],
)
def test_plot_options_after_the_arguments_and_after_double_dash(args: list[str]) -> None:
    """Before, `--width` after `--` was refused as "no such option: --width"."""
    code, out, err = run(*args)
    assert code == 0, err
    assert "softmax(z / T) of z = -1, 2" in out
    assert out == run("plot", "softmax", "--width", "40", "--", "-1,2")[1]
    assert out != run("plot", "softmax", "--width", "60", "--", "-1,2")[1]


def test_help_after_double_dash() -> None:
    code, out, err = run("ce", "--", "0", "0.3,0.7", "--help")
    assert (code, err) == (0, "")
    assert "Usage: cecli ce" in out


def test_cecli_alone_prints_the_help_and_exits_0() -> None:
    code, out, err = run()
    assert (code, err) == (0, "")
    assert "Usage: cecli" in out


def test_binary_focal_refuses_normalize() -> None:
    """Before, --normalize was silently ignored with --binary."""
    code, out, err = run("focal", "1,0", "0.9,0.1", "--binary", "--normalize")
    assert (code, out) == (2, "")
    assert err.startswith("cecli: error: --normalize ")


def test_an_empty_delimiter_is_refused() -> None:
    """Before, `--delimiter ''` was taken as no delimiter given, and one was guessed."""
    code, out, err = run("ce", "--csv", IRIS, "--delimiter", "")
    assert (code, out) == (2, "")
    assert "--delimiter must be one character, got ''" in err


def test_a_row_that_costs_nothing_is_zero_not_negative_zero() -> None:
    code, out, _ = run(
        "ce", "--csv", "sample_data/logits.csv", "--logits", "--pred-cols", "z*",
        "--reduction", "none", "--no-progress",
    )  # fmt: skip
    assert code == 0
    assert "-0.0" not in out
    assert ",0.0" in out


def test_grad_per_row_quiet_prints_gradients() -> None:
    code, out, _ = run("grad", "--csv", IRIS, "--reduction", "none", "-q", "--no-progress")
    assert code == 0
    first = [float(v) for v in out.splitlines()[0].split(",")]
    assert len(first) == 3
    assert sum(first) == pytest.approx(0.0, abs=1e-12)


def test_file_reasons_name_the_flag_and_python_the_parameter(tmp_path: object) -> None:
    path = f"{tmp_path}/bad.csv"
    with open(path, "w") as handle:
        handle.write("label,p0,p1\n0,2,0.5\n1,0.5,0.5\n")
    code, _, err = run("ce", "--csv", path)
    assert code == 2
    assert err.endswith("for raw scores use --logits\n")
    code, _, err = run("ce", "--csv", path, "--skip-invalid", "-q")
    assert code == 0
    assert "for raw scores use --logits" in err
    with pytest.raises(cecli.InputError, match=r"use logits=True$"):
        cecli.score_file(path)


def test_typed_input_reports_accuracy_beside_the_loss() -> None:
    """Issue 13: top-1 and the mean p of the true class, exact sums rounded once."""
    from fractions import Fraction

    document = json.loads(run("ce", "0;2", "0.7,0.2,0.1;0.5,0.3,0.2", "--json")[1])
    assert document["accuracy"] == 0.5
    assert document["mean_p_true"] == float((Fraction(0.7) + Fraction(0.2)) / 2)
    table = run("ce", "0;2", "0.7,0.2,0.1;0.5,0.3,0.2")[1]
    assert "top-1 accuracy: 50.0% of 2 rows" in table


def test_typed_top_k_past_five_classes() -> None:
    """The true class ranks 3rd of 7: wrong at top-1, right at top-5 (the default past 5)."""
    document = json.loads(run("ce", "6", "0.3,0.25,0.05,0.05,0.05,0.1,0.2", "--json")[1])
    assert (document["accuracy"], document["top_k"], document["top_k_accuracy"]) == (0.0, 5, 1.0)


def test_typed_binary_accuracy_at_one_half() -> None:
    document = json.loads(run("bce", "1,0,1,0", "0.9,0.6,0.4,0.1", "--json")[1])
    assert document["accuracy"] == 0.5
    assert document["threshold"] == 0.5
    assert "accuracy" not in json.loads(run("kl", "0.5,0.5", "0.9,0.1", "--json")[1])
    assert run("ce", "0", "0.7,0.3", "-q")[1].count("\n") == 1


def test_one_class_has_no_accuracy_line() -> None:
    """Found by the argument fuzzer: `ce 1 0` (one class) ended in an IndexError."""
    code, out, err = run("ce", "1", "0")
    assert code == 0, err
    assert "accuracy" not in out


def test_a_huge_ignore_index_is_one_error_line() -> None:
    """Found by the argument fuzzer: an ignore index past int64 ended in an OverflowError."""
    code, out, err = run("ce", "0;1", "0.5,0.5;0.5,0.5", "--ignore-index", "99999999999999999999")
    assert (code, out) == (2, "")
    assert err.startswith("cecli: error: --ignore-index must be within")


def test_rejects_and_output_are_never_one_file(tmp_path: object) -> None:
    """Before, both were written and the later rename silently replaced the per-row output."""
    import os

    source, target = f"{tmp_path}/in.csv", f"{tmp_path}/out.csv"
    with open(source, "w") as handle:
        handle.write("label,p0,p1\n0,2,0.5\n1,0.5,0.5\n")
    code, out, err = run(
        "ce", "--csv", source, "--skip-invalid", "--reduction", "none", "--output", target,
        "--rejects", target, "--no-progress",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert f"--rejects: {target} is also --output" in err
    assert not os.path.exists(target)
