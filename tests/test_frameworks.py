"""``--like`` and ``--frameworks`` without any framework installed.

The values are checked against the real libraries in ``tests/frameworks``; here the
conventions are checked against values worked out by hand from each library's definition
(with mpmath where the digits matter), and the CLI's modes and errors are exercised.
"""

from __future__ import annotations

import json
import math
import os

import mpmath
import numpy as np
import pytest

from cecli import frameworks
from cecli.frameworks import LIBRARIES, Entry, Gap, find
from cecli.inputs import InputError
from tests.helpers import run, within_rounding

COMMANDS = ("ce", "bce", "multilabel", "kl", "grad", "smooth", "focal")


def quiet(*args: str) -> float:
    code, out, err = run(*args, "-q")
    assert code == 0, err
    return float(out)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("inputs", ["probs", "logits"])
def test_every_combination_has_an_entry_or_says_what_is_missing(
    library: str, command: str, inputs: str
) -> None:
    entry = find(library, command, inputs)  # type: ignore[arg-type]
    if isinstance(entry, Gap):
        assert "nearest" in entry.message or "add --" in entry.message
    else:
        float32 = library in ("keras", "tf-keras", "optax")
        assert entry.dtype == ("float32" if float32 else "float64")


def test_adding_a_library_is_adding_entries() -> None:
    kinds = {type(entry) for entry in frameworks.ENTRIES}
    assert kinds == {Entry, Gap}
    pairs = [(e.library, e.command, e.inputs) for e in frameworks.ENTRIES]
    assert len(pairs) == len(set(pairs))


def _toy_mean_nll(problem: frameworks.Problem, entry: Entry) -> np.ndarray:
    """A made-up library: float64, no clipping, −log p of each row's arg-max label, mean."""
    indices = problem.hard_indices()
    assert indices is not None
    picked = problem.preds[np.arange(problem.rows), indices]
    return np.asarray(np.mean(-np.log(picked)))


