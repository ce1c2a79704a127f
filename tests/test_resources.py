"""Termination and bounded resources: every loop over input makes progress, column handling is
linear in the number of columns, memory stays within its budget, and plot sizes are bounded."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cecli.files
from cecli.cli import main
from cecli.inputs import InputError


def record_ends(body: bytes, separator: bytes = b",") -> list[int]:
    """Where each record ends, read one byte at a time as polars reads a CSV: a quote at the
    start of a field opens it and every further quote in that field toggles; a quote anywhere
    else is an ordinary character."""
    ends = []
    field_start, quoted_field, inside = True, False, False
    for position, byte in enumerate(body):
        character = bytes([byte])
        if field_start:
            field_start = False
            quoted_field = character == b'"'
            if quoted_field:
                inside = True
                continue
        if quoted_field and character == b'"':
            inside = not inside
            continue
        if inside:
            continue
        if character == separator:
            field_start = True
        elif character == b"\n":
            ends.append(position + 1)
            field_start = True
    return ends


def cut_blocks(body: bytes, chunk: int, search: int, separator: str = ",") -> list[bytes]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "r.csv"
        path.write_bytes(b"h\n" + body)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cecli.files, "CHUNK_BYTES", chunk)
            patch.setattr(cecli.files, "_SEARCH_BYTES", search)
            return list(cecli.files._record_blocks(path, separator))


def quote_left_open(body: bytes, separator: bytes = b",") -> bool:
    """Whether the file ends inside a quoted field: with a line break added, its last record
    still does not end."""
    return bool(body) and len(body) + 1 not in set(record_ends(body + b"\n", separator))


def check_cut(body: bytes, chunk: int, search: int, separator: str = ",") -> None:
    """The blocks end at records, or a quote left open at the end is refused."""
    if quote_left_open(body, separator.encode()):
        with pytest.raises(cecli.files.RecordTooLong, match="never closed"):
            cut_blocks(body, chunk, search, separator)
        return
    check_blocks(body, cut_blocks(body, chunk, search, separator), separator.encode())


def check_blocks(body: bytes, blocks: list[bytes], separator: bytes = b",") -> None:
    assert b"".join(blocks) == body
    assert all(blocks)
    ends = set(record_ends(body, separator))
    offset = 0
    for block in blocks[:-1]:
        offset += len(block)
        assert offset in ends, (body, blocks)


_BYTES = st.lists(st.sampled_from([b"a", b"0.5", b",", b";", b'"', b'""', b"\n", b"\r\n"]))


@settings(max_examples=400, deadline=None)
@given(
    pieces=_BYTES,
    chunk=st.integers(1, 64),
    search=st.integers(1, 64),
    separator=st.sampled_from([",", ";"]),
)
def test_blocks_end_at_records_on_any_bytes(
    pieces: list[bytes], chunk: int, search: int, separator: str
) -> None:
    check_cut(b"".join(pieces), chunk, search, separator)


@settings(max_examples=400, deadline=None)
@given(pieces=_BYTES, separator=st.sampled_from([",", ";"]))
def test_record_end_is_the_last_record_polars_would_read(
    pieces: list[bytes], separator: str
) -> None:
    # Both ways of finding the end (counting quotes, and reading fields when a quote is
    # stray) agree with reading one byte at a time.
    data = b"".join(pieces)
    ends = record_ends(data, separator.encode())
    assert cecli.files._record_end(data, len(data), separator) == (ends[-1] if ends else 0)


@pytest.mark.parametrize("chunk", [16, 23, 64])
def test_a_stray_quote_anywhere_near_a_block_boundary(chunk: int) -> None:
    lines = b"".join(b"%d,0.%d,0.5\n" % (i % 2, i % 10) for i in range(30))
    for position in range(len(lines) + 1):
        check_cut(lines[:position] + b'"' + lines[position:], chunk, 8)


def test_a_stray_quote_costs_one_reading_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A quote inside an unquoted field (`0,0.5",0.5`) made the cutter count it as open and
    # read on one line at a time, from the block's start each time, to the end of the file.
    lines = [b"%d,0.%d,0.5" % (i % 2, i % 10) for i in range(5000)]
    lines[5] = b'0,0.5",0.5'
    body = b"\n".join(lines) + b"\n"
    path = tmp_path / "stray.csv"
    path.write_bytes(b"label,p0,p1\n" + body)
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 1024)
    read = 0
    real_pread = os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        nonlocal read
        data = real_pread(fd, length, offset)
        read += len(data)
        if read > 100 * len(body):
            raise AssertionError("the block reader keeps reading the same bytes")
        return data

    monkeypatch.setattr(os, "pread", counting_pread)
    blocks = list(cecli.files._record_blocks(path))
    check_blocks(body, blocks)
    assert len(blocks) > 10  # the stray quote does not swallow the rest of the file
    assert read <= 3 * len(body)


def test_an_unclosed_quote_is_an_error_naming_the_line_and_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 64)
    monkeypatch.setattr(cecli.files, "MAX_RECORD_BYTES", 1024)
    rows = [f"{i % 2},0.{i % 10 + 1},0.5" for i in range(400)]
    rows[6] = '1,"0.5,0.5'
    path = tmp_path / "open.csv"
    path.write_text("label,p0,p1\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"^line 8: a record longer than 1024 bytes, the limit"):
        list(cecli.files._record_blocks(path))
    assert main(["ce", "--csv", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"cecli: error: {path}:8: a record longer than")


class CountedName(str):
    """A column or class name that counts how often it is compared for equality: a lookup in a
    list compares with every name before it, a lookup in a dict or set with one at most."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountedName.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def counted(names: list[str]) -> list[str]:
    CountedName.comparisons = 0
    return [CountedName(name) for name in names]


