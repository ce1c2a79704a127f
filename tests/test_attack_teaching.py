"""The teaching side under odd input: every number an explanation quotes is the arithmetic it
shows, about a class and a row that the loss counts."""

from __future__ import annotations

import math

import pytest
from rich.cells import cell_len

import cecli
from cecli.explain import explain
from tests import oracle
from tests.helpers import run


def _said(result: cecli.LossResult) -> str:
    return " ".join(explain(result))


def test_a_class_weight_shows_in_the_true_class_term() -> None:
    text = _said(cecli.ce([1], [[0.7, 0.2, 0.1]], weights=[1.0, 3.0, 1.0]))
    term = -3.0 * math.log(0.2)
    assert f"so its term is −3×log 0.2 = {term:.4g} nats" in text
    assert f"−log 0.2 = {term:.4g}" not in text  # −log 0.2 is 1.609, not 4.828


def test_smoothed_targets_are_not_said_to_count_the_true_class_alone() -> None:
    # y′ = 0.7·(1, 0, 0) + 0.3/3 = (0.8, 0.1, 0.1): every class has a term.
    text = _said(cecli.ce([0], [[0.9, 0.05, 0.05]], smoothing=0.3))
    assert "Only the true class counts" not in text
    wrong_class_term = -0.1 * math.log(0.05)
    total = -0.8 * math.log(0.9) + 2 * wrong_class_term
    share = wrong_class_term / total
    assert (
        f"Class 1 contributes most: {wrong_class_term:.4g} of {total:.4g} nats ({share:.0%})."
        in text
    )


def test_a_true_class_clipped_from_1_is_not_said_to_cost_log_1() -> None:
    text = _said(cecli.ce([2], [[0.0, 0.0, 1.0]]))
    assert "−log 1 =" not in text
    assert "p = 1 − 1e-07, so the loss is −log(1 − 1e-07) = 1e-07 nats" in text
    assert "(without clipping, p = 1 would cost 0)" in text
    assert "p = 0 would give an infinite loss" not in text


def test_a_true_class_clipped_from_0_says_what_p_0_would_cost() -> None:
    text = _said(cecli.ce([0], [[0.0, 1.0, 0.0]]))
    assert f"the loss is −log 1e-07 = {-math.log(1e-7):.4g} nats" in text
    assert "(without clipping, p = 0 would give an infinite loss)" in text


def test_an_ignored_first_row_is_not_explained() -> None:
    preds = [[0.7, 0.2, 0.1], [0.2, 0.2, 0.6]]
    for loss in (cecli.ce, cecli.focal, cecli.grad, cecli.smooth):
        sentences = explain(loss([-100, 0], preds, ignore_index=-100))
        assert sentences[0] == (
            "Row 1 counts for nothing (ignored, or of weight 0), so this is about row 2."
        ), loss
        text = " ".join(sentences)
        assert "from 0 to 0" not in text  # smooth, about the ignored row
        assert "loss is 0 against 0" not in text  # focal
        assert "(gradient 0)" not in text  # grad


def test_the_ignored_rows_sentence_explains_the_row_that_counts() -> None:
    preds = [[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.2, 0.2, 0.6]]
    text = _said(cecli.ce([-100, -100, 0], preds, ignore_index=-100))
    assert text.startswith("Rows 1 and 2 count for nothing")
    assert f"class 0 p = 0.2, so the loss is −log 0.2 = {-math.log(0.2):.4g} nats" in text


def test_a_row_of_weight_0_is_not_explained() -> None:
    result = cecli.ce([0, 1], [[0.7, 0.3], [0.4, 0.6]], sample_weights=[0, 1])
    text = _said(result)
    assert f"class 1 p = 0.6, so the loss is −log 0.6 = {-math.log(0.6):.4g} nats" in text


def test_a_gradient_of_zero_everywhere_names_no_class() -> None:
    # sigmoid(0) = 0.5 against y = 0.5: every gradient is exactly 0.
    text = _said(cecli.grad([[0.5, 0.5]], [[0.0, 0.0]], logits=True, sigmoid=True))
    assert "goes up most" not in text
    assert text == "Every logit's gradient is 0: no class is pushed more than another."


def test_cli_explain_quotes_the_weighted_term() -> None:
    code, out, err = run("ce", "1", "0.7,0.2,0.1", "--weights", "1,3,1", "--explain")
    assert code == 0, err
    assert f"its term is −3×log 0.2 = {-3 * math.log(0.2):.4g} nats" in " ".join(out.split())