def test_a_toy_library_is_one_framework_and_its_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding a library touches nothing in frameworks.py but FRAMEWORKS and ENTRIES."""
    toy = frameworks.Framework(
        "toy", "Toy", "import toy", aliases=("toylib",), hints={"weights": " (nearest: toy.w)"}
    )
    entries = (
        Entry("toy", "ce", "probs", "toy.nll", "float64", _toy_mean_nll,
              lambda problem, entry: f"toy.nll({problem.preds.tolist()})",
              notes=lambda problem, entry: ["takes the arg-max"],
              variant=lambda problem: "toy.sparse_nll" if problem.indices is not None else None),
        Gap("toy", "ce", "logits", "toy has no logits; nearest: toy.softmax first"),
    )  # fmt: skip
    monkeypatch.setitem(frameworks.FRAMEWORKS, "toy", toy)
    monkeypatch.setattr(frameworks, "ENTRIES", (*frameworks.ENTRIES, *entries))

    preds = [[0.25, 0.75], [0.5, 0.5]]
    found = frameworks.like("ce", [1, 0], preds, library="toylib")
    assert found.library == "toy"
    assert found.function == "toy.sparse_nll"
    with mpmath.workdps(30):
        expected = float((-mpmath.log(mpmath.mpf(0.75)) - mpmath.log(mpmath.mpf(0.5))) / 2)
    assert float(found.value) == pytest.approx(expected, rel=1e-15)
    assert found.conventions == ("takes the arg-max",)
    assert found.to_json()["imports"] == "import toy"
    assert frameworks.IMPORTS["toy"] == "import toy"
    assert frameworks.like("ce", [[0, 1], [1, 0]], preds, library="toy").function == "toy.nll"

    everyone = frameworks.compare_frameworks("ce", [1, 0], preds)
    assert [item.library for item in everyone.found] == [*LIBRARIES, "toy"]
    with pytest.raises(frameworks.Unsupported, match=r"^weights has no counterpart in "
                       r"toy.sparse_nll \(nearest: toy.w\)"):  # fmt: skip
        frameworks.like("ce", [1, 0], preds, library="toy", weights=[1.0, 2.0])
    with pytest.raises(frameworks.Unsupported, match=r"nearest: toy\.softmax first"):
        frameworks.like("ce", [1, 0], preds, library="toy", logits=True)
    with pytest.raises(InputError, match=r"library takes torch, .*, optax or toy, not 'toi'"):
        frameworks.like("ce", [1, 0], preds, library="toi")


def test_no_library_is_named_outside_the_frameworks_and_the_entries() -> None:
    """What depends on the library lives in its Framework or its entries, not in branches."""
    import inspect

    source = inspect.getsource(frameworks)
    assert "entry.library ==" not in source
    assert "entry.library in" not in source


def test_p_zero_on_the_true_class_the_three_clipping_conventions() -> None:
    # Keras clips at float32(1e-7), scikit-learn at float64 machine epsilon, PyTorch's
    # binary_cross_entropy clamps log 0 at -100.
    assert quiet("bce", "1", "0", "--like", "torch") == 100.0
    keras = quiet("bce", "1", "0", "--like", "keras")
    assert keras == pytest.approx(-math.log(float(np.float32(1e-7))), rel=1e-6)
    assert f"{keras:.3f}" == "16.118"
    sklearn = quiet("bce", "1", "0", "--like", "sklearn")
    assert sklearn == pytest.approx(float(52 * mpmath.log(2)), rel=1e-14)
    assert f"{sklearn:.3f}" == "36.044"


def test_torch_divides_a_weighted_mean_by_the_weights_for_indices_and_by_n_for_rows() -> None:
    z = [[2.0, 1.0, 0.1], [0.3, 0.2, 4.0]]
    labels, w = [0, 2], [1.0, 2.0, 3.0]
    nll = []
    with mpmath.workdps(40):
        for row, label in zip(z, labels, strict=True):
            norm = mpmath.log(sum(mpmath.exp(mpmath.mpf(v)) for v in row))
            nll.append(w[label] * (norm - row[label]))
        by_weights = float(sum(nll) / sum(w[label] for label in labels))
        by_rows = float(sum(nll) / 2)
    preds = "2,1,0.1;0.3,0.2,4"
    as_indices = quiet("ce", "0;2", preds, "--logits", "--weights", "1,2,3", "--like", "torch")
    as_rows = quiet("ce", "1,0,0;0,0,1", preds, "--logits", "--weights", "1,2,3", "--like", "torch")
    assert as_indices == pytest.approx(by_weights, rel=1e-12)
    assert as_rows == pytest.approx(by_rows, rel=1e-12)
    code, out, _ = run("ce", "1,0,0;0,0,1", preds, "--logits", "--weights", "1,2,3", "--frameworks")
    assert code == 0
    assert "weighted mean divided by N" in out


def test_torch_kl_div_default_mean_averages_over_elements() -> None:
    exact = float(0.5 * mpmath.log(0.5 / 0.9) + 0.5 * mpmath.log(0.5 / 0.1))
    assert quiet("kl", "0.5,0.5", "0.9,0.1", "--like", "torch") == pytest.approx(
        exact / 2, rel=1e-12
    )
    assert quiet("kl", "0.5,0.5", "0.9,0.1", "--like", "optax") == pytest.approx(exact, rel=1e-6)


def test_keras_renormalises_and_torch_does_not() -> None:
    # Rows summing to 2: Keras divides by the sum first, nll_loss(log p) takes p as it is.
    keras = quiet("ce", "0", "0.8,0.6,0.6", "--like", "keras")
    torch = quiet("ce", "0", "0.8,0.6,0.6", "--like", "torch")
    assert keras == pytest.approx(-math.log(0.4), rel=1e-6)
    assert torch == pytest.approx(-math.log(0.8), rel=1e-12)


def test_keras_categorical_focal_applies_alpha_by_default() -> None:
    p = 0.7
    expected = 0.25 * (1 - p) ** 2 * -math.log(p)
    assert quiet("focal", "0", "0.7,0.2,0.1", "--like", "keras") == pytest.approx(
        expected, rel=1e-6
    )
    code, out, _ = run("focal", "0", "0.7,0.2,0.1", "--frameworks")
    assert code == 0
    assert "α = 0.25 applied by default" in out


def test_like_json_carries_value_conventions_and_call() -> None:
    code, out, err = run("bce", "1,0,1", "0,0.2,0.7", "--like", "torch", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["library"] == "torch"
    assert document["function"] == "torch.nn.functional.binary_cross_entropy"
    assert document["conventions"] == ["log clamp at -100", "no clipping (cecli clips at 1e-7)"]
    assert document["call"].startswith("torch.nn.functional.binary_cross_entropy(torch.tensor(")
    assert document["imports"] == "import torch"
    assert document["cecli"] < document["value"]


def test_frameworks_json_lists_every_library() -> None:
    code, out, err = run("ce", "1,0,0,0,0", "0.1,0.5,0.1,0.1,0.2", "--frameworks", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["cecli"] == 2.3025850929940455
    assert list(document["frameworks"]) == list(LIBRARIES)
    by_name = document["frameworks"]
    assert by_name["torch"]["value"] == pytest.approx(2.3025850929940455, rel=1e-15)
    assert by_name["keras"]["conventions"] == ["computed in float32"]
    assert by_name["optax"]["call"].startswith("optax.softmax_cross_entropy(jnp.log(")
    code, out, _ = run("kl", "0.5,0.5", "0.9,0.1", "--frameworks", "--json")
    missing = json.loads(out)["frameworks"]["sklearn"]
    assert missing["value"] is None
    assert "no KL divergence" in missing["missing"]


def test_frameworks_table_names_each_library_and_how_to_reproduce() -> None:
    code, out, err = run("bce", "1", "0", "--frameworks")
    assert code == 0, err
    for library in LIBRARIES:
        assert library in out
    assert "log clamp at -100" in out
    assert "clip at 1e-7" in out
    assert "To reproduce" in out
    assert "sklearn.metrics.log_loss([1], [0.0], labels=[0, 1])" in out


def test_frameworks_quiet_prints_one_line_per_library() -> None:
    code, out, _ = run("bce", "1", "0", "--frameworks", "-q")
    assert code == 0
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    assert list(lines) == ["cecli", *LIBRARIES]
    assert lines["torch"] == "100.0"
    assert lines["optax"] == "inf"


def test_grad_like_gives_the_gradient_matrix() -> None:
    code, out, _ = run("grad", "0", "2,1,0.1", "--logits", "--like", "torch", "-q")
    assert code == 0
    values = [float(v) for v in out.strip().split(",")]
    z = [mpmath.mpf(2), mpmath.mpf(1), mpmath.mpf("0.1")]
    total = sum(mpmath.exp(v) for v in z)
    expected = [float(mpmath.exp(v) / total - (1 if i == 0 else 0)) for i, v in enumerate(z)]
    assert values == pytest.approx(expected, rel=1e-12)


def test_like_quiet_prints_per_row_values_one_per_line_as_cecli_does() -> None:
    args = ["ce", "0;1", "0.7,0.3;0.4,0.6", "--reduction", "none", "-q"]
    code, out, _ = run(*args, "--like", "torch")
    assert code == 0
    assert out == run(*args)[1]
    assert [float(v) for v in out.split()] == pytest.approx([-math.log(0.7), -math.log(0.6)])
    code, out, _ = run(*args, "--frameworks")
    assert code == 0
    assert out.splitlines()[1] == f"torch {-math.log(0.7)!r},{-math.log(0.6)!r}"


def test_calls_carry_every_input_digit() -> None:
    code, out, _ = run(
        "ce", "0", "0.1234567890123456,0.8765432109876544", "--like", "torch", "--json"
    )
    assert code == 0
    assert "0.1234567890123456" in json.loads(out)["call"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["ce", "0", "0.5,0.5", "--like", "tensorflow"],
            "--like takes torch, keras, tf-keras, sklearn or optax",
        ),
        (["grad", "0", "0.5,0.5", "--like", "sklearn"], "scikit-learn has no gradient"),
        (
            ["ce", "0", "0.5,0.5", "--like", "keras", "--weights", "1,2"],
            "--weights has no counterpart",
        ),
        (["focal", "0", "0.5,0.5", "--like", "optax"], "add --binary"),
        (["focal", "0", "0.7,0.3", "--like", "torch"], "PyTorch has no focal loss"),
        (["ce", "0", "0.5,0.5", "--like", "torch", "--base", "2"], "reports nats"),
        (["ce", "0", "0.5,0.5", "--like", "torch", "--frameworks"], "not both"),
        (["ce", "0", "0.5,0.5", "--like", "torch", "--vs", "0.4,0.6"], "--vs does not go"),
        (
            ["ce", "--csv", "sample_data/iris3_index.csv", "--like", "torch", "--by-file"],
            "--like over a file gives one value; it does not go with --by-file",
        ),
        (["kl", "0.5,0.5", "0.9,0.1", "--logits", "--like", "keras"], "takes probabilities"),
        (["ce", "0.2,0.8", "0.5,0.5", "--like", "sklearn"], "not soft targets"),
        (
            ["ce", "0", "0.5,0.5", "--like", "torch", "--normalize"],
            "(--like keras or --like tf-keras has it)",
        ),
        (["bce", "1", "0.5", "--like", "torch", "--pos-weight", "2"], "add --logits"),
        (["multilabel", "1,0", "0.5,0.5", "--like", "keras", "--neg-weight", "2"], "none of"),
    ],
)
def test_what_a_library_lacks_is_one_error_line(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def _text(matrix: np.ndarray) -> str:
    return ";".join(",".join(repr(float(v)) for v in row) for row in matrix)


def _random_case(command: str, seed: int) -> list[str]:
    """A random input for ``command``: zeros, ones, tiny values, unnormalised rows, soft
    targets, extreme logits and the subcommand's options, as command-line arguments."""
    rng = np.random.default_rng(seed)
    rows, classes = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    logits = command != "kl" and bool(rng.integers(0, 2))
    if command == "grad":
        logits = rng.integers(0, 3) != 0
    args: list[str] = []
    options = {
        "ce": [
            ["--weights", ",".join(str(w) for w in rng.uniform(0.5, 3, classes).round(2))],
            ["--smoothing", "0.1"],
        ],
        "bce": [["--pos-weight", "2"], ["--smoothing", "0.2"]],
        "multilabel": [["--pos-weight", "2"]],
        "kl": [],
        "grad": [["--sigmoid"]],
        "smooth": [["--smoothing", "0.3"]],
        "focal": [["--binary"], ["--alpha", "0.4"], ["--gamma", "1"]],
    }[command]
    for option in options:
        if rng.integers(0, 3) == 0:
            args += option
    binary = command in ("bce", "multilabel") or "--binary" in args or "--sigmoid" in args
    if logits:
        preds = rng.choice([-1000.0, -30.0, 0.0, 30.0, 1000.0, 2.5, -1.5], (rows, classes))
        args.append("--logits")
    else:
        preds = rng.choice([0.0, 1.0, 1e-9, 1e-300, 0.2, 0.5, 0.7, 1 - 1e-9], (rows, classes))
        if not binary and rng.integers(0, 2):
            preds = preds + 1e-3
            preds = preds / preds.sum(axis=1, keepdims=True)
    if command == "kl":
        labels = rng.dirichlet(np.ones(classes), rows).round(3)
        labels[:, -1] = 1 - labels[:, :-1].sum(axis=1)
        labels = np.clip(labels, 0, 1)
        text = _text(labels)
    elif binary:
        text = _text(rng.choice([0.0, 1.0, 0.3], (rows, classes)))
    elif rng.integers(0, 2):
        text = ";".join(str(int(i)) for i in rng.integers(0, classes, rows))
    else:
        labels = np.zeros((rows, classes))
        labels[np.arange(rows), rng.integers(0, classes, rows)] = 1
        text = _text(labels)
    return [command, text, _text(preds), *args]


