"""The subcommands: each declares its own options, builds a request and runs it.

The options every loss command shares are declared once in :mod:`cecli.cli.options` and
reach a command as ``common``; what a command declares itself is its own loss's keywords.
"""

# No `from __future__ import annotations`: Typer reads these annotations at run time.
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from cecli.cli.options import (
    COMMAND_SETTINGS,
    BinaryLabels,
    ClassWeights,
    Common,
    IgnoreIndex,
    Labels,
    Normalize,
    OptionError,
    OutputWeights,
    PosWeight,
    Preds,
    Smoothing,
    looks_like_an_option,
    number,
    reparse_trailing_options,
    with_groups,
)
from cecli.cli.request import Request
from cecli.cli.runners import run
from cecli.inputs import InputError, parse_vector
from cecli.render import Output

if TYPE_CHECKING:
    from cecli.registry import Command

COMMANDS: dict[str, Callable[..., None]] = {}
"""Every subcommand by name, for the app and for ``main``'s one-command app."""

STRICT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
"""Commands without number arguments refuse unknown options and extra arguments outright."""
PLOT_SETTINGS: dict[str, Any] = COMMAND_SETTINGS
"""``plot softmax -1,2`` reaches the logits argument; unknown options and extra arguments are
refused by ``plot`` itself (with a suggestion for a misspelt option)."""


