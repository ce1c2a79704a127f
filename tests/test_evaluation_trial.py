"""A file of model outputs evaluated as a new user would: what the README promises, checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from cecli.cli import main
from tests.helpers import run

SAMPLE = str(Path(__file__).resolve().parent.parent / "sample_data" / "model_outputs.csv")


@pytest.mark.parametrize(
    ("option", "sink"),
    [
        (["--per-class"], ["--reduction", "none"]),
        (["--by", "split"], ["--reduction", "none", "--json"]),
        (["--top-k", "3"], ["--reduction", "none", "-q"]),
        (["--by-file"], ["--output", "-"]),
        (["--per-class"], ["--reduction", "none", "--output", "-"]),
    ],
)
def test_a_summary_option_without_a_summary_is_refused(
    option: list[str], sink: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # The per-row CSV on standard output has no summary: the table asked for would be lost.
    assert main(["ce", "--csv", SAMPLE, *option, *sink]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"cecli: error: {option[0]} ")
    assert "--output FILE" in captured.err


def test_a_summary_option_with_the_rows_in_a_file_keeps_its_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "rows.csv"
    args = ["ce", "--csv", SAMPLE, "--reduction", "none", "--output", str(rows), "--by", "split"]
    assert main(args) == 0
    assert "By split" in capsys.readouterr().out
    assert rows.read_text().count("\n") == 37


def test_help_gives_the_column_defaults_the_readme_gives() -> None:
    code, out, _ = run("ce", "--help")
    assert code == 0
    text = " ".join(out.replace("│", " ").split())
    assert "p_CLASS, prob_CLASS or logit_CLASS" in text
    assert "(default: 'weight' or 'sample_weight')" in text
    assert "(default: 'id')" in text
    assert "--labels and --preds" in text.split("--id-col", 1)[1].split("--delimiter", 1)[0]
