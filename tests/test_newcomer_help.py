"""What ``--help`` promises a newcomer holds when they try it."""

from __future__ import annotations

import math
import re

import pytest

from tests.helpers import run


def help_text(monkeypatch: pytest.MonkeyPatch, *command: str) -> str:
    """The help of ``command`` as one line of words, without the boxes' borders."""
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run(*command, "--help")
    assert code == 0
    words = re.sub(r"[│╭╮╰╯─]", " ", out)
    return " ".join(words.split())


@pytest.mark.parametrize("command", ["bce", "multilabel"])
def test_binary_labels_help_offers_no_class_indices(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One class index per row is refused by the binary losses, so their help must not offer it.
    code, _, err = run(command, "0;1", "0.3,0.7;0.2,0.8", "-q")
    assert code == 2
    assert "LABELS has 2 rows of 1 value" in err
    text = help_text(monkeypatch, command)
    assert "class index" not in text
    assert "Targets, one per prediction: 0/1 or soft rows like 1,0,1" in text


@pytest.mark.parametrize("command", ["bce", "multilabel", "kl"])
def test_classes_help_does_not_offer_names_as_labels(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(command, "a", "0.3,0.7", "--classes", "a,b", "-q")
    assert code == 2
    assert err.startswith("cecli: error: ")
    text = help_text(monkeypatch, command)
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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labels, preds = ("1,0", "0.3,0.7") if command == "bce" else ("1,0;0,1", "0.3,0.7;0.2,0.8")
    code, out, _ = run(command, labels, preds, "--weights", "2,1", "-q")
    assert code == 0
    assert float(out) == pytest.approx(expected, rel=1e-15)
    # Not ÷ Σ w as ce's weighted mean: the help must not call it one.
    assert float(out) != pytest.approx(expected * 2 / 3)
    text = help_text(monkeypatch, command)
    assert "weighted mean as PyTorch" not in text
    assert "both terms of each output times its class's weight (PyTorch's weight=)" in text


def test_app_help_names_every_library_frameworks_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    text = help_text(monkeypatch)
    assert "PyTorch, Keras, tf.keras, scikit-learn and optax" in text
    code, out, _ = run("bce", "1", "0", "--frameworks", "-q")
    assert code == 0
    assert "tf-keras" in out


def test_plot_usage_names_its_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    text = help_text(monkeypatch, "plot")
    assert "Usage: cecli plot [OPTIONS] {KIND} [Z]" in text
    assert "{kind}:" not in text
    code, _, err = run("plot")
    assert code == 2
    choices = "ce, bce, focal, smooth, softmax"
    assert err == f"cecli: error: missing argument 'KIND'. Choose from: {choices}\n"


def documented_json_keys() -> set[str]:
    """The keys named in the first column of README.md's "Output for scripts" table."""
    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Output for scripts\n", 1)[1].split("\n## ", 1)[0]
    keys: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            keys.update(re.findall(r"`([a-z_]+)`", line.split(" | ", 1)[0]))
    return keys


@pytest.mark.parametrize(
    "arguments",
    [
        ["ce", "0", "0.7,0.3", "--classes", "a,b"],
        ["bce", "1,0", "0.3,0.6"],
        ["multilabel", "1,0;0,1", "0.3,0.6;0.2,0.9"],
        ["kl", "0.5,0.5", "0.9,0.1"],
        ["grad", "0", "0.7,0.3"],
        ["smooth", "0", "0.7,0.3"],
        ["focal", "1,0", "0.3,0.6", "--binary"],
        ["ce", "0", "0.7,0.3", "--vs", "0.2,0.8"],
    ],
)
def test_every_json_key_of_typed_input_is_in_the_readme(arguments: list[str]) -> None:
    import json

    code, out, _ = run(*arguments, "--json")
    assert code == 0
    document = json.loads(out)
    keys = set(document)
    for part in ("a", "b"):
        keys |= set(document.get(part, {}))
    assert keys <= documented_json_keys()


@pytest.mark.parametrize(
    "arguments",
    [
        ["ce", "--csv", "sample_data/iris3_index.csv", "--lgoits"],
        ["ce", "--csv", "sample_data/iris3_index.csv", "--lgoits=1", "--json"],
        ["ce", "--lgoits", "0", "0.5,0.5"],
        ["ce", "0", "--lgoits", "0.5,0.5"],
        ["ce", "0", "0.5,0.5", "--lgoits"],
    ],
)
def test_a_misspelt_option_is_named_wherever_it_is_typed(
    arguments: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unknown options reach LABELS and PREDS (negative numbers must); one that looks like a
    # long option is named, not reported as a file beside LABELS or as an extra argument.
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)
    code, out, err = run(*arguments)
    assert code == 2
    assert out == ""
    assert err == "cecli: error: no such option: --lgoits (did you mean --logits?)\n"


def test_a_misspelt_short_option_is_named_beside_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)
    code, out, err = run("ce", "--csv", "sample_data/iris3_index.csv", "-Q")
    assert code == 2
    assert out == ""
    assert err.startswith("cecli: error: no such option: -Q")
    assert err.count("\n") == 1


def test_negative_numbers_and_infinities_still_reach_the_arguments() -> None:
    code, out, _ = run("ce", "1", "-inf,1,2", "--logits", "-q")
    assert code == 0
    # −log σ over the finite logits 1, 2 for class 1: log(e + e²) − 1.
    assert float(out) == pytest.approx(math.log(math.e + math.e**2) - 1, rel=1e-15)
    code, out, _ = run("ce", "--", "0", "-1.2,0.3,2", "--logits", "-q")
    assert code == 0
    expected = math.log(math.exp(-1.2) + math.exp(0.3) + math.exp(2)) + 1.2
    assert float(out) == pytest.approx(expected, rel=1e-15)


def help_examples() -> list[tuple[str, str]]:
    """(example, the character after it) for each `cecli …` example in a command's help."""
    from cecli.cli import COMMANDS

    found: list[tuple[str, str]] = []
    for function in COMMANDS.values():
        doc = " ".join((function.__doc__ or "").split())
        for match in re.finditer(r"`(cecli [^`]+)`(.?)", doc):
            found.append((match.group(1), match.group(2)))
    return found


@pytest.mark.parametrize(("example", "after"), help_examples())
def test_every_help_example_runs_as_printed(
    example: str,
    after: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shlex

    from tests.conftest import ROOT

    # Help prints no backticks: a comma after an example whose values hold commas reads as
    # one more value (`--at 0.1,0.57,0.9,` is refused).
    if "," in example:
        assert after != ","
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "100")
    code, out, err = run(*shlex.split(example)[1:])
    assert (code, err.startswith("cecli: error")) == (0, False)
    assert out


def test_kl_help_names_its_own_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    text = help_text(monkeypatch, "kl")
    assert "Usage: cecli kl [OPTIONS] [P] [Q]" in text
    assert "PREDS (kl: Q) are raw scores (logits), not probabilities." in text
    # --logits takes Q as logits: D_KL((½, ½) ‖ softmax(0, ln 9)) = D_KL((½, ½) ‖ (0.1, 0.9)).
    code, out, _ = run("kl", "0.5,0.5", f"0,{math.log(9)!r}", "--logits", "-q")
    assert code == 0
    expected = 0.5 * math.log(0.5 / 0.1) + 0.5 * math.log(0.5 / 0.9)
    assert float(out) == pytest.approx(expected, rel=1e-12)
