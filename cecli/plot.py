"""Plots in the terminal: loss curves and distributions, drawn with plotille.

Every curve is computed by the same functions as the subcommands (:mod:`cecli.losses`,
:mod:`cecli.numerics`); this module only lays the numbers out.  plotille (pure Python, no
dependencies, 30 ms to import) is imported only here, and this module only by ``cecli plot``.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cecli import losses, numerics
from cecli.inputs import InputError
from cecli.numerics import FloatArray

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
"""A colour code (plotille's, with colour on), which takes no room on the screen."""

_JOINED = "\u00a0"
"""A space inside a formula: a title or note wrapped to the width breaks at no such space
(``L = −log`` on one line and ``p`` on the next), and it is printed as a plain space."""


def _together(formula: str) -> str:
    """``formula`` kept on one line when the text around it is wrapped."""
    return formula.replace(" ", _JOINED)


def _wrapped(text: str, room: int) -> list[str]:
    return [line.replace(_JOINED, " ") for line in textwrap.wrap(text, room)]


GRID = np.linspace(0.005, 1.0, 400)
"""Probabilities at which curves are evaluated (−log p is 5.3 at the left edge, above the
plots' top of 5 unless a marked point is higher)."""


@dataclass(frozen=True, eq=False)
class Curve:
    label: str
    x: FloatArray
    y: FloatArray


@dataclass(frozen=True, eq=False)
class Marked:
    """A point the user asked to see, with its value."""

    label: str
    x: float
    y: float


@dataclass(frozen=True, eq=False)
class Plot:
    """Curves, marked points and the axis names: everything but the drawing."""

    title: str
    x_label: str
    y_label: str
    curves: tuple[Curve, ...]
    marked: tuple[Marked, ...] = ()
    y_max: float | None = None


def _probabilities(values: Sequence[float], name: str, *, zero: bool = False) -> list[float]:
    """``values`` if each is a probability in (0, 1] (in [0, 1] where ``zero``)."""
    for value in values:
        if not (0.0 < value <= 1.0 or (zero and value == 0.0)):
            interval = "[0, 1]" if zero else "(0, 1]"
            raise InputError(
                f"{name}: {value:g} is not a probability in {interval}", parameter=name
            )
    return list(values)


def _marked_loss(
    at: Sequence[float], y: float, at_logits: bool
) -> tuple[list[float], list[float], list[str]]:
    """Where each point ``at`` goes on a curve of the target ``y``: its p, its loss and its
    name.  Logits are scored as logits (−log σ(z) of z = −1000 is 1000, where σ(z) is 0 in
    float64)."""
    if not at:
        return [], [], []
    z_or_p = np.array(at, dtype=np.float64)[:, None]
    point_loss = losses.binary_cross_entropy(
        np.full_like(z_or_p, y), z_or_p, logits=at_logits, eps=0.0, reduction="none"
    )
    if at_logits:
        probs = numerics.sigmoid(z_or_p[:, 0]).tolist()
        names = [f"z = {z:g}, p = {p:g}" for z, p in zip(at, probs, strict=True)]
    else:
        probs, names = list(at), [f"p = {p:g}" for p in at]
    return probs, [float(v) for v in point_loss.per_row], names


def ce_plot(at: Sequence[float] = (), *, at_logits: bool = False) -> Plot:
    """−log p for the true class's probability p, with the user's points marked (logits z,
    marked at σ(z), with ``at_logits``)."""
    if not at_logits:
        at = _probabilities(at, "at")
    grid_loss = losses.binary_cross_entropy(
        np.ones((GRID.size, 1)), GRID[:, None], eps=0.0, reduction="none"
    )
    probs, point_losses, names = _marked_loss(at, 1.0, at_logits)
    points = tuple(
        Marked(name, p, v) for name, p, v in zip(names, probs, point_losses, strict=True)
    )
    return Plot(
        title=f"Cross-entropy of the true class: {_together('L = −log p')}",
        x_label="p",
        y_label="loss",
        curves=(Curve("−log p", GRID, grid_loss.per_row),),
        marked=points,
        y_max=5.0,
    )


def bce_plot(at: Sequence[float] = (), *, at_logits: bool = False) -> Plot:
    """Both branches of binary cross-entropy: −log p (y = 1) and −log(1 − p) (y = 0), with
    the user's points marked on both where finite (logits z, at σ(z), with ``at_logits``)."""
    if not at_logits:  # p = 0 is on the y = 0 branch (loss 0) as p = 1 is on y = 1's
        at = _probabilities(at, "at", zero=True)
    inside = GRID[GRID < 1.0]
    probs = inside[:, None]
    positive = losses.binary_cross_entropy(np.ones_like(probs), probs, eps=0.0, reduction="none")
    negative = losses.binary_cross_entropy(np.zeros_like(probs), probs, eps=0.0, reduction="none")
    branches = [(name, *_marked_loss(at, y, at_logits)) for y, name in ((1.0, "y=1"), (0.0, "y=0"))]
    points = []
    for index in range(len(at)):  # each point on both branches, in the order given
        for name, marked_p, marked_loss, labels in branches:
            if math.isfinite(marked_loss[index]):
                points.append(
                    Marked(f"{name}, {labels[index]}", marked_p[index], marked_loss[index])
                )
    return Plot(
        title=(
            f"Binary cross-entropy: {_together('−log p if y = 1')}, "
            f"{_together('−log(1 − p) if y = 0')}"
        ),
        x_label="p",
        y_label="loss",
        curves=(
            Curve("y = 1: −log p", inside, positive.per_row),
            Curve("y = 0: −log(1 − p)", inside, negative.per_row),
        ),
        marked=tuple(points),
        y_max=5.0,
    )


def focal_plot(gammas: Sequence[float]) -> Plot:
    """The focal-loss family −(1 − p_t)^γ·log p_t against p_t (Lin et al. 2017, figure 1)."""
    if not gammas:
        raise InputError("gamma needs at least one value", parameter="gamma")
    for gamma in gammas:
        if not (math.isfinite(gamma) and gamma >= 0):
            raise InputError(f"gamma must be ≥ 0 and finite, got {gamma:g}", parameter="gamma")
    curves = []
    for gamma in gammas:
        result = losses.focal_loss(
            np.ones((GRID.size, 1)), GRID[:, None], gamma=gamma, binary=True, eps=0.0,
            reduction="none",
        )  # fmt: skip
        curves.append(Curve(f"γ = {gamma:g}", GRID, result.per_row))
    return Plot(
        title=(
            f"Focal loss {_together('−(1 − p_t)^γ·log p_t')}: easy examples "
            f"{_together('(p_t → 1)')} fade as {_together('γ grows')}"
        ),
        x_label="p_t",
        y_label="loss",
        curves=tuple(curves),
        y_max=5.0,
    )


@dataclass(frozen=True, eq=False)
class Bars:
    """Named groups of bars: one value per class per group."""

    title: str
    classes: tuple[str, ...]
    groups: tuple[tuple[str, FloatArray], ...]
    note: str = ""


def smooth_bars(classes: int, smoothing: float, true_class: int = 0) -> Bars:
    """Hard and smoothed one-hot targets, y′ = (1 − ε)·y + ε/C."""
    if not 2 <= classes <= MAX_CLASSES:
        raise InputError(
            f"num_classes must be from 2 to {MAX_CLASSES}, got {classes}", parameter="num_classes"
        )
    if not 0.0 <= smoothing <= 1.0:
        raise InputError(f"smoothing must be in [0, 1], got {smoothing:g}", parameter="smoothing")
    probs = np.full((1, classes), 1.0 / classes)
    result = losses.label_smoothing([true_class], probs, smoothing=smoothing)
    return Bars(
        title=(
            f"Label smoothing with {_together(f'ε = {smoothing:g}')}, {_together(f'C = {classes}')}"
        ),
        classes=tuple(str(c) for c in range(classes)),
        groups=(("hard y", result.hard_targets[0]), ("smoothed y′", result.targets[0])),
        note=(
            f"{_together('y′ = (1 − ε)·y + ε/C')}: the true class keeps "
            f"{1 - smoothing + smoothing / classes:g}, "
            f"every other class gets {smoothing / classes:g}"
        ),
    )


def softmax_bars(logits: Sequence[float], temperatures: Sequence[float]) -> Bars:
    """softmax(z / T) for each temperature T: low T sharpens, high T flattens."""
    if not 2 <= len(logits) <= MAX_CLASSES:
        raise InputError(
            f"logits needs from 2 to {MAX_CLASSES} values, got {len(logits)}", parameter="logits"
        )
    if not temperatures:
        raise InputError("temperature needs at least one value", parameter="temperature")
    groups = []
    for temperature in temperatures:
        if not temperature > 0:
            raise InputError(
                f"temperature must be > 0, got {temperature:g}", parameter="temperature"
            )
        groups.append((f"T = {temperature:g}", numerics.softmax(_scaled_gaps(logits, temperature))))
    return Bars(
        title=f"{_together('softmax(z / T)')} of {_together('z =')} "
        + ", ".join(f"{z:g}" for z in logits),
        classes=tuple(str(c) for c in range(len(logits))),
        groups=tuple(groups),
        note="Lower temperatures sharpen the distribution, higher ones flatten it.",
    )


def _scaled_gaps(logits: Sequence[float], temperature: float) -> FloatArray:
    """``(z − max z) / T``, which softmax(z / T) is a function of: each value ≤ 0, where z / T
    overflows for a tiny T or a huge z (``--temperature 1e-320``, ``--logits 1e308,-1e308``).
    A gap too large for a float is −inf, its exact limit, whose exp is 0."""
    z = np.asarray(logits, dtype=np.float64)
    with np.errstate(over="ignore"):
        gaps: FloatArray = (z - np.max(z)) / temperature
    return gaps


PlotKind = Literal["ce", "bce", "focal", "smooth", "softmax"]
MAX_CLASSES = 1000
"""Bars beyond this many classes would not be read."""
MAX_GROUPS = 10
"""Curves or groups of bars beyond this many could not be told apart."""
_OPTIONS: dict[str, frozenset[PlotKind]] = {
    "at": frozenset({"ce", "bce"}),
    "gamma": frozenset({"focal"}),
    "smoothing": frozenset({"smooth"}),
    "num_classes": frozenset({"smooth"}),
    "logits": frozenset({"softmax"}),
    "temperature": frozenset({"softmax"}),
}
"""Which plots each option draws something in."""
DEFAULT_GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)
DEFAULT_CLASSES, DEFAULT_SMOOTHING = 5, 0.1
DEFAULT_LOGITS = (2.0, 1.0, 0.1)
DEFAULT_TEMPERATURES = (0.5, 1.0, 2.0)