def command(settings: dict[str, Any]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(function: Callable[..., None]) -> Callable[..., None]:
        COMMANDS[function.__name__] = function
        setattr(function, "cecli_settings", settings)  # noqa: B010
        return function

    return register


def _run(command: "Command", labels: str | None, preds: str | None, common: Common,
         **options: Any) -> None:  # fmt: skip
    run(Request(command, labels, preds, common, options))


def _class_weights(weights: str | None) -> Any:
    return None if weights is None else parse_vector(weights, "--weights")


def _given(**options: Any) -> dict[str, Any]:
    """The options that were given (not None, not False: an ignore index of 0 is given), for
    keywords that a file's scoring does not take."""
    return {
        name: value for name, value in options.items() if value is not None and value is not False
    }


# --- the seven loss commands ---------------------------------------------------------------


@command(COMMAND_SETTINGS)
@with_groups
def ce(
    labels: Labels = None,
    preds: Preds = None,
    weights: ClassWeights = None,
    smoothing: Smoothing = 0.0,
    normalize: Normalize = False,
    ignore_index: IgnoreIndex = None,
    *,
    common: Common,
) -> None:
    """Categorical cross-entropy: L = -Σ y·log p, term by term.

    Example: `cecli ce 1,0,0,0,0 0.1,0.5,0.1,0.1,0.2` (add `-q` for the number alone);
    a file: `cecli ce --csv sample_data/iris3_index.csv`.
    """
    _run("ce", labels, preds, common, weights=_class_weights(weights), smoothing=smoothing,
         normalize=normalize, **_given(ignore_index=ignore_index))  # fmt: skip


@command(COMMAND_SETTINGS)
@with_groups
def bce(
    labels: BinaryLabels = None,
    preds: Preds = None,
    pos_weight: PosWeight = 1.0,
    smoothing: Annotated[
        float,
        typer.Option(parser=number("--smoothing"), help="Binary label smoothing: y(1-ε) + ε/2."),
    ] = 0.0,
    weights: OutputWeights = None,
    *,
    common: Common,
) -> None:
    """Binary cross-entropy: -(y·log p + (1-y)·log(1-p)) per element, mean over all.

    Example: `cecli bce 1,0,1 0.9,0.2,0.7`; `--classes` names the outputs.
    """
    _run("bce", labels, preds, common, pos_weight=pos_weight, smoothing=smoothing,
         weights=_class_weights(weights))  # fmt: skip


@command(COMMAND_SETTINGS)
@with_groups
def multilabel(
    labels: BinaryLabels = None,
    preds: Preds = None,
    pos_weight: PosWeight = 1.0,
    neg_weight: Annotated[
        float,
        typer.Option(parser=number("--neg-weight"), help="Weight of the negative (y=0) terms."),
    ] = 1.0,
    weights: OutputWeights = None,
    *,
    common: Common,
) -> None:
    """Multi-label loss: one sigmoid BCE per class, summed over classes, mean over rows.

    Example: `cecli multilabel 1,0,0,1 0.8,0.1,0.3,0.6 --classes cat,dog,car,sky`.
    """
    _run("multilabel", labels, preds, common, pos_weight=pos_weight, neg_weight=neg_weight,
         weights=_class_weights(weights))  # fmt: skip


@command(COMMAND_SETTINGS)
@with_groups
def kl(
    labels: Annotated[
        str | None, typer.Argument(metavar="P", help="The true distribution(s) P.")
    ] = None,
    preds: Annotated[
        str | None, typer.Argument(metavar="Q", help="The model's distribution(s) Q.")
    ] = None,
    normalize: Annotated[
        bool, typer.Option("--normalize", help="Renormalise P and Q rows to sum to 1.")
    ] = False,
    log_targets: Annotated[
        bool, typer.Option("--log-targets", help="P is given as log-probabilities (-inf for 0).")
    ] = False,
    generalized: Annotated[
        bool,
        typer.Option(
            "--generalized", help="Unnormalised P and Q: Σ p·log(p/q) − p + q (each ≥ 0)."
        ),
    ] = False,
    *,
    common: Common,
) -> None:
    """KL divergence D_KL(P‖Q) = Σ p·log(p/q), with H(P) and H(P,Q) = H(P) + D_KL.

    Example: `cecli kl 0.5,0.5 0.9,0.1 --base 2`. From a file, P is read from the label
    columns (y0…yK) and Q from the prediction columns (p0…pK).
    """
    _run("kl", labels, preds, common, normalize=normalize,
         **_given(log_targets=log_targets, generalized=generalized))  # fmt: skip


@command(COMMAND_SETTINGS)
@with_groups
def grad(
    labels: Labels = None,
    preds: Preds = None,
    probs: Annotated[
        bool,
        typer.Option(
            "--probs",
            help="PREDS are probabilities (the default; --logits for scores).",
            hidden=True,
        ),
    ] = False,
    sigmoid: Annotated[
        bool, typer.Option("--sigmoid", help="Per-class sigmoid + BCE instead of softmax + CE.")
    ] = False,
    ignore_index: IgnoreIndex = None,
    *,
    common: Common,
) -> None:
    """Gradient of the loss w.r.t. the logits: ∂L/∂z = softmax(z) − y.

    PREDS are probabilities (z = log p; ∂L/∂p = −y/p is shown too), or logits with
    `--logits`. Example: `cecli grad 0 2,1,0.1 --logits`; `-q` prints ∂L/∂z, one row per
    line. From a file, `--output` writes each row's own gradient.
    """
    if probs and common.loss.logits:
        raise InputError("use either --logits or --probs, not both")
    # --probs is passed on when given: a file's logit_<class> columns are then probabilities.
    given = _given(ignore_index=ignore_index, probs=probs)
    _run("grad", labels, preds, common, sigmoid=sigmoid, **given)


@command(COMMAND_SETTINGS)
@with_groups
def smooth(
    labels: Labels = None,
    preds: Preds = None,
    smoothing: Annotated[
        float, typer.Option(parser=number("--smoothing"), help="ε in y' = (1-ε)·y + ε/C.")
    ] = 0.1,
    normalize: Normalize = False,
    ignore_index: IgnoreIndex = None,
    *,
    common: Common,
) -> None:
    """Label smoothing: hard and smoothed targets side by side, with both losses.

    Example: `cecli smooth 0 0.7,0.2,0.1 --smoothing 0.1`.
    """
    _run("smooth", labels, preds, common, smoothing=smoothing, normalize=normalize,
         **_given(ignore_index=ignore_index))  # fmt: skip


@command(COMMAND_SETTINGS)
@with_groups
def focal(
    labels: Labels = None,
    preds: Preds = None,
    gamma: Annotated[
        float,
        typer.Option(parser=number("--gamma"), help="Focusing parameter γ ≥ 0 (0 gives CE)."),
    ] = 2.0,
    alpha: Annotated[
        float | None,
        typer.Option(
            parser=number("--alpha"),
            help="α weighting (default: none). With --binary, α for y=1, 1-α for y=0.",
        ),
    ] = None,
    binary: Annotated[
        bool, typer.Option("--binary", help="Per-element sigmoid focal loss (like bce).")
    ] = False,
    normalize: Normalize = False,
    smoothing: Annotated[
        float,
        typer.Option(
            parser=number("--smoothing"),
            help="Label smoothing ε: (1-ε)·y + ε/C (binary: y(1-ε) + ε/2), as Keras'.",
        ),
    ] = 0.0,
    ignore_index: IgnoreIndex = None,
    *,
    common: Common,
) -> None:
    """Focal loss: -α·(1-p_t)^γ·log p_t, next to plain cross-entropy.

    Example: `cecli focal 0 0.7,0.2,0.1 --gamma 2`.
    """
    _run("focal", labels, preds, common, gamma=gamma, alpha=alpha, binary=binary,
         normalize=normalize, smoothing=smoothing, **_given(ignore_index=ignore_index))  # fmt: skip


# --- plot and tour -------------------------------------------------------------------------

PlotKind = Literal["ce", "bce", "focal", "smooth", "softmax"]
# Bounds on what a plot draws: its text grows with each (a width of 1,000,000 took 2.2 GB).
PLOT_WIDTH = (20, 500)
PLOT_HEIGHT = (5, 200)
PLOT_MAX_CLASSES = 1000
PLOT_MAX_GROUPS = 10
PLOT_OPTIONS: dict[str, tuple[str, ...]] = {
    "at": ("ce", "bce"),
    "logits": ("ce", "bce"),
    "gamma": ("focal",),
    "smoothing": ("smooth",),
    "num_classes": ("smooth",),
    "temperature": ("softmax",),
    "height": ("ce", "bce", "focal"),
}
"""The kinds of plot each option draws on; given to another kind, it is refused."""


@command(PLOT_SETTINGS)
def plot(
    ctx: typer.Context,
    kind: Annotated[
        PlotKind,
        typer.Argument(metavar="KIND", help="What to draw: ce, bce, focal, smooth or softmax."),
    ],
    values: Annotated[
        str | None,
        typer.Argument(
            metavar="[Z]",
            help=f"Softmax: the logits z (default 2,1,0.1; at most {PLOT_MAX_CLASSES}).",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="Points to mark on the ce/bce curve, e.g. 0.1,0.9.")
    ] = None,
    logits: Annotated[
        bool, typer.Option("--logits", help="The --at points are logits z, marked at σ(z).")
    ] = False,
    gamma: Annotated[
        str, typer.Option(help="Focal: the γ values, one curve each.")
    ] = "0,0.5,1,2,5",
    smoothing: Annotated[
        float, typer.Option(parser=number("--smoothing"), help="Smooth: ε.")
    ] = 0.1,
    num_classes: Annotated[
        int,
        typer.Option(min=2, max=PLOT_MAX_CLASSES, help="Smooth: the number of classes C."),
    ] = 5,
    temperature: Annotated[
        str, typer.Option(help=f"Softmax: temperatures T (at most {PLOT_MAX_GROUPS}).")
    ] = "0.5,1,2",
    width: Annotated[
        int | None,
        typer.Option(
            min=PLOT_WIDTH[0],
            max=PLOT_WIDTH[1],
            help="Width in characters (default: the terminal's).",
        ),
    ] = None,
    height: Annotated[
        int,
        typer.Option(min=PLOT_HEIGHT[0], max=PLOT_HEIGHT[1], help="Height of a curve in lines."),
    ] = 18,
) -> None:
    """Draw a loss curve or a distribution in the terminal.

    Examples: `cecli plot ce --at 0.1,0.57,0.9`; `cecli plot bce --at 2 --logits`;
    `cecli plot focal --gamma 0,0.5,1,2,5`; `cecli plot smooth --smoothing 0.1`;
    `cecli plot softmax 2,1,0.1 --temperature 0.5,1,2`.
    """
    import shutil

    from cecli import plot as plots

    if ctx.args or (values is not None and looks_like_an_option(values)):
        # Options typed after the arguments or after `--` (`plot softmax -- -1,2 --width 40`)
        # are read again as options; an unknown one is refused with a suggestion.
        positionals: list[str] = [kind]
        extras = list(ctx.args)
        if values is not None and looks_like_an_option(values):
            extras.insert(0, values)
        elif values is not None:
            positionals.append(values)
        reparse_trailing_options(ctx, positionals, extras)
        return
    for name, kinds in PLOT_OPTIONS.items():
        source = ctx.get_parameter_source(name)
        if source is not None and source.name == "COMMANDLINE" and kind not in kinds:
            flag = "--" + name.replace("_", "-")
            raise OptionError(f"{flag} does not apply to `plot {kind}` (it draws on "
                              f"{' and '.join(f'plot {k}' for k in kinds)})")  # fmt: skip
    if values is not None and kind != "softmax":
        raise OptionError(f"unexpected extra argument: {values} (`plot {kind}` takes none)")
    terminal = shutil.get_terminal_size((100, 24)).columns
    columns = width or min(max(terminal, PLOT_WIDTH[0]), PLOT_WIDTH[1])
    out = Output()

    def drawn(columns: int, color: bool) -> str:
        if kind in ("smooth", "softmax"):
            return plots.draw_bars(bars(), columns)
        canvas = max(PLOT_WIDTH[0], columns - 24)  # the axes and their labels take the rest
        return plots.draw(figure(), canvas, max(5, height), color=color)

    @functools.cache
    def bars() -> plots.Bars:
        if kind == "smooth":
            return plots.smooth_bars(num_classes, smoothing)
        return plots.softmax_bars(
            _at_least_two(_at_most(parse_vector(values or "2,1,0.1", "Z"), PLOT_MAX_CLASSES, "Z")),
            _at_most(parse_vector(temperature, "--temperature"), PLOT_MAX_GROUPS, "--temperature"),
        )

    @functools.cache
    def figure() -> plots.Plot:
        points = [] if at is None else _at_most(parse_vector(at, "--at"), 100, "--at")
        return {
            "ce": lambda: plots.ce_plot(points, at_logits=logits),
            "bce": lambda: plots.bce_plot(points, at_logits=logits),
            "focal": lambda: plots.focal_plot(
                _at_most(parse_vector(gamma, "--gamma"), PLOT_MAX_GROUPS, "--gamma")
            ),
        }[kind]()

    if width is not None:
        # The canvas takes the width it is given; a title, legend or bar label does not
        # shrink below its own length: a width the plot cannot keep to is refused.
        narrowest = _widest_line(drawn(PLOT_WIDTH[0], color=False))
        if narrowest > width:
            raise OptionError(
                f"--width {width} is narrower than `plot {kind}` can be drawn "
                f"(at least {narrowest} characters with these options)"
            )
    out.text(drawn(columns, color=out.colour()))


def _widest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _at_least_two(logits: list[float]) -> list[float]:
    # Checked here, as the library's check names its parameter logits, and plot's --logits
    # is another option: the logits of a softmax plot are its argument Z.
    if len(logits) < 2:
        raise InputError(f"Z: a softmax needs at least two logits, got {len(logits)}")
    return logits


def _at_most(values: Any, limit: int, option: str) -> list[float]:
    if values.size > limit:
        raise InputError(f"{option}: at most {limit} values, got {values.size}")
    return [float(value) for value in values]


@command(STRICT_SETTINGS)
def tour(
    stop: Annotated[int | None, typer.Argument(help="Show only this stop (1-based).")] = None,
    list_stops: Annotated[bool, typer.Option("--list", help="List the stops.")] = False,
    pause: Annotated[
        bool,
        typer.Option("--pause", help="One stop a screen (at a terminal): Enter, b back, q quit."),
    ] = False,
) -> None:
    """A guided tour of worked examples, each computed live: `cecli tour`, `cecli tour 5`."""
    from cecli import render
    from cecli.tour import STOPS

    total = len(STOPS)
    if stop is not None and not 1 <= stop <= total:
        raise InputError(f"there are {total} stops; choose 1 to {total} (cecli tour --list)")
    chosen = [(n, STOPS[n - 1]()) for n in ([stop] if stop else range(1, total + 1))]
    if list_stops:
        Output().text("\n".join(f"{n:>2}. {s.title}" for n, s in chosen))
        return
    if pause and sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty():
        from cecli.cli.terminal import keys_as_pressed

        with keys_as_pressed() as read_move:
            render.page_stops(chosen, total, sys.stdout, read_move)
    else:
        render.emit_stops(chosen, total, sys.stdout)
