"""The Python API under odd arguments: each gives the definition's value or one InputError
naming the parameter as the library names it, and results stay what they were computed as."""

from __future__ import annotations

import copy
import datetime
import json
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import cecli
from tests import oracle
from tests.helpers import assert_close

PREDS = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
INDICES = [0, 2]


# --- a result does not change after it is returned ------------------------------------------


LOSSES: dict[str, Callable[..., cecli.LossResult]] = {
    "ce": cecli.ce,
    "bce": cecli.bce,
    "multilabel": cecli.multilabel,
    "kl": cecli.kl,
    "grad": cecli.grad,
    "smooth": cecli.smooth,
    "focal": cecli.focal,
}


@pytest.mark.parametrize("loss", list(LOSSES))
def test_a_result_keeps_its_inputs_when_the_callers_arrays_change(loss: str) -> None:
    preds = np.array(PREDS)
    targets = np.array(oracle.one_hot(INDICES, 3))
    result = LOSSES[loss](targets, preds)
    preds_before, targets_before = result.preds.copy(), result.targets.copy()
    preds[:] = 0.5
    targets[:] = 0.0
    assert np.array_equal(result.preds, preds_before)
    assert np.array_equal(result.targets, targets_before)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_a_results_arrays_cannot_be_written(loss: str) -> None:
    result = LOSSES[loss](oracle.one_hot(INDICES, 3), PREDS)
    with pytest.raises(ValueError, match="read-only"):
        result.per_row[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        result.probs[0, 0] = 0.0


def test_a_per_row_loss_cannot_be_written_through_the_loss() -> None:
    result = cecli.ce(INDICES, PREDS, reduction="none")
    assert isinstance(result.loss, np.ndarray)
    with pytest.raises(ValueError, match="read-only"):
        result.loss[1] = 0.0
    _, rows = oracle.ce(oracle.one_hot(INDICES, 3), PREDS)
    assert_close(result.loss, rows)


def test_the_callers_arrays_stay_writeable() -> None:
    preds = np.array(PREDS)
    weights = np.array([1.0, 2.0, 3.0])
    cecli.ce(INDICES, preds, weights=weights)
    assert preds.flags.writeable
    assert weights.flags.writeable
    preds[0, 0] = 0.6  # still the caller's to change


# --- JSON of numbers given as NumPy scalars -------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "options", "key", "value"),
    [
        ("focal", {"gamma": np.float32(2.0)}, "gamma", 2.0),
        ("focal", {"gamma": np.int64(1)}, "gamma", 1.0),
        ("focal", {"alpha": np.float32(0.25)}, "alpha", 0.25),
        ("smooth", {"smoothing": np.float32(0.25)}, "smoothing", 0.25),
        ("smooth", {"smoothing": np.array(0.25)}, "smoothing", 0.25),
    ],
)
def test_json_of_options_given_as_numpy_numbers_is_plain(
    loss: str, options: dict[str, Any], key: str, value: float
) -> None:
    document = LOSSES[loss](INDICES, PREDS, **options).to_json()
    text = json.dumps(document, allow_nan=False)
    assert json.loads(text)[key] == value


def test_focal_with_a_numpy_gamma_has_the_definitions_value() -> None:
    numpy_numbers: dict[str, Any] = {"gamma": np.float32(2.0), "alpha": np.float32(0.25)}
    result = cecli.focal(INDICES, PREDS, **numpy_numbers)
    expected, rows = oracle.focal(oracle.one_hot(INDICES, 3), PREDS, gamma=2.0, alpha=0.25)
    assert_close(result.loss, expected)
    assert_close(result.per_row, rows)


# --- arrays that are not real numbers --------------------------------------------------------


@pytest.mark.parametrize(
    ("preds", "what"),
    [
        (np.array(PREDS, dtype=np.complex128), "complex numbers"),
        (np.array(PREDS, dtype=np.complex64), "complex numbers"),
        (np.array([["2020-01-01", "2020-01-02"]], dtype="datetime64[D]"), "dates"),
        (np.array([[1, 2]], dtype="timedelta64[D]"), "time spans"),
    ],
)
def test_preds_that_are_not_real_numbers_are_refused(preds: Any, what: str) -> None:
    with pytest.raises(cecli.InputError, match=f"^PREDS holds {what}, not real numbers$"):
        cecli.ce([0], preds, logits=True)


def test_labels_of_dates_are_refused() -> None:
    days = np.array([datetime.date(1970, 1, 1), datetime.date(1970, 1, 3)], dtype="datetime64[D]")
    with pytest.raises(cecli.InputError, match=r"^LABELS holds dates"):
        cecli.ce(days, PREDS)


