"""The ``cecli`` command: seven thin subcommands over :mod:`cecli.losses`.

Each command parses its two vectors (:mod:`cecli.inputs`), calls one loss function and hands
the result to :class:`cecli.render.Output`.  ``main`` is the error boundary: every bad input
ends as one ``cecli: error: …`` line on stderr and exit code 2, with nothing on stdout.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NoReturn

import typer

from cecli import losses
from cecli.inputs import InputError, parse_class_names, parse_matrix, parse_vector, read_argument
from cecli.render import Mode, Output
from cecli.results import LossResult

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="cecli",
    help=(
        "Compute, check and explain classification losses.\n\n"
        'Give LABELS and PREDS as numbers: a row is `1,0,0` or `"[1 0 0]"`, a batch is rows '
        'split by `;` (`"1,0;0,1"`) or nested brackets; one label per row is a class index '
        '(`"0;2;1"`); `-` reads the argument from standard input.'
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)

# Negative numbers (`-1.2,0.3`) must reach the arguments instead of being read as options.
_COMMAND_SETTINGS: dict[str, Any] = {"ignore_unknown_options": True}

# --- options shared by the commands --------------------------------------------------------

Labels = Annotated[
    str,
    typer.Argument(
        metavar="LABELS",
        help="Targets: one-hot or soft rows like 1,0,0, or one class index per row (0;2;1).",
        show_default=False,
    ),
]
Preds = Annotated[
    str,
    typer.Argument(
        metavar="PREDS",
        help="Predictions: probability rows like 0.7,0.2,0.1 (logits with --logits).",
        show_default=False,
    ),
]
Logits = Annotated[
    bool, typer.Option("--logits", help="PREDS are raw scores (logits), not probabilities.")
]
Eps = Annotated[
    float,
    typer.Option(
        "--eps",
        help="Clip probabilities to [eps, 1-eps]; 0 turns clipping off.",
        rich_help_panel="Numerics",
    ),
]
BaseOpt = Annotated[
    str,
    typer.Option(
        "--base", help="Unit of every value: e (nats), 2 (bits) or 10.", rich_help_panel="Numerics"
    ),
]
ReductionOpt = Annotated[
    str,
    typer.Option("--reduction", help="Across rows: mean, sum or none.", rich_help_panel="Numerics"),
]
Normalize = Annotated[
    bool,
    typer.Option("--normalize", help="Renormalise PREDS rows to sum to 1 before clipping."),
]
Classes = Annotated[
    str | None,
    typer.Option(
        "--classes", help="Class names, a,b,c; LABELS may then be names.", show_default=False
    ),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print one JSON object.", rich_help_panel="Output")
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Print the loss alone, at full precision.", rich_help_panel="Output"
    ),
]

# --- the error boundary --------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    Output().error(message)
    raise typer.Exit(EXIT_USAGE)


def _output_mode(json_output: bool, quiet: bool) -> Mode:
    if json_output and quiet:
        _fail("use either --json or --quiet, not both")
    return "json" if json_output else ("quiet" if quiet else "table")


def _run(mode: Mode, compute: Callable[[], LossResult]) -> None:
    """Compute a result, turning bad input into one error line and exit code 2."""
    try:
        result = compute()
    except InputError as error:
        _fail(str(error))
    Output(mode=mode).emit(result)


class _Arguments:
    """LABELS and PREDS text, with ``-`` read from standard input (once)."""

    def __init__(self, labels: str, preds: str) -> None:
        if labels.strip() == "-" and preds.strip() == "-":
            raise InputError("only one of LABELS and PREDS can be '-' (standard input)")
        self.labels = read_argument(labels, sys.stdin)
        self.preds = read_argument(preds, sys.stdin)

    def parse(self, classes: str | None) -> tuple[Any, Any, tuple[str, ...] | None]:
        names = parse_class_names(classes) if classes is not None else None
        return (
            parse_matrix(self.labels, "LABELS", class_names=names),
            parse_matrix(self.preds, "PREDS"),
            names,
        )


# --- the seven commands --------------------------------------------------------------------


@app.command(context_settings=_COMMAND_SETTINGS)
def ce(
    labels: Labels,
    preds: Preds,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    weights: Annotated[
        str | None, typer.Option(help="Class weights w1,…,wC (weighted mean as PyTorch).")
    ] = None,
    smoothing: Annotated[float, typer.Option(help="Label smoothing ε: y' = (1-ε)y + ε/C.")] = 0.0,
    normalize: Normalize = False,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Categorical cross-entropy: L = -Σ y·log p, term by term.

    Example: `cecli ce 1,0,0,0,0 0.1,0.5,0.1,0.1,0.2` (add `-q` for the number alone).
    """
    mode = _output_mode(json_output, quiet)

    def compute() -> LossResult:
        label_matrix, pred_matrix, names = _Arguments(labels, preds).parse(classes)
        return losses.categorical_cross_entropy(
            label_matrix, pred_matrix, logits=logits, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            weights=None if weights is None else parse_vector(weights, "--weights"),
            smoothing=smoothing, normalize=normalize, class_names=names,
        )  # fmt: skip

    _run(mode, compute)


