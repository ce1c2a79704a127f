"""Text and arrays in, validated float64 matrices out.

Two layers, both raising :class:`InputError` with a message that names the argument and the
row and position (1-based, as a person counts):

* ``parse_matrix`` turns what a user types — ``1,0,0``, ``"[1 0 0]"``, ``"1,0;0,1"``,
  ``"[[1,0],[0,1]]"``, class names, ``-`` for standard input — into a 2-D array, one row per
  example.  It knows nothing about losses.
* ``as_predictions``/``as_targets``/``as_distributions`` check arrays against what a loss
  needs (finite values, probabilities in [0, 1], matching shapes, class indices in range);
  the Python API and the CLI share them.
"""

from __future__ import annotations

import collections
import math
import numbers
import re
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

import numpy as np
import numpy.typing as npt

from cecli.numerics import FloatArray

IntArray = npt.NDArray[np.intp]


class InputError(ValueError):
    """Input that cannot be scored; ``str(error)`` is one line saying what and where.

    ``parameter`` is the keyword argument the message names (``eps``, ``class_names``…), as a
    Python caller writes it; the command line says the same with the option's name instead.
    A message that names several parameters, or one among words that could be taken for one
    (a column called ``by``), is given a tuple: each mention, in the order the message makes
    them (``("label_col", "label_cols")`` for "use either label_col or label_cols, not
    both").  ``parameter`` is then the first of them, and ``mentions`` the tuple.
    """

    def __init__(self, message: str, *, parameter: str | tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.mentions: tuple[str, ...] | None = None
        """Each mention of a parameter in the message, in order, when given as a tuple."""
        self.parameter: str | None
        if isinstance(parameter, tuple):
            self.mentions = parameter
            self.parameter = parameter[0] if parameter else None
        else:
            self.parameter = parameter

    @property
    def named(self) -> str | tuple[str, ...] | None:
        """What the message names, as :func:`cecli.cli.options.with_flags` takes it."""
        return self.mentions if self.mentions is not None else self.parameter


_NESTED = re.compile(r"^\s*[\[(]\s*[\[(]")
_INNER_GROUP = re.compile(r"[\[(]([^\[\]()]*)[\])]")
_SEPARATOR = re.compile(r"\s*,\s*|\s+")
_ROW_BREAK = re.compile(r"[;\n]")


def read_argument(text: str, stdin: TextIO | None) -> str:
    """The argument itself, or all of standard input when it is ``-``."""
    if text.strip() != "-":
        return text
    if stdin is None:
        raise InputError("'-' reads from standard input, but there is none")
    return stdin.read()


def parse_matrix(
    text: str, name: str, *, class_names: Sequence[str] | None = None, masks: bool = False
) -> FloatArray:
    """Parse one argument into a 2-D float64 array of shape (rows, values).

    A row is numbers split by commas and/or whitespace, optionally in ``[]`` or ``()``.  Rows
    are split by ``;`` or newlines, or given as nested brackets.  With ``class_names``, a value
    may be a class name, which stands for its index; a row of one value (a class label) that
    equals a class name is that class, even if the name reads as a number (``--classes 1,0``).
    With ``masks``, ``-inf`` is read too (a masked logit, a log-probability of 0).
    """
    if not text.strip():
        raise InputError(f"{name} is empty")
    if class_names is not None:
        # A name with brackets or spaces ("[a]", "no tumour") is the class, whole, before
        # anything reads the text as numbers.
        numbered = {label: i for i, label in enumerate(class_names)}
        named_rows = [row.strip() for row in _ROW_BREAK.split(text) if row.strip()]
        if named_rows and all(row in numbered for row in named_rows):
            return np.array([[float(numbered[row])] for row in named_rows], dtype=np.float64)
    if _NESTED.match(text):
        rows = _nested_rows(text, name)
    else:
        rows = [row for row in _ROW_BREAK.split(text) if row.strip()]
        if not rows:
            raise InputError(f"{name} is empty")
    values = [_parse_row(row, name, index, class_names, masks) for index, row in enumerate(rows, 1)]
    width = len(values[0])
    for index, row_values in enumerate(values, 1):
        if len(row_values) != width:
            raise InputError(
                f"{name} row {index} has {_count(len(row_values))}, but row 1 has {_count(width)}"
            )
    return np.array(values, dtype=np.float64)


def _count(values: int) -> str:
    return f"{values} value" if values == 1 else f"{values} values"


def _nested_rows(text: str, name: str) -> list[str]:
    body = text.strip()
    if body[-1] not in "])":
        raise InputError(f"{name}: an opening bracket is never closed")
    inner = body[1:-1]
    rows = _INNER_GROUP.findall(inner)
    leftover = _INNER_GROUP.sub("", inner)
    if leftover.strip(" \t\r\n,;") or not rows:
        raise InputError(
            f"{name}: cannot read the brackets; write rows as [[1,0],[0,1]] or 1,0;0,1"
        )
    return list(rows)


def _parse_row(
    row: str, name: str, row_number: int, class_names: Sequence[str] | None, masks: bool = False
) -> list[float]:
    body = row.strip()
    if body[:1] in "[(" and body[-1:] in "])":
        body = body[1:-1].strip()
    if not body:
        raise InputError(f"{name} row {row_number} is empty")
    tokens = _SEPARATOR.split(body)
    # One value in a row is a class label: a class name first, else an index.  In a row of
    # several values (a target vector) numbers are numbers.
    names_first = len(tokens) == 1
    return [
        _parse_value(
            token, name, row_number, position, class_names, names_first=names_first, masks=masks
        )
        for position, token in enumerate(tokens, 1)
    ]


NUMBER_BODY = (
    r"[+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)
"""The number grammar of typed values and of file fields alike: ASCII decimal and exponent
forms, ``inf``/``infinity``/``nan`` in any case.  Python's ``float`` also takes other scripts'
digits (``١``, ``１``) and underscores (``1_000``), which no CSV reader does: not numbers here."""
_NUMBER = re.compile(rf"[ \t]*{NUMBER_BODY}[ \t]*")


def parse_number(text: str) -> float | None:
    """``text`` as a float if it is a number by the grammar (spaces and tabs around allowed)."""
    return float(text) if _NUMBER.fullmatch(text) else None


def _parse_value(
    token: str,
    name: str,
    row_number: int,
    position: int,
    class_names: Sequence[str] | None,
    *,
    names_first: bool,
    masks: bool = False,
) -> float:
    where = f"{name} row {row_number}, value {position}"
    if not token:
        raise InputError(f"{where} is empty (two separators in a row?)")
    if names_first and class_names is not None and token in class_names:
        # A label equal to a class name is that class, even when the name reads as a number.
        return float(list(class_names).index(token))
    value = parse_number(token)
    if value is None:
        if class_names is not None and token in class_names:
            return float(list(class_names).index(token))
        if class_names is not None:
            known = ", ".join(class_names)
            raise InputError(f"{where}: {token!r} is not a number nor one of the classes {known}")
        raise InputError(
            f"{where}: {token!r} is not a number (class names need class_names)",
            parameter="class_names",
        )
    if not math.isfinite(value) and not (masks and value == -math.inf):
        raise InputError(f"{where}: {token!r} is not a finite number")
    return value


def parse_class_names(text: str) -> tuple[str, ...]:
    """``a,b,c`` (or whitespace-separated, or in one pair of brackets: ``[a b c]``) into
    distinct class names.  Brackets that belong to names are kept: ``[a],b`` names ``[a]``."""
    body = text.strip()
    for opening, closing in ("[]", "()"):
        inner = body[1:-1]
        if body[:1] == opening and body[-1:] == closing and not ({opening, closing} & set(inner)):
            body = inner.strip()
            break
    if not body:
        raise InputError("class_names is empty", parameter="class_names")
    return _distinct_names(tuple(_SEPARATOR.split(body)))


def _distinct_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` if none is empty and none is given twice."""
    if "" in names:
        raise InputError(
            f"class_names: class {names.index('') + 1} has an empty name", parameter="class_names"
        )
    counts = collections.Counter(names)  # one pass: 32,700 names took 10 s with tuple.count
    duplicates = sorted(n for n, count in counts.items() if count > 1)
    if duplicates:
        raise InputError(
            f"class_names names {duplicates[0]!r} more than once", parameter="class_names"
        )
    return names


def parse_vector(text: str, name: str) -> FloatArray:
    """One row of numbers (e.g. ``--weights``) as a 1-D array."""
    matrix = parse_matrix(text, name)
    if matrix.shape[0] != 1:
        raise InputError(f"{name} takes one row of numbers, not {matrix.shape[0]}")
    row: FloatArray = matrix[0]
    return row


# --- checks shared by the Python API and the CLI -------------------------------------------


_NOT_REAL = {"c": "complex numbers", "m": "time spans", "M": "dates", "V": "raw records"}
"""Array kinds NumPy would turn into float64 by dropping part of each value (the imaginary
part) or by counting days or bytes: none of them a probability or a logit."""


def _as_float_array(
    values: npt.ArrayLike, name: str, *, finite: bool = True, kept: bool = True
) -> FloatArray:
    """``values`` as float64, at most 2-D, not empty, and unless ``finite=False`` (the caller
    checks it), finite.

    The array is read-only and never the caller's writeable array: a frozen result holds it
    (``preds``, ``targets``), and it must not change when the caller reuses their own.  With
    ``kept=False`` (per-row values, whose results hold no inputs) the caller's array is used
    as it is: a copy of each batch cost a pass over its memory."""
    kind = getattr(getattr(values, "dtype", None), "kind", None)
    if kind in _NOT_REAL:
        raise InputError(f"{name} holds {_NOT_REAL[kind]}, not real numbers")
    masked = sys.modules.get("numpy.ma")  # not imported: no masked array was made
    if masked is not None and masked.is_masked(values):
        # np.asarray would take the values under the mask as if they were data.
        raise InputError(
            f"{name} has masked values; leave their rows out (or weigh them 0 with sample_weights)"
        )
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"{name} is not an array of numbers ({error})") from None
    if kept and array.flags.writeable:
        # A list's array is new; an ndarray's may be its own memory; other array-likes
        # (pandas, polars) may hand over their own buffers.
        if isinstance(values, np.ndarray):
            shared = np.may_share_memory(array, values)
        else:
            shared = not isinstance(values, (list, tuple))
        if shared:
            array = array.copy()
        array = array.view()
        array.flags.writeable = False
    if array.size == 0:
        raise InputError(f"{name} is empty")
    if array.ndim > 2:
        raise InputError(f"{name} has {array.ndim} dimensions; expected rows × classes")
    # min and max propagate NaN and see ±inf: two passes without temporaries on the good path.
    if finite and not (np.isfinite(array.min()) and np.isfinite(array.max())):
        _raise_not_finite(array, name)
    return array


def _raise_not_finite(array: FloatArray, name: str, *, masks: bool = False) -> NoReturn:
    """Name the first value that is not finite (not -inf either, where ``masks``)."""
    matrix = np.atleast_2d(array)
    bad = np.argwhere(~np.isfinite(matrix) & ~(masks & (matrix == -np.inf)))
    row, col = bad[0]
    value = matrix[row, col]
    raise InputError(f"{name} row {row + 1}, value {col + 1}: {value} is not a finite number")


def check_masked_rows(logits: FloatArray, name: str = "PREDS") -> None:
    """Refuse a row whose every logit is -inf: softmax gives it no class to predict."""
    if not logits.size or float(logits.min()) != -math.inf:
        return
    empty = np.flatnonzero(np.all(logits == -np.inf, axis=1))
    if empty.size:
        raise InputError(
            f"{name} row {int(empty[0]) + 1}: every logit is -inf (masked); softmax needs "
            "one class that is not"
        )


def _first_outside(matrix: FloatArray, low: float, high: float) -> tuple[int, int] | None:
    if matrix.min() >= low and matrix.max() <= high:
        return None
    outside = (matrix < low) | (matrix > high)
    bad = np.argwhere(outside)
    return int(bad[0][0]), int(bad[0][1])


def check_probabilities(
    matrix: FloatArray, name: str, hint: str = "", *, parameter: str | None = None
) -> None:
    """Raise unless every value lies in [0, 1]; ``parameter`` is the one ``hint`` names."""
    outside = _first_outside(matrix, 0.0, 1.0)
    if outside is not None:
        row, col = outside
        raise InputError(
            f"{name} row {row + 1}, value {col + 1}: {matrix[row, col]:g} is not a "
            f"probability in [0, 1]{hint}",
            parameter=parameter,
        )


def as_predictions(preds: npt.ArrayLike, *, logits: bool, name: str = "PREDS") -> FloatArray:
    """PREDS as an (N, C) matrix; probabilities must lie in [0, 1] unless ``logits``.

    A logit of -inf is a mask: its probability is exactly 0 (+inf and nan are refused)."""
    return predictions_with_range(preds, logits=logits, name=name)[0]


def predictions_with_range(
    preds: npt.ArrayLike, *, logits: bool, name: str = "PREDS", kept: bool = True
) -> tuple[FloatArray, float, float]:
    """:func:`as_predictions` with the smallest and the largest value, which decide its checks
    on the good path (each pass over a large batch costs about as much as the logarithms);
    ``kept`` as :func:`_as_float_array` takes it."""
    matrix = np.atleast_2d(_as_float_array(preds, name, finite=False, kept=kept))
    low, high = float(matrix.min()), float(matrix.max())
    masked = logits and low == -math.inf  # min and max are nan if any value is
    if not (math.isfinite(low) or masked) or math.isnan(high) or high == math.inf:
        _raise_not_finite(matrix, name, masks=logits)
    if not logits and not (low >= 0.0 and high <= 1.0):
        check_probabilities(matrix, name, "; for raw scores use logits=True", parameter="logits")
    return matrix, low, high


def _align_labels(labels: FloatArray, preds_shape: tuple[int, int]) -> FloatArray:
    """Give 1-D API labels the row structure NumPy users expect."""
    rows, classes = preds_shape
    if labels.ndim == 0:
        return labels.reshape(1, 1)
    if labels.ndim == 1:
        if rows == 1 and labels.shape[0] == classes:
            return labels.reshape(1, classes)
        return labels.reshape(-1, 1)
    return labels


def as_targets(
    labels: npt.ArrayLike,
    preds: FloatArray,
    *,
    allow_indices: bool,
    name: str = "LABELS",
    preds_name: str = "PREDS",
) -> tuple[FloatArray, IntArray | None]:
    """LABELS as an (N, C) target matrix matching PREDS, and the class indices if given so.

    Labels of PREDS' shape are target distributions (one-hot or soft, each value in [0, 1]).
    With ``allow_indices``, labels with one value per row are class indices in ``0..C-1``.
    1-D arrays from the Python API follow NumPy's convention: with a 2-D PREDS they are one
    index per row.
    """
    array = _as_float_array(labels, name)
    rows, classes = preds.shape
    matrix = array if array.ndim == 2 else _align_labels(array, (rows, classes))
    if matrix.shape == (rows, classes):
        check_probabilities(matrix, name)
        return matrix, None
    if allow_indices and matrix.shape == (rows, 1):
        indices = _class_indices(matrix[:, 0], classes, name)
        targets = np.zeros((rows, classes), dtype=np.float64)
        targets[np.arange(rows), indices] = 1.0
        return targets, indices
    raise InputError(_shape_message(matrix, (rows, classes), allow_indices, name, preds_name))


def as_targets_ignoring(
    labels: npt.ArrayLike, preds: FloatArray, *, ignore_index: int | None, name: str = "LABELS"
) -> tuple[FloatArray, IntArray | None, npt.NDArray[np.bool_]]:
    """As :func:`as_targets` with class indices allowed, where a label equal to
    ``ignore_index`` marks its row as left out: the row's targets are all 0, its index is
    ``ignore_index``, and the returned mask is True there.  ``ignore_index`` needs LABELS
    given as one class index per row."""
    rows, classes = preds.shape
    if ignore_index is None:
        targets, indices = as_targets(labels, preds, allow_indices=True, name=name)
        return targets, indices, np.zeros(rows, dtype=np.bool_)
    check_ignore_index_value(ignore_index)
    array = _as_float_array(labels, name)
    one_per_row = array.size == rows and (array.ndim <= 1 or array.shape[-1] == 1)
    if not one_per_row or (classes == rows == 1 and array.ndim == 2 and array.shape[1] > 1):
        raise InputError(
            f"ignore_index needs {name} as one class index per row", parameter="ignore_index"
        )
    vector = array.reshape(-1)
    ignored = vector == float(ignore_index)
    kept = np.where(ignored, 0.0, vector).reshape(rows, 1)
    targets, indices = as_targets(kept, preds, allow_indices=True, name=name)
    targets[ignored] = 0.0
    if indices is None:  # one class: a label of one value per row is a distribution
        raise InputError("ignore_index needs at least 2 classes", parameter="ignore_index")
    indices[ignored] = int(ignore_index)
    return targets, indices, ignored


def as_log_probabilities(
    labels: npt.ArrayLike, preds: FloatArray, *, name: str = "LABELS"
) -> FloatArray:
    """LABELS given as log-probabilities, of PREDS' shape: each ≤ 0, -inf for probability 0."""
    matrix = np.atleast_2d(_as_float_array(labels, name, finite=False))
    if matrix.shape != preds.shape:
        rows, classes = preds.shape
        raise InputError(
            f"{name} has {_rows(matrix.shape[0])} of {_count(matrix.shape[1])} but PREDS has "
            f"{_rows(rows)} of {_count(classes)}; log targets need one per class"
        )
    bad = np.argwhere(~((matrix <= 0.0) & ~np.isnan(matrix)))
    if bad.size:
        row, col = (int(v) for v in bad[0])
        raise InputError(
            f"{name} row {row + 1}, value {col + 1}: {matrix[row, col]:g} is not a "
            "log-probability (≤ 0, or -inf)",
            parameter="log_targets",
        )
    return matrix


def as_nonnegative(
    values: npt.ArrayLike, name: str, *, like: FloatArray | None = None
) -> FloatArray:
    """An (N, C) matrix of finite values ≥ 0 (unnormalised measures), of ``like``'s shape."""
    matrix = np.atleast_2d(_as_float_array(values, name))
    if like is not None and matrix.shape != like.shape:
        rows, classes = like.shape
        raise InputError(
            f"{name} has {_rows(matrix.shape[0])} of {_count(matrix.shape[1])} but PREDS has "
            f"{_rows(rows)} of {_count(classes)}"
        )
    outside = _first_outside(matrix, 0.0, math.inf)
    if outside is not None:
        row, col = outside
        raise InputError(
            f"{name} row {row + 1}, value {col + 1}: {matrix[row, col]:g} is negative",
            parameter="generalized",
        )
    return matrix


def as_class_indices(
    labels: npt.ArrayLike, preds: FloatArray, *, name: str = "LABELS"
) -> IntArray | None:
    """The class indices if LABELS has one value per row of PREDS (else None, unchecked)."""
    array = _as_float_array(labels, name, kept=False)  # only the indices are kept
    rows, classes = preds.shape
    matrix = array if array.ndim == 2 else _align_labels(array, (rows, classes))
    if classes == 1 or matrix.shape != (rows, 1):
        return None
    return _class_indices(matrix[:, 0], classes, name)


def _class_indices(values: FloatArray, classes: int, name: str) -> IntArray:
    """Whole numbers in 0..C-1 as indices; the first other value is an error."""
    fractional = values != np.floor(values)
    outside = (values < 0) | (values >= classes)
    bad = np.flatnonzero(fractional | outside)
    if bad.size:
        row = int(bad[0])
        value = values[row]
        if fractional[row]:
            raise InputError(
                f"{name} row {row + 1}: {value:g} is not a class index (0 to {classes - 1})"
            )
        raise InputError(
            f"{name} row {row + 1}: class index {value:g} is out of range 0 to {classes - 1}"
        )
    indices: IntArray = values.astype(np.intp)
    return indices


def _shape_message(
    labels: FloatArray, want: tuple[int, int], allow_indices: bool, name: str, preds_name: str
) -> str:
    rows, classes = want
    got_rows, got_values = labels.shape
    expected = f"{_rows(rows)} of {_count(classes)}"
    if allow_indices:
        expected += f", or {_rows(rows)} of one class index"
    message = (
        f"{name} has {_rows(got_rows)} of {_count(got_values)} but {preds_name} has "
        f"{_rows(rows)} of {_count(classes)}; expected {expected}"
    )
    if allow_indices and got_rows == 1 and got_values == rows > 1:
        example = ";".join(f"{value:g}" for value in labels[0])
        message += f" (for one class index per row, separate them with ';': \"{example}\")"
    return message


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count} rows"


def as_distributions(
    preds: FloatArray, *, normalize: bool, name: str = "PREDS"
) -> tuple[FloatArray, tuple[int, ...]]:
    """Rows renormalised to sum to 1 if ``normalize``; the rows that did not sum to 1 (±1e-4)."""
    sums = preds.sum(axis=1)
    # |s − 1| only grows away from 1, so the two extremes decide for every row (NaN fails).
    off: tuple[int, ...] = ()
    if sums.size and not (abs(sums.min() - 1.0) <= 1e-4 and abs(sums.max() - 1.0) <= 1e-4):
        off = tuple(int(i) for i in np.flatnonzero(np.abs(sums - 1.0) > 1e-4))
    if not normalize:
        return preds, off
    if np.any(sums == 0.0):
        row = int(np.flatnonzero(sums == 0.0)[0])
        raise InputError(f"{name} row {row + 1} sums to 0 and cannot be normalised")
    return preds / sums[:, np.newaxis], ()


def class_name_tuple(class_names: Sequence[str] | None) -> tuple[str, ...] | None:
    """``class_names`` as a tuple of strings (not yet counted), or one error naming it."""
    if class_names is None:
        return None
    if isinstance(class_names, str):
        # tuple("cat,dog") is seven one-character names, and tuple("abc") three that fit.
        raise InputError(
            f"class_names takes a list of names, one per class, not the string {class_names!r}",
            parameter="class_names",
        )
    try:
        names = tuple(class_names)
    except TypeError:
        raise InputError(
            f"class_names takes a list of names, one per class, not {class_names!r}",
            parameter="class_names",
        ) from None
    for position, label in enumerate(names, 1):
        if not isinstance(label, str):
            raise InputError(
                f"class_names: class {position} is {label!r}, not a name (a string)",
                parameter="class_names",
            )
    return names


def check_ignore_index_value(ignore_index: object) -> None:
    """Refuse an ``ignore_index`` that is not a whole number within ±2**53 (an index array
    holds it, and a label equal to it is a float)."""
    if (
        not isinstance(ignore_index, numbers.Real)
        or isinstance(ignore_index, bool | np.bool_)
        or not float(ignore_index).is_integer()
    ):
        raise InputError(
            f"ignore_index must be a whole number, got {ignore_index!r}", parameter="ignore_index"
        )
    if abs(float(ignore_index)) > 2**53:
        raise InputError(
            f"ignore_index must be within ±2**53, got {ignore_index!r}", parameter="ignore_index"
        )


def check_class_names(class_names: Sequence[str] | None, classes: int) -> tuple[str, ...] | None:
    """Raise unless there is one distinct, non-empty name (a string) per class."""
    names = class_name_tuple(class_names)
    if names is None:
        return None
    if len(names) != classes:
        raise InputError(
            f"class_names names {len(names)} classes, but PREDS has {classes}",
            parameter="class_names",
        )
    return _distinct_names(names)