# --- class_names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("class_names", "message"),
    [
        ("abc", "class_names takes a list of names, one per class, not the string 'abc'"),
        ("a,b,c", "class_names takes a list of names, one per class, not the string 'a,b,c'"),
        ([1, 2, 3], "class_names: class 1 is 1, not a name (a string)"),
        (["a", None, "c"], "class_names: class 2 is None, not a name (a string)"),
        (["a", "a", "b"], "class_names names 'a' more than once"),
        (["a", "", "b"], "class_names: class 2 has an empty name"),
        (3, "class_names takes a list of names, one per class, not 3"),
    ],
)
def test_class_names_that_do_not_name_each_class_once_are_refused(
    class_names: Any, message: str
) -> None:
    with pytest.raises(cecli.InputError) as raised:
        cecli.ce(INDICES, PREDS, class_names=class_names)
    assert str(raised.value) == message
    assert raised.value.parameter == "class_names"


def test_class_names_as_a_numpy_array_of_strings_are_names() -> None:
    names: Any = np.array(["a", "b", "c"])
    result = cecli.ce(INDICES, PREDS, class_names=names)
    assert result.class_names == ("a", "b", "c")
    assert json.loads(json.dumps(result.to_json()))["class_names"] == ["a", "b", "c"]


# --- scalar options of the wrong type --------------------------------------------------------


@pytest.mark.parametrize("ignore_index", ["x", [1, 2], None])
def test_an_ignore_index_that_is_not_a_number_names_ignore_index(ignore_index: Any) -> None:
    if ignore_index is None:  # None is "no ignore_index": the plain loss
        expected, _ = oracle.ce(oracle.one_hot(INDICES, 3), PREDS)
        assert_close(cecli.ce(INDICES, PREDS, ignore_index=ignore_index).loss, expected)
        return
    with pytest.raises(cecli.InputError, match=r"^ignore_index must be a whole number") as raised:
        cecli.ce(INDICES, PREDS, ignore_index=ignore_index)
    assert raised.value.parameter == "ignore_index"


@pytest.mark.parametrize(("base", "canonical"), [(2, "2"), (10, "10"), (np.int64(2), "2")])
def test_a_base_given_as_a_number_is_that_base(base: Any, canonical: str) -> None:
    result = cecli.ce(INDICES, PREDS, base=base)
    expected, _ = oracle.ce(oracle.one_hot(INDICES, 3), PREDS, base=canonical)
    assert result.base == canonical
    assert_close(result.loss, expected)


@pytest.mark.parametrize("base", [None, 2.5, True, ["2"]])
def test_a_base_that_is_no_base_names_base(base: Any) -> None:
    with pytest.raises(cecli.InputError, match=r"^base must be e, 2 or 10") as raised:
        cecli.ce(INDICES, PREDS, base=base)
    assert raised.value.parameter == "base"


@pytest.mark.parametrize("library", [None, 3])
def test_like_without_a_library_name_names_library(library: Any) -> None:
    with pytest.raises(cecli.InputError, match=r"^library takes torch") as raised:
        cecli.like("ce", INDICES, PREDS, library=library)
    assert raised.value.parameter == "library"


def test_a_result_keeps_its_class_weights_when_the_callers_array_changes() -> None:
    weights = np.array([1.0, 2.0, 3.0])
    result = cecli.ce(INDICES, PREDS, weights=weights)
    weights[0] = 9.0
    assert result.weights is not None
    assert result.weights.tolist() == [1.0, 2.0, 3.0]
    expected, _ = oracle.ce(oracle.one_hot(INDICES, 3), PREDS, weights=[1.0, 2.0, 3.0])
    assert_close(result.loss, expected)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_a_copied_or_unpickled_result_is_frozen_too(loss: str) -> None:
    result = LOSSES[loss](oracle.one_hot(INDICES, 3), PREDS)
    for copied in (copy.deepcopy(result), pickle.loads(pickle.dumps(result))):
        assert np.array_equal(copied.per_row, result.per_row)
        assert json.dumps(copied.to_json()) == json.dumps(result.to_json())
        with pytest.raises(ValueError, match="read-only"):
            copied.per_row[0] = 0.0


def test_a_masked_array_with_values_masked_is_refused() -> None:
    """np.asarray took the values under the mask as data: the masked label 1 was scored."""
    labels = np.ma.masked_array([0, 1], mask=[False, True])
    with pytest.raises(cecli.InputError, match=r"^LABELS has masked values"):
        cecli.ce(labels, [[0.6, 0.4], [0.3, 0.7]])
    preds = np.ma.masked_array([[0.6, 0.4], [0.3, 0.7]], mask=[[False, False], [True, False]])
    with pytest.raises(cecli.InputError, match=r"^PREDS has masked values"):
        cecli.ce([0, 1], preds)
    unmasked = cecli.ce(np.ma.masked_array([0, 1], mask=[False, False]), [[0.6, 0.4], [0.3, 0.7]])
    assert unmasked.loss == cecli.ce([0, 1], [[0.6, 0.4], [0.3, 0.7]]).loss