@app.command(context_settings=_COMMAND_SETTINGS)
def bce(
    labels: Labels,
    preds: Preds,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    pos_weight: Annotated[float, typer.Option(help="Weight W of the positive term.")] = 1.0,
    smoothing: Annotated[float, typer.Option(help="Binary label smoothing: y(1-ε) + ε/2.")] = 0.0,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Binary cross-entropy: -(y·log p + (1-y)·log(1-p)) per element, mean over all.

    Example: `cecli bce 1,0,1 0.9,0.2,0.7`.
    """
    mode = _output_mode(json_output, quiet)

    def compute() -> LossResult:
        label_matrix, pred_matrix, _ = _Arguments(labels, preds).parse(None)
        return losses.binary_cross_entropy(
            label_matrix, pred_matrix, logits=logits, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            pos_weight=pos_weight, smoothing=smoothing,
        )  # fmt: skip

    _run(mode, compute)


@app.command(context_settings=_COMMAND_SETTINGS)
def multilabel(
    labels: Labels,
    preds: Preds,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    pos_weight: Annotated[float, typer.Option(help="Weight of the positive classes' terms.")] = 1.0,
    neg_weight: Annotated[float, typer.Option(help="Weight of the negative classes' terms.")] = 1.0,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Multi-label loss: one sigmoid BCE per class, summed over classes, mean over rows.

    Example: `cecli multilabel 1,0,0,1 0.8,0.1,0.3,0.6`.
    """
    mode = _output_mode(json_output, quiet)

    def compute() -> LossResult:
        label_matrix, pred_matrix, names = _Arguments(labels, preds).parse(classes)
        return losses.multilabel_cross_entropy(
            label_matrix, pred_matrix, logits=logits, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            pos_weight=pos_weight, neg_weight=neg_weight, class_names=names,
        )  # fmt: skip

    _run(mode, compute)


@app.command(context_settings=_COMMAND_SETTINGS)
def kl(
    labels: Annotated[str, typer.Argument(metavar="P", help="The true distribution(s) P.")],
    preds: Annotated[str, typer.Argument(metavar="Q", help="The model's distribution(s) Q.")],
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    normalize: Annotated[
        bool, typer.Option("--normalize", help="Renormalise P and Q rows to sum to 1.")
    ] = False,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """KL divergence D_KL(P‖Q) = Σ p·log(p/q), with H(P) and H(P,Q) = H(P) + D_KL.

    Example: `cecli kl 0.5,0.5 0.9,0.1 --base 2`.
    """
    mode = _output_mode(json_output, quiet)

    def compute() -> LossResult:
        label_matrix, pred_matrix, names = _Arguments(labels, preds).parse(classes)
        return losses.kl_divergence(
            label_matrix, pred_matrix, logits=logits, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            normalize=normalize, class_names=names,
        )  # fmt: skip

    _run(mode, compute)


@app.command(context_settings=_COMMAND_SETTINGS)
def grad(
    labels: Labels,
    preds: Annotated[
        str, typer.Argument(metavar="PREDS", help="Logits (probabilities with --probs).")
    ],
    probs: Annotated[
        bool, typer.Option("--probs", help="PREDS are probabilities; the logits are log p.")
    ] = False,
    sigmoid: Annotated[
        bool, typer.Option("--sigmoid", help="Per-class sigmoid + BCE instead of softmax + CE.")
    ] = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Gradient of the loss w.r.t. the logits: ∂L/∂z = softmax(z) − y.

    Example: `cecli grad 0 2,1,0.1`.
    """
    mode = _output_mode(json_output, quiet)

    def compute() -> LossResult:
        label_matrix, pred_matrix, names = _Arguments(labels, preds).parse(classes)
        return losses.logit_gradient(
            label_matrix, pred_matrix, probs=probs, sigmoid=sigmoid, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            class_names=names,
        )  # fmt: skip

    _run(mode, compute)


@app.command(context_settings=_COMMAND_SETTINGS)
def smooth(
    labels: Labels,
    preds: Preds,
    smoothing: Annotated[float, typer.Option(help="ε in y' = (1-ε)·y + ε/C.")] = 0.1,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    normalize: Normalize = False,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Label smoothing: hard and smoothed targets side by side, with both losses.

    Example: `cecli smooth 0 0.7,0.2,0.1 --smoothing 0.1`.
    """
    mode = _output_mode(json_output, quiet)

    def compute() -> LossResult:
        label_matrix, pred_matrix, names = _Arguments(labels, preds).parse(classes)
        return losses.label_smoothing(
            label_matrix, pred_matrix, smoothing=smoothing, logits=logits, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            normalize=normalize, class_names=names,
        )  # fmt: skip

    _run(mode, compute)


@app.command(context_settings=_COMMAND_SETTINGS)
def focal(
    labels: Labels,
    preds: Preds,
    gamma: Annotated[float, typer.Option(help="Focusing parameter γ ≥ 0 (0 gives CE).")] = 2.0,
    alpha: Annotated[
        float | None,
        typer.Option(help="α weighting (default: none). With --binary, α for y=1, 1-α for y=0."),
    ] = None,
    binary: Annotated[
        bool, typer.Option("--binary", help="Per-element sigmoid focal loss (like bce).")
    ] = False,
    logits: Logits = False,
    eps: Eps = losses.DEFAULT_EPS,
    base: BaseOpt = "e",
    reduction: ReductionOpt = "mean",
    normalize: Normalize = False,
    classes: Classes = None,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Focal loss: -α·(1-p_t)^γ·log p_t, next to plain cross-entropy.

    Example: `cecli focal 0 0.7,0.2,0.1 --gamma 2`.
    """
    mode = _output_mode(json_output, quiet)

    def compute() -> LossResult:
        label_matrix, pred_matrix, names = _Arguments(labels, preds).parse(classes)
        return losses.focal_loss(
            label_matrix, pred_matrix, gamma=gamma, alpha=alpha, binary=binary,
            logits=logits, eps=eps, base=base,
            reduction=reduction,  # type: ignore[arg-type]
            normalize=normalize, class_names=names,
        )  # fmt: skip

    _run(mode, compute)


# --- entry point ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cecli`` with ``argv`` (default: the command line); return the exit code."""
    try:
        code = app(
            args=list(argv) if argv is not None else None, prog_name="cecli", standalone_mode=False
        )
    except BrokenPipeError:
        # The reader went away (`cecli … | head`): stop quietly, and keep Python's final
        # flush of stdout from raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (KeyboardInterrupt, typer.Abort):
        return EXIT_INTERRUPTED
    except typer.Exit as done:
        return int(done.exit_code)
    except InputError as error:
        Output().error(str(error))
        return EXIT_USAGE
    except Exception as error:
        # Typer's own usage errors (missing argument, unknown option, bad option value) carry
        # a message and an exit code; their class is private to Typer's vendored Click.
        message = getattr(error, "format_message", None)
        exit_code = getattr(error, "exit_code", None)
        if message is None or exit_code is None:
            raise
        text = " ".join(str(message()).split())
        if text:
            Output().error(text)
        return int(exit_code)
    return code if isinstance(code, int) else 0