FLOAT32_OR_ROUNDING = {"computed in float32"}


@pytest.mark.parametrize("command", COMMANDS)
def test_frameworks_names_a_reason_for_every_difference(command: str) -> None:
    checked = 0
    for seed in range(int(os.environ.get("CECLI_CASES", "60"))):
        args = _random_case(command, seed)
        code, out, _ = run(*args, "--frameworks", "--json")
        if code != 0:
            continue  # an input cecli itself rejects
        document = json.loads(out)
        exact = np.asarray(document["cecli"], dtype=float)
        scale = max(1.0, *np.abs(_numbers(args[2])), *np.abs(exact[np.isfinite(exact)]).ravel())
        for item in document["frameworks"].values():
            if "missing" in item:
                continue
            value = np.asarray(item["value"], dtype=float)
            # float32 libraries may stray 1e-5 from the exact value by rounding alone.
            close = within_rounding(value, exact, item["dtype"], scale, float32_rtol=1e-5)
            reasons = set(item["conventions"]) - FLOAT32_OR_ROUNDING
            assert close or reasons, f"{' '.join(args)}: {item['library']} {value} vs {exact}"
            checked += 1
    assert checked > 30


def _numbers(text: str) -> list[float]:
    return [float(v) for row in text.split(";") for v in row.split(",")]