def test_column_selection_compares_each_column_a_bounded_number_of_times() -> None:
    columns = counted(["label", *(f"z{i}" for i in range(3000))])
    chosen = cecli.files.select_columns(columns, "categorical", pred_cols="z*,z1*,z2999")
    assert list(chosen.preds) == columns[1:]
    assert CountedName.comparisons < 10 * len(columns)


def test_a_table_finds_repeated_columns_and_places_in_linear_time(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("label\n0\n")
    second.write_text("p\n1\n")
    sources = [cecli.files.Source(path, path.name, "csv", ",") for path in (first, second)]
    sources[0].columns = counted(["label", *(f"y{i}" for i in range(3000))])
    sources[1].columns = [CountedName(f"p{i}") for i in range(3000)]
    table = cecli.files.Table(sources)
    places = [sources[1].location(0, name) for name in sources[1].columns]
    assert places[2999] == "b.csv:2:3000"
    assert CountedName.comparisons < 10 * 6000
    sources[1].columns.append(CountedName("y7"))
    # A column in both files may only be the id that matches their rows.
    assert cecli.files.Table(sources).shared == ("y7",)
    with pytest.raises(InputError, match="column 'y7' is in both files"):
        cecli.files.select_columns(["label", "p0", "y7"], "categorical", shared=["y7"])
    assert table.columns[-1] == "p2999"


def test_class_names_are_checked_for_repeats_in_linear_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import re

    import cecli.inputs

    class CountingSeparator:
        def split(self, text: str) -> list[str]:
            return counted(re.split(r"[,\s]+", text))

    monkeypatch.setattr(cecli.inputs, "_SEPARATOR", CountingSeparator())
    names = [f"class {i}".replace(" ", "_") for i in range(3000)]
    assert cecli.inputs.parse_class_names(",".join(names)) == tuple(names)
    assert CountedName.comparisons < 10 * len(names)
    with pytest.raises(InputError, match="'class_17' more than once"):
        cecli.inputs.parse_class_names(",".join([*names, "class_17"]))


def test_a_missing_column_lists_a_bounded_number_of_names() -> None:
    columns = [f"z{i}" for i in range(100_000)]
    with pytest.raises(InputError) as raised:
        cecli.files.select_columns(columns, "categorical", pred_cols="q*", label_cols="z*")
    message = str(raised.value)
    assert message.startswith("pred_cols: no column matches 'q*' (columns: z0, z1,")
    assert message.endswith("z19, … and 99,980 more)")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ce", "--width", "1000000"], "'--width': 1000000 is not in the range 20<=x<=500"),
        (["ce", "--height", "100000"], "'--height': 100000 is not in the range 5<=x<=200"),
        (["smooth", "--num-classes", "1000000"], "'--num-classes': 1000000 is not in the range"),
        (["smooth", "--width", "99999999999999999999"], "'--width': 99999999999999999999 is"),
        (["focal", "--gamma", ",".join(["1"] * 11)], "--gamma: at most 10 values, got 11"),
        (["softmax", ",".join(["1"] * 1001)], "Z: at most 1000 values"),
    ],
)
def test_plot_sizes_are_bounded(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", *arguments]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cecli: error: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    ("logits", "temperature", "expected"),
    [
        # softmax(z / T) → one-hot on the largest logit as T → 0; exact values, no overflow.
        ("2,1,0.1", "1e-320", [1.0, 0.0, 0.0]),
        ("1e308,-1e308", "1", [1.0, 0.0]),
        ("1e308,1e308", "1e-300", [0.5, 0.5]),
    ],
)
def test_softmax_plot_of_extreme_values_is_exact(
    logits: str, temperature: str, expected: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", "softmax", logits, "--temperature", temperature]) == 0
    lines = capsys.readouterr().out.splitlines()[1 : 1 + len(expected)]
    assert [float(line.split()[-1]) for line in lines] == expected


def test_plot_help_names_the_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for bound in ("20<=x<=500", "5<=x<=200", "2<=x<=1000"):
        assert bound in text


def test_two_files_are_zipped_row_by_row_from_pieces_of_any_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    # The files' blocks hold different numbers of rows: 2 bytes per label, 20 per prediction.
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 64)
    monkeypatch.setattr(cecli.files, "BATCH_ROWS", 37)  # batches cut across the files' blocks
    rows = 500
    labels = [i % 3 for i in range(rows)]
    preds = [[(i % 7 + 1) / 10, (i % 5 + 1) / 10, 0.25] for i in range(rows)]
    (tmp_path / "y.csv").write_text("label\n" + "".join(f"{y}\n" for y in labels))
    (tmp_path / "p.csv").write_text(
        "p0,p1,p2\n" + "".join(",".join(f"{v:g}" for v in row) + "\n" for row in preds)
    )
    files = (str(tmp_path / "y.csv"), str(tmp_path / "p.csv"))
    with cecli.files.open_table(*files, kind="csv", delimiter=None, stdin=None) as table:
        chosen = cecli.files.select_columns(table.columns, "categorical")
        batches = list(table.batches(chosen, None))
    assert len(batches) > 5
    assert np.concatenate([b.labels for b in batches]).ravel().tolist() == labels
    assert np.concatenate([b.preds for b in batches]).tolist() == preds
    assert np.concatenate([b.lines for b in batches]).tolist() == list(range(2, rows + 2))


