"""Per-row output as a folder of parts, on one machine: the parts in order are, byte for byte,
the file ``--output FILE`` writes; the manifest comes last; a failed run leaves nothing.

The reference is the command line's own ``--output FILE``, written by its per-row writer
without going through the parts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import cecli
from cecli import parts
from cecli.cli import main
from cecli.inputs import InputError


def _write_inputs(folder: Path) -> list[str]:
    """Two CSV files of 3-class rows with a text column (quotes, commas and line breaks in
    some fields), the second with an empty line among its records."""
    rng = np.random.default_rng(5)
    paths = []
    for number, rows in enumerate((1200, 1700)):
        raw = rng.random((rows, 3)) + 0.01
        probs = raw / raw.sum(axis=1, keepdims=True)
        notes = [f'say "hi", {i}\nagain' if i % 41 == 0 else f"n{i}" for i in range(rows)]
        frame = pl.DataFrame(
            {
                "label": rng.integers(0, 3, rows),
                **{f"p{c}": probs[:, c] for c in range(3)},
                "note": notes,
            }
        )
        path = folder / f"in-{number}.csv"
        frame.write_csv(path)
        if number == 1:
            lines = path.read_text().split("\n")
            lines.insert(900, "")
            path.write_text("\n".join(lines))
        paths.append(str(path))
    return paths


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    return _write_inputs(tmp_path)


def _file_args(files: list[str]) -> list[str]:
    return [a for f in files for a in ("--csv", f)]


def _parts(folder: Path) -> bytes:
    manifest = json.loads((folder / parts.MANIFEST).read_text())
    return b"".join((folder / part["name"]).read_bytes() for part in manifest["parts"])


def test_the_parts_in_order_are_the_output_file(
    inputs: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parts, "PART_ROWS", 1)  # a part per batch, and one per input
    args = ["ce", *_file_args(inputs), "--keep", "note", "--columns", "pred,p_true",
            "--reduction", "none", "--json"]  # fmt: skip
    assert main([*args, "--output", str(tmp_path / "rows.csv")]) == 0
    single = capsys.readouterr()
    assert main([*args, "--output", str(tmp_path / "rows") + "/"]) == 0
    folder = capsys.readouterr()
    assert folder.out == single.out  # the same summary
    expected = (tmp_path / "rows.csv").read_bytes()
    assert expected.startswith(b"line,loss,pred,p_true,note\n")
    assert _parts(tmp_path / "rows") == expected
    manifest = json.loads((tmp_path / "rows" / parts.MANIFEST).read_text())
    assert [p["name"] for p in manifest["parts"]] == ["part-00000.csv", "part-00001.csv"]
    assert [p["rows"] for p in manifest["parts"]] == [1200, 1700]
    assert manifest["rows"] == 2900
    assert manifest["format"] == "csv"
    assert manifest["summary"] == json.loads(single.out)
    # Nothing else beside the inputs, the file and the folder: no staging folder.
    assert sorted(os.listdir(tmp_path)) == ["in-0.csv", "in-1.csv", "rows", "rows.csv"]


def test_parquet_parts_hold_the_rows_of_the_csv_output(
    inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["ce", *_file_args(inputs), "--keep", "note", "--reduction", "none", "-q"]
    assert main([*args, "--output", str(tmp_path / "rows.csv")]) == 0
    assert main([*args, "--output", str(tmp_path / "rows.parquet") + "/"]) == 0
    assert main([*args, "--output", str(tmp_path / "p") + "/", "--output-format", "parquet"]) == 0
    capsys.readouterr()
    expected = pl.read_csv(tmp_path / "rows.csv")
    for name in ("rows.parquet", "p"):
        manifest = json.loads((tmp_path / name / parts.MANIFEST).read_text())
        assert manifest["format"] == "parquet"
        found = pl.concat([pl.read_parquet(tmp_path / name / p["name"]) for p in manifest["parts"]])
        assert found.columns == expected.columns
        assert found["line"].to_list() == expected["line"].to_list()
        assert found["note"].to_list() == expected["note"].to_list()
        # The CSV holds each float's shortest round-trip digits: equal as float64.
        assert found["loss"].to_list() == expected["loss"].to_list()


def test_a_folder_that_holds_anything_is_refused_and_left_alone(
    inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    args = ["ce", *_file_args(inputs), "--reduction", "none"]
    assert main([*args, "--output", str(taken)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"cecli: error: --output: the folder {taken} is not empty; name a new or empty folder\n"
    )
    assert captured.out == ""
    assert os.listdir(taken) == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*args, "-q", "--output", str(empty)]) == 0  # an empty folder is filled
    assert sorted(os.listdir(empty)) == [parts.MANIFEST, "part-00000.csv", "part-00001.csv"]


def test_a_bad_value_leaves_no_folder(
    inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = Path(inputs[1])
    lines = bad.read_text().split("\n")
    lines[1500] = "0,0.5,0.7,x,n"
    bad.write_text("\n".join(lines))
    before = sorted(os.listdir(tmp_path))
    args = ["ce", *_file_args(inputs), "--reduction", "none"]
    assert main([*args, "--output", str(tmp_path / "rows.csv")]) == 2
    single = capsys.readouterr().err
    assert main([*args, "--output", str(tmp_path / "rows") + "/"]) == 2
    assert capsys.readouterr().err == single
    assert single.startswith(f"cecli: error: {bad}:")
    assert single.endswith(": 'x' is not a number\n")
    assert sorted(os.listdir(tmp_path)) == before


def test_the_output_format_goes_with_a_folder(
    inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["ce", "--csv", inputs[0], "--reduction", "none"]
    assert main([*args, "--output-format", "parquet", "--output", str(tmp_path / "a.csv")]) == 2
    assert capsys.readouterr().err == (
        "cecli: error: --output-format parquet writes a folder of parts: end the output's "
        "name with '/'\n"
    )
    assert main([*args, "--output-format", "parquet"]) == 2
    assert capsys.readouterr().err == "cecli: error: --output-format goes with --output FOLDER/\n"
    assert main([*args, "--output-format", "json", "--output", str(tmp_path) + "/x/"]) == 2
    assert capsys.readouterr().err == (
        "cecli: error: --output-format must be csv or parquet, got 'json'\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["in-0.csv", "in-1.csv"]


def test_an_output_named_parquet_is_refused_not_written_as_csv(
    inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command line wrote CSV into rows.parquet, which --parquet then could not read.
    target = tmp_path / "rows.parquet"
    expected = (
        f"output: {target} ends in .parquet, but Parquet rows are written as a folder of "
        "parts: end the name with '/'"
    )
    for reduction in ("none", "mean"):
        args = ["ce", "--csv", inputs[0], "--reduction", reduction, "--output", str(target)]
        assert main(args) == 2
        assert capsys.readouterr() == ("", f"cecli: error: --{expected}\n")
    with pytest.raises(InputError) as raised:
        cecli.score_file(inputs[0], output=str(target))
    assert str(raised.value) == expected
    assert not target.exists()


def test_the_library_writes_parts_and_calls_on_rows_too(inputs: list[str], tmp_path: Path) -> None:
    seen: list[int] = []
    summary = cecli.score_file(
        inputs,
        output=f"{tmp_path}/lib.parquet/",
        on_rows=lambda rows: seen.append(len(rows.losses)),
    )
    assert sum(seen) == summary.rows == 2900
    manifest = json.loads((tmp_path / "lib.parquet" / parts.MANIFEST).read_text())
    assert manifest["summary"]["loss"] == summary.loss


def test_a_part_left_half_written_by_a_lost_worker_is_not_published(tmp_path: Path) -> None:
    """A worker killed while it wrote a part leaves its temporary file; the task run again
    elsewhere writes the part.  The folder published holds the parts and the manifest only
    (seen once under load: the killed-worker test found a '.part-….tmp' in the folder)."""
    spec = parts.RowOutput(target=str(tmp_path / "out") + "/", format="csv", folder=True)
    staging = parts.Staging(spec)
    try:
        for index, rows in enumerate((2, 0, 1)):
            with parts.written_part(str(staging.path), index, spec, header=index == 0) as part:
                assert part._stream is not None
                part._stream.write("line,loss\n" * (index == 0) + "3,0.5\n" * rows)
            staging.parts.append(parts.PartInfo(rows, 6 * rows, "line,loss\n", index == 0))
        (staging.path / ".part-00001.csv.0123456789ab.tmp").write_text("3,0.5\n3,0.")
        staging.publish(None)
    finally:
        staging.remove()
    assert sorted(os.listdir(tmp_path / "out")) == [
        "_manifest.json",
        "part-00000.csv",
        "part-00002.csv",
    ]


def test_a_folder_named_output_is_named_as_written_in_the_error(
    inputs: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "keep.txt").write_text("mine")
    args = ["ce", *_file_args(inputs), "--reduction", "none", "--output", "output/"]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "cecli: error: --output: the folder output/ is not empty; name a new or empty folder\n"
    )
