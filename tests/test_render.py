"""Rendering: the words and numbers a reader needs, the streams they go to."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from rich.console import Console

import cecli
from cecli.render import Output, fmt, json_text, quiet_text, tables_for, warnings_for


def render(result: cecli.LossResult, width: int = 120) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    for renderable in tables_for(result):
        console.print(renderable)
    return console.export_text()


def test_fmt() -> None:
    assert fmt(2.302585092994046) == "2.302585"
    assert fmt(0.0) == "0"
    assert fmt(float("inf")) == "inf"
    assert fmt(float("-inf")) == "-inf"
    assert fmt(float("nan")) == "nan"
    assert fmt(1e-7) == "1e-07"


def test_quiet_is_repr_one_per_line() -> None:
    assert quiet_text(cecli.ce([0], [0.1, 0.9])) == "2.3025850929940455\n"
    per_row = cecli.ce([0, 1], [[0.5, 0.5], [0.5, 0.5]], reduction="none")
    assert quiet_text(per_row) == "0.6931471805599453\n0.6931471805599453\n"


def test_json_is_strict() -> None:
    text = json_text(cecli.ce([0], [0.0, 1.0], eps=0.0))
    document = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict {c}"))
    assert document["loss"] == "inf"
    assert document["per_row"] == ["inf"]


def test_output_sends_warnings_to_stderr_only() -> None:
    out, err = io.StringIO(), io.StringIO()
    Output(mode="quiet", stdout=out, stderr=err).emit(cecli.ce([0], [0.6, 0.6]))
    assert out.getvalue() == "0.5108256237659907\n"
    assert err.getvalue().startswith("cecli: warning: PREDS row 1 does not sum to 1")


def test_warnings() -> None:
    assert warnings_for(cecli.ce([0], [0.5, 0.5])) == []
    assert "infinite" in warnings_for(cecli.ce([0], [0.0, 1.0], eps=0.0))[0]
    many = cecli.ce([0] * 7, np.full((7, 2), 0.6))
    assert "rows 1, 2, 3, 4, 5, …" in warnings_for(many)[0]


def test_ce_table_flags_clipping_and_weights() -> None:
    text = render(cecli.ce([0], [1.0, 0.0], weights=[2.0, 1.0]))
    assert "−w·y·log p" in text
    assert "0.9999999*" in text
    assert "clipped to [1e-07, 1 − 1e-07]" in text
    assert "L = −(2×log 0.9999999" in text


def test_logits_table_shows_softmax() -> None:
    text = render(cecli.ce([0], [2.0, 1.0, 0.1], logits=True))
    assert "p = softmax(z)" in text
    assert "0.6590011" in text


def _listed_classes(text: str) -> list[str]:
    """The first cell of each class row of the term tables in ``text``."""
    cells = [
        line.split()[0] for line in text.splitlines() if line.startswith("  ") and line.strip()
    ]
    return [cell for cell in cells if cell not in ("class", "Σ")]


def test_wide_rows_show_the_classes_that_matter_in_class_order() -> None:
    labels = np.zeros((1, 1000))
    labels[0, 700] = 1.0
    preds = np.full((1, 1000), 0.5 / 998)
    preds[0, [5, 900]] = [0.3, 0.2]  # the top predictions; the true class 700 gets 0.5 / 998
    text = render(cecli.ce(labels, preds), width=80)
    listed = _listed_classes(text)
    assert listed == ["5", "700", "900"]
    # The other classes' terms are 0 · log p: their sum is 0.
    assert "… 997 other classes (Σ their terms = 0)" in text
    assert f"{-math.log(0.5 / 998):.7g}" in text


def test_wide_multilabel_rows_sum_the_classes_left_out() -> None:
    labels = np.zeros((1, 1000))
    labels[0, [3, 500]] = 1.0
    preds = np.full((1, 1000), 0.01)
    preds[0, [3, 500]] = 0.3
    text = render(cecli.multilabel(labels, preds), width=80)
    listed = _listed_classes(text)
    assert listed == ["3", "500"]
    left_out = math.fsum([-math.log1p(-0.01)] * 998)
    assert f"… 998 other classes (Σ their terms = {left_out:.7g})" in text


def test_batches_show_blocks_then_per_row_table() -> None:
    result = cecli.ce(list(range(3)) * 3, np.full((9, 3), 1 / 3))
    text = render(result)
    assert "row 5" in text
    assert "row 6" not in text.split("Per row")[0]
    assert "No term tables for rows 6–9 (--rows all shows them, --json every value)." in text
    assert "Per row" in text
    assert "mean over 9 rows" in text


def test_rows_all_shows_every_rows_terms() -> None:
    result = cecli.ce([0] * 300, np.full((300, 2), 0.5))
    console = Console(record=True, width=100, file=io.StringIO())
    for renderable in tables_for(result, rows=None):
        console.print(renderable)
    text = console.export_text()
    assert "Categorical cross-entropy — row 300" in text
    assert "No term tables" not in text
    assert "more rows" not in text
    assert text.count("0.6931472") >= 600  # each row's term and per-row loss


def test_output_rows_sets_how_many_rows_get_term_tables() -> None:
    out = io.StringIO()
    result = cecli.ce([0] * 3, np.full((3, 2), 0.5))
    Output(stdout=out, rows=1).emit(result)
    assert "No term tables for rows 2–3" in out.getvalue()
    with pytest.raises(ValueError, match="rows must be at least 0"):
        tables_for(result, rows=-1)


def test_multilabel_split() -> None:
    labels = np.zeros((1, 1000))
    labels[0, [3, 500]] = 1.0
    text = render(cecli.multilabel(labels, np.full((1, 1000), 0.05)))
    assert "positive classes (2)" in text
    assert "negative classes (998)" in text


def test_focal_shows_down_weighting() -> None:
    text = render(cecli.focal([0], [0.9, 0.1]))
    assert "(1−p_t)^2" in text
    assert "×100" in text


def test_grad_explains_the_scale() -> None:
    text = render(cecli.grad([0, 1], [[2.0, 1.0], [0.0, 0.0]], base="2", logits=True))
    assert "divided by 2 for the mean and divided by ln 2 for bits" in text


def test_reduction_none_lists_values() -> None:
    text = render(cecli.bce([[1, 0], [0, 1]], [[0.9, 0.1], [0.5, 0.5]], reduction="none"))
    assert "per row" in text
    assert "0.1053605, 0.6931472" in text


def test_element_wise_losses_say_so() -> None:
    assert "mean over 4 elements" in render(cecli.bce([[1, 0], [0, 1]], [[0.9, 0.1], [0.5, 0.5]]))
    binary = cecli.focal([[1, 0, 1]], [[0.9, 0.1, 0.5]], binary=True)
    assert "mean over 3 elements" in render(binary)


def test_share_bars_show_each_terms_part() -> None:
    text = render(cecli.ce([[0.2, 0.5, 0.3]], [[0.3, 0.5, 0.2]]))
    assert "share" in text
    assert "45%" in text  # 0.3·(−log 0.2) is 45 % of the sum
    kl = render(cecli.kl([0.5, 0.5], [0.9, 0.1]))
    assert "73%" in kl  # magnitudes, since p·log(p/q) can be negative


def test_wide_side_by_side_lists_what_matters_to_either_prediction() -> None:
    from cecli.explain import Comparison
    from cecli.render import comparison_tables

    labels = np.zeros((1, 1000))
    labels[0, 700] = 1.0
    a = np.full((1, 1000), 0.5 / 998)
    a[0, [5, 900]] = [0.3, 0.2]
    b = np.full((1, 1000), 0.6 / 998)
    b[0, [42, 900]] = [0.25, 0.15]
    comparison = Comparison(a=cecli.ce(labels, a), b=cecli.ce(labels, b), grad_a=None, grad_b=None)
    console = Console(record=True, width=80, file=io.StringIO())
    for renderable in comparison_tables(comparison):
        console.print(renderable)
    text = console.export_text()
    assert _listed_classes(text) == ["5", "42", "700", "900"]
    assert "… 996 other classes (Σ their terms (A) = 0, their terms (B) = 0)" in text
    assert f"{-math.log(0.5 / 998):.7g}" in text
    assert f"{-math.log(0.6 / 998):.7g}" in text
