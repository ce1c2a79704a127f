"""A small, plain CSV file read without polars: what a four-row file costs is start-up.

Importing polars takes longer (0.15 to 0.25 s) than scoring a file of a few thousand rows
in Python, so a file of at most :data:`PLAIN_CSV_BYTES` is first tried here.  Only a *plain*
file is read this way: UTF-8 text, no quote character, no carriage return other than in a
CRLF line end, no empty line, every record with the header's number of fields, every field
that must be a number a number by the grammar of typed values (``cecli.inputs.NUMBER_BODY``),
and no group or kept column that is also read as a number.  On such a file the CSV readers
agree on every field, and both parse decimal text to the correctly rounded float64, so the
rows are the ones polars would give, to the last bit (``tests/test_plain_csv.py`` compares
the two readers on generated and fuzzed files).  Anything else, a bad value included, goes
to the polars reader, which reports it with its place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cecli.inputs import NUMBER_BODY

if TYPE_CHECKING:
    from cecli.files import Batch, Columns, KeyColumn, Reading

PLAIN_CSV_BYTES = 1 << 20
"""The largest file tried without polars (about 9,000 rows of ten probabilities).  Measured as
whole processes, the plain reader took 0.62× the polars reader's time on a 256 KiB file and
0.84× on a 1 MiB one: below that size, polars' import costs more than Python's parsing."""

_SPACES = " \t"
_NUMBER = re.compile(rf"[ \t]*{NUMBER_BODY}[ \t]*")


@dataclass(frozen=True, eq=False)
class PlainCsv:
    """A plain file's header and records, split into fields."""

    names: list[str]
    records: list[list[str]]


def read_plain(path: Path, separator: str, size: int) -> PlainCsv | None:
    """The file split into header names and records, if it is small and plain (else None)."""
    if size > PLAIN_CSV_BYTES:
        return None
    data = path.read_bytes()
    if b'"' in data or b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        if "\r" in text.replace("\r\n", "\n"):
            return None  # a carriage return inside a line: polars ends a record there
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the line break that ends the last record
    if not lines or "" in lines:
        return None  # empty lines are not records: the polars reader tells them apart
    names = header_names(lines[0], separator)
    if names is None:
        return None
    width = len(names)
    records = [line.split(separator) for line in lines[1:]]
    if any(len(record) != width for record in records):
        return None
    return PlainCsv(names, records)


def header_names(line: str, separator: str) -> list[str] | None:
    """A header line's names, spaces and tabs around them stripped, if every name is given
    once (None otherwise: the polars reader refuses such a header, with its reason)."""
    names = [name.strip(_SPACES) for name in line.split(separator)]
    if "" in names or len(set(names)) != len(names):
        return None
    return names


def plain_batches(
    plain: PlainCsv, columns: Columns, reading: Reading, first_line: int
) -> list[Batch] | None:
    """The whole file as one batch of the selected columns (none without records), or None
    if a field is not plain."""
    from cecli.files import Batch

    if not plain.records:
        return []
    position = {name: number for number, name in enumerate(plain.names)}
    records = plain.records
    numeric = set(reading.numbers)
    if reading.label is not None:
        numeric.add(reading.label)
    if any(name in numeric for name in (*columns.group_by, *columns.keep, columns.identifier)):
        return None  # polars writes such keys from their float value: left to it

    def numbers(name: str) -> list[float] | None:
        at = position[name]
        fields = [record[at] for record in records]
        if name == reading.label:
            return _labels(fields, reading)
        if not all(_NUMBER.fullmatch(field) for field in fields):
            return None
        return [float(field) for field in fields]

    def matrix(names: Sequence[str]) -> np.ndarray | None:
        found = []
        for name in names:
            values = numbers(name)
            if values is None:
                return None
            found.append(values)
        block = np.array(found, dtype=np.float64).T if found else np.zeros((len(records), 0))
        return np.ascontiguousarray(block.reshape(len(records), len(names)))

    labels, preds = matrix(columns.labels), matrix(columns.preds)
    if labels is None or preds is None:
        return None
    weights = None
    if columns.weight is not None:
        weight = matrix([columns.weight])
        if weight is None:
            return None
        weights = weight[:, 0].copy()
    ids = None
    if columns.identifier is not None:
        at = position[columns.identifier]
        ids = [record[at] for record in records]
    keys = [_key_column([r[position[name]] for r in records]) for name in columns.group_by]
    kept = [_key_column([r[position[name]] for r in records]) for name in columns.keep]
    lines = np.arange(first_line, first_line + len(records))
    return [Batch(labels, preds, weights, ids, lines, None, keys or None, kept or None)]


def _labels(fields: list[str], reading: Reading) -> list[float] | None:
    """A label column's fields as class indices: a number, or a class name's index, in the
    order :meth:`cecli.files.Reading.label_values` tries them."""
    index = {name: float(number) for number, name in enumerate(reading.names)}
    values: list[float] = []
    for field in fields:
        number = float(field) if _NUMBER.fullmatch(field) else None
        named = index.get(field.strip(_SPACES))
        if reading.label_as_text or reading.names_first:
            value = named if named is not None else number
        else:
            value = number if number is not None else named
        if value is None:
            return None
        values.append(value)
    return values


def _key_column(fields: list[str]) -> KeyColumn:
    """Text values coded in order of first appearance (as the polars reader codes them)."""
    from cecli.files import KeyColumn

    codes: dict[str, int] = {}
    numbered = [codes.setdefault(field, len(codes)) for field in fields]
    return KeyColumn(np.array(numbered, dtype=np.uint32), tuple(codes))