def test_readme_table_of_combinations_matches_the_entries() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    header = "| | ce | bce | multilabel | kl | grad | smooth | focal |"
    table = readme[readme.index(header) :].split("\n\n")[0]
    lines = table.splitlines()[2:]
    assert [line.strip("|").split("|")[0].strip() for line in lines] == list(LIBRARIES)
    for line in lines:
        library, *cells = [cell.strip() for cell in line.strip("|").split("|")]
        for command, cell in zip(COMMANDS, cells, strict=True):
            kinds = {
                inputs
                for inputs in ("probs", "logits")
                if isinstance(find(library, command, inputs), Entry)  # type: ignore[arg-type]
            }
            if cell.startswith("—"):
                assert not kinds, (library, command)
            elif cell.startswith("probabilities"):
                assert kinds == {"probs"}, (library, command)
            elif cell.startswith("logits"):
                assert kinds == {"logits"}, (library, command)
            else:
                assert kinds == {"probs", "logits"}, (library, command)


def test_sample_weights_keras_divides_by_n_sklearn_by_the_weights_torch_has_none() -> None:
    labels, preds, weights = (
        [0, 2, 1],
        [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]],
        [1.2, 3.4, 0.0],
    )
    with mpmath.workdps(40):
        terms = [-mpmath.log(mpmath.mpf(p)) for p in (0.7, 0.8, 0.4)]
        weighted = sum(mpmath.mpf(w) * t for w, t in zip(weights, terms, strict=True))
        by_rows, by_weights = float(weighted / 3), float(weighted / sum(weights))
    keras = frameworks.like("ce", labels, preds, library="keras", sample_weights=weights)
    assert float(keras.value) == pytest.approx(by_rows, rel=1e-6)
    assert "sample-weighted mean ÷ N (zero weights counted)" in keras.conventions[0]
    assert keras.call.endswith("sample_weight=np.array([1.2, 3.4, 0.0]))")
    sklearn = frameworks.like("ce", labels, preds, library="sklearn", sample_weights=weights)
    assert float(sklearn.value) == pytest.approx(by_weights, rel=1e-15)
    exact = frameworks.compare_frameworks("ce", labels, preds, sample_weights=weights)
    assert float(exact.value) == pytest.approx(by_weights, rel=1e-15)
    with pytest.raises(frameworks.Unsupported, match=r"nearest: reduction='none', then"):
        frameworks.like("ce", labels, preds, library="torch", sample_weights=weights)
    # One weight for the batch reaches the libraries as one per row.
    batch = frameworks.like("bce", [[1, 0]], [[0.9, 0.2]], library="sklearn", sample_weights=2.0)
    assert batch.call.endswith("sample_weight=[2.0, 2.0])")


