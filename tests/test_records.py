"""Records read from files: one rule per thing.

A record is scored, or skipped and counted with ``--skip-invalid``, or an error; only an empty
line is not a record.  Numbers follow one grammar, typed or in a file; labels one rule; a path
is itself; and a file that cannot be read as written is refused in one line.
"""

from __future__ import annotations

import codecs
import gzip
import json
import math
import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import cecli.files
from cecli.cli import main
from cecli.inputs import parse_matrix, parse_number


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _summary(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = _cli(capsys, *args, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def _error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one error line of a run that must fail on its input."""
    code, out, err = _cli(capsys, *args)
    assert (code, out) == (2, "")
    assert err.startswith("cecli: error: ")
    assert err.count("\n") == 1, err
    return err


def _ce(rows: list[tuple[int, list[float]]]) -> float:
    """Mean cross-entropy of (class index, probabilities) rows, computed here."""
    return math.fsum(-math.log(probs[label]) for label, probs in rows) / len(rows)


GOOD = "label,p0,p1\n0,0.3,0.7\n1,0.4,0.6\n"
GOOD_ROWS = [(0, [0.3, 0.7]), (1, [0.4, 0.6])]


# --- 1. every row is scored, skipped and counted, or an error -----------------------------


@pytest.mark.parametrize("row", ["x,y,z", "NaN,NaN,NaN", "# note,,", ",,", "nan,,"])
def test_a_row_of_no_numbers_is_an_error_not_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(f"label,p0,p1\n0,0.3,0.7\n{row}\n1,0.4,0.6\n")
    assert _error(capsys, "ce", "--csv", str(path)).startswith(f"cecli: error: {path}:3:")
    document = _summary(capsys, "ce", "--csv", str(path), "--skip-invalid")
    assert (document["rows"], document["skipped"], document["blank_lines"]) == (2, 1, 0)
    assert document["loss"] == pytest.approx(_ce(GOOD_ROWS), rel=1e-15)


def test_an_all_null_parquet_row_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.parquet"
    pl.DataFrame(
        {"label": [0, None, 1], "p0": [0.3, None, 0.4], "p1": [0.7, None, 0.6]}
    ).write_parquet(path)
    assert "row 2, column" in _error(capsys, "ce", "--parquet", str(path))
    document = _summary(capsys, "ce", "--parquet", str(path), "--skip-invalid")
    assert (document["rows"], document["skipped"]) == (2, 1)


def test_empty_lines_are_counted_and_leave_the_lines_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.csv"
    path.write_text("label,p0,p1\n\n0,0.3,0.7\n\n\n1,0.4,0.6\n\n")
    document = _summary(capsys, "ce", "--csv", str(path))
    assert (document["rows"], document["skipped"], document["blank_lines"]) == (2, 0, 4)
    assert document["loss"] == pytest.approx(_ce(GOOD_ROWS), rel=1e-15)
    assert sorted(row["line"] for row in document["worst"]) == [3, 6]
    code, table, _ = _cli(capsys, "ce", "--csv", str(path))
    assert code == 0
    assert "blank lines" in table
    clean = tmp_path / "clean.csv"
    clean.write_text(GOOD)
    assert "blank lines" not in _cli(capsys, "ce", "--csv", str(clean))[1]


def test_per_row_output_keeps_every_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.csv"
    path.write_text("label,p0,p1\n0,0.3,0.7\n 1 , 0.4 , 0.6 \n\n1,0.2,0.8\n")
    code, out, err = _cli(capsys, "ce", "--csv", str(path), "--reduction", "none")
    assert code == 0, err
    assert [line.split(",")[0] for line in out.splitlines()] == ["line", "2", "3", "5"]


# --- 2. one number grammar -----------------------------------------------------------------

TOKENS = ["1", "+0.5", ".5", "5.", "1e-1", "1E+0", "0.25", "١", "１", "1_000", "0x1", "1d0", "∞",
          "½", "nan", "inf", "-Infinity"]  # fmt: skip


@pytest.mark.parametrize("token", TOKENS)
def test_typed_and_file_values_follow_one_grammar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], token: str
) -> None:
    try:  # as typed with --logits, where -inf is a mask
        typed: float | None = float(parse_matrix(token, "PREDS", masks=True)[0, 0])
    except ValueError:
        typed = None
    path = tmp_path / "f.csv"
    path.write_text(f'label,p0,p1\n0,"{token}",0.5\n')
    code, out, _ = _cli(capsys, "ce", "--csv", str(path), "--logits", "-q")
    in_file = float(out) if code == 0 else None
    if typed == -math.inf:  # the true class masked
        assert in_file == math.inf
        return
    if typed is None or not math.isfinite(typed):
        assert in_file is None
        return
    expected = -(typed - math.log(math.exp(typed) + math.exp(0.5)))
    assert in_file == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("token", ["١", "１", "1_000", "٣.٥"])
def test_typed_input_takes_ascii_digits_only(
    capsys: pytest.CaptureFixture[str], token: str
) -> None:
    assert "is not a number" in _error(capsys, "ce", "0", f"{token},0.5", "--logits")
    assert parse_number(token) is None


def test_spaces_and_tabs_around_a_number_in_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.csv"
    path.write_text("label,p0,p1\n 0 , 0.3 ,\t0.7\t\n1,0.4 ,0.6\n")
    document = _summary(capsys, "ce", "--csv", str(path))
    assert (document["rows"], document["skipped"]) == (2, 0)
    assert document["loss"] == pytest.approx(_ce(GOOD_ROWS), rel=1e-15)


# --- 3. a path is itself --------------------------------------------------------------------


def test_a_parquet_path_is_not_a_glob(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pl.DataFrame({"label": [0], "p0": [0.3], "p1": [0.7]}).write_parquet(tmp_path / "w1.parquet")
    # No file has this name, so it is a glob (many inputs), which matches w1.parquet.
    matched = _summary(capsys, "ce", "--parquet", str(tmp_path / "w[12].parquet"))
    assert matched["loss"] == pytest.approx(-math.log(0.3), rel=1e-15)
    literal = tmp_path / "w[1].parquet"
    pl.DataFrame({"label": [1], "p0": [0.4], "p1": [0.6]}).write_parquet(literal)
    document = _summary(capsys, "ce", "--parquet", str(literal))
    assert document["loss"] == pytest.approx(-math.log(0.6), rel=1e-15)


def test_a_csv_path_with_brackets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w[1].csv"
    path.write_text(GOOD)
    assert _summary(capsys, "ce", "--csv", str(path))["loss"] == pytest.approx(
        _ce(GOOD_ROWS), rel=1e-15
    )


# --- 4. one label rule ----------------------------------------------------------------------


def test_a_class_name_after_the_first_thousand_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.csv"
    path.write_text("label,p0,p1\n" + "0,0.3,0.7\n" * 1500 + "dog,0.4,0.6\n")
    document = _summary(capsys, "ce", "--csv", str(path), "--classes", "cat,dog")
    rows = [(0, [0.3, 0.7])] * 1500 + [(1, [0.4, 0.6])]
    assert document["rows"] == 1501
    assert document["loss"] == pytest.approx(_ce(rows), rel=1e-14)


@pytest.mark.parametrize("late", ["", "x,0.5,0.5\n"])
def test_a_label_equal_to_a_class_name_is_that_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], late: str
) -> None:
    # With --classes 1,0 the label 1 is class "1", index 0, whether or not another row,
    # anywhere, holds text.
    path = tmp_path / "f.csv"
    path.write_text("label,p0,p1\n1,0.3,0.7\n" + "0,0.4,0.6\n" * 1200 + late)
    document = _summary(capsys, "ce", "--csv", str(path), "--classes", "1,0", "--skip-invalid")
    rows = [(0, [0.3, 0.7])] + [(1, [0.4, 0.6])] * 1200
    assert document["rows"] == 1201
    assert document["loss"] == pytest.approx(_ce(rows), rel=1e-14)


def test_typed_labels_follow_the_same_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "ce", "1", "0.3,0.7", "--classes", "1,0", "-q")
    assert code == 0, err
    assert float(out) == pytest.approx(-math.log(0.3), rel=1e-15)
    code, out, err = _cli(
        capsys, "ce", "1;2", "0.3,0.6,0.1;0.2,0.2,0.6", "--classes", "2,1,0", "-q"
    )
    assert code == 0, err
    assert float(out) == pytest.approx((-math.log(0.6) - math.log(0.2)) / 2, rel=1e-15)


def test_a_categorical_parquet_label_with_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.parquet"
    labels = pl.Series(["cat", "dog"], dtype=pl.Categorical)
    pl.DataFrame({"label": labels, "p0": [0.3, 0.4], "p1": [0.7, 0.6]}).write_parquet(path)
    document = _summary(capsys, "ce", "--parquet", str(path), "--classes", "cat,dog")
    assert document["loss"] == pytest.approx(_ce(GOOD_ROWS), rel=1e-15)


# --- 5. headers and encodings ---------------------------------------------------------------


def test_an_empty_line_right_after_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.csv"
    path.write_text("label,p0,p1\n\n0,0.3,0.7\n1,0.4,0.6\n")
    document = _summary(capsys, "ce", "--csv", str(path))
    assert (document["rows"], document["blank_lines"]) == (2, 1)


@pytest.mark.parametrize("chunk", [1, 12, 24, 40])
def test_empty_lines_at_block_boundaries(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
) -> None:
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", chunk)
    path = tmp_path / "f.csv"
    path.write_text("label,p0,p1\n" + "0,0.3,0.7\n\n1,0.4,0.6\n\n\n" * 7)
    document = _summary(capsys, "ce", "--csv", str(path))
    assert (document["rows"], document["blank_lines"], document["skipped"]) == (14, 21, 0)
    assert document["loss"] == pytest.approx(_ce(GOOD_ROWS * 7), rel=1e-15)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (codecs.BOM_UTF16_LE + GOOD.encode("utf-16-le"), "UTF-16"),
        (codecs.BOM_UTF16_BE + GOOD.encode("utf-16-be"), "UTF-16"),
        (GOOD.replace("\n", "\r").encode(), "carriage return alone"),
        (b"label,p0,p0\n0,0.3,0.7\n", "the header names column 'p0' twice"),
        (b"label,p0, p0\n0,0.3,0.7\n", "the header names column 'p0' twice"),
    ],
)
def test_files_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert message in _error(capsys, "ce", "--csv", str(path))


def test_spaces_around_header_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # ' p1' is p1: no prediction column is left out for a space in the header.
    path = tmp_path / "f.csv"
    path.write_text("label,p0, p1 ,\tp2\n0,0.3,0.6,0.1\n2,0.4,0.2,0.4\n")
    document = _summary(capsys, "ce", "--csv", str(path))
    assert document["classes"] == 3
    assert document["loss"] == pytest.approx(_ce([(0, [0.3]), (2, [0, 0, 0.4])]), rel=1e-15)


def test_parquet_given_as_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.csv"
    pl.DataFrame({"label": [0], "p0": [0.3], "p1": [0.7]}).write_parquet(path)
    assert "Parquet" in _error(capsys, "ce", "--csv", str(path))


def test_a_nested_parquet_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.parquet"
    frame = pl.DataFrame({"label": [0], "p0": [0.3], "p1": [0.7], "s": [{"a": 1}]})
    frame.write_parquet(path)
    message = _error(capsys, "ce", "--parquet", str(path), "--pred-cols", "p0,s")
    assert "column 's' holds Struct" in message


def test_long_fields_and_headers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_field = tmp_path / "field.csv"
    long_field.write_text("label,p0,p1,note\n0,0.3,0.7," + "a" * 140_000 + "\n1,x,0.6,b\n")
    message = _error(capsys, "ce", "--csv", str(long_field), "--pred-cols", "p0,p1")
    assert f"{long_field}:3:2: 'x' is not a number" in message
    long_header = tmp_path / "header.csv"
    long_header.write_text("label,p0,p1," + "h" * 200_000 + "\n0,0.3,0.7,\n1,x,0.6,\n")
    message = _error(capsys, "ce", "--csv", str(long_header), "--pred-cols", "p0,p1")
    assert f"{long_header}:3:2: 'x' is not a number" in message


def test_a_delimiter_beyond_ascii(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.csv"
    path.write_text(GOOD.replace(",", "é"))
    assert "one ASCII character" in _error(capsys, "ce", "--csv", str(path), "--delimiter", "é")


# --- the same records, written in other legal forms, score the same --------------------------


def _records(seed: int) -> list[tuple[int, list[float]]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(300):
        weights = [rng.random() + 1e-3 for _ in range(3)]
        total = sum(weights)
        rows.append((rng.randrange(3), [w / total for w in weights]))
    return rows


def _csv_text(
    rows: list[tuple[int, list[float]]], *, sep: str = ",", end: str = "\n", pad: str = "",
    quote: bool = False,
) -> str:  # fmt: skip
    def field(value: object) -> str:
        text = f"{pad}{value!r}{pad}"
        return f'"{text}"' if quote else text

    lines = [sep.join(f'"{name}"' if quote else name for name in ("label", "p0", "p1", "p2"))]
    lines += [sep.join(field(v) for v in (label, *probs)) for label, probs in rows]
    return end.join(lines) + end


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_encodings_of_the_same_records_score_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    rows = _records(seed)
    plain = tmp_path / "plain.csv"
    plain.write_text(_csv_text(rows))
    forms: dict[str, Path] = {}

    def form(name: str, text: str, encoding: str = "utf-8") -> None:
        forms[name] = tmp_path / f"{name}.csv"
        forms[name].write_bytes(text.encode(encoding))

    form("quoted", _csv_text(rows, quote=True))
    form("crlf", _csv_text(rows, end="\r\n"))
    form("bom", _csv_text(rows), "utf-8-sig")
    form("padded", _csv_text(rows, pad=" "))
    form("tab-padded", _csv_text(rows, pad="\t", sep=";"))
    form("semicolon", _csv_text(rows, sep=";"))
    form("tab", _csv_text(rows, sep="\t", end="\r\n"))
    form("quoted-padded", _csv_text(rows, pad=" ", quote=True))
    compressed = tmp_path / "gzip.csv.gz"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    forms["gzip"] = compressed

    expected = _summary(capsys, "ce", "--csv", str(plain))
    assert expected["rows"] == len(rows)
    assert expected["loss"] == pytest.approx(_ce(rows), rel=1e-14)
    expected.pop("source")
    for name, path in forms.items():
        document = _summary(capsys, "ce", "--csv", str(path))
        document.pop("source")
        assert document == expected, name

    parquet = tmp_path / "f.parquet"
    columns: dict[str, list[Any]] = {"label": [label for label, _ in rows]}
    columns |= {f"p{i}": [probs[i] for _, probs in rows] for i in range(3)}
    pl.DataFrame(columns).write_parquet(parquet)
    document = _summary(capsys, "ce", "--parquet", str(parquet))
    document.pop("source")
    # Parquet counts rows, CSV lines (the header is line 1).
    for worst in document["worst"]:
        worst["line"] += 1
    assert document == expected


def test_a_weight_column_that_is_also_a_prediction_weighs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(GOOD)
    document = _summary(
        capsys, "ce", "--csv", str(path), "--weight-col", "p0", "--pred-cols", "p0,p1"
    )
    expected = (0.3 * -math.log(0.3) + 0.4 * -math.log(0.6)) / (0.3 + 0.4)
    assert document["loss"] == pytest.approx(expected, rel=1e-15)


def test_a_missing_field_of_a_short_line_is_an_empty_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels, preds = tmp_path / "labels.csv", tmp_path / "preds.csv"
    labels.write_text("label\n0\n\n1\n")
    preds.write_text("p0,p1\n0.3,0.7\n0.5,0.5\n0.4,0.6\n")
    message = _error(capsys, "ce", "--labels", str(labels), "--preds", str(preds))
    assert f"{labels}:3:1: an empty value is not a number" in message


def test_nan_in_a_file_is_refused_as_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.csv"
    path.write_text("label,p0,p1\n0,NaN,0.5\n")
    assert "f.csv:2:2: 'NaN' is not a finite number" in _error(capsys, "ce", "--csv", str(path))
    assert "'NaN' is not a finite number" in _error(capsys, "ce", "0", "NaN,0.5")


def test_other_encodings_cut_into_other_blocks_score_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of 4 KiB: each form is cut into batches of other rows, so partial sums are
    # added in another order; the sums are exact (fsum) over per-batch pairwise sums.
    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 4096)
    rows = _records(7) * 4
    plain = tmp_path / "plain.csv"
    plain.write_text(_csv_text(rows))
    mixed = tmp_path / "mixed.csv"
    text = _csv_text(rows, sep="\t", end="\r\n", pad=" ", quote=True)
    mixed.write_bytes(text.encode("utf-8-sig"))
    expected = _summary(capsys, "ce", "--csv", str(plain))
    document = _summary(capsys, "ce", "--csv", str(mixed))
    assert expected["rows"] == document["rows"] == len(rows)
    for key in ("loss", "per_row_stats"):
        left, right = expected.pop(key), document.pop(key)
        if isinstance(left, dict):
            assert left.pop("mean") == pytest.approx(right.pop("mean"), rel=1e-15)
            assert left == right
        else:
            assert left == pytest.approx(right, rel=1e-15)
    expected.pop("source")
    document.pop("source")
    assert document == expected


def test_gzip_is_known_by_its_bytes_whatever_the_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = b"label,p0,p1\n0,0.25,0.75\n1,0.5,0.5\n"
    plain, named_csv = tmp_path / "plain.csv", tmp_path / "packed.csv"
    plain.write_bytes(text)
    named_csv.write_bytes(gzip.compress(text))
    assert main(["ce", "--csv", str(plain), "-q"]) == 0
    expected = capsys.readouterr().out
    assert main(["ce", "--csv", str(named_csv), "-q"]) == 0
    assert capsys.readouterr().out == expected == f"{(math.log(4) + math.log(2)) / 2!r}\n"
    cut = tmp_path / "cut.csv"
    cut.write_bytes(gzip.compress(text * 50)[:30])
    assert main(["ce", "--csv", str(cut), "-q"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"cecli: error: {cut}: ")
    assert captured.err.count("\n") == 1


def test_a_file_is_scored_with_standard_input_closed(
    sample_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", None)  # as after `<&-`
    assert main(["ce", "--csv", str(sample_data / "iris3_index.csv"), "-q"]) == 0
    assert float(capsys.readouterr().out) > 0
    assert main(["ce", "--csv", "-", "-q"]) == 2
    assert capsys.readouterr().err == (
        "cecli: error: '-' reads from standard input, but there is none\n"
    )


def test_a_gzip_file_holding_a_cut_gzip_stream_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inner = gzip.compress(b"label,p0,p1\n0,0.25,0.75\n" * 20)[:14]
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(inner))
    assert main(["bce", "--csv", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"cecli: error: {path}: ")
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize("option", ["--csv", "--parquet", "--output"])
def test_a_file_name_too_long_is_one_error_line(
    sample_data: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "x" * 300  # past the 255 bytes a file name may have
    arguments = ["ce", option, name]
    if option == "--output":
        arguments = ["ce", "--csv", str(sample_data / "iris3_index.csv"), "--reduction", "none"]
        arguments += ["--output", name]
    assert main(arguments) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("cecli: error: ")
    assert "File name too long" in captured.err
    assert captured.err.count("\n") == 1
