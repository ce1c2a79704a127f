"""``cecli.cli.request.check``: which options go together, decided before anything is read."""

from __future__ import annotations

from typing import Any

import pytest

from cecli import losses
from cecli.cli.options import (
    Common,
    CompareOptions,
    FileOptions,
    LossOptions,
    OutputOptions,
)
from cecli.cli.request import Request, check
from cecli.inputs import InputError


def request(
    labels: str | None = "0",
    preds: str | None = "0.7,0.3",
    *,
    output: dict[str, Any] | None = None,
    compare: dict[str, Any] | None = None,
    files: dict[str, Any] | None = None,
) -> Request:
    common = Common(
        loss=LossOptions(),
        output=OutputOptions(**(output or {})),
        compare=CompareOptions(**(compare or {})),
        files=FileOptions(**(files or {})),
    )
    return Request("ce", labels, preds, common)


@pytest.mark.parametrize(
    ("made", "route"),
    [
        (request(), "typed"),
        (request(compare={"vs": "0.5,0.5"}), "versus"),
        (request(compare={"like": "torch"}), "frameworks"),
        (request(compare={"frameworks": True}), "frameworks"),
        (request(None, None, files={"csv": "a.csv"}), "file"),
        (request(None, None, files={"labels_file": "y.csv", "preds_file": "p.csv"}), "file"),
        (request(output={"explain": True}, compare={"vs": "0.5,0.5"}), "versus"),
    ],
)
def test_routes(made: Request, route: str) -> None:
    assert check(made) == route


REFUSED = [
    (request(output={"json_output": True, "quiet": True}), "use either --json or --quiet"),
    (request(output={"explain": True, "json_output": True}), "does not go with --json"),
    (request(output={"explain": True, "quiet": True}), "does not go with --quiet"),
    (request(compare={"like": "torch", "frameworks": True}), "either --like LIB or --frameworks"),
    (request(compare={"vs": "0.5,0.5", "like": "keras"}), "--vs does not go with --like"),
    (request(compare={"vs": "0.5,0.5", "frameworks": True}), "--vs does not go with --frameworks"),
    (request(output={"explain": True}, compare={"frameworks": True}), "--explain does not go"),
    (request(files={"label_col": "y"}), "--label-col goes with --csv FILE"),
    (request(files={"output": "o.csv"}), "--output goes with --csv FILE"),
    (request(None, None), "missing LABELS and PREDS"),
    (request("0", None), "missing PREDS"),
    (request(files={"csv": "a.csv"}), "either LABELS and PREDS or a file"),
    (request(None, None, files={"csv": "a", "parquet": "b"}), "either --csv or --parquet"),
    (request(None, None, files={"labels_file": "y.csv"}), "--labels FILE and --preds FILE go"),
    (request(None, None, files={"csv": "a", "labels_file": "y", "preds_file": "p"}), "not both"),
    (request(None, None, files={"csv": "a"}, compare={"vs": "1,0"}), "does not go with a file"),
    (
        request(None, None, files={"csv": "a", "by_file": True}, compare={"like": "torch"}),
        "--like over a file gives one value; it does not go with --by-file",
    ),
    (request(None, None, files={"csv": "a"}, output={"explain": True}), "--explain explains"),
    (
        request(None, None, files={"csv": "a", "skip_invalid": True, "rejects": "-"}),
        "--rejects takes a file name, not -",
    ),
]


@pytest.mark.parametrize(("made", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_refused_combinations(made: Request, message: str) -> None:
    with pytest.raises(InputError, match="^.*" + message.replace("(", r"\(")):
        check(made)


def test_modes() -> None:
    assert request().mode == "table"
    assert request(output={"explain": True}).mode == "explain"
    assert request(output={"json_output": True}).mode == "json"
    assert request(output={"quiet": True}).mode == "quiet"


def test_keywords_are_the_loss_functions_own() -> None:
    made = Request("ce", "0", "1,0", request().common, {"smoothing": 0.1})
    eps = losses.DEFAULT_EPS
    assert made.keywords == {
        "logits": False, "eps": eps, "base": "e", "reduction": "mean", "smoothing": 0.1,
    }  # fmt: skip