def test_ignore_index_torch_and_keras_leave_rows_out_sklearn_and_optax_name_the_nearest() -> None:
    z, labels = [[2.0, 1.0, 0.1], [0.3, 0.2, 4.0], [-1.0, 0.0, 1.0]], [0, -100, 1]
    with mpmath.workdps(40):
        kept = [(z[0], 0), (z[2], 1)]
        terms = [mpmath.log(sum(mpmath.exp(v) for v in row)) - row[k] for row, k in kept]
        expected = float(sum(terms) / 2)
    torch = frameworks.like("ce", labels, z, library="torch", logits=True, ignore_index=-100)
    assert float(torch.value) == pytest.approx(expected, rel=1e-15)
    assert "torch.tensor([0, -100, 1]), ignore_index=-100)" in torch.call
    keras = frameworks.like("ce", labels, z, library="keras", logits=True, ignore_index=-100)
    assert float(keras.value) == pytest.approx(expected, rel=1e-6)
    assert "SparseCategoricalCrossentropy(from_logits=True, ignore_class=-100)" in keras.call
    assert any("keras.metrics" in note for note in keras.conventions)
    for library, nearest in [("sklearn", "leave those rows out"), ("optax", "where=labels != K")]:
        with pytest.raises(frameworks.Unsupported, match=nearest):
            frameworks.like("ce", labels, z, library=library, logits=True, ignore_index=-100)
    with pytest.raises(frameworks.Unsupported, match="no label_smoothing"):
        frameworks.like("ce", labels, z, library="keras", logits=True, ignore_index=-100,
                        smoothing=0.1)  # fmt: skip


