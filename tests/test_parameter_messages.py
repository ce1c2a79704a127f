"""The library's messages name its parameters; the command line's name its options.

A Python caller of :func:`cecli.score_file` reads ``pass pred_cols``, not ``pass --pred-cols``;
the command line reads the same message with the flag, mapped once, in :mod:`cecli.cli`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import cecli
from cecli.batch import Rejected
from cecli.cli import main
from cecli.cli.options import with_flags
from cecli.files import atomic_writer, select_columns
from cecli.frameworks import Missing, Unsupported, compare_frameworks, compare_frameworks_on_file
from cecli.inputs import InputError

Files = Callable[[Path], dict[str, str]]


def _csv(text: str) -> Files:
    def write(folder: Path) -> dict[str, str]:
        (folder / "data.csv").write_text(text)
        return {"data": str(folder / "data.csv")}

    return write


def _two(labels: str, preds: str) -> Files:
    def write(folder: Path) -> dict[str, str]:
        (folder / "labels.csv").write_text(labels)
        (folder / "preds.csv").write_text(preds)
        return {"labels": str(folder / "labels.csv"), "preds": str(folder / "preds.csv")}

    return write


def _parquet_named_csv(folder: Path) -> dict[str, str]:
    pl.DataFrame({"label": [0, 1], "p0": [0.2, 0.7], "p1": [0.8, 0.3]}).write_parquet(
        folder / "data.csv"
    )
    return {"data": str(folder / "data.csv")}


PLAIN = _csv("label,p0,p1\n0,0.8,0.2\n1,0.3,0.7\n")
WITH_BY = _csv("label,by,keep,p0,p1\n0,a,x,0.8,0.2\n1,b,y,0.3,0.7\n")
GUESSED = _csv("label,note\n0,0.3\n1,oops\n")

# (files, Python call's keywords, the library's message, the command line's arguments and
# its whole error line).
ERRORS: list[tuple[str, Files, dict[str, Any], str, list[str], str]] = [
    (
        "no prediction columns",
        _csv("label\n0\n1\n"),
        {},
        "no prediction columns: pass pred_cols",
        ["--csv", "{data}"],
        "no prediction columns: pass --pred-cols",
    ),
    (
        "both label options",
        PLAIN,
        {"label_col": "label", "label_cols": "p*"},
        "use either label_col or label_cols, not both",
        ["--csv", "{data}", "--label-col", "label", "--label-cols", "p*"],
        "use either --label-col or --label-cols, not both",
    ),
    (
        "no such label column",
        PLAIN,
        {"label_col": "nope"},
        "label_col: no column 'nope' (columns: label, p0, p1)",
        ["--csv", "{data}", "--label-col", "nope"],
        "--label-col: no column 'nope' (columns: label, p0, p1)",
    ),
    (
        "no such weight column",
        PLAIN,
        {"weight_col": "w"},
        "weight_col: no column 'w' (columns: label, p0, p1)",
        ["--csv", "{data}", "--weight-col", "w"],
        "--weight-col: no column 'w' (columns: label, p0, p1)",
    ),
    (
        "no such id column",
        PLAIN,
        {"id_col": "key"},
        "id_col: no column 'key' (columns: label, p0, p1)",
        ["--csv", "{data}", "--id-col", "key"],
        "--id-col: no column 'key' (columns: label, p0, p1)",
    ),
    (
        "no prediction column matches",
        PLAIN,
        {"pred_cols": "q*"},
        "pred_cols: no column matches 'q*' (columns: label, p0, p1)",
        ["--csv", "{data}", "--pred-cols", "q*"],
        "--pred-cols: no column matches 'q*' (columns: label, p0, p1)",
    ),
    (
        "no label column matches",
        PLAIN,
        {"label_cols": "y*"},
        "label_cols: no column matches 'y*' (columns: label, p0, p1)",
        ["--csv", "{data}", "--label-cols", "y*"],
        "--label-cols: no column matches 'y*' (columns: label, p0, p1)",
    ),
    (
        # A column named "by" in the list is data: only the parameter becomes the flag.
        "no such group column among columns named by and keep",
        WITH_BY,
        {"by": "nope"},
        "by: no column 'nope' (columns: label, by, keep, p0, p1)",
        ["--csv", "{data}", "--by", "nope", "--pred-cols", "p*"],
        "--by: no column 'nope' (columns: label, by, keep, p0, p1)",
    ),
    (
        "no such kept column",
        WITH_BY,
        {"keep": "nope", "pred_cols": "p*"},
        "keep: no column 'nope' (columns: label, by, keep, p0, p1)",
        ["--csv", "{data}", "--keep", "nope", "--pred-cols", "p*", "--reduction", "none"],
        "--keep: no column 'nope' (columns: label, by, keep, p0, p1)",
    ),
    (
        "class columns with a gap",
        _csv("y0,y2,p0,p1\n1,0,0.8,0.2\n"),
        {},
        "columns y0…yK must be numbered 0, 1, …, K-1 without gaps or repeats, but the numbers "
        "are 0, 2; choose the columns with label_cols",
        ["--csv", "{data}"],
        "columns y0…yK must be numbered 0, 1, …, K-1 without gaps or repeats, but the numbers "
        "are 0, 2; choose the columns with --label-cols",
    ),
    (
        "no label column",
        _csv("a,p0,p1\n0,0.8,0.2\n"),
        {},
        "no label column: name it 'label' (or y0, y1, … per class), or pass label_col; "
        "the columns are a, p0, p1",
        ["--csv", "{data}"],
        "no label column: name it 'label' (or y0, y1, … per class), or pass --label-col; "
        "the columns are a, p0, p1",
    ),
    (
        "delimiter of two characters",
        PLAIN,
        {"delimiter": ";;"},
        "delimiter must be one character, got ';;'",
        ["--csv", "{data}", "--delimiter", ";;"],
        "--delimiter must be one character, got ';;'",
    ),
    (
        "a Parquet file named .csv",
        _parquet_named_csv,
        {},
        "{data}: this is a Parquet file, not CSV; use kind='parquet'",
        ["--csv", "{data}"],
        "{data}: this is a Parquet file, not CSV; use --parquet",
    ),
    (
        "a column in both files",
        _two("label,extra\n0,a\n", "p0,p1,extra\n0.8,0.2,b\n"),
        {},
        "column 'extra' is in both files; keep labels and predictions apart, or match their "
        "rows by it with id_col extra",
        ["--labels", "{labels}", "--preds", "{preds}"],
        "column 'extra' is in both files; keep labels and predictions apart, or match their "
        "rows by it with --id-col extra",
    ),
    (
        "guessed prediction columns that hold text",
        GUESSED,
        {},
        "{data}:3:2: 'oops' is not a number (the prediction columns were guessed as note; "
        "choose them with pred_cols)",
        ["--csv", "{data}", "--binary"],
        "{data}:3:2: 'oops' is not a number (the prediction columns were guessed as note; "
        "choose them with --pred-cols)",
    ),
]


def _inputs(paths: dict[str, str]) -> Any:
    return (paths["labels"], paths["preds"]) if "labels" in paths else paths["data"]


@pytest.mark.parametrize(
    ("files", "keywords", "message"),
    [case[1:4] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_a_python_caller_reads_the_parameter(
    tmp_path: Path, files: Files, keywords: dict[str, Any], message: str
) -> None:
    paths = files(tmp_path)
    loss: Any = "focal" if "guessed" in message else "ce"
    options: dict[str, Any] = {"binary": True} if loss == "focal" else {}
    with pytest.raises(InputError) as raised:
        cecli.score_file(_inputs(paths), loss, **options, **keywords)
    assert str(raised.value) == message.format(**paths)
    assert "--" not in str(raised.value)


@pytest.mark.parametrize(
    ("files", "args", "line"),
    [(case[1], case[4], case[5]) for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_the_command_line_reads_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: Files, args: list[str], line: str
) -> None:
    paths = files(tmp_path)
    loss = "focal" if "--binary" in args else "ce"
    assert main([loss, *(arg.format(**paths) for arg in args)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"cecli: error: {line.format(**paths)}\n"


NOTES: list[tuple[str, Files, dict[str, Any], str, str]] = [
    (
        "an id column",
        _csv("id,label,p0,p1\na,0,0.8,0.2\n"),
        {},
        "column 'id' names the rows and is not a prediction (id_col to choose)",
        "column 'id' names the rows and is not a prediction (--id-col to choose)",
    ),
    (
        "a weight column",
        _csv("label,weight,p0,p1\n0,2,0.8,0.2\n"),
        {},
        "column 'weight' weights the rows: the loss is a weighted mean (weight_col to choose "
        "another)",
        "column 'weight' weights the rows: the loss is a weighted mean (--weight-col to choose "
        "another)",
    ),
    (
        "columns named for their classes",
        _csv("label,p_cat,p_dog\ncat,0.8,0.2\n"),
        {},
        "the 2 prediction columns p_cat, p_dog name the classes cat, dog (pred_cols, "
        "class_names to choose)",
        "the 2 prediction columns p_cat, p_dog name the classes cat, dog (--pred-cols, "
        "--classes to choose)",
    ),
    (
        "columns of logits",
        _csv("label,logit_cat,logit_dog\ncat,2,-1\n"),
        {},
        "the prediction columns logit_cat, logit_dog hold logits: read as with logits=True",
        "the prediction columns logit_cat, logit_dog hold logits: read as with --logits",
    ),
]


@pytest.mark.parametrize(
    ("files", "keywords", "note", "flagged"),
    [case[1:] for case in NOTES],
    ids=[case[0] for case in NOTES],
)
def test_notes_name_the_parameter_in_python_and_the_flag_on_the_command_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: Files,
    keywords: dict[str, Any],
    note: str,
    flagged: str,
) -> None:
    paths = files(tmp_path)
    summary = cecli.score_file(_inputs(paths), "ce", **keywords)
    assert note in summary.notes
    assert not any("--" in said for said in summary.notes)
    assert main(["ce", "--csv", paths["data"], "--json"]) == 0
    assert flagged in capsys.readouterr().err


def test_skipped_and_rejected_rows_name_the_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = GUESSED(tmp_path)
    rejected: list[str] = []

    def collect(found: Rejected) -> None:
        rejected.extend(reason for _, reason, _ in found.rows)

    summary = cecli.score_file(
        paths["data"], "focal", binary=True, skip_invalid=True, on_rejects=collect
    )
    said = "(the prediction columns were guessed as note; choose them with pred_cols)"
    assert [said in reason for reason in (*summary.skipped_reasons, *rejected)] == [True, True]
    assert not any("--" in reason for reason in (*summary.skipped_reasons, *rejected))

    rejects = tmp_path / "rejects.csv"
    args = ["focal", "--binary", "--csv", paths["data"], "--skip-invalid", "--rejects"]
    assert main([*args, str(rejects)]) == 0
    flagged = "(the prediction columns were guessed as note; choose them with --pred-cols)"
    assert flagged in capsys.readouterr().err
    assert flagged in rejects.read_text()


def test_the_writer_names_its_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError) as raised, atomic_writer("", option="rejects"):
        pass
    assert str(raised.value) == "rejects: the file name is empty"
    target = str(tmp_path / "out.csv")
    with (
        pytest.raises(InputError) as raised,
        atomic_writer(target, option="rejects", output=target),
    ):
        pass
    assert str(raised.value) == f"rejects: {target} is also output; write to another file"
    paths = PLAIN(tmp_path)
    args = ["ce", "--csv", paths["data"], "--output", target, "--rejects", target]
    assert main([*args, "--skip-invalid"]) == 2
    line = f"cecli: error: --rejects: {target} is also --output; write to another file\n"
    assert capsys.readouterr().err == line


def test_select_columns_names_the_parameters() -> None:
    with pytest.raises(InputError) as raised:
        select_columns(["label", "p0"], "categorical", label_col="label", label_cols="p0")
    assert raised.value.parameter == "label_col"  # the first, as a string
    assert raised.value.mentions == ("label_col", "label_cols")


def test_a_tuple_maps_each_mention_once_in_order() -> None:
    # pos_weight twice: the option, then PyTorch's own argument, which stays as it is.
    message = "pos_weight has no counterpart in f (add logits=True: g has pos_weight)"
    assert with_flags(message, ("pos_weight", "logits")) == (
        "--pos-weight has no counterpart in f (add --logits: g has pos_weight)"
    )
    # A column called by: the parameter becomes the flag, the word in prose and in the data
    # stays.
    assert with_flags("by: no column 'x' (columns: by, p0); rows by day", ("by",)) == (
        "--by: no column 'x' (columns: by, p0); rows by day"
    )
    assert with_flags("use library='keras'", "library") == "use --like keras"
    assert with_flags("at 'rows' keep", ("rows",)) == "at 'rows' keep"


# --- the frameworks: what a library lacks --------------------------------------------------

TYPED = ([0], [[0.3, 0.7]])
SOFT = ([[0.5, 0.5]], [[0.3, 0.7]])

# (loss, labels and predictions, keywords, the library's message, the command line's
# arguments after the loss and its error line)
LACKS: list[tuple[str, tuple[Any, Any], dict[str, Any], str, list[str], str]] = [
    (
        "grad",
        TYPED,
        {"library": "torch", "reduction": "none"},
        "torch.autograd needs a scalar loss: use reduction mean or sum",
        ["--like", "torch", "--reduction", "none"],
        "torch.autograd needs a scalar loss: use --reduction mean or sum",
    ),
    (
        "focal",
        TYPED,
        {"library": "optax"},
        "optax's focal loss is the sigmoid (binary) one: add binary=True "
        "(optax.sigmoid_focal_loss); for softmax focal loss use library='keras'",
        ["--like", "optax"],
        "optax's focal loss is the sigmoid (binary) one: add --binary "
        "(optax.sigmoid_focal_loss); for softmax focal loss use --like keras",
    ),
    (
        "ce",
        TYPED,
        {"library": "torch", "eps": 1e-3},
        "eps has no counterpart in torch.nn.functional.nll_loss (PyTorch does not clip)",
        ["--like", "torch", "--eps", "1e-3"],
        "--eps has no counterpart in torch.nn.functional.nll_loss (PyTorch does not clip)",
    ),
    (
        "bce",
        ([[1]], [[0.3]]),
        {"library": "torch", "pos_weight": 2.0},
        "pos_weight has no counterpart in torch.nn.functional.binary_cross_entropy (add "
        "logits=True: torch.nn.functional.binary_cross_entropy_with_logits has pos_weight)",
        ["--like", "torch", "--pos-weight", "2"],
        "--pos-weight has no counterpart in torch.nn.functional.binary_cross_entropy (add "
        "--logits: torch.nn.functional.binary_cross_entropy_with_logits has pos_weight)",
    ),
    (
        "grad",
        TYPED,
        {"library": "sklearn"},
        "scikit-learn has no gradient of a loss; nearest: library='torch' or library='optax'",
        ["--like", "sklearn"],
        "scikit-learn has no gradient of a loss; nearest: --like torch or --like optax",
    ),
    (
        "grad",
        TYPED,
        {"library": "keras"},
        "Keras has no gradient function; nearest: the backend's autograd (torch backend: "
        "torch.autograd, as library='torch')",
        ["--like", "keras"],
        "Keras has no gradient function; nearest: the backend's autograd (torch backend: "
        "torch.autograd, as --like torch)",
    ),
    (
        "ce",
        TYPED,
        {"library": "sklearn", "reduction": "none"},
        "sklearn.metrics.log_loss returns a mean or a sum (normalize=False); nearest: "
        "reduction='sum'",
        ["--like", "sklearn", "--reduction", "none"],
        "sklearn.metrics.log_loss returns a mean or a sum (normalize=False); nearest: "
        "--reduction sum",
    ),
    (
        "ce",
        SOFT,
        {"library": "sklearn"},
        "sklearn.metrics.log_loss takes class labels, not soft targets; nearest: "
        "library='torch' (cross_entropy takes probability targets)",
        ["--like", "sklearn"],
        "sklearn.metrics.log_loss takes class labels, not soft targets; nearest: --like torch "
        "(cross_entropy takes probability targets)",
    ),
    (
        "ce",
        TYPED,
        {"library": "torch", "base": "2"},
        "torch.nn.functional.nll_loss reports nats; drop base to compare",
        ["--like", "torch", "--base", "2"],
        "torch.nn.functional.nll_loss reports nats; drop --base to compare",
    ),
]


def _typed(values: Any) -> str:
    """Rows (or one class index per row) as the command line takes them."""
    rows = [row if isinstance(row, list) else [row] for row in values]
    return ";".join(",".join(str(value) for value in row) for row in rows)


@pytest.mark.parametrize(
    ("loss", "inputs", "keywords", "message"),
    [case[:4] for case in LACKS],
    ids=[case[3] for case in LACKS],
)
def test_compare_frameworks_names_the_parameters(
    loss: Any, inputs: tuple[Any, Any], keywords: dict[str, Any], message: str
) -> None:
    with pytest.raises(Unsupported) as raised:
        compare_frameworks(loss, *inputs, **keywords)
    assert str(raised.value) == message
    assert "--" not in message


@pytest.mark.parametrize(
    ("loss", "inputs", "args", "line"),
    [(case[0], case[1], case[4], case[5]) for case in LACKS],
    ids=[case[5] for case in LACKS],
)
def test_what_a_library_lacks_reads_the_flags_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
    loss: str,
    inputs: tuple[Any, Any],
    args: list[str],
    line: str,
) -> None:
    labels, preds = inputs
    assert main([loss, _typed(labels), _typed(preds), *args]) == 2
    assert capsys.readouterr().err == f"cecli: error: {line}\n"


def test_what_each_library_lacks_names_the_parameter_beside_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    found = compare_frameworks("ce", *TYPED, eps=1e-3).found
    lacking = {item.library: item.message for item in found if isinstance(item, Missing)}
    assert lacking["torch"] == (
        "eps has no counterpart in torch.nn.functional.nll_loss (PyTorch does not clip)"
    )
    assert not any("--" in message for message in lacking.values())
    assert main(["ce", "0", "0.3,0.7", "--eps", "1e-3", "--frameworks", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["frameworks"]["torch"]["missing"] == (
        "--eps has no counterpart in torch.nn.functional.nll_loss (PyTorch does not clip)"
    )


def test_a_weight_column_a_library_lacks_names_weight_col(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _csv("label,weight,p0,p1\n0,2,0.8,0.2\n1,1,0.3,0.7\n")(tmp_path)
    lacks = "has no counterpart in torch.nn.functional.nll_loss (nearest: reduction='none', "
    lacks += "then (loss * w).sum() / w.sum())"
    found = compare_frameworks_on_file(paths["data"], "ce").found
    (torch,) = [item for item in found if item.library == "torch"]
    assert isinstance(torch, Missing)
    assert torch.message == f"the weight column (weight_col) {lacks}"
    with pytest.raises(Unsupported) as raised:
        compare_frameworks_on_file(paths["data"], "ce", library="torch")
    assert str(raised.value) == f"the weight column (weight_col) {lacks}"
    with pytest.raises(InputError) as refused:
        compare_frameworks_on_file(paths["data"], "ce", reduction="none")
    assert (
        str(refused.value) == "over a file the libraries give one value: use reduction mean or sum"
    )

    assert main(["ce", "--csv", paths["data"], "--frameworks", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["frameworks"]["torch"]["missing"] == f"the weight column (--weight-col) {lacks}"
    assert main(["ce", "--csv", paths["data"], "--like", "torch"]) == 2
    assert capsys.readouterr().err == f"cecli: error: the weight column (--weight-col) {lacks}\n"
    assert main(["ce", "--csv", paths["data"], "--like", "torch", "--reduction", "none"]) == 2
    line = "over a file the libraries give one value: use --reduction mean or sum"
    assert capsys.readouterr().err == f"cecli: error: {line}\n"


def test_an_address_named_like_the_parameter_keeps_its_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    data = _csv("label,p0,p1\n0,0.3,0.7\n")(tmp_path)["data"]
    # Refused before any connection: TLS without certificates in Dask's configuration.
    assert main(["ce", "--csv", data, "--dask", "tls://dask:8786"]) == 2
    assert capsys.readouterr().err.startswith("cecli: error: --dask: tls://dask:8786 speaks TLS")


def test_a_path_is_no_mention_of_a_parameter() -> None:
    lost = "the workers scoring it were lost again and again (out of memory?)"
    for path in ("dask.csv", "runs/dask/scores.csv", r"runs\dask\scores.csv", "tcp://dask:8786"):
        assert with_flags(f"{path}: {lost}", "dask") == f"{path}: {lost}"
    assert with_flags("eps must be in [0, 0.5), got 1", "eps") == "--eps must be in [0, 0.5), got 1"
    assert with_flags("choose one: use logits=True.", "logits") == "choose one: use --logits."


_CE = ([0], [[0.5, 0.5]])


@pytest.mark.parametrize(
    ("loss", "inputs", "options", "message"),
    [
        ("ce", _CE, {"eps": "0.1"}, "eps must be a number, got '0.1'"),
        ("ce", _CE, {"eps": None}, "eps must be a number, got None"),
        ("ce", _CE, {"eps": True}, "eps must be a number, got True"),
        ("smooth", _CE, {"smoothing": "0.1"}, "smoothing must be a number, got '0.1'"),
        ("bce", ([1], [0.5]), {"pos_weight": [1, 2]}, "pos_weight must be a number, got [1, 2]"),
        ("focal", _CE, {"alpha": "0.2"}, "alpha must be a number, got '0.2'"),
        ("ce", _CE, {"weights": "1,2"}, "weights is not an array of numbers"),
        ("ce", _CE, {"sample_weights": (w for w in [1.0])}, "sample_weights is not an array"),
        (
            "grad",
            ([0], [[0.7, 0.3]]),
            {"logits": True, "probs": True},
            "logits=True and probs=True contradict each other",
        ),
    ],
)
def test_options_of_the_wrong_kind_are_one_error_naming_the_parameter(
    loss: str, inputs: tuple[Any, Any], options: dict[str, Any], message: str
) -> None:
    """They raised Python's own TypeError or ValueError ("'<=' not supported between
    instances of 'float' and 'str'"), or, for grad, silently took one of the two."""
    with pytest.raises(InputError) as raised:
        getattr(cecli, loss)(*inputs, **options)
    assert str(raised.value).startswith(message)
    assert raised.value.parameter == list(options)[-1]


