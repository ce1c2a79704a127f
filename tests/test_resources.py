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
    body = b"".join(pieces)
    check_blocks(body, cut_blocks(body, chunk, search, separator), separator.encode())


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
        body = lines[:position] + b'"' + lines[position:]
        check_blocks(body, cut_blocks(body, chunk, 8))


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