def test_bce_class_weights_map_onto_torch_weight_and_focal_smoothing_onto_keras() -> None:
    y, p = [[1.0, 0.0]], [[0.9, 0.2]]
    torch = frameworks.like("bce", y, p, library="torch", weights=[2.0, 0.5])
    with mpmath.workdps(30):
        expected = float(
            (-2 * mpmath.log(mpmath.mpf(0.9)) - 0.5 * mpmath.log(1 - mpmath.mpf(0.2))) / 2
        )
    assert float(torch.value) == pytest.approx(expected, rel=1e-15)
    assert "weight=torch.tensor([2.0, 0.5], dtype=torch.float64)" in torch.call
    with pytest.raises(frameworks.Unsupported, match=r"class_weight in Model\.fit"):
        frameworks.like("bce", y, p, library="keras", weights=[2.0, 0.5])
    keras = frameworks.like("focal", [0], [[0.7, 0.3]], library="keras", smoothing=0.2)
    assert "label_smoothing=0.2" in keras.call
    smoothed = [0.9, 0.1]  # (1 - 0.2)·y + 0.2/2
    with mpmath.workdps(30):
        terms = [
            s * (1 - q) ** 2 * -mpmath.log(q)
            for s, q in zip(smoothed, [mpmath.mpf(0.7), mpmath.mpf(0.3)], strict=True)
        ]
        focal = float(0.25 * sum(terms))
    assert float(keras.value) == pytest.approx(focal, rel=1e-6)


def test_kl_log_targets_and_generalized_map_onto_torch_and_optax() -> None:
    log_p, q = [[-0.5, -1.2, -1.8]], [[0.6, 0.3, 0.1]]
    torch = frameworks.like("kl", log_p, q, library="torch", log_targets=True)
    assert torch.call.endswith("log_target=True)")
    optax = frameworks.like("kl", log_p, q, library="optax", log_targets=True)
    assert optax.call.startswith("optax.losses.kl_divergence_with_log_targets(jnp.log(")
    with mpmath.workdps(30):
        terms = [mpmath.exp(v) * (v - mpmath.log(w)) for v, w in zip(log_p[0], q[0], strict=True)]
        exact = float(sum(terms))
    assert float(optax.value) == pytest.approx(exact, rel=1e-6)
    assert float(torch.value) == pytest.approx(exact / 3, rel=1e-14)  # mean over elements
    generalized = frameworks.like(
        "kl", [[1.0, 2.0]], [[0.5, 3.0]], library="optax", generalized=True
    )
    assert generalized.function == "optax.convex_kl_divergence"
    with pytest.raises(frameworks.Unsupported, match=r"q - p, summed"):
        frameworks.like("kl", [[1.0, 2.0]], [[0.5, 3.0]], library="torch", generalized=True)


def test_keras_renormalises_then_clips_and_says_so_when_the_order_moves_the_value() -> None:
    keras = frameworks.like("ce", [0], [[0.0, 0.6, 0.6]], library="keras")
    assert "renormalised, then clipped (clipping first gives another value)" in keras.conventions
    # Renormalising first leaves p = 0, which the clip raises to ε: −log ε, not −log(ε/1.2).
    assert float(keras.value) == pytest.approx(-math.log(float(np.float32(1e-7))), rel=1e-6)
    unmoved = frameworks.like("ce", [1], [[0.2, 0.6, 0.6]], library="keras")
    assert "renormalised rows" in unmoved.conventions
    assert not any("then clipped" in note for note in unmoved.conventions)


def test_tf_keras_adds_epsilon_inside_the_log_of_its_binary_cross_entropy() -> None:
    """Checked by hand from tf_keras.backend.binary_crossentropy: p = 1 is clipped to the
    float32 1 - ε = 1 - 2⁻²³, then log(1 - p + ε) is taken in float32."""
    one = frameworks.like("bce", [[0.0]], [[1.0]], library="tf-keras")
    inside = float(np.float32(2.0**-23) + np.float32(1e-7))
    assert float(one.value) == pytest.approx(float(-mpmath.log(inside)), rel=1e-6)
    assert f"{float(one.value):.3f}" == "15.333"
    zero = frameworks.like("bce", [[1.0]], [[0.0]], library="tf-keras")  # log(ε + ε)
    twice = float(np.float32(np.float32(1e-7) + np.float32(1e-7)))
    assert float(zero.value) == pytest.approx(float(-mpmath.log(twice)), rel=1e-6)
    assert "dtype=np.float32" in zero.call
    sparse = frameworks.like("ce", [0], [[0.0, 0.6, 0.6]], library="tf-keras")
    assert "clipped, then renormalised" in " ".join(sparse.conventions)
    clipped = float(np.float32(1e-7))
    expected = -mpmath.log(clipped / (clipped + 2 * float(np.float32(0.6))))
    assert float(sparse.value) == pytest.approx(float(expected), rel=1e-6)
