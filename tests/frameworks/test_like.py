"""Every ``--like`` value equals what the real library returns for the same input.

Each generated input goes through :func:`cecli.frameworks.reproduce`; the call it prints is
then pasted into the real library (PyTorch, Keras on the torch backend, scikit-learn, optax),
and the two values must agree within the library's own precision.  A library that is not
installed skips its tests: README.md's Set-up gives the command that installs them all (PyTorch's
CPU build first, then ``pip install -e '.[test,frameworks]'``).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from cecli import frameworks
from cecli.frameworks import Command, Entry, Library, Problem, make_problem, reproduce
from tests.frameworks.real import run
from tests.helpers import within_rounding

MODULES = {
    "torch": "torch", "keras": "keras", "sklearn": "sklearn", "optax": "optax",
    "tf-keras": "tf_keras",
}  # fmt: skip
SAMPLE_WEIGHTED = ("keras", "sklearn", "tf-keras")
IGNORING = ("torch", "keras", "tf-keras")
"""The libraries with an ignore index (PyTorch's ignore_index, Keras' ignore_class)."""
"""The libraries whose losses take one weight per row."""
EXAMPLES = int(os.environ.get("CECLI_FRAMEWORK_EXAMPLES", "60"))

COMBINATIONS = [
    (entry.library, entry.command, entry.inputs)
    for entry in frameworks.ENTRIES
    if isinstance(entry, Entry)
]


def installed(library: str) -> bool:
    return importlib.util.find_spec(MODULES[library]) is not None


# --- generated inputs ---------------------------------------------------------------------

probability = st.one_of(
    st.sampled_from([0.0, 1.0, 1e-12, 1 - 1e-9, 0.5]),
    st.floats(0.0, 1.0, allow_subnormal=False),
)
logit = st.one_of(
    st.sampled_from([-1000.0, 1000.0, 0.0, -30.0, 30.0]),
    st.floats(-40.0, 40.0, allow_subnormal=False),
)


def matrices(elements: st.SearchStrategy[float], rows: int, classes: int) -> Any:
    row = st.lists(elements, min_size=classes, max_size=classes)
    return st.lists(row, min_size=rows, max_size=rows).map(np.array)


@st.composite
def problems(draw: Any, library: Library, command: Command, inputs: str) -> Problem:
    logits = inputs == "logits"
    options: dict[str, Any] = {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))}
    if command == "grad":
        options["reduction"] = draw(st.sampled_from(["mean", "sum"]))
        if draw(st.booleans()):
            options["sigmoid"] = True
    if command == "focal":
        options["gamma"] = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0]))
        if library in ("optax",) or draw(st.booleans()):
            options["binary"] = True
        if draw(st.booleans()):
            options["alpha"] = draw(st.floats(0.0, 1.0))
    if command == "smooth":
        options["smoothing"] = draw(st.floats(0.0, 1.0))
    if (
        command == "ce"
        and library in ("torch", "keras", "tf-keras", "optax")
        and draw(st.booleans())
    ):
        options["smoothing"] = draw(st.floats(0.0, 1.0))
    if command == "ce" and library == "torch" and draw(st.booleans()):
        options["weights"] = np.array(draw(st.lists(st.floats(0.1, 5.0), min_size=8, max_size=8)))
    if command in ("bce", "multilabel") and library == "torch" and logits and draw(st.booleans()):
        options["pos_weight"] = draw(st.floats(0.1, 5.0))
    if command == "bce" and library in ("keras", "tf-keras") and draw(st.booleans()):
        options["smoothing"] = draw(st.floats(0.0, 1.0))
    if command == "focal" and library in ("keras", "tf-keras") and draw(st.booleans()):
        options["smoothing"] = draw(st.floats(0.0, 1.0))
    if command in ("bce", "multilabel") and library == "torch" and draw(st.booleans()):
        options["weights"] = np.array(draw(st.lists(st.floats(0.0, 5.0), min_size=8, max_size=8)))
    if library in ("keras", "tf-keras") and not logits and draw(st.integers(0, 4)) == 0:
        options["eps"] = draw(st.sampled_from([1e-3, 1e-5, 1e-12]))

    rows = draw(st.integers(1, 4))
    classes = draw(st.integers(2, 6))
    if library in SAMPLE_WEIGHTED and command != "grad" and draw(st.booleans()):
        weights = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.4]) | st.floats(0.0, 5.0),
                                min_size=rows, max_size=rows))  # fmt: skip
        weights[0] = weights[0] or 1.0  # the weights must not sum to 0
        options["sample_weights"] = np.array(weights)
    if "weights" in options:
        options["weights"] = options["weights"][:classes]
    value = logit if logits else probability
    preds = draw(matrices(value, rows, classes))
    if logits and draw(st.integers(0, 3)) == 0:  # -inf is a mask; each row keeps one class
        masked = draw(matrices(st.booleans(), rows, classes)).astype(bool)
        masked[:, draw(st.integers(0, classes - 1))] = False
        preds = np.where(masked, -np.inf, preds)
    if not logits and frameworks.categorical(command, options) and draw(st.booleans()):
        sums = preds.sum(axis=1, keepdims=True)
        preds = np.where(sums > 0, preds / np.where(sums > 0, sums, 1), 1.0 / classes)
    if command == "kl" and not logits and draw(st.booleans()):
        preds = np.clip(preds, 1e-3, None)
        preds = preds / preds.sum(axis=1, keepdims=True)

    hard = library == "sklearn" or draw(st.booleans())
    if frameworks.categorical(command, options):
        index = draw(st.lists(st.integers(0, classes - 1), min_size=rows, max_size=rows))
        if hard and draw(st.booleans()):
            labels = np.array(index, dtype=float).reshape(-1, 1)
            if library in IGNORING and draw(st.booleans()):
                ignore_index = draw(st.sampled_from([-100, 0, 255]))
                dropped = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
                ignoring = np.where(np.array(dropped), ignore_index, labels[:, 0])
                if not np.all(ignoring == ignore_index):  # the mean needs one row kept
                    labels[:, 0] = ignoring
                    options["ignore_index"] = ignore_index
        else:
            labels = np.zeros((rows, classes))
            labels[np.arange(rows), index] = 1.0
            if not hard:
                weights = draw(matrices(st.floats(0.0, 1.0), rows, classes)) + 1e-3
                labels = weights / weights.sum(axis=1, keepdims=True)
    elif command == "kl":
        weights = draw(matrices(st.sampled_from([0.0, 0.2, 0.5, 1.0, 3.0]), rows, classes))
        weights[:, 0] += 0.5
        labels = weights / weights.sum(axis=1, keepdims=True)
        variant = draw(st.sampled_from(["", "log_targets", "generalized"]))
        if variant == "log_targets" and library in ("torch", "optax"):
            options["log_targets"] = True
            with np.errstate(divide="ignore"):
                labels = np.log(labels)
        if variant == "generalized" and library == "optax":
            options["generalized"] = True  # unnormalised P and Q
            labels = labels * draw(st.floats(0.25, 4.0))
            if not logits:
                preds = preds * draw(st.floats(0.25, 4.0))
    else:
        bits = st.sampled_from([0.0, 1.0]) if hard else st.floats(0.0, 1.0)
        labels = draw(matrices(bits, rows, classes))
    return make_problem(command, labels, preds, logits=logits, options=options)


def scale_of(problem: Problem, value: np.ndarray) -> float:
    """The largest number the computation holds: a logit, or the result itself."""
    finite_preds = np.abs(problem.preds[np.isfinite(problem.preds)])
    finite_value = np.abs(value[np.isfinite(value)])
    return max(1.0, float(finite_preds.max(initial=0.0)), float(finite_value.max(initial=0.0)))


@pytest.mark.parametrize(("library", "command", "inputs"), COMBINATIONS)
def test_like_equals_the_library(library: Library, command: Command, inputs: str) -> None:
    if not installed(library):
        pytest.skip(f"{library} is not installed (see README.md, Set-up: the framework tests)")

    compared: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(problems(library, command, inputs))
    def check(problem: Problem) -> None:
        try:
            reproduction = reproduce(library, problem)
        except frameworks.Unsupported:
            # Not an example: Hypothesis draws another, so that each combination compares
            # about EXAMPLES inputs however many its library cannot take.
            reject()
        real = run(library, reproduction.call)
        compared.append(1)
        scale = scale_of(problem, real)
        # Older releases may differ where the conventions say so (Keras 3.8's nan).
        older = frameworks.OLD_KERAS_MASKED in reproduction.conventions and np.isnan(real).any()
        assert older or within_rounding(real, reproduction.value, reproduction.dtype, scale), (
            f"{reproduction.call}\n library: {real!r}\n cecli:   {reproduction.value!r}"
        )

    check()
    assert len(compared) >= EXAMPLES // 4, "too few generated inputs were comparable"


@pytest.mark.parametrize(("library", "command", "inputs"), COMBINATIONS)
def test_like_equals_the_library_on_a_thousand_classes(
    library: Library, command: Command, inputs: str
) -> None:
    if not installed(library):
        pytest.skip(f"{library} is not installed (see README.md, Set-up: the framework tests)")
    generator = np.random.default_rng(1000)
    classes, rows = 1000, 3
    if inputs == "logits":
        preds = generator.normal(0.0, 30.0, (rows, classes))
        preds[:, :2] = [1000.0, -1000.0]
    else:
        preds = generator.dirichlet(np.full(classes, 0.5), rows)
        preds[0, :2] = [0.0, 1.0]
    options: dict[str, Any] = {"reduction": "mean"}
    if command == "focal":
        options.update(gamma=2.0, binary=library == "optax")
    if command == "smooth":
        options["smoothing"] = 0.1
    if frameworks.categorical(command, options):
        labels = np.array([[0.0], [1.0], [999.0]])
    elif command == "kl":
        labels = generator.dirichlet(np.full(classes, 0.5), rows)
    else:
        labels = (generator.random((rows, classes)) < 0.1).astype(float)
    problem = make_problem(command, labels, preds, logits=inputs == "logits", options=options)
    try:
        reproduction = reproduce(library, problem)
    except frameworks.Unsupported:
        pytest.skip("the library lacks this combination")
    real = run(library, reproduction.call)
    scale = scale_of(problem, real)
    assert within_rounding(real, reproduction.value, reproduction.dtype, scale), (
        reproduction.function
    )


def test_optax_focal_flushes_a_subnormal_alpha() -> None:
    """α = 1.4e-45 is subnormal in float32: XLA flushes it to 0, and 0 · inf is nan."""
    if not installed("optax"):
        pytest.skip("optax is not installed (see README.md, Set-up: the framework tests)")
    options: dict[str, Any] = {
        "reduction": "mean", "gamma": 0.0, "alpha": 1.401298464324817e-45, "binary": True,
    }  # fmt: skip
    problem = make_problem(
        "focal", np.array([[1.0, 1.0]]), np.array([[0.0, 0.0]]), logits=False, options=options
    )
    reproduction = reproduce("optax", problem)
    real = run("optax", reproduction.call)
    assert np.isnan(real)
    assert np.isnan(reproduction.value)


SUBNORMAL = 4.8395105816855566e-42
"""A float32 subnormal: TensorFlow's CPU kernels flush it to 0, and 0 · inf is nan."""
MASKED = np.array([[-1000.0, -1000.0, -1000.0], [-1000.0, -1000.0, -np.inf]])


