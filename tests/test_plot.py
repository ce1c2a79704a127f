"""Plots: the numbers they show come from the losses, and the text shows them."""

from __future__ import annotations

import math

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
    ("call", "message"),
    [
        (lambda: plot.ce_plot([1.5]), "--at: 1.5 is not a probability in (0, 1]"),
        (lambda: plot.smooth_bars(1, 0.1), "--num-classes must be at least 2"),
        (lambda: plot.softmax_bars([1.0, 2.0], [0.0]), "--temperature must be > 0"),
    ],
)
def test_plot_errors(call: object, message: str) -> None:
    with pytest.raises(InputError) as raised:
        call()  # type: ignore[operator]
    assert message in str(raised.value)


def test_cli_plot_ce_marks_the_points() -> None:
    code, out, err = run("plot", "ce", "--at", "0.1,0.57,0.9", "--width", "80", "--height", "12")
    assert code == 0, err
    assert "p = 0.1: loss = 2.302585" in out
    assert "p = 0.57: loss = 0.5621189" in out
    assert "●" in out
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize("kind", ["bce", "focal", "smooth", "softmax"])
def test_cli_plot_kinds(kind: str) -> None:
    code, out, _ = run("plot", kind, "--width", "70")
    assert code == 0
    assert out.strip()
    assert "\x1b[" not in out


def test_cli_plot_bad_value() -> None:
    code, out, err = run("plot", "ce", "--at", "2")
    assert (code, out) == (2, "")
    assert "is not a probability" in err