@pytest.mark.parametrize("extra", ["labels", "preds"])
def test_two_files_of_different_lengths_are_an_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: str,
) -> None:
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 16)
    labels, preds = ["0", "1"] * 50, ["0.4,0.6"] * 100
    if extra == "labels":
        labels.append("1")
    else:
        preds.append("0.5,0.5")
    (tmp_path / "y.csv").write_text("label\n" + "\n".join(labels) + "\n")
    (tmp_path / "p.csv").write_text("p0,p1\n" + "\n".join(preds) + "\n")
    code = main(["ce", "--labels", str(tmp_path / "y.csv"), "--preds", str(tmp_path / "p.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "the files have different numbers of rows" in err


def test_a_long_line_in_the_second_file_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Both files are read by the same bounded block reader, with its line-length limit.
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 1024)
    monkeypatch.setattr(cecli.files, "MAX_RECORD_BYTES", 4096)
    (tmp_path / "y.csv").write_text("label\n" + "0\n1\n" * 20)
    long_value = "0." + "5" * 5000
    rows = ["0.4,0.6"] * 40
    rows[30] = f"0.5,{long_value}"
    (tmp_path / "p.csv").write_text("p0,p1\n" + "\n".join(rows) + "\n")
    code = main(["ce", "--labels", str(tmp_path / "y.csv"), "--preds", str(tmp_path / "p.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"cecli: error: {tmp_path / 'p.csv'}:32: a record longer than 4096")


def test_a_parquet_row_group_too_large_to_read_in_memory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import polars as pl

    rows = 20_000
    frame = pl.DataFrame(
        {"label": [i % 2 for i in range(rows)], "p0": [0.25] * rows, "p1": [0.75] * rows}
    )
    frame.write_parquet(tmp_path / "one.parquet", row_group_size=rows)
    frame.write_parquet(tmp_path / "many.parquet", row_group_size=1000)
    # A float64 column of 20,000 rows is 160,000 bytes uncompressed, 1000 rows 8000 bytes.
    monkeypatch.setattr(cecli.files, "MAX_ROW_GROUP_BYTES", 100_000)
    assert main(["ce", "--parquet", str(tmp_path / "many.parquet"), "-q"]) == 0
    capsys.readouterr()
    assert main(["ce", "--parquet", str(tmp_path / "one.parquet"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"cecli: error: {tmp_path / 'one.parquet'}: a row group of 20,000 rows")
    assert "write the file with smaller row groups" in err


def test_the_parquet_footer_reader_counts_the_rows_polars_counts(tmp_path: Path) -> None:
    import polars as pl

    path = tmp_path / "t.parquet"
    pl.DataFrame({"a": list(range(12_345)), "b": ["x"] * 12_345}).write_parquet(
        path, row_group_size=1000
    )
    data = path.read_bytes()
    length = int.from_bytes(data[-8:-4], "little")
    metadata = cecli.files._ThriftCompact(data[-8 - length : -8]).struct()
    groups = metadata[4]
    assert metadata[3] == 12_345
    assert sum(group[3] for group in groups) == 12_345
    assert [b".".join(chunk[3][3]) for chunk in groups[0][1]] == [b"a", b"b"]