def test_vs_warns_about_its_own_rows_not_about_preds() -> None:
    code, out, err = run("ce", "0", "0.7,0.2,0.1", "--vs", "0.5,0.2,0.1", "-q")
    assert code == 0, err
    assert err == (
        "cecli: warning: --vs row 1 does not sum to 1 (within 1e-4); it is used as given "
        "(--normalize renormalises)\n"
    )
    assert out.split() == [repr(-math.log(0.7)), repr(-math.log(0.5))]


def test_vs_says_which_loss_is_infinite() -> None:
    code, _, err = run("ce", "0", "0,0.2,0.8", "--vs", "0,0.5,0.5", "--eps", "0", "-q")
    assert code == 0, err
    assert err.splitlines() == [
        f"cecli: warning: loss {side} is infinite: a target has probability 0 and log 0 = -inf "
        "(--eps 0 turned clipping off)"
        for side in "AB"
    ]


def test_vs_warns_once_about_the_labels_both_share() -> None:
    code, _, err = run("kl", "0.3,0.3", "0.5,0.5", "--vs", "0.6,0.4", "-q")
    assert code == 0, err
    assert err.count("LABELS row 1 does not sum to 1") == 1


def test_plot_marks_a_logit_whose_sigma_underflows_at_its_loss() -> None:
    # σ(−1000) is 0 in float64, but −log σ(−1000) = 1000 + log(1 + e^−1000) is 1000.
    code, out, err = run("plot", "ce", "--at", "-1000", "--logits", "--width", "80")
    assert code == 0, err
    assert "z = -1000, p = 0: loss = 1000\n" in out


def test_plot_bce_marks_a_logit_on_both_branches_from_the_logit() -> None:
    code, out, err = run("plot", "bce", "--at", "40", "--logits", "--width", "80")
    assert code == 0, err
    # −log σ(40) = log(1 + e^−40) ≈ e^−40, not 0 (σ(40) rounds to 1); −log(1 − σ(40)) ≈ 40.
    positive = math.log1p(math.exp(-40.0))
    negative = 40.0 + math.log1p(math.exp(-40.0))
    assert f"y=1, z = 40, p = 1: loss = {positive:.7g}\n" in out
    assert f"y=0, z = 40, p = 1: loss = {negative:.7g}\n" in out


def test_plot_bce_takes_p_0_as_it_takes_p_1() -> None:
    code, out, err = run("plot", "bce", "--at", "0,1", "--width", "80")
    assert code == 0, err
    # Each is on the branch where it costs 0; the other branch is infinite and not marked.
    assert out.endswith("  y=0, p = 0: loss = 0\n  y=1, p = 1: loss = 0\n")
    code, _, err = run("plot", "ce", "--at", "0", "--width", "80")
    assert (code, err) == (2, "cecli: error: --at: 0 is not a probability in (0, 1]\n")


def test_bce_names_the_dominant_output_by_its_class_name() -> None:
    result = cecli.bce([[1, 0]], [[0.9, 0.6]], class_names=["cat", "[red]dog[/]"])
    text = _said(result)
    assert text.startswith(
        f"[red]dog[/] dominates: its answer is no (y = 0) but the model says p = 0.6, costing "
        f"{-math.log(0.4):.4g} of the row's {-math.log(0.9) - math.log(0.4):.4g} nats."
    )
    code, out, err = run("bce", "1,0", "0.9,0.6", "--classes", "cat,[red]dog[/]", "--explain")
    assert code == 0, err
    assert "→ [red]dog[/] dominates" in out


def test_frameworks_reasons_keep_their_words_beside_rows_of_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    preds = ";".join([",".join(["0.1"] * 10)] * 5)
    code, out, err = run("ce", "0;1;2;3;4", preds, "--frameworks", "--reduction", "none")
    assert code == 0, err
    table = out[: out.index("To reproduce:")]
    assert max(cell_len(line) for line in table.splitlines()) <= 80
    assert "why it differs" in table  # a header on one line, not a letter a line
    reasons = [line for line in table.splitlines() if line.startswith("  keras ")]
    assert reasons[0].rstrip().endswith("   computed in float32")
    # Every value is shown whole: −ln 0.1 to 7 digits, five times for cecli's row.
    cecli_lines = table[table.index("  cecli ") : table.index("  torch ")]
    assert cecli_lines.count(f"{-math.log(0.1):.7g}") == 5


