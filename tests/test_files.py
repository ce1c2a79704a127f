"""Reading CSV and Parquet files: formats, column selection, locations, the atomic writer."""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Literal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cecli
import cecli.files
from cecli.files import atomic_writer, open_table, select_columns
from cecli.inputs import InputError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def read_all(
    source: str,
    *,
    kind: Literal["csv", "parquet"] = "csv",
    stdin: IO[bytes] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    with open_table(source, kind=kind, delimiter=None, stdin=stdin) as table:
        chosen = select_columns(table.columns, "categorical")
        batches = list(table.batches(chosen, None))
    labels = np.concatenate([b.labels for b in batches])
    preds = np.concatenate([b.preds for b in batches])
    lines = [int(x) for b in batches for x in b.lines]
    return labels, preds, lines


def test_reads_the_sample_file(sample_data: Path) -> None:
    labels, preds, lines = read_all(str(sample_data / "iris3_index.csv"))
    assert labels.ravel().tolist() == [0, 1, 2]
    assert preds[0].tolist() == [0.57, 0.21, 0.22]
    assert lines == [2, 3, 4]


@pytest.mark.parametrize("separator", [",", "\t", ";"])
def test_delimiters_are_detected(tmp_path: Path, separator: str) -> None:
    path = write(
        tmp_path / "d.csv",
        separator.join(["label", "p0", "p1"]) + "\n" + separator.join(["1", "0.25", "0.75"]) + "\n",
    )
    labels, preds, _ = read_all(str(path))
    assert labels.tolist() == [[1.0]]
    assert preds.tolist() == [[0.25, 0.75]]


def test_bom_crlf_and_quotes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "b.csv", '\ufeff"label","p0","p1"\r\n"0","0.5","0.5"\r\n1,0.1,0.9\r\n', "utf-8"
    )
    labels, preds, lines = read_all(str(path))
    assert labels.ravel().tolist() == [0, 1]
    assert preds.tolist() == [[0.5, 0.5], [0.1, 0.9]]
    assert lines == [2, 3]


def test_gzip(tmp_path: Path) -> None:
    path = tmp_path / "g.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("label,p0,p1\n1,0.2,0.8\n")
    assert read_all(str(path))[1].tolist() == [[0.2, 0.8]]


def test_stdin(tmp_path: Path) -> None:
    stdin = io.BytesIO(b"label,p0,p1\n0,0.6,0.4\n")
    assert read_all("-", stdin=stdin)[1].tolist() == [[0.6, 0.4]]


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    pl.DataFrame({"label": [0, 1], "p0": [0.7, 0.4], "p1": [0.3, 0.6]}).write_parquet(path)
    labels, preds, lines = read_all(str(path), kind="parquet")
    assert labels.ravel().tolist() == [0, 1]
    assert preds.tolist() == [[0.7, 0.3], [0.4, 0.6]]
    assert lines == [1, 2]


