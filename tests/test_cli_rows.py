"""--rows on the command line, and plot errors that name the option typed."""

from __future__ import annotations

import pytest

from cecli.cli import main

SEVEN_ROWS = ["ce", ";".join("01"[i % 2] for i in range(7)), ";".join(["0.5,0.5"] * 7)]


def test_batches_say_which_rows_have_no_term_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SEVEN_ROWS) == 0
    out = capsys.readouterr().out
    assert out.count("Categorical cross-entropy — row") == 5
    assert "No term tables for rows 6–7 (--rows all shows them, --json every value)." in out


@pytest.mark.parametrize(("rows", "tables"), [("all", 7), ("1", 1), ("0", 0), ("7", 7)])
def test_rows_sets_how_many_rows_get_term_tables(
    rows: str, tables: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*SEVEN_ROWS, "--rows", rows]) == 0
    out = capsys.readouterr().out
    assert out.count("Categorical cross-entropy — row") == tables
    assert ("No term tables" in out) == (tables < 7)


def test_rows_reaches_the_side_by_side_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SEVEN_ROWS, "--vs", ";".join(["0.6,0.4"] * 7), "--rows", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("A and B side by side — row") == 2
    assert "No term tables for rows 3–7" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([*SEVEN_ROWS, "--rows", "x"], "--rows takes a whole number or all, got 'x'"),
        ([*SEVEN_ROWS, "--rows", "-1"], "--rows takes a whole number or all, got '-1'"),
        ([*SEVEN_ROWS, "--rows", "2", "-q"], "--rows chooses the rows shown term by term"),
        ([*SEVEN_ROWS, "--rows", "2", "--json"], "--json and --quiet give every row"),
        (["ce", "--csv", "sample_data/iris3_index.csv", "--rows", "all"], "a file's summary"),
        (["plot", "softmax", "1"], "Z: a softmax needs at least two logits, got 1"),
        (["plot", "ce", "--at", "2"], "--at: 2 is not a probability in (0, 1]"),
        (["plot", "softmax", "--temperature", "0"], "--temperature must be > 0, got 0"),
        (["plot", "focal", "--gamma", "-1"], "--gamma must be ≥ 0 and finite, got -1"),
    ],
)
def test_refused_with_one_line(
    arguments: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)
    assert main(arguments) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cecli: error: ")
    assert captured.err.count("\n") == 1
    assert message in captured.err
