"""Tables fit the width they are given without cutting a number: the README's term-table
examples at 80, 100 and 160 columns, and a few whole screens at 80 columns."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import cecli
from cecli.cli import main
from cecli.render import tables_for
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


def _drawn(result: cecli.LossResult, width: int) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    for renderable in tables_for(result):
        console.print(renderable)
    return console.export_text()


def test_too_narrow_a_table_folds_its_numbers_whole() -> None:
    result = cecli.ce([0], [-1.234567e300, 2.5123456e-300, 123456.789], logits=True)
    text = _drawn(result, 50)
    assert max(len(line) for line in text.splitlines()) <= 50
    assert not any("…" in line for line in text.splitlines() if line.startswith("  "))
    assert "long numbers go on on the next line" in " ".join(text.split())
    assert "1.235e+\n" in "\n".join(line.rstrip() for line in text.splitlines())


def test_random_inputs_never_cut_a_cell_at_80_columns() -> None:
    rng = np.random.default_rng(2026)
    for _ in range(25):
        classes = int(rng.integers(2, 9))
        logits = rng.normal(size=classes) * 10.0 ** rng.integers(-300, 300, size=classes)
        p = rng.dirichlet(np.ones(classes))
        label = int(rng.integers(0, classes))
        names = tuple("n" * int(rng.integers(1, 40)) + str(c) for c in range(classes))
        weights = (rng.random(classes) + 0.1) * 10.0 ** rng.integers(-30, 30, size=classes)
        results = [
            cecli.ce([label], logits, logits=True, weights=weights, class_names=names),
            cecli.kl(p, rng.dirichlet(np.ones(classes)), class_names=names),
            cecli.focal([label], p, gamma=float(rng.random() * 5), alpha=0.3),
            cecli.bce(rng.integers(0, 2, size=classes), p * 10.0 ** rng.integers(-12, 0)),
            cecli.grad([label], logits, logits=True),
            cecli.smooth([label], p, smoothing=float(rng.random())),
            cecli.multilabel(rng.integers(0, 2, size=classes), p, pos_weight=1e3 * rng.random()),
        ]
        for result in results:
            with np.errstate(all="ignore"):
                text = _drawn(result, 80)
            assert max(len(line) for line in text.splitlines()) <= 80, text
            cells = [line for line in text.splitlines() if line.startswith("  ")]
            assert not any("…" in line for line in cells), text


def test_a_term_table_inside_a_panel_fits_the_panel() -> None:
    from rich.panel import Panel

    console = Console(record=True, width=80, file=io.StringIO())
    table = tables_for(cecli.focal([1, 0, 1, 0], [0.9, 0.1, 0.3, 0.6], binary=True, alpha=0.25))[0]
    console.print(Panel.fit(table))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    assert "0.1475" in text  # class 2's focal term 0.25·0.7²·(−ln 0.3), to 4 digits at 76 columns


def test_counted_width_is_the_width_rich_measures() -> None:
    """The fitting counts a table's width itself (measuring each step with rich was too slow
    for --rows all); for every step but the last (which folds numbers) the count must be
    rich's own measure."""
    from rich.measure import Measurement

    from cecli.render import FITS, TermTable

    console = Console(width=1000, file=io.StringIO())
    results = [
        cecli.ce([0], [0.1, 0.5, 0.4], weights=[1.5, 2, 3], class_names=("a", "bb", "c\x1bc")),
        cecli.ce([1], [1000.0, -1000.0, 3.0], logits=True),
        cecli.bce([1, 0], [0.0, 1e-300]),
        cecli.kl([0.5, 0.5], [0.9, 0.1], base="2"),
        cecli.focal([1, 0], [0.9, 0.2], binary=True, alpha=0.25),
        cecli.grad([0], [0.7, 0.2, 0.1]),
        cecli.smooth([0], [0.7, 0.2, 0.1]),
        cecli.multilabel([1, 0], [0.8, 0.1], class_names=("a_very_long_class_name_indeed", "b")),
    ]
    for result in results:
        tables = [r for r in tables_for(result) if isinstance(r, TermTable)]
        assert tables
        for table in tables:
            for fit in FITS[:-1]:
                measured = Measurement.get(console, console.options, table.layout(fit)).maximum
                assert table.width(fit) == measured, (result, fit)
