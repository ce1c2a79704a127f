"""Every accepted syntax, and every InputError with its location."""

from __future__ import annotations

import io

import numpy as np
import pytest

from cecli.inputs import (
    InputError,
    as_predictions,
    as_targets,
    parse_class_names,
    parse_matrix,
    parse_vector,
    read_argument,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,0,0", [[1, 0, 0]]),
        ("[1 0 0]", [[1, 0, 0]]),
        ("(1, 0, 0)", [[1, 0, 0]]),
        ("0.1, 0.5 0.4", [[0.1, 0.5, 0.4]]),
        ("1,0;0,1", [[1, 0], [0, 1]]),
        ("[1,0];[0,1]", [[1, 0], [0, 1]]),
        ("[[1,0],[0,1]]", [[1, 0], [0, 1]]),
        ("[[0.2 0.8]\n [0.5 0.5]]", [[0.2, 0.8], [0.5, 0.5]]),
        ("0;2;1", [[0], [2], [1]]),
        ("1,0\n0,1\n", [[1, 0], [0, 1]]),
        ("-1.2,0.3,2", [[-1.2, 0.3, 2]]),
        ("1e-3 2E2", [[1e-3, 200]]),
        ("7", [[7]]),
    ],
)
def test_parse_matrix_accepts(text: str, expected: list[list[float]]) -> None:
    assert parse_matrix(text, "PREDS").tolist() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "PREDS is empty"),
        ("   ", "PREDS is empty"),
        ("0.1,abc", "PREDS row 1, value 2: 'abc' is not a number"),
        ("0.1,0.9;0.5,x", "PREDS row 2, value 2: 'x' is not a number"),
        ("1,,0", "PREDS row 1, value 2 is empty"),
        ("1,0;0", "PREDS row 2 has 1 value, but row 1 has 2 values"),
        ("nan,1", "PREDS row 1, value 1: 'nan' is not a finite number"),
        ("1,inf", "PREDS row 1, value 2: 'inf' is not a finite number"),
        ("[[1,0],[0,1]", "PREDS: cannot read the brackets"),
        ("[[1,0] x [0,1]]", "PREDS: cannot read the brackets"),
        ("1,0;;", None),
    ],
)
def test_parse_matrix_errors(text: str, message: str | None) -> None:
    if message is None:
        assert parse_matrix(text, "PREDS").tolist() == [[1, 0]]
        return
    with pytest.raises(InputError) as raised:
        parse_matrix(text, "PREDS")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_class_names_stand_for_indices() -> None:
    names = parse_class_names("setosa,versicolor,virginica")
    assert parse_matrix("virginica;setosa", "LABELS", class_names=names).tolist() == [[2], [0]]


def test_unknown_class_name() -> None:
    with pytest.raises(InputError, match="'rose' is not a number nor one of the classes"):
        parse_matrix("rose", "LABELS", class_names=("a", "b"))


def test_duplicate_class_names() -> None:
    with pytest.raises(InputError, match="more than once"):
        parse_class_names("a,b,a")


def test_read_argument_reads_stdin_only_for_dash() -> None:
    assert read_argument("1,0", io.StringIO("ignored")) == "1,0"
    assert read_argument("-", io.StringIO("0.2,0.8\n")) == "0.2,0.8\n"


def test_parse_vector_takes_one_row() -> None:
    assert parse_vector("1,2,3", "--weights").tolist() == [1, 2, 3]
    with pytest.raises(InputError, match="--weights takes one row"):
        parse_vector("1;2", "--weights")


def test_probabilities_outside_0_1_are_rejected_with_position() -> None:
    with pytest.raises(
        InputError, match=r"PREDS row 2, value 1: 1.5 is not a probability in \[0, 1\]"
    ):
        as_predictions(np.array([[0.5, 0.5], [1.5, -0.5]]), logits=False)
    assert as_predictions(np.array([[1.5, -0.5]]), logits=True).tolist() == [[1.5, -0.5]]


def test_non_finite_arrays_are_rejected() -> None:
    with pytest.raises(InputError, match="PREDS row 1, value 2: nan is not a finite number"):
        as_predictions([0.5, float("nan")], logits=True)


def test_one_value_per_row_is_a_class_index() -> None:
    preds = np.full((3, 3), 1 / 3)
    targets, indices = as_targets(np.array([[0], [2], [1]]), preds, allow_indices=True)
    assert indices is not None
    assert indices.tolist() == [0, 2, 1]
    assert targets.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]


def test_indices_in_one_row_suggest_semicolons() -> None:
    preds = np.full((3, 3), 1 / 3)
    with pytest.raises(InputError) as raised:
        as_targets(np.array([[0, 2, 1]]), preds, allow_indices=True)
    assert "LABELS has 1 row of 3 values but PREDS has 3 rows of 3 values" in str(raised.value)
    assert '"0;2;1"' in str(raised.value)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([[-1]], "LABELS row 1: class index -1 is out of range 0 to 2"),
        ([[3]], "LABELS row 1: class index 3 is out of range 0 to 2"),
        ([[1.5]], "LABELS row 1: 1.5 is not a class index (0 to 2)"),
    ],
)
def test_bad_class_indices(labels: list[list[float]], message: str) -> None:
    with pytest.raises(InputError) as raised:
        as_targets(np.array(labels), np.full((1, 3), 1 / 3), allow_indices=True)
    assert str(raised.value) == message


def test_indices_not_allowed_where_labels_are_per_class() -> None:
    with pytest.raises(InputError, match=r"expected 1 row of 3 values$"):
        as_targets(np.array([[1]]), np.full((1, 3), 1 / 3), allow_indices=False)


def test_numpy_style_1d_labels_are_indices_against_a_2d_batch() -> None:
    _, indices = as_targets(np.array([2, 0]), np.full((2, 3), 1 / 3), allow_indices=True)
    assert indices is not None
    assert indices.tolist() == [2, 0]


def test_labels_outside_0_1_are_rejected() -> None:
    with pytest.raises(InputError, match="LABELS row 1, value 1: 2 is not a probability"):
        as_targets(np.array([[2.0, 0.0]]), np.array([[0.5, 0.5]]), allow_indices=True)