def figure(
    kind: PlotKind,
    *,
    at: Sequence[float] | None = None,
    gamma: Sequence[float] | None = None,
    smoothing: float | None = None,
    num_classes: int | None = None,
    logits: Sequence[float] | None = None,
    temperature: Sequence[float] | None = None,
) -> Plot | Bars:
    """The plot ``kind`` with the options given; an option that does not apply to it is
    refused, not ignored (``figure("bce", gamma=[2])`` draws no γ)."""
    given = {
        "at": at, "gamma": gamma, "smoothing": smoothing, "num_classes": num_classes,
        "logits": logits, "temperature": temperature,
    }  # fmt: skip
    if kind not in ("ce", "bce", "focal", "smooth", "softmax"):
        raise InputError(
            f"kind must be ce, bce, focal, smooth or softmax, got {kind!r}", parameter="kind"
        )
    for name, value in given.items():
        if value is not None and kind not in _OPTIONS[name]:
            kinds = " and ".join(sorted(_OPTIONS[name]))
            raise InputError(
                f"{name} does not apply to the {kind} plot (only to {kinds})", parameter=name
            )
    for name in ("at", "gamma", "temperature"):
        values = given[name]
        limit = 100 if name == "at" else MAX_GROUPS
        if isinstance(values, Sequence) and len(values) > limit:
            raise InputError(
                f"{name} takes at most {limit} values, got {len(values)}", parameter=name
            )
    if kind == "ce":
        return ce_plot(at or ())
    if kind == "bce":
        return bce_plot(at or ())
    if kind == "focal":
        return focal_plot(DEFAULT_GAMMAS if gamma is None else gamma)
    if kind == "smooth":
        return smooth_bars(
            5 if num_classes is None else num_classes, 0.1 if smoothing is None else smoothing
        )
    return softmax_bars(
        DEFAULT_LOGITS if logits is None else logits,
        DEFAULT_TEMPERATURES if temperature is None else temperature,
    )


