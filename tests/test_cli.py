"""End to end through Typer's CliRunner: each subcommand in each output mode."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run, run_json

COMMON_KEYS = {"loss", "base", "reduction", "rows", "classes", "per_row"}

SUBCOMMANDS = {
    "ce": (["1,0,0,0,0", "0.1,0.5,0.1,0.1,0.2"], set()),
    "bce": (["1,0,1", "0.9,0.2,0.7"], set()),
    "multilabel": (["1,0,0,1", "0.8,0.1,0.3,0.6"], {"positive", "negative"}),
    "kl": (["0.5,0.5", "0.9,0.1"], {"entropy", "cross_entropy"}),
    "grad": (["0", "0.7,0.2,0.1"], {"grad"}),
    "smooth": (["0", "0.7,0.2,0.1"], {"loss_hard", "targets"}),
    "focal": (["0", "0.7,0.2,0.1"], {"ce"}),
}


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_json_has_the_contract_keys(command: str) -> None:
    args, extra = SUBCOMMANDS[command]
    document = run_json(command, *args)
    assert COMMON_KEYS | extra <= set(document)
    assert document["base"] == "e"
    assert document["reduction"] == "mean"
    assert document["rows"] == 1
    assert len(document["per_row"]) == 1


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_quiet_prints_the_json_loss_alone(command: str) -> None:
    args, _ = SUBCOMMANDS[command]
    code, out, err = run(command, *args, "-q")
    assert code == 0
    assert err == ""
    if command == "grad":  # grad prints its gradient ∂L/∂z, one row per line
        assert [[float(v) for v in out.split(",")]] == run_json(command, *args)["grad"]
        return
    assert float(out) == run_json(command, *args)["loss"]
    assert out.count("\n") == 1


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_table_shows_terms_and_the_headline(command: str) -> None:
    args, _ = SUBCOMMANDS[command]
    code, out, err = run(command, *args)
    assert code == 0
    assert err == ""
    assert "Σ" in out or "∂L/∂z" in out
    assert "nats" in out
    assert "\x1b[" not in out


def test_reference_example_quiet() -> None:
    assert run("ce", "1,0,0,0,0", "0.1,0.5,0.1,0.1,0.2", "-q")[1] == "2.3025850929940455\n"


def test_reference_example_table_teaches_the_formula() -> None:
    out = run("ce", "1,0,0,0,0", "0.1,0.5,0.1,0.1,0.2")[1]
    assert "L = −(1×log 0.1 + 0×log 0.5 + 0×log 0.1 + 0×log 0.1 + 0×log 0.2) = 2.302585 nats" in out
    assert "−y·log p" in out


def test_clipped_values_are_flagged_in_the_table() -> None:
    out = run("ce", "0", "1,0")[1]
    assert "1e-07*" in out
    assert "clipped to [1e-07, 1 − 1e-07]" in out


def test_negative_numbers_as_arguments() -> None:
    code, out, _ = run("ce", "0", "-1.2,0.3,2", "--logits", "-q")
    assert code == 0
    assert float(out) == pytest.approx(3.4016712449527914, rel=1e-15)
    code_dashdash, out_dashdash, _ = run("ce", "--logits", "-q", "--", "0", "-1.2,0.3,2")
    assert (code_dashdash, out_dashdash) == (0, out)
    # Options after `--` still count as options.
    assert run("ce", "--", "0", "-1.2,0.3,2", "--logits", "-q")[:2] == (0, out)
    code_json, out_json, _ = run(
        "focal", "--", "0", "-1.2,0.3,2", "--logits", "--gamma", "0", "--json"
    )
    assert code_json == 0
    assert json.loads(out_json)["loss"] == float(out)


def test_stdin_dash() -> None:
    code, out, _ = run("ce", "-", "0.1,0.9", "-q", input="1\n")
    assert code == 0
    assert float(out) == pytest.approx(0.10536051565782628, rel=1e-15)
    assert run("ce", "1", "-", "-q", input="0.1 0.9")[1] == out


def test_batch_from_stdin_lines() -> None:
    code, out, _ = run("ce", "0;1", "-", "--reduction", "none", "-q", input="0.5,0.5\n0.25,0.75\n")
    assert code == 0
    assert [float(v) for v in out.split()] == pytest.approx(
        [0.6931471805599453, 0.2876820724517809]
    )


def test_reduction_none_json_loss_is_the_per_row_list() -> None:
    document = run_json("ce", "0;2", "0.7,0.2,0.1;0.1,0.1,0.8", "--reduction", "none")
    assert document["loss"] == document["per_row"]
    assert document["rows"] == 2


def test_reduction_sum() -> None:
    mean = run_json("ce", "0;2", "0.7,0.2,0.1;0.1,0.1,0.8")["loss"]
    total = run_json("ce", "0;2", "0.7,0.2,0.1;0.1,0.1,0.8", "--reduction", "sum")["loss"]
    assert total == pytest.approx(2 * mean, rel=1e-15)


def test_bits() -> None:
    document = run_json("ce", "1", "0.5,0.5", "--base", "bits")
    assert document["loss"] == 1.0
    assert document["base"] == "2"
    assert document["unit"] == "bits"


def test_class_names() -> None:
    code, out, _ = run("ce", "virginica", "0.1,0.2,0.7", "--classes", "setosa,versicolor,virginica")
    assert code == 0
    assert "virginica" in out
    document = run_json(
        "ce", "virginica", "0.1,0.2,0.7", "--classes", "setosa,versicolor,virginica"
    )
    assert document["class_names"] == ["setosa", "versicolor", "virginica"]


def test_eps_zero_gives_inf_with_a_warning() -> None:
    code, out, err = run("ce", "0", "0,1", "--eps", "0", "--json")
    assert code == 0
    assert json.loads(out)["loss"] == "inf"
    assert err.startswith("cecli: warning: the loss is infinite")
    assert run("ce", "0", "0,1", "--eps", "0", "-q")[1] == "inf\n"


def test_unnormalised_rows_warn_on_stderr_only() -> None:
    code, out, err = run("ce", "0", "0.6,0.6", "-q")
    assert code == 0
    assert out == "0.5108256237659907\n"
    assert "PREDS row 1 does not sum to 1" in err
    assert run("ce", "0", "0.6,0.6", "-q", "--normalize")[1:] == ("0.6931471805599453\n", "")


def test_logits_and_bce_do_not_warn_about_sums() -> None:
    assert run("ce", "0", "3,4", "--logits", "-q")[2] == ""
    assert run("bce", "1,0", "0.9,0.9", "-q")[2] == ""


def test_kl_identity_in_the_table() -> None:
    out = run("kl", "0.5,0.5", "0.9,0.1", "--base", "2")[1]
    assert "H(P,Q) = H(P) + D_KL(P‖Q): 1.736966 = 1 + 0.7369656 bits" in out


def test_grad_json_is_rows_by_classes() -> None:
    document = run_json("grad", "0;1", "2,1,0.1;0,0,0", "--logits")
    assert len(document["grad"]) == 2
    assert len(document["grad"][0]) == 3
    # mean over 2 rows: (softmax - y) / 2
    assert document["grad"][1][0] == pytest.approx(1 / 6, rel=1e-14)


def test_grad_probs_and_sigmoid() -> None:
    document = run_json("grad", "0", "0.7,0.2,0.1")
    assert document["grad"][0] == pytest.approx([-0.3, 0.2, 0.1], rel=1e-14)
    assert document["grad_probs"][0][0] == pytest.approx(-1 / 0.7, rel=1e-14)
    sigmoid = run_json("grad", "1,0", "0,0", "--sigmoid", "--reduction", "sum", "--logits")
    assert sigmoid["grad"] == [[-0.5, 0.5]]


def test_smooth_shows_both_targets() -> None:
    out = run("smooth", "0", "0.7,0.2,0.1")[1]
    assert "y′ (smoothed)" in out
    assert "0.9333333" in out
    document = run_json("smooth", "0", "0.7,0.2,0.1", "--smoothing", "0")
    assert document["loss"] == document["loss_hard"]


def test_focal_binary_alpha() -> None:
    document = run_json("focal", "1,0", "0.7,0.2", "--binary", "--alpha", "0.25", "--gamma", "2")
    assert document["rows"] == 1
    assert document["loss"] < document["ce"]
    out = run("focal", "1,0", "0.7,0.2", "--binary", "--alpha", "0.25")[1]
    assert "α_t" in out


def test_multilabel_positive_negative_sum_to_loss() -> None:
    document = run_json("multilabel", "1,0,0,1;0,1,0,0", "0.8,0.1,0.3,0.6;0.2,0.5,0.1,0.1")
    assert document["positive"] + document["negative"] == pytest.approx(document["loss"], rel=1e-14)


def test_batch_table_lists_rows() -> None:
    out = run("ce", "0;2;1", "0.7,0.2,0.1;0.1,0.1,0.8;0.3,0.4,0.3")[1]
    assert "row 3" in out
    assert "Per row" in out
    assert "mean over 3 rows" in out


def test_help_teaches() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in SUBCOMMANDS:
        assert command in out
    code, out, _ = run("ce", "--help")
    assert code == 0
    assert "--logits" in out
    assert "Example" in out


def test_grad_accepts_probs_as_the_default() -> None:
    assert run("grad", "0", "0.5,0.5", "--probs", "-q")[1] == run("grad", "0", "0.5,0.5", "-q")[1]
    code, _, err = run("grad", "0", "0.5,0.5", "--logits", "--probs")
    assert code == 2
    assert "either --logits or --probs" in err