@pytest.mark.parametrize(
    ("command", "labels", "options"),
    [
        ("ce", np.full((2, 3), 1 / 3), {"sample_weights": np.array([1.0, SUBNORMAL])}),
        ("bce", np.zeros((2, 3)), {"smoothing": 1.0, "sample_weights": np.array([1.0, SUBNORMAL])}),
        ("bce", np.zeros((2, 3)), {"smoothing": SUBNORMAL}),
        ("ce", np.array([[1.0, 0.0, 0.0]] * 2), {"smoothing": SUBNORMAL}),
        ("focal", np.ones((2, 3)), {"gamma": 0.0, "alpha": SUBNORMAL, "binary": True}),
        ("focal", np.zeros((2, 3)), {"gamma": 0.0, "smoothing": SUBNORMAL, "binary": True}),
    ],
)
def test_tf_keras_flushes_subnormal_weights_labels_and_alpha(
    command: Command, labels: np.ndarray, options: dict[str, Any]
) -> None:
    """A subnormal sample weight, smoothed label or α meets an infinite loss (a -inf logit)."""
    if not installed("tf-keras"):
        pytest.skip("tf-keras is not installed (see README.md, Set-up: the framework tests)")
    problem = make_problem(
        command, labels, MASKED, logits=True, options={"reduction": "mean", **options}
    )
    reproduction = reproduce("tf-keras", problem)
    real = run("tf-keras", reproduction.call)
    assert np.isnan(real), reproduction.call
    assert np.isnan(reproduction.value)