COLOURS = ("blue", "red", "green", "magenta", "bright_black")
"""Curve colours that read on dark and on light backgrounds alike (no white, black or yellow)."""
MARKERS = ("+", "x", "o", "*", "#")
"""Without colour, each curve is drawn in a character of its own, which the legend repeats."""
POINT_MARKER = "●"
NICE_STEPS = (1.0, 2.0, 2.5, 5.0)
"""Tick steps, times a power of ten, that a reader counts in without effort."""
MIN_WIDTH, MIN_HEIGHT = 20, 5
"""The smallest canvas a curve can be read on."""


def nice_axis(top: float, rows: int) -> tuple[float, int]:
    """The y-axis for values up to ``top`` in at most ``rows`` rows: the smallest nice step
    (1, 2, 2.5 or 5 times a power of ten) and the rows it needs, so every row's tick is a
    multiple of the step, from 0 to a top at or above ``top``."""
    if not (math.isfinite(top) and top > 0):
        top = 1.0
    exponent = math.floor(math.log10(top / rows))
    for power in (exponent, exponent + 1):
        for step in NICE_STEPS:
            value = step * 10.0**power
            needed = math.ceil(top / value - 1e-9)
            if needed <= rows:
                return value, max(needed, 1)
    raise AssertionError("a step of 10^(exponent + 1) always fits")


