"""What a loss command was asked to do, and which options go together.

:class:`Request` is everything a command line said, frozen; :func:`check` is the one place
that decides which combinations are refused, a pure function with no input read and nothing
printed, unit-tested on its own (``tests/test_cli_request.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cecli.inputs import InputError

if TYPE_CHECKING:
    from cecli.cli.options import Common
    from cecli.registry import Command
    from cecli.render import Mode

Route = Literal["typed", "versus", "frameworks", "file"]
"""The four ways a request is run: typed vectors, ``--vs``, ``--like``/``--frameworks``, a
file."""


@dataclass(frozen=True, repr=False, eq=False)
class Request:
    """A loss command's arguments and options, as given."""

    command: Command
    labels: str | None
    preds: str | None
    common: Common
    options: dict[str, Any] = field(default_factory=dict)
    """The loss function's keyword arguments beyond the shared ones (``weights``, ``gamma``…),
    named as the library names them."""

    @property
    def mode(self) -> Mode:
        output = self.common.output
        if output.json_output:
            return "json"
        if output.quiet:
            return "quiet"
        return "explain" if output.explain else "table"

    @property
    def keywords(self) -> dict[str, Any]:
        """Every keyword argument of the loss function but the class names."""
        return {**self.common.loss.keywords(), **self.options}

    @property
    def route(self) -> Route:
        compare = self.common.compare
        if self.common.files.sources:
            return "file"
        if compare.like is not None or compare.frameworks:
            return "frameworks"
        return "versus" if compare.vs is not None else "typed"