def test_plot_is_coloured_with_force_color_as_the_tables_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # the tests pin it to 0
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, table, _ = run("ce", "0", "0.7,0.3")
    code, out, err = run("plot", "focal", "--width", "80")
    assert code == 0, err
    assert "\x1b[" in table
    assert "\x1b[" in out  # piped, coloured as the table is: curves told apart by colour
    assert "⠤x⠤" not in out
    monkeypatch.setenv("NO_COLOR", "1")
    code, out, err = run("plot", "focal", "--width", "80")
    assert code == 0, err
    assert "\x1b[" not in out
    assert "⠤x⠤ γ = 0.5" in out  # without colour, a marker of its own


def test_generalized_kl_shows_an_identity_that_holds() -> None:
    # P = (2, 3), Q = (1, 5), unnormalised: D = Σ p·log(p/q) − p + q, which adds Σ(q − p) = 1
    # to H(P,Q) − H(P); "H(P,Q) = H(P) + D_KL" read −4.828314 = −4.682131 + 0.8538175.
    p, q = [2.0, 3.0], [1.0, 5.0]
    (divergence,) = oracle.generalized_kl([p], [q])
    entropy = -sum(v * math.log(v) for v in p)
    cross = -sum(v * math.log(w) for v, w in zip(p, q, strict=True))
    code, out, err = run("kl", "2,3", "1,5", "--generalized", "--explain")
    assert code == 0, err
    text = " ".join(out.split())
    assert "p·log(p/q) − p + q" in text
    assert "H(P,Q) = H(P) + D_KL" not in text
    assert (
        f"H(P,Q) + Σ(q − p) = H(P) + D_KL(P‖Q): {cross:.7g} + 1 = {entropy:.7g} + "
        f"{float(divergence):.7g} nats"
    ) in text
    assert cross + 1 == pytest.approx(entropy + float(divergence), rel=1e-12)
    assert "extra cost of coding P with Q" not in text
    assert f"Generalized D_KL = {float(divergence):.4g} nats adds" in text


def test_kl_of_distributions_keeps_its_identity() -> None:
    code, out, err = run("kl", "0.5,0.5", "0.9,0.1", "--generalized", "--explain")
    assert code == 0, err
    # Both sum to 1: Σ(q − p) = 0, and generalized KL is KL.
    text = " ".join(out.split())
    assert "H(P,Q) = H(P) + D_KL(P‖Q): " in text
    assert "extra cost of coding P with Q" in text


def test_a_weighted_kl_row_shows_its_own_sums() -> None:
    # The table's Σ row is unweighted: H(P,Q) = H(P) + D_KL holds for it, not for 2·D_KL.
    entropy = math.log(2)
    cross = -0.5 * math.log(0.9) - 0.5 * math.log(0.1)
    code, out, err = run("kl", "0.5,0.5", "0.9,0.1", "--sample-weights", "2", "--explain")
    assert code == 0, err
    text = " ".join(out.split())
    assert (
        f"H(P,Q) = H(P) + D_KL(P‖Q): {cross:.7g} = {entropy:.7g} + {cross - entropy:.7g} nats"
    ) in text
    assert "Generalized" not in text
    assert f"→ D_KL = {cross - entropy:.4g} nats is the extra cost of coding P with Q" in text


def test_a_weighted_focal_row_is_compared_with_its_own_cross_entropy() -> None:
    ce = -math.log(0.7)
    focal = (1 - 0.7) ** 2 * ce
    for weight in ([1.0], [2.0]):
        sentence = explain(cecli.focal([0], [[0.7, 0.2, 0.1]], sample_weights=weight))[0]
        assert sentence == (
            f"With γ = 2 the row's loss is {focal:.4g} against {ce:.4g} for plain "
            f"cross-entropy, {ce / focal:.3g}× smaller."
        ), weight


def test_a_weighted_smoothed_row_quotes_its_own_losses() -> None:
    # y′ = (0.9333…, 0.0333…, 0.0333…) against p = (0.7, 0.2, 0.1); the weight 2 scales neither.
    smoothed = [0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3]
    loss = -sum(y * math.log(p) for y, p in zip(smoothed, [0.7, 0.2, 0.1], strict=True))
    sentence = explain(cecli.smooth([0], [[0.7, 0.2, 0.1]], sample_weights=[2.0]))[0]
    assert f"the loss goes from {-math.log(0.7):.4g} to {loss:.4g} nats." in sentence