def x_canvas(width: int) -> int:
    """The widest canvas of at most ``width`` characters whose ticks (one every 10 characters)
    fall on 0, 1 and nice fractions between: 100 (steps of 0.1), 50 (0.2), 40 (0.25), 20 (0.5)."""
    for candidate in (100, 50, 40, 20):
        if candidate <= width:
            return candidate
    return MIN_WIDTH


def _tick(low: float, high: float) -> str:
    return f"{low:.10g}"


def draw(plot: Plot, width: int, height: int, color: bool) -> str:
    """The plot as text, at most ``width`` × ``height`` characters of canvas: x ticks at 0, 1
    and nice fractions between, y ticks at multiples of a nice step from 0 up to a top that
    holds every marked point."""
    import plotille

    if width < MIN_WIDTH:
        raise InputError(f"width must be at least {MIN_WIDTH}, got {width}", parameter="width")
    if height < MIN_HEIGHT:
        raise InputError(f"height must be at least {MIN_HEIGHT}, got {height}", parameter="height")
    needed = plot.y_max or max(float(np.max(c.y)) for c in plot.curves)
    marked = [m.y for m in plot.marked if math.isfinite(m.y)]
    step, rows = nice_axis(max([needed, *marked]), height)
    top = step * rows
    figure = plotille.Figure()
    figure.width, figure.height = x_canvas(width), rows
    figure.color_mode = "names"
    figure.with_colors = color
    figure.x_label, figure.y_label = plot.x_label, plot.y_label
    figure.set_x_limits(min_=0.0, max_=1.0)
    figure.set_y_limits(min_=0.0, max_=top)
    figure.x_ticks_fkt = _tick
    figure.y_ticks_fkt = _tick
    several = len(plot.curves) > 1
    for index, curve in enumerate(plot.curves):
        keep = curve.y <= top
        figure.plot(
            curve.x[keep].tolist(), curve.y[keep].tolist(), label=curve.label,
            lc=COLOURS[index % len(COLOURS)],
            marker=MARKERS[index % len(MARKERS)] if several and not color else None,
        )  # fmt: skip
    if plot.marked:
        figure.scatter(
            [m.x for m in plot.marked], [min(m.y, top) for m in plot.marked],
            label="your points", marker=POINT_MARKER,
        )  # fmt: skip
    shown = figure.show(legend=True)
    # The title is wrapped to the width the figure was given: its canvas is one of a few
    # widths (ticks on nice fractions), often narrower, and its axes take the same room
    # beside either.
    room = max(len(_ANSI.sub("", line)) for line in shown.splitlines())
    lines = [*_wrapped(plot.title, room + width - figure.width), shown]
    for point in plot.marked:
        lines.append(f"  {point.label}: loss = {point.y:.7g}")
    return "\n".join(lines)


def draw_bars(bars: Bars, width: int) -> str:
    """Horizontal bars, one line per class and group, scaled to ``width``."""
    if width < MIN_WIDTH:
        raise InputError(f"width must be at least {MIN_WIDTH}, got {width}", parameter="width")
    label_width = max(len(name) for name, _ in bars.groups)
    bar_width = max(10, width - label_width - 20)
    room = max(width, label_width + bar_width + 20)  # the bars' own lines, at the narrowest
    lines = _wrapped(bars.title, room)
    for c, name in enumerate(bars.classes):
        for group, values in bars.groups:
            value = float(values[c])
            filled = round(value * bar_width)
            lines.append(
                f"  {name:>3} {group:<{label_width}} {'█' * filled:<{bar_width}} {value:.4f}"
            )
    if bars.note:
        lines += _wrapped(bars.note, room)
    return "\n".join(lines)