def check(request: Request) -> Route:
    """The route ``request`` takes; an :class:`InputError` if its options do not go together.

    Nothing is read: a bad combination is refused before standard input or a file is opened.
    """
    output, compare, files = request.common.output, request.common.compare, request.common.files
    if output.json_output and output.quiet:
        raise InputError("use either --json or --quiet, not both")
    if output.explain and (output.json_output or output.quiet):
        raise InputError(
            "--explain adds sentences under the table; it does not go with "
            + ("--json" if output.json_output else "--quiet")
        )
    output.rows_shown()  # a --rows that is not a count is refused before anything is read
    if output.rows is not None and (output.json_output or output.quiet):
        raise InputError(
            "--rows chooses the rows shown term by term; --json and --quiet give every row"
        )
    if compare.like is not None and compare.frameworks:
        raise InputError("use either --like LIB or --frameworks, not both")
    compares = "--like" if compare.like is not None else "--frameworks"
    if compare.vs is not None and (compare.like is not None or compare.frameworks):
        raise InputError(f"--vs does not go with {compares}")
    if output.explain and (compare.like is not None or compare.frameworks):
        raise InputError(f"--explain does not go with {compares}: its table says why they differ")
    route = request.route
    if route != "file":
        given = files.given()
        if given:
            raise InputError(f"{given[0]} goes with --csv FILE, --parquet FILE or --labels FILE")
        if request.labels is None or request.preds is None:
            missing = "LABELS and PREDS" if request.labels is None else "PREDS"
            raise InputError(f"missing {missing} (or score a file with --csv FILE)")
        return route
    if request.labels is not None or request.preds is not None:
        raise InputError("give either LABELS and PREDS or a file (--csv/--parquet), not both")
    if request.common.loss.sample_weights is not None:
        raise InputError(
            "--sample-weights weighs typed rows; a file's weights are its --weight-col"
        )
    typed_only = [name for name in ("log_targets", "generalized")
                  if name in request.options]  # fmt: skip
    if typed_only:
        flag = "--" + typed_only[0].replace("_", "-")
        raise InputError(f"{flag} goes with typed LABELS and PREDS, not yet with a file")
    if compare.vs is not None:
        raise InputError("--vs compares typed PREDS; it does not go with a file")
    if compare.like is not None or compare.frameworks:
        # One value per library over the file's rows: nothing per row, per file or per group.
        reading = ("--csv", "--parquet", "--labels", "--preds", "--label-col", "--label-cols",
                   "--pred-cols", "--weight-col", "--id-col", "--delimiter", "--skip-invalid",
                   "--no-progress", "--storage-option")  # fmt: skip
        others = [flag for flag in files.given() if flag not in reading]
        if others:
            raise InputError(f"{compares} over a file gives one value; it does not go with "
                             f"{others[0]}")  # fmt: skip
    if output.explain:
        raise InputError(
            "--explain explains typed LABELS and PREDS term by term; a file's summary has no "
            "terms to explain"
        )
    if output.rows is not None:
        raise InputError(
            "--rows chooses the rows of typed PREDS shown term by term; a file's summary has "
            "no term tables (--reduction none lists every row)"
        )
    if files.csv and files.parquet:
        raise InputError("use either --csv or --parquet, not both")
    if bool(files.labels_file) != bool(files.preds_file):
        raise InputError("--labels FILE and --preds FILE go together")
    if files.labels_file and (files.csv or files.parquet):
        raise InputError("use either --csv/--parquet or --labels with --preds, not both")
    if files.rejects is not None and not files.skip_invalid:
        raise InputError("--rejects writes the rows --skip-invalid skips; add it")
    if files.rejects == "-":
        # Elsewhere - is standard input or output; here it would quietly make a file named -.
        raise InputError(
            "--rejects takes a file name, not - (standard output carries the results): "
            "name a file, or /dev/stdout"
        )
    binary_outcomes = request.command in ("bce", "multilabel") or (
        request.command == "focal" and bool(request.options.get("binary"))
    )
    if files.threshold is not None and not binary_outcomes:
        raise InputError(
            f"--threshold is where bce, multilabel and focal --binary call an output positive; "
            f"{request.command}{' without --binary' if request.command == 'focal' else ''} "
            "has no threshold (its accuracy is the top class: --top-k)"
        )
    per_row = files.output is not None or request.common.loss.reduction == "none"
    if files.output_format is not None and files.output in (None, "-"):
        raise InputError("--output-format goes with --output FOLDER/")
    for option, value in (("--columns", files.columns), ("--keep", files.keep)):
        if value and not per_row:
            raise InputError(
                f"{option} adds to the per-row output: use --reduction none or --output"
            )
        # -q writes the losses alone, one a line: the fields asked for would be lost.
        if value and output.quiet and files.output is None:
            raise InputError(
                f"{option} adds to the per-row CSV, but -q writes the losses alone: "
                "drop -q, or write the rows with --output FILE"
            )
    # Per-row CSV on standard output comes without a summary: its tables would be lost.
    no_summary = files.output == "-" or (
        files.output is None and request.common.loss.reduction == "none"
    )
    summary_only: tuple[tuple[str, object], ...] = (
        ("--per-class", files.per_class),
        ("--by", files.by),
        ("--top-k", files.top_k),
        ("--by-file", files.by_file),
    )
    for option, asked in summary_only:
        if no_summary and asked not in (None, False, []):
            raise InputError(
                f"{option} adds to the summary, which per-row output on standard output "
                "does not print: write the rows with --output FILE"
            )
    if files.threshold is not None and (output.quiet or no_summary) and not files.columns:
        # It places the accuracy (in the summary) and the rows' pred and correct (--columns).
        lost = (
            "-q prints the loss alone: drop -q or --threshold" if output.quiet
            else "per-row output on standard output has no summary: add --columns pred,correct, "
            "or write the rows with --output FILE"
        )  # fmt: skip
        raise InputError(f"--threshold is the accuracy's cut-off, but {lost}")
    for option, asked in summary_only:
        # -q prints the loss alone, and computes nothing else: the table would be lost.
        if output.quiet and asked not in (None, False, []):
            raise InputError(
                f"{option} adds to the summary, but -q prints the loss alone: drop -q, or "
                "use --json"
            )
    return route