def test_values_that_are_not_numbers_become_nan(tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", "label,p0,p1\n0,abc,0.5\n1,,0.5\n")
    _, preds, _ = read_all(str(path))
    assert np.isnan(preds[:, 0]).all()


def test_missing_file() -> None:
    with (
        pytest.raises(InputError, match=r"nope\.csv: no such file"),
        open_table("nope.csv", kind="csv", delimiter=None, stdin=None),
    ):
        pass


def test_ragged_line_is_located(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "label,p0,p1\n0,0.5,0.5\n1,0.1,0.9,7\n")
    # A bad record like any other: its batch says where it is, scoring reports or skips it.
    with open_table(str(path), kind="csv", delimiter=None, stdin=None) as table:
        chosen = select_columns(table.columns, "categorical")
        batches = list(table.batches(chosen, None))
    assert [batch.ragged for batch in batches] == [{1: (str(path) + ":3", 4, 3)}]


def test_raw_value_and_location(tmp_path: Path) -> None:
    path = write(tmp_path / "v.csv", "label,p0,p1\n0,0.5,0.5\n1,x y,0.5\n")
    with open_table(str(path), kind="csv", delimiter=None, stdin=None) as table:
        assert table.raw_value(3, "p0") == "x y"
        assert table.location(3, "p0").endswith("v.csv:3:2")


@pytest.mark.parametrize(
    ("columns", "family", "options", "expected"),
    [
        (["label", "p0", "p1"], "categorical", {}, (("label",), ("p0", "p1"), True)),
        (["y0", "y1", "p0", "p1"], "categorical", {}, (("y0", "y1"), ("p0", "p1"), False)),
        (["y_0", "y_1", "p_0", "p_1"], "kl", {}, (("y_0", "y_1"), ("p_0", "p_1"), False)),
        (["label", "score"], "binary", {}, (("label",), ("score",), False)),
        (
            ["target", "a", "b"],
            "categorical",
            {"label_col": "target"},
            (("target",), ("a", "b"), True),
        ),
        (
            ["t0", "t1", "z0", "z1", "w"],
            "categorical",
            {"label_cols": "t*", "pred_cols": "z*", "weight_col": "w"},
            (("t0", "t1"), ("z0", "z1"), False),
        ),
        (
            ["id", "label", "p0", "p1"],
            "categorical",
            {"id_col": "id"},
            (("label",), ("p0", "p1"), True),
        ),
    ],
)
def test_select_columns(
    columns: list[str], family: str, options: dict[str, str], expected: tuple[object, ...]
) -> None:
    chosen = select_columns(columns, family, **options)  # type: ignore[arg-type]
    assert (chosen.labels, chosen.preds, chosen.label_index) == expected


@pytest.mark.parametrize(
    ("columns", "options", "message"),
    [
        (["a", "b"], {}, "no label column"),
        (["label", "p0"], {"label_col": "nope"}, "label_col: no column 'nope'"),
        (["label", "p0"], {"pred_cols": "q*"}, "pred_cols: no column matches 'q*'"),
        (["y0", "y1", "p0"], {}, "2 label column(s) (y0, y1) but 1 prediction column(s) (p0)"),
        (
            ["label", "p0"],
            {"label_col": "label", "label_cols": "label"},
            "either label_col or label_cols",
        ),
        (["label", "p0"], {"pred_cols": "label"}, "is both a label and a prediction"),
    ],
)
def test_select_columns_errors(columns: list[str], options: dict[str, str], message: str) -> None:
    with pytest.raises(InputError) as raised:
        select_columns(columns, "categorical", **options)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("label_col", "message", "named"),
    [
        (None, "kl reads one column per class of the distribution P", ("label_cols",)),
        (
            "label",
            "not a class index per row in label_col 'label': pass label_cols",
            ("label_col", "label_cols"),
        ),
    ],
)
def test_kl_asks_for_one_target_column_per_class(
    label_col: str | None, message: str, named: tuple[str, ...]
) -> None:
    # A 'label' column of class indices is no distribution P: naming it 'label' cannot help.
    with pytest.raises(InputError) as raised:
        select_columns(["label", "p0", "p1"], "kl", label_col=label_col)
    assert message in str(raised.value)
    assert "name it 'label'" not in str(raised.value)
    assert raised.value.named == named


def test_atomic_writer_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def fail_midway() -> None:
        with atomic_writer(str(target)) as handle:
            handle.write("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]
    with atomic_writer(str(target)) as handle:
        handle.write("new\n")
    assert target.read_text() == "new\n"
    assert list(tmp_path.iterdir()) == [target]


def test_small_chunks_read_every_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Byte ranges end only at line breaks outside quotes, so a quoted field holding a line break
    # and records longer than a chunk still arrive whole and in order.
    import cecli.files

    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", 16)
    rows = [f'{i % 2},"{i}\nnote",0.{i % 9 + 1},0.5' for i in range(40)]
    path = write(tmp_path / "q.csv", "label,id,p0,p1\n" + "\n".join(rows) + "\n")
    with open_table(str(path), kind="csv", delimiter=None, stdin=None) as table:
        chosen = select_columns(table.columns, "categorical", id_col="id", pred_cols="p0,p1")
        batches = list(table.batches(chosen, None))
    ids = [i for b in batches for i in (b.ids or [])]
    assert ids == [f"{i}\nnote" for i in range(40)]
    labels = np.concatenate([b.labels for b in batches]).ravel().tolist()
    assert labels == [float(i % 2) for i in range(40)]


def test_record_end() -> None:
    from cecli.files import _record_end

    def end(data: bytes) -> int:
        return _record_end(data, len(data))

    assert end(b"a,b\nc,d\ne,") == 8
    assert end(b'a,"x\ny"\nc,"open\n') == 8
    assert end(b"no line break") == 0
    assert _record_end(bytearray(b"a,b\nc,d\n\0\0\0"), 8) == 8


@pytest.mark.parametrize("chunk", [4, 7, 16, 1 << 20])
@pytest.mark.parametrize("ending", ["\n", ""])
@pytest.mark.parametrize("search", [3, 1 << 16])
def test_record_blocks_cut_at_records_and_keep_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, ending: str, search: int
) -> None:
    from cecli.files import _record_blocks

    monkeypatch.setattr(cecli.files, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(cecli.files, "_SEARCH_BYTES", search)
    records = ['1,"a\nb",0.5', "0,a very long record that spans several blocks,0.25", "", "2,x,1"]
    body = "\n".join(records) + ending
    path = write(tmp_path / "r.csv", "label,id,p\n" + body)
    blocks = list(_record_blocks(path))
    assert b"".join(blocks).decode() == body
    for block in blocks[:-1]:
        assert block.endswith(b"\n")
        assert block.count(b'"') % 2 == 0


_FIELDS = st.one_of(
    st.text("ab,\n", max_size=6).map(lambda text: '"' + text + '"'),
    st.text("xy0.5", max_size=9),
)


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(st.lists(_FIELDS, min_size=1, max_size=4), max_size=12),
    chunk=st.integers(1, 40),
    search=st.integers(1, 20),
    ending=st.sampled_from(["\n", "\r\n", ""]),
)
def test_record_blocks_hold_whole_records_whatever_the_sizes(
    records: list[list[str]], chunk: int, search: int, ending: str
) -> None:
    from cecli.files import _record_blocks

    body = "\n".join(",".join(fields) for fields in records) + (ending if records else "")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "r.csv"
        path.write_bytes(b"h\n" + body.encode())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cecli.files, "CHUNK_BYTES", chunk)
            patch.setattr(cecli.files, "_SEARCH_BYTES", search)
            blocks = list(_record_blocks(path))
    assert b"".join(blocks).decode() == body
    whole = list(csv.reader(io.StringIO(body, newline="")))
    assert [
        row for block in blocks for row in csv.reader(io.StringIO(block.decode(), newline=""))
    ] == whole


