"""Plots: the numbers they show come from the losses, and the text shows them."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from mpmath import mp, mpf

from cecli import plot
from cecli.inputs import InputError
from tests.helpers import assert_close, run


def test_ce_curve_is_minus_log_p() -> None:
    figure = plot.ce_plot([0.1, 0.57, 0.9])
    curve = figure.curves[0]
    assert_close(curve.y[::50], [-mp.log(mpf(float(x))) for x in curve.x[::50]])
    assert [round(m.y, 12) for m in figure.marked] == [
        round(-math.log(p), 12) for p in (0.1, 0.57, 0.9)
    ]


def test_bce_has_both_branches_and_marks_both() -> None:
    figure = plot.bce_plot([0.2])
    positive, negative = figure.curves
    assert_close(positive.y[:3], [-mp.log(mpf(float(x))) for x in positive.x[:3]])
    assert_close(negative.y[:3], [-mp.log1p(-mpf(float(x))) for x in negative.x[:3]])
    assert [m.label for m in figure.marked] == ["y=1, p = 0.2", "y=0, p = 0.2"]


def test_focal_family_shrinks_easy_examples() -> None:
    figure = plot.focal_plot([0, 2, 5])
    at_09 = [float(np.interp(0.9, c.x, c.y)) for c in figure.curves]
    assert at_09[0] > at_09[1] > at_09[2]
    assert at_09[0] == pytest.approx(-math.log(0.9), rel=1e-3)
    p = figure.curves[1].x[10]
    assert_close(figure.curves[1].y[10], -((1 - mpf(float(p))) ** 2) * mp.log(mpf(float(p))))


def test_smooth_bars() -> None:
    bars = plot.smooth_bars(5, 0.1)
    hard, smoothed = (values for _, values in bars.groups)
    assert hard.tolist() == [1, 0, 0, 0, 0]
    assert smoothed.tolist() == pytest.approx([0.92, 0.02, 0.02, 0.02, 0.02], rel=1e-15)


def test_softmax_bars_sharpen_with_low_temperature() -> None:
    bars = plot.softmax_bars([2.0, 1.0, 0.1], [0.5, 1.0, 2.0])
    tops = [float(values[0]) for _, values in bars.groups]
    assert tops[0] > tops[1] > tops[2]
    assert tops[1] == pytest.approx(math.exp(2) / (math.exp(2) + math.exp(1) + math.exp(0.1)))


@pytest.mark.parametrize(
    ("call", "parameter", "message"),
    [
        (lambda: plot.ce_plot([1.5]), "at", "at: 1.5 is not a probability in (0, 1]"),
        (lambda: plot.smooth_bars(1, 0.1), "num_classes", "num_classes must be from 2 to 1000"),
        (lambda: plot.softmax_bars([1.0, 2.0], [0.0]), "temperature", "temperature must be > 0"),
        (lambda: plot.focal_plot([-1.0]), "gamma", "gamma must be ≥ 0 and finite, got -1"),
        (lambda: plot.figure("bce", gamma=[2.0]), "gamma", "gamma does not apply to the bce"),
        (lambda: plot.figure("ce", smoothing=0.1), "smoothing", "only to smooth"),
        (lambda: plot.figure("focal", at=[0.5]), "at", "at does not apply to the focal plot"),
        (lambda: plot.figure("smooth", num_classes=1), "num_classes", "must be from 2"),
        (lambda: plot.figure("focal", gamma=[1.0] * 11), "gamma", "at most 10 values, got 11"),
        (lambda: plot.draw(plot.ce_plot(), 5, 10, False), "width", "width must be at least 20"),
        (lambda: plot.draw(plot.ce_plot(), 60, 1, False), "height", "height must be at least 5"),
        (lambda: plot.draw_bars(plot.smooth_bars(3, 0.1), 5), "width", "width must be at least"),
    ],
)
def test_plot_errors_name_the_parameter(call: object, parameter: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        call()  # type: ignore[operator]
    assert message in str(raised.value)
    assert raised.value.parameter == parameter


def test_figure_draws_each_kind_with_its_defaults() -> None:
    focal = plot.figure("focal")
    assert isinstance(focal, plot.Plot)
    assert [c.label for c in focal.curves] == ["γ = 0", "γ = 0.5", "γ = 1", "γ = 2", "γ = 5"]
    smooth = plot.figure("smooth", num_classes=4, smoothing=0.2)
    assert isinstance(smooth, plot.Bars)
    assert smooth.groups[1][1].tolist() == pytest.approx([0.85, 0.05, 0.05, 0.05], rel=1e-15)


@pytest.mark.parametrize(
    ("top", "rows", "axis"),
    [(5.5, 10, (1.0, 6)), (5.5, 18, (0.5, 11)), (9.21034, 10, (1.0, 10)), (0.3, 5, (0.1, 3))],
)
def test_nice_axis_steps_are_nice_and_reach_the_top(
    top: float, rows: int, axis: tuple[float, int]
) -> None:
    step, used = plot.nice_axis(top, rows)
    assert (step, used) == pytest.approx(axis)
    assert used <= rows
    assert step * used >= top


def _axis_labels(text: str) -> tuple[list[float], list[float]]:
    """The y-axis tick values, top to bottom, and the x-axis tick values."""
    lines = text.splitlines()
    y = [float(line.split("|")[0]) for line in lines if re.match(r"^\s+-?[\d.]+ \|", line)]
    ruler = next(i for i, line in enumerate(lines) if line.startswith("-----------|"))
    x = [float(v) for v in lines[ruler + 1].replace("|", " ").split()]
    return y, x


def test_ticks_are_nice_and_include_0_and_1() -> None:
    text = plot.draw(plot.ce_plot(), 60, 10, color=False)
    y, x = _axis_labels(text)
    assert x == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert y == [5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0]
    assert _axis_labels(plot.draw(plot.ce_plot(), 45, 10, color=False))[1] == [
        0.0, 0.25, 0.5, 0.75, 1.0,
    ]  # fmt: skip
    wide = plot.draw(plot.focal_plot([0.0, 2.0]), 110, 12, color=False)
    assert _axis_labels(wide)[1] == pytest.approx([i / 10 for i in range(11)])


def test_y_range_holds_every_marked_point() -> None:
    marked = plot.ce_plot([0.0001, 0.5])
    assert marked.marked[0].y == pytest.approx(-math.log(0.0001), rel=1e-15)
    text = plot.draw(marked, 60, 10, color=False)
    y, _ = _axis_labels(text)
    assert y[0] >= -math.log(0.0001)
    top_row = next(line for line in text.splitlines() if line.strip().startswith("9 |"))
    assert "●" in top_row  # drawn where its loss is, not clamped to the top


def test_curves_differ_without_colour_and_avoid_white_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    family = plot.focal_plot([0.0, 0.5, 1.0, 2.0, 5.0])
    plain = plot.draw(family, 60, 10, color=False)
    legend = plain.split("Legend:")[1].splitlines()[2:]
    markers = [line.split()[0] for line in legend]
    assert len(set(markers)) == 5, legend
    assert "\x1b[" not in plain
    canvas = plain.split("Legend:")[0]
    for marker in plot.MARKERS:
        assert marker in canvas
    monkeypatch.setenv("FORCE_COLOR", "1")  # plotille colours only a terminal otherwise
    coloured = plot.draw(family, 60, 10, color=True)
    codes = set(re.findall(r"\x1b\[([\d;]+)m", coloured))
    assert len(codes - {"0"}) >= 5
    assert not codes & {"30", "37", "33", "97"}  # black, white, yellow, bright white


def test_cli_plot_ce_marks_the_points() -> None:
    code, out, err = run("plot", "ce", "--at", "0.1,0.57,0.9", "--width", "80", "--height", "12")
    assert code == 0, err
    assert "p = 0.1: loss = 2.302585" in out
    assert "p = 0.57: loss = 0.5621189" in out
    assert "●" in out
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize("kind", ["bce", "focal", "smooth", "softmax"])
def test_cli_plot_kinds(kind: str) -> None:
    code, out, _ = run("plot", kind, "--width", "80")
    assert code == 0
    assert out.strip()
    assert "\x1b[" not in out


def test_cli_plot_bad_value() -> None:
    code, out, err = run("plot", "ce", "--at", "2")
    assert (code, out) == (2, "")
    assert "is not a probability" in err


_KINDS = [["ce", "--at", "0.1,0.57"], ["bce"], ["focal"], ["smooth"], ["softmax", "2,1,0.1"]]


@pytest.mark.parametrize("kind", _KINDS, ids=lambda kind: kind[0])
def test_a_width_is_kept_to_or_refused(kind: list[str]) -> None:
    """A title, legend or bar label does not shrink with the canvas: below the narrowest the
    plot can be drawn, a width was silently exceeded (`plot focal --width 30` drew 72)."""
    widths: dict[int, int] = {}
    for width in range(20, 101, 4):
        code, out, err = run("plot", *kind, "--width", str(width))
        if code == 0:
            widths[width] = max(len(line) for line in out.splitlines())
            assert widths[width] <= width, (width, out)
        else:
            assert code == 2
            assert err.count("\n") == 1
            assert err.startswith(f"cecli: error: --width {width} is narrower than `plot ")
            assert not widths  # refused only below every width that was kept to
    assert max(widths, default=0) == 100


_FORMULAS = {
    "ce": ["L = −log p"],
    "bce": ["−log p if y = 1", "−log(1 − p) if y = 0"],
    "focal": ["−(1 − p_t)^γ·log p_t", "(p_t → 1)"],
    "smooth": ["ε = 0.1", "C = 5", "y′ = (1 − ε)·y + ε/C"],
    "softmax": ["softmax(z / T)"],
}


@pytest.mark.parametrize("kind", _KINDS, ids=lambda kind: kind[0])
def test_a_wrapped_title_keeps_each_formula_on_one_line(kind: list[str]) -> None:
    """A title wrapped to the width broke inside its formula (`L = −log` above a lone `p`)."""
    for width in range(20, 101, 2):
        code, out, _ = run("plot", *kind, "--width", str(width))
        if code != 0:
            continue
        for formula in _FORMULAS[kind[0]]:
            assert any(formula in line for line in out.splitlines()), (width, formula, out)
        assert "\u00a0" not in out


def test_a_title_is_wrapped_to_the_width_not_to_the_narrower_canvas() -> None:
    """The canvas keeps to a few widths (ticks on nice fractions): --width 60 drew a canvas of
    20, and its title was wrapped to that though it fitted in 60."""
    code, out, _ = run("plot", "ce", "--width", "60")
    assert code == 0
    assert out.splitlines()[0] == "Cross-entropy of the true class: L = −log p"
