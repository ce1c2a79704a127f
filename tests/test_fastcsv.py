"""The C reader of plain all-number CSV blocks (``cecli/_fastcsv.c``).

Its values against Python's ``float`` (correctly rounded, and written independently of it),
what it accepts against the number grammar and polars, and whole runs of cecli with it and
without it: the same exit code, output and messages, byte for byte, on generated and on
damaged files cut into many blocks.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cecli.files
import cecli.plain_csv
from cecli.files import FAST_READER, FastReader
from cecli.inputs import NUMBER_BODY
from tests.fuzz.malformed import LOSS_COMMANDS, _options, _table, file_case
from tests.helpers import run

NUMBER = re.compile(NUMBER_BODY)


def _read(data: bytes, columns: int, separator: str = ",") -> np.ndarray | None:
    """The block as columns × rows, or None where the C reader refuses it."""
    assert FAST_READER is not None
    rows = data.count(b"\n") + (not data.endswith(b"\n"))
    assert FAST_READER.line_breaks(data) == data.count(b"\n")
    out = np.full((columns, rows), np.nan)
    read = FAST_READER.parse_floats(data, out, separator, columns, rows)
    assert read == -1 or read == rows, read
    return out if read == rows else None


def test_the_extension_is_built() -> None:
    # Without a C compiler the install skips it and polars reads every block, with the same
    # results; here, where the tests run, it must have been built, or nothing below is tested.
    assert FAST_READER is not None


@pytest.mark.parametrize(
    "field",
    ["0", "-0", "+0", "0.0", "00.50", ".5", "5.", "-.25", "1e5", "1E-5", "2.5e+3", "0e999",
     "0.01640166", "0.89615189", "1", "9007199254740992", "0.1", "0.3", "123456.789",
     "1e22", "1e-22", "4.940656458412465", "9007199254740991", "0.0000000000000001",
     "12345678", "1234567812345678", "-87654321.25"],  # 8 digits at once, first byte first
)  # fmt: skip
def test_a_plain_number_is_read_as_python_reads_it(field: str) -> None:
    out = _read(f"{field},{field}\n".encode(), 2)
    assert out is not None
    for value in out[:, 0]:
        assert value.tobytes() == np.float64(float(field)).tobytes()  # -0.0 stays -0.0


@pytest.mark.parametrize(
    ("block", "why"),
    [
        (b"1,2\n\n3,4\n", "an empty line"),
        (b"1,\n", "an empty field"),
        (b"1,2,3\n", "a field too many"),
        (b"1\n", "a field too few"),
        (b'1,"2"\n', "a quote"),
        (b"1, 2\n", "a space"),
        (b"1,2\r\n", "a carriage return"),
        (b"1,nan\n", "nan"),
        (b"1,inf\n", "inf"),
        (b"1,1e\n", "an exponent without digits"),
        (b"1,.\n", "a point alone"),
        (b"1,-\n", "a sign alone"),
        (b"1,1.2.3\n", "two points"),
        (b"1,0x10\n", "hexadecimal"),
        (b"1,1_000\n", "an underscore"),
        (b"1,\xd9\xa1\n", "another script's digit"),
        (b"1,2\x00\n", "a NUL byte"),
        (b"1,9007199254740993\n", "more than 2^53"),
        (b"1,12345678901234567890\n", "twenty digits"),
        (b"1,0.00000000000000000001\n", "twenty digits with the zeros"),
        (b"1,1e23\n", "10^23 is not exact"),
        (b"1,1e-23\n", "nor 10^-23"),
        (b"1,1e99999999999\n", "a huge exponent"),
    ],
)
def test_anything_else_refuses_the_block(block: bytes, why: str) -> None:
    assert _read(block, 2) is None, why


def test_the_last_record_may_lack_its_line_break() -> None:
    out = _read(b"1,2\n3,4", 2)
    assert out is not None
    assert out.tolist() == [[1.0, 3.0], [2.0, 4.0]]


def test_a_separator_that_can_be_part_of_a_number_is_refused_by_the_caller() -> None:
    assert FAST_READER is not None
    with pytest.raises(ValueError, match="separator"):
        FAST_READER.parse_floats(b"1.2\n", np.empty((2, 1)), ".", 2, 1)
    assert cecli.files._plain_numbers(b"1.2\n", 2, ".") is None


def test_a_nul_delimiter_is_read_by_polars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A Source takes "\\0" as its delimiter, which parse_floats refuses with a ValueError:
    # _plain_numbers must not hand it over, or the run ends in that ValueError.
    path = tmp_path / "nul.csv"
    path.write_bytes(b"label\0p0\0p1\n" + b"0\x000.25\x000.75\n1\x000.5\x000.5\n" * 50)
    monkeypatch.setattr(cecli.plain_csv, "PLAIN_CSV_BYTES", -1)
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 256)
    assert cecli.files._plain_numbers(b"0\x000.5\n", 2, "\0") is None
    fast = cecli.score_file(str(path), "ce", delimiter="\0")
    monkeypatch.setattr(cecli.files, "FAST_READER", None)
    slow = cecli.score_file(str(path), "ce", delimiter="\0")
    assert fast.rows == slow.rows == 100
    assert fast.loss == slow.loss


def test_out_must_fit_columns_and_rows() -> None:
    assert FAST_READER is not None
    with pytest.raises(ValueError, match="out must hold"):
        FAST_READER.parse_floats(b"1,2\n", np.empty((2, 2)), ",", 2, 1)


@pytest.mark.parametrize(
    ("data", "columns", "rows", "size"),
    [
        (b"1,2,3,4\n", 4, 2**62, 0),  # 4 × 2^62 × 8 bytes is 0 modulo 2^64
        (b"1,2,3\n", 2**61 + 1, 1, 1),  # (2^61 + 1) × 8 bytes is 8 modulo 2^64
    ],
)
def test_a_size_that_overflows_is_refused(data: bytes, columns: int, rows: int, size: int) -> None:
    # columns × rows × 8 wrapped around to the size of a small buffer, and the reader then
    # wrote past its end (a crash, or memory overwritten).
    assert FAST_READER is not None
    with pytest.raises(ValueError, match="out must hold"):
        FAST_READER.parse_floats(data, np.empty(size), ",", columns, rows)


def test_out_must_be_aligned_for_float64() -> None:
    # Storing a double at an odd address is undefined behaviour in C (UBSan reports it).
    assert FAST_READER is not None
    misaligned = np.frombuffer(bytearray(17), dtype=np.uint8)[1:].view(np.float64)
    assert not misaligned.flags.aligned
    with pytest.raises(ValueError, match="aligned"):
        FAST_READER.parse_floats(b"1,2\n", misaligned, ",", 2, 1)


@pytest.mark.parametrize(
    "out",
    [
        np.zeros(2, dtype=">f8"),  # float64 of the other byte order
        np.zeros(2, dtype=np.int64),
        np.zeros(4, dtype=np.float32),
        bytearray(16),
    ],
    ids=["big-endian", "int64", "float32", "bytes"],
)
def test_out_must_be_float64_of_this_machine(out: np.ndarray | bytearray) -> None:
    # A buffer of the right size but of other items would be given bit patterns that mean
    # something else to its owner.
    assert FAST_READER is not None
    with pytest.raises(TypeError, match="float64"):
        FAST_READER.parse_floats(b"1,2\n", out, ",", 2, 1)  # type: ignore[arg-type]
    assert not np.asarray(out).any()  # nothing written


DIGITS = st.text("0123456789", min_size=0, max_size=22)
FIELDS = st.builds(
    lambda sign, whole, point, fraction, exponent: sign + whole + point + fraction + exponent,
    st.sampled_from(["", "-", "+"]),
    DIGITS,
    st.sampled_from(["", "."]),
    DIGITS,
    st.sampled_from(["", "e", "E"]).flatmap(
        lambda e: (
            st.just("")
            if not e
            else st.builds(lambda s, d: e + s + d, st.sampled_from(["", "-", "+"]), DIGITS)
        )
    ),
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(FIELDS, min_size=1, max_size=6))
def test_accepted_fields_are_numbers_read_exactly(fields: list[str]) -> None:
    out = _read((",".join(fields) + "\n").encode(), len(fields))
    if out is None:
        return
    for field, value in zip(fields, out[:, 0], strict=True):
        assert NUMBER.fullmatch(field), field
        assert value.tobytes() == np.float64(float(field)).tobytes(), field


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 2**53), st.integers(-22, 22), st.sampled_from(["", "-"]))
def test_short_numbers_are_always_accepted(mantissa: int, scale: int, sign: str) -> None:
    # Up to 2^53 and 10^±22 (here written with an exponent): the form the fast path is for.
    field = f"{sign}{mantissa}e{scale}"
    out = _read(f"{field}\n".encode(), 1)
    assert out is not None, field
    assert out[0, 0].tobytes() == np.float64(float(field)).tobytes()


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(st.sampled_from(list('0123456789.,-+eE \n\r"x\x00é')), min_size=1, max_size=60),
    st.integers(1, 4),
)
def test_an_accepted_block_is_what_polars_reads(characters: list[str], columns: int) -> None:
    data = "".join(characters).encode()
    out = _read(data, columns)
    if out is None:
        return
    names = [f"c{i}" for i in range(columns)]
    frame = pl.read_csv(
        data, has_header=False, new_columns=names, schema=dict.fromkeys(names, pl.Float64())
    )
    assert frame.height == out.shape[1]
    for position, name in enumerate(names):
        column = frame.get_column(name)
        assert column.null_count() == 0
        assert column.to_numpy().tobytes() == out[position].tobytes()


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """What each call of the C reader returns from now on (records read, or -1), in a list."""
    assert FAST_READER is not None
    parse, calls = FAST_READER.parse_floats, []

    def counted(data: bytes, out: np.ndarray, separator: str, columns: int, rows: int) -> int:
        read = parse(data, out, separator, columns, rows)
        calls.append(read)
        return read

    monkeypatch.setattr(cecli.files, "FAST_READER", FastReader(counted, FAST_READER.line_breaks))
    return calls


def _with_and_without(
    monkeypatch: pytest.MonkeyPatch, folder: Path, args: list[str], stdin: bytes | None = None
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """``cecli ARGS`` read in blocks of 256 bytes with polars (never the small files' reader),
    with the C reader and without it."""
    monkeypatch.chdir(folder)
    monkeypatch.setattr(cecli.plain_csv, "PLAIN_CSV_BYTES", -1)
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 256)
    fast = run(*args, input=stdin)
    with monkeypatch.context() as patched:
        patched.setattr(cecli.files, "FAST_READER", None)
        slow = run(*args, input=stdin)
    return fast, slow


@pytest.mark.parametrize("index", range(80))
def test_damaged_files_read_the_same_with_and_without_it(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = file_case(11, index, large_share=0.0)
    (tmp_path / case.name).write_bytes(case.content)
    fast, slow = _with_and_without(monkeypatch, tmp_path, case.args, case.stdin)
    assert fast == slow, case.reproducer()


@pytest.mark.parametrize("index", range(80))
def test_generated_files_read_the_same_with_and_without_it(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(f"fastcsv:{index}")
    command = rng.choice(LOSS_COMMANDS)
    logits = rng.random() < 0.2 and command != "kl"
    table = _table(rng, command, rng.choice((5, 40, 400)), logits)
    lines = [",".join(table.header), *(",".join(row) for row in table.rows)]
    if rng.random() < 0.3:  # a few blocks that the C reader refuses among those it reads
        for _ in range(3):
            row = rng.randrange(1, len(lines))
            lines[row] = lines[row].replace(",", ', "', 1) + '"' if rng.random() < 0.5 else ""
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    args = [command, "--csv", "data.csv", *_options(rng, table, command, logits)]
    fast, slow = _with_and_without(monkeypatch, tmp_path, args)
    assert fast == slow, " ".join(args)


def test_the_c_reader_reads_the_blocks_of_a_plain_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not only equal: the plain blocks must have come from the C reader.
    calls = _count_reads(monkeypatch)
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(3), 2000).round(6)
    labels = rng.integers(0, 3, 2000)
    text = "label,p0,p1,p2\n" + "".join(
        f"{label},{a},{b},{c}\n" for label, (a, b, c) in zip(labels, probs, strict=True)
    )
    (tmp_path / "data.csv").write_text(text)
    fast, slow = _with_and_without(monkeypatch, tmp_path, ["ce", "--csv", "data.csv", "--json"])
    assert fast == slow
    assert fast[0] == 0, fast[2]
    assert len(calls) > 100
    assert all(read > 0 for read in calls)


@pytest.mark.parametrize(
    "args",
    [
        ["ce", "--label-col", "label", "--weight-col", "w", "--json"],
        ["ce", "--label-col", "label", "--pred-cols", "p2,p0,p1", "--weight-col", "w", "-q"],
        ["grad", "--label-col", "label", "--probs", "--reduction", "none", "--json"],
        ["ce", "--label-col", "label", "--weight-col", "w", "--by", "p1", "--json"],
        ["ce", "--label-col", "label", "--per-class", "--top-k", "2", "--json"],
        ["focal", "--label-col", "label", "--weight-col", "w", "-q"],
    ],
    ids=["weights", "pred-order", "grad-rows", "by-a-number-column", "per-class", "focal"],
)
def test_columns_in_any_order_read_the_same_with_and_without_it(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The C reader's blocks become batches of views of its columns: the selected columns
    # are found among all of the file's, in the file's order, not the batch's.  Every
    # column is selected (the weight column is there only when it is used), or polars
    # would read every block.
    rng = np.random.default_rng(9)
    probs = rng.dirichlet(np.ones(3), 700).round(4)
    labels = rng.integers(0, 3, 700)
    weights = rng.integers(0, 4, 700) / 2
    weighted = "--weight-col" in args
    text = ("p1,w,label,p2,p0\n" if weighted else "p1,label,p2,p0\n") + "".join(
        f"{b},{w},{label},{c},{a}\n" if weighted else f"{b},{label},{c},{a}\n"
        for label, (a, b, c), w in zip(labels, probs, weights, strict=True)
    )
    (tmp_path / "data.csv").write_text(text)
    calls = _count_reads(monkeypatch)
    fast, slow = _with_and_without(monkeypatch, tmp_path, [*args, "--csv", "data.csv"])
    assert fast == slow
    assert fast[0] == 0, fast[2]
    assert any(read > 0 for read in calls)  # the C reader read blocks of the file


@pytest.mark.parametrize(
    "args",
    [
        ["ce", "--normalize", "--reduction", "none", "--json"],
        ["ce", "--normalize", "--json"],
        ["ce", "--normalize", "--by", "p8", "--json"],
    ],
    ids=["rows", "summary", "by"],
)
def test_rows_of_eight_or_more_classes_add_up_the_same_with_and_without_it(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The order a row's terms are summed in follows the arrays' layout: polars' arrays are
    # copied into rows, and the C reader's read-only views of its columns were not, so with
    # 8 classes or more a row's loss came out a last bit away from polars' (per row, and in
    # the mean: 1.1548117127782858 for 1.1548117127782855).
    rng = np.random.default_rng(1)
    classes, rows = 12, 300
    # One-hot targets; predictions of 4 decimals, which do not quite sum to 1, renormalised.
    preds = rng.dirichlet(np.ones(classes), rows).round(4)
    targets = np.eye(classes, dtype=int)[rng.integers(0, classes, rows)]
    header = [*(f"y{c}" for c in range(classes)), *(f"p{c}" for c in range(classes))]
    records = [
        ",".join([*map(str, target), *(repr(float(v)) for v in pred)])
        for target, pred in zip(targets, preds, strict=True)
    ]
    (tmp_path / "data.csv").write_text("\n".join([",".join(header), *records, ""]))
    fast, slow = _with_and_without(monkeypatch, tmp_path, [*args, "--csv", "data.csv"])
    assert fast[0] == 0, fast[2]
    assert fast == slow


def test_a_plain_file_is_scored_without_importing_polars(tmp_path: Path) -> None:
    # Importing polars is a fifth of the time a million rows take; a file whose every block
    # the C reader reads does not need it.
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), 40_000).round(8)
    text = "label,p0,p1,p2,p3\n" + "".join(
        f"{rng.integers(0, 4)},{a},{b},{c},{d}\n" for a, b, c, d in probs
    )
    path = tmp_path / "data.csv"
    path.write_text(text)
    assert path.stat().st_size > cecli.plain_csv.PLAIN_CSV_BYTES
    code = (
        "import sys\n"
        "from cecli.cli import main\n"
        f"code = main(['ce', '--csv', {str(path)!r}, '-q'])\n"
        "print(code, 'polars' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stderr == "0 False\n"
    expected = pl.read_csv(path)
    picked = expected.to_numpy()[np.arange(expected.height), expected["label"].to_numpy() + 1]
    assert float(result.stdout) == pytest.approx(float(-np.log(picked).mean()), rel=1e-12)


@pytest.mark.parametrize("data", [b"", b"\n", b"a\nb", b"1,2\n3,4\n", b"\n" * 1000 + b"x"])
def test_line_breaks_are_counted_alike_with_and_without_it(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_it = cecli.files.line_breaks(data)
    monkeypatch.setattr(cecli.files, "FAST_READER", None)
    assert with_it == cecli.files.line_breaks(data) == data.count(b"\n")