@pytest.mark.parametrize("collecting", [True, False])
def test_polars_is_imported_with_the_collector_paused_and_left_as_found(
    tmp_path: Path, collecting: bool
) -> None:
    """The import makes objects that live as long as the process: collections during it
    walked them for nothing.  A program that had turned the collector off finds it off."""
    # A quoted header name is read by polars (a plain header is split without it).
    path = write(tmp_path / "big.csv", '"label",p0,p1\n' + "0,0.25,0.75\n" * 100_000)
    code = (
        "import gc, sys\n"
        "from pathlib import Path\n"
        "from cecli.files import Source\n"
        f"gc.enable() if {collecting} else gc.disable()\n"
        "seen = []\n"
        "def importing():\n"  # importlib marks a module's spec while its body runs
        "    module = sys.modules.get('polars')\n"
        "    return module is not None and getattr(module.__spec__, '_initializing', False)\n"
        "gc.callbacks.append(lambda phase, info: seen.append(importing()))\n"
        f"source = Source(Path({str(path)!r}), 'big.csv', 'csv', ',')\n"
        "print(source.columns, 'polars' in sys.modules, gc.isenabled(), any(seen))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout == f"['label', 'p0', 'p1'] True {collecting} False\n", result.stderr


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_wide_batch_asks_polars_for_its_columns_once(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Looking each selected column up in frame.columns (or frame.schema), which polars builds
    # anew on every access, took minutes for a file of 100,000 columns with one bad value.
    names = [f"p{i}" for i in range(2_000)]
    frame = pl.DataFrame({name: ["0.5"] for name in names})
    reading = cecli.files.Reading(tuple(names), None, False, tuple(names), False)
    built = {"columns": 0, "schema": 0}
    for attribute in built:
        getter = getattr(pl.DataFrame, attribute).fget
        assert callable(getter)

        def counted(
            self: pl.DataFrame, attribute: str = attribute, getter: Callable[..., object] = getter
        ) -> object:
            built[attribute] += 1
            return getter(self)

        monkeypatch.setattr(pl.DataFrame, attribute, property(counted))
    as_csv = kind == "csv"
    finished = reading.finish_csv(frame, frame) if as_csv else reading.finish_parquet(frame)
    assert finished.get_column("p1999").to_list() == [0.5]
    assert built["columns"] + built["schema"] <= 10


@pytest.mark.parametrize("delimiter", ['"', "\n", "\r"])
def test_a_quote_or_a_line_break_is_no_delimiter(tmp_path: Path, delimiter: str) -> None:
    # Taken as given, each line read as one field: 'no label column … label,p0,p1'.
    path = tmp_path / "a.csv"
    path.write_text("label,p0,p1\n0,0.3,0.7\n")
    with pytest.raises(InputError) as raised:
        cecli.score_file(str(path), delimiter=delimiter)
    assert str(raised.value) == f"delimiter cannot be a quote or a line break, got {delimiter!r}"
    assert raised.value.parameter == "delimiter"