def test_numbers_of_numpy_s_kinds_are_taken_as_options() -> None:
    np = pytest.importorskip("numpy")
    plain = cecli.focal([0], [[0.7, 0.3]], gamma=2.0, eps=1e-7)
    for gamma, eps in ((np.float32(2.0), np.float64(1e-7)), (np.int64(2), np.array(1e-7))):
        assert cecli.focal([0], [[0.7, 0.3]], gamma=gamma, eps=eps).loss == plain.loss


def test_sample_weights_weigh_every_per_row_value() -> None:
    """per_row was weighted and its companions (focal's per_row_ce, kl's per_row_entropy
    and per_row_cross_entropy, smooth's per_row_hard) were not."""
    weight = 2.0
    focal, plain_focal = (
        cecli.focal([0, 1], [[0.7, 0.3], [0.4, 0.6]], sample_weights=w) for w in ([weight, 1], None)
    )
    assert focal.per_row_ce[0] == weight * plain_focal.per_row_ce[0]
    assert focal.per_row_ce[1] == plain_focal.per_row_ce[1]
    kl, plain_kl = (
        cecli.kl([[0.2, 0.8]], [[0.5, 0.5]], sample_weights=w) for w in ([weight], None)
    )
    assert kl.per_row_entropy[0] == weight * plain_kl.per_row_entropy[0]
    assert kl.per_row_cross_entropy[0] == weight * plain_kl.per_row_cross_entropy[0]
    smooth, plain_smooth = (
        cecli.smooth([0], [[0.7, 0.3]], sample_weights=w) for w in ([weight], None)
    )
    assert smooth.per_row_hard[0] == weight * plain_smooth.per_row_hard[0]


_IRIS = str(Path(__file__).resolve().parent.parent / "sample_data" / "iris3_index.csv")


@pytest.mark.parametrize(
    ("arguments", "options", "parameter", "message"),
    [
        ((_IRIS,), {"class_names": "abc"}, "class_names", "class_names takes a list of names"),
        ((_IRIS,), {"class_names": [1, 2, 3]}, "class_names", "class_names: class 1 is 1,"),
        ((_IRIS,), {"by": 3}, "by", "by takes column names"),
        ((_IRIS,), {"ignore_index": "x"}, "ignore_index", "ignore_index must be a whole number"),
        ((3,), {}, "path_or_table", "path_or_table takes a path"),
        ((None,), {}, "path_or_table", "path_or_table takes a path"),
    ],
)
def test_score_file_arguments_of_the_wrong_kind_name_the_parameter(
    arguments: tuple[Any, ...], options: dict[str, Any], parameter: str, message: str
) -> None:
    """ "abc" was read as three one-letter class names; the others raised Python's own
    TypeError or ValueError."""
    with pytest.raises(InputError) as raised:
        cecli.score_file(*arguments, **options)
    assert str(raised.value).startswith(message)
    assert raised.value.parameter == parameter
