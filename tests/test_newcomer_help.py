"""What ``--help`` promises a newcomer holds when they try it."""

from __future__ import annotations

import math
import re

import pytest

from cecli.cli import main


def help_text(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
              *command: str) -> str:  # fmt: skip
    """The help of ``command`` as one line of words, without the boxes' borders."""
    monkeypatch.setenv("COLUMNS", "100")
    assert main([*command, "--help"]) == 0
    words = re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out)
    return " ".join(words.split())


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", ["bce", "multilabel"])
def test_binary_labels_help_offers_no_class_indices(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One class index per row is refused by the binary losses, so their help must not offer it.
    code, _, err = run(capsys, command, "0;1", "0.3,0.7;0.2,0.8", "-q")
    assert code == 2
    assert "LABELS has 2 rows of 1 value" in err
    text = help_text(capsys, monkeypatch, command)
    assert "class index" not in text
    assert "Targets, one per prediction: 0/1 or soft rows like 1,0,1" in text


@pytest.mark.parametrize("command", ["bce", "multilabel", "kl"])
def test_classes_help_does_not_offer_names_as_labels(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, command, "a", "0.3,0.7", "--classes", "a,b", "-q")
    assert code == 2
    assert err.startswith("cecli: error: ")
    text = help_text(capsys, monkeypatch, command)
    assert "LABELS may then be names" not in text
    assert "a class-index label may then be a name" in text


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        # bce: the mean over the two elements of w_c·ℓ_c; both terms are −ln 0.3.
        ("bce", (2 * -math.log(0.3) + 1 * -math.log(0.3)) / 2),
        # multilabel: Σ_c w_c·ℓ_c per row, mean over the rows.
        (
            "multilabel",
            ((2 + 1) * -math.log(0.3) + (2 + 1) * -math.log(0.8)) / 2,
        ),
    ],
)
def test_binary_weights_help_says_what_they_compute(
    command: str,
    expected: float,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labels, preds = ("1,0", "0.3,0.7") if command == "bce" else ("1,0;0,1", "0.3,0.7;0.2,0.8")
    code, out, _ = run(capsys, command, labels, preds, "--weights", "2,1", "-q")
    assert code == 0
    assert float(out) == pytest.approx(expected, rel=1e-15)
    # Not ÷ Σ w as ce's weighted mean: the help must not call it one.
    assert float(out) != pytest.approx(expected * 2 / 3)
    text = help_text(capsys, monkeypatch, command)
    assert "weighted mean as PyTorch" not in text
    assert "both terms of each output times its class's weight (PyTorch's weight=)" in text


def test_app_help_names_every_library_frameworks_shows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = help_text(capsys, monkeypatch)
    assert "PyTorch, Keras, tf.keras, scikit-learn and optax" in text
    code, out, _ = run(capsys, "bce", "1", "0", "--frameworks", "-q")
    assert code == 0
    assert "tf-keras" in out


def test_plot_usage_names_its_argument(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = help_text(capsys, monkeypatch, "plot")
    assert "Usage: cecli plot [OPTIONS] {KIND} [Z]" in text
    assert "{kind}:" not in text
    code, _, err = run(capsys, "plot")
    assert code == 2
    choices = "ce, bce, focal, smooth, softmax"
    assert err == f"cecli: error: missing argument 'KIND'. Choose from: {choices}\n"
