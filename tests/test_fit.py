"""Tables fit the width they are given without cutting a number: the README's term-table
examples at 80, 100 and 160 columns, and a few whole screens at 80 columns."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cecli.cli import main
from tests.test_readme import EXAMPLES

SCREENS = Path(__file__).parent / "screens"
NUMBER = re.compile(r"(?<![\w.])[-×]?\d+(?:\.\d+)?(?:e[+-]\d+)?(?![\w%])")

# The examples that draw term tables: no bare numbers, JSON, files, plots, tour or frameworks.
TABLE_EXAMPLES = [
    command
    for command, expected in EXAMPLES
    if command.startswith("cecli ")
    and not expected.startswith("cecli: error")
    and not {"-q", "--json", "--csv", "--frameworks", "--like", "plot", "tour"}
    & set(shlex.split(command))
    and "|" not in command
]


def _rendered(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(shlex.split(command)[1:]) == 0
    return capsys.readouterr().out


def _numbers(text: str) -> list[str]:
    return [n.lstrip("×") for n in NUMBER.findall(text)]


def _significant(number: str) -> int:
    mantissa = number.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return max(len(mantissa), 1)


def test_there_are_table_examples() -> None:
    assert len(TABLE_EXAMPLES) >= 8


@pytest.mark.parametrize("width", [80, 100, 160])
@pytest.mark.parametrize("command", TABLE_EXAMPLES)
def test_readme_tables_fit_without_cutting_a_number(
    command: str, width: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    full = _rendered(command, capsys)
    monkeypatch.setenv("COLUMNS", str(width))
    fitted = _rendered(command, capsys)
    lines = fitted.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in "".join(_numbers(fitted))
    assert not re.search(r"\d…|…\d", fitted), "a number was cut short"
    # Every number the unbounded table shows is there, to the digits it is shown with.
    shown = _numbers(fitted)
    for number in _numbers(full):
        value = float(number)
        assert any(
            float(f"{value:.{_significant(candidate)}g}") == float(candidate) for candidate in shown
        ), (number, fitted)
    if width >= 160:
        assert "To fit" not in fitted  # nothing left out where everything fits


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("bce", "cecli bce 1,0,1 0.9,0.2,0.7"),
        ("multilabel", "cecli multilabel 1,0,0,1 0.8,0.1,0.3,0.6 --classes cat,dog,car,sky"),
        ("focal", "cecli focal 1,0,1,0 0.9,0.1,0.3,0.6 --binary --alpha 0.25"),
        ("smooth", "cecli smooth 0 0.7,0.2,0.1"),
    ],
)
def test_captured_80_column_screens(
    name: str, command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole screens, read and checked against the README's 110-column tables: what gives way,
    in which order, and the line that says so."""
    monkeypatch.setenv("COLUMNS", "80")
    rendered = [line.rstrip() for line in _rendered(command, capsys).splitlines()]
    expected = (SCREENS / f"{name}-80.txt").read_text(encoding="utf-8").splitlines()
    assert rendered == expected


def test_long_class_names_fold_before_a_number_is_cut(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    name = "a_class_name_of_fifty_seven_characters_that_goes_on_and_on"
    out = _rendered(f"cecli ce 0 0.123456789,0.87654321 --classes {name},b", capsys)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    assert "0.1234568" in out  # every digit kept: the name gave way
    rows = [line.split()[0] for line in out.splitlines() if line.startswith("  a") or "_" in line]
    assert "".join(rows) == name
    assert "long class names folded" in out


@pytest.mark.parametrize(
    "command",
    [
        "cecli ce 0 -1e300,2.5e-300,123456.789 --logits --weights 1e-5,123.456,7",
        "cecli bce 1,0,1,0 0.999999999,1e-12,0.5,0.3333333333",
        "cecli kl 0.1,0.2,0.3,0.4 0.4,0.3,0.2,1e-12",
        "cecli focal 1,0,1,0 0.9,1e-9,0.3,0.6 --binary --alpha 0.25 --gamma 3.5",
        "cecli grad 0 0.7,0.2,0.1 --probs --base 10",
        "cecli smooth 2 0.7,0.2,0.1 --smoothing 0.333",
        "cecli multilabel 1,0,0,1,1 0.8,1e-9,0.3,0.6,0.999999 --pos-weight 3.25",
    ],
)
def test_hard_numbers_fit_80_columns(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = _rendered(command, capsys)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert not re.search(r"\d…|…\d", out), out
    cells = [line for line in out.splitlines() if line.startswith("  ")]  # the tables' lines
    assert cells
    assert not any("…" in line for line in cells), out
