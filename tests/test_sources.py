"""Many inputs: lists, globs and folders of parts scored as one table, and per file.

The reference for every merged result is the same rows written as ONE file and scored by the
single-file path, which was there before many inputs: the JSON numbers must be equal bit for
bit, and a worst row's (file, line) must be the same record as the one file's line.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cecli
from cecli.cli import main
from cecli.sources import expand

HEADER = "label,p0,p1,p2,w"


def _rows(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    raw = rng.random((count, 3)) + 0.05
    probs = raw / raw.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 3, count)
    weights = rng.integers(1, 4, count)
    return [
        f"{label},{float(p[0])!r},{float(p[1])!r},{float(p[2])!r},{weight}"
        for label, p, weight in zip(labels, probs, weights, strict=True)
    ]


def _write(path: Path, rows: list[str]) -> str:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return str(path)


@pytest.fixture
def split(tmp_path: Path) -> tuple[str, list[str], list[int]]:
    """One file of 300 rows, and the same rows as three parts of 100, 120 and 80 rows."""
    rows = _rows(300, seed=12)
    whole = _write(tmp_path / "whole.csv", rows)
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    sizes = [100, 120, 80]
    parts, start = [], 0
    for number, size in enumerate(sizes):
        parts.append(_write(parts_dir / f"part-{number}.csv", rows[start : start + size]))
        start += size
    return whole, parts, sizes


def _numbers(document: dict[str, Any]) -> dict[str, Any]:
    """Every number of a summary's JSON, apart from where rows are (checked on their own)."""
    return {k: v for k, v in document.items() if k not in ("worst", "source", "files")}


def test_parts_give_the_numbers_of_one_file_bit_for_bit(
    split: tuple[str, list[str], list[int]],
) -> None:
    whole, parts, sizes = split
    choices: list[dict[str, Any]] = [{}, {"weight_col": "w"}, {"reduction": "sum"}]
    for options in choices:
        one = cecli.score_file(whole, **options)
        many = cecli.score_file(list(parts), **options)
        assert json.dumps(_numbers(many.to_json())) == json.dumps(_numbers(one.to_json()))
        # The same records as the worst, in the same order, each in its own part.
        offsets = dict(zip(parts, np.cumsum([0, *sizes[:-1]]).tolist(), strict=True))
        assert [(row.file and offsets[row.file] + row.line, row.loss) for row in many.worst] == [
            (row.line, row.loss) for row in one.worst
        ]


def test_a_glob_and_a_folder_are_the_parts_in_name_order(
    split: tuple[str, list[str], list[int]],
) -> None:
    _, parts, _ = split
    folder = Path(parts[0]).parent
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-9.csv.crc").write_text("not data")
    listed = cecli.score_file(list(parts)).to_json()
    by_glob = cecli.score_file(str(folder / "part-*.csv")).to_json()
    by_folder = cecli.score_file(str(folder)).to_json()
    assert by_glob["source"] == f"{folder}/part-*.csv (3 files)"
    assert by_folder["source"] == f"{folder} (3 files)"
    for document in (by_glob, by_folder):
        assert _numbers(document) == _numbers(listed)
        assert document["worst"] == listed["worst"]
    assert [f.location for f in expand(str(folder))] == parts


def test_a_path_that_exists_is_itself_never_a_glob(tmp_path: Path) -> None:
    rows = _rows(20, seed=1)
    literal = _write(tmp_path / "w[12].csv", rows[:10])
    _write(tmp_path / "w1.csv", rows[10:])  # what the pattern w[12].csv would match
    summary = cecli.score_file(literal)
    assert summary.rows == 10
    assert summary.source == literal
    assert [f.location for f in expand(literal)] == [literal]


def test_a_glob_that_matches_nothing_is_one_error(tmp_path: Path) -> None:
    pattern = str(tmp_path / "preds" / "part-*.csv.gz")
    with pytest.raises(cecli.InputError, match=r"part-\*\.csv\.gz: no file matches the pattern$"):
        cecli.score_file(pattern)
    with pytest.raises(cecli.InputError, match="is a directory, not a file, and holds no parts"):
        cecli.score_file(str(tmp_path))


def test_standard_input_is_one_input_at_most(capsys: pytest.CaptureFixture[str]) -> None:
    """The second '-' would find standard input read already (it said "no header row")."""
    stdin = io.BytesIO(b"label,p0,p1\n0,0.3,0.7\n")
    with pytest.raises(cecli.InputError, match=r"^only one file can be '-' \(standard input\)$"):
        cecli.score_file(["-", "-"], stdin=stdin)
    assert main(["ce", "--csv", "-", "--csv", "-", "-q"]) == 2
    assert capsys.readouterr().err == "cecli: error: only one file can be '-' (standard input)\n"


def test_a_bad_value_is_named_in_its_own_file(split: tuple[str, list[str], list[int]]) -> None:
    _, parts, _ = split
    second = Path(parts[1])
    lines = second.read_text().splitlines()
    lines[7] = "1,0.2,oops,0.3,1"  # line 8 of the second part
    second.write_text("\n".join(lines) + "\n")
    with pytest.raises(cecli.InputError) as raised:
        cecli.score_file(list(parts))
    assert str(raised.value) == f"{second}:8:3: 'oops' is not a number"
    skipped = cecli.score_file(list(parts), skip_invalid=True)
    assert skipped.skipped == 1
    assert skipped.skipped_reasons == (f"{second}:8:3: 'oops' is not a number",)


def test_by_file_gives_each_inputs_own_summary(split: tuple[str, list[str], list[int]]) -> None:
    _, parts, sizes = split
    summary = cecli.score_file(list(parts), by_file=True, weight_col="w")
    document = summary.to_json()
    assert [entry["source"] for entry in document["files"]] == parts
    assert [entry["rows"] for entry in document["files"]] == sizes
    for entry, part in zip(document["files"], parts, strict=True):
        assert entry["loss"] == cecli.score_file(part, weight_col="w").loss
        assert entry["skipped"] == 0
    assert "files" not in cecli.score_file(list(parts)).to_json()


def test_by_file_gives_a_file_without_rows_no_loss(tmp_path: Path) -> None:
    good = _write(tmp_path / "a.csv", _rows(5, seed=2))
    bad = _write(tmp_path / "b.csv", ["0,x,0.5,0.5,1"])
    summary = cecli.score_file([good, bad], by_file=True, skip_invalid=True)
    assert [(f.rows, f.skipped) for f in summary.files] == [(5, 0), (0, 1)]
    assert math.isnan(summary.files[1].loss)
    files: Any = summary.to_json()["files"]
    assert files[1]["loss"] == "nan"  # as every NaN in the JSON


def test_two_file_mode_pairs_lists_in_order(tmp_path: Path) -> None:
    rows = _rows(40, seed=3)
    whole = _write(tmp_path / "whole.csv", rows)
    labels, preds = [], []
    for number, chunk in enumerate((rows[:25], rows[25:])):
        fields = [row.split(",") for row in chunk]
        label_file = tmp_path / f"labels-{number}.csv"
        label_file.write_text("label\n" + "".join(f"{f[0]}\n" for f in fields))
        pred_file = tmp_path / f"preds-{number}.csv"
        pred_file.write_text("p0,p1,p2\n" + "".join(",".join(f[1:4]) + "\n" for f in fields))
        labels.append(str(label_file))
        preds.append(str(pred_file))
    paired = cecli.score_file((labels, preds))
    assert _numbers(paired.to_json()) == _numbers(cecli.score_file(whole).to_json())
    assert paired.source == f"{', '.join(labels)} + {', '.join(preds)} (2 pairs of files)"
    pairs = {f"{a} + {b}" for a, b in zip(labels, preds, strict=True)}
    assert {row.file for row in paired.worst} <= pairs
    with pytest.raises(cecli.InputError, match="2 labels file"):
        cecli.score_file((labels, preds[:1]))


def test_inputs_with_different_classes_are_refused(tmp_path: Path) -> None:
    three = _write(tmp_path / "a.csv", _rows(5, seed=4))
    four = tmp_path / "b.csv"
    four.write_text("label,p0,p1,p2,p3\n0,0.25,0.25,0.25,0.25\n")
    with pytest.raises(cecli.InputError, match=r"4 classes, but .*a\.csv has 3"):
        cecli.score_file([three, str(four)])


def test_a_column_error_names_the_input_it_is_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path / "a.csv", _rows(5, seed=6))
    other = tmp_path / "b.csv"
    other.write_text("x,y\n1,2\n")
    with pytest.raises(cecli.InputError) as raised:
        cecli.score_file([good, str(other)])
    assert str(raised.value).startswith(f"{other}: no label column: ")
    code, out, err = _cli(capsys, "ce", "--csv", good, "--csv", str(other), "--label-col", "x")
    assert (code, out) == (2, "")
    assert err.startswith(f"cecli: error: {good}: --label-col: ")  # a.csv has no column 'x'
    assert err.count("\n") == 1
    # An error that names its place already is left as it is.
    other.write_text(f"{HEADER}\n0,oops,0.5,0.5,1\n")
    with pytest.raises(cecli.InputError) as raised:
        cecli.score_file([good, str(other)])
    assert str(raised.value) == f"{other}:2:2: 'oops' is not a number"


def test_a_gzip_part_is_read_like_the_others(split: tuple[str, list[str], list[int]]) -> None:
    import gzip

    _, parts, _ = split
    packed = parts[2] + ".gz"
    with open(parts[2], "rb") as plain, gzip.open(packed, "wb") as compressed:
        shutil.copyfileobj(plain, compressed)
    mixed = cecli.score_file([parts[0], parts[1], packed])
    assert _numbers(mixed.to_json()) == _numbers(cecli.score_file(list(parts)).to_json())


def test_the_table_names_each_worst_rows_file_and_each_files_share(
    split: tuple[str, list[str], list[int]],
) -> None:
    import io

    from cecli import render

    _, parts, _ = split
    summary = cecli.score_file(list(parts), by_file=True)
    out, err = io.StringIO(), io.StringIO()
    render.emit_summary(summary, "table", out, err)
    text = out.getvalue()
    worst = text[text.index("Worst rows") : text.index("By file")]
    assert f"{summary.worst[0].file}  " in worst
    shares = text[text.index("By file") :].splitlines()
    for part, share in zip(parts, summary.files, strict=True):
        assert any(line.split()[:1] == [part] and f"{share.rows:,}" in line for line in shares)


# --- the command line -----------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from cecli.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_repeated_csv_options_score_every_file(
    split: tuple[str, list[str], list[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, parts, _ = split
    code, out, err = _cli(capsys, "ce", *[a for p in parts for a in ("--csv", p)], "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == json.loads(json.dumps(cecli.score_file(list(parts)).to_json()))
    assert json.loads(out)["rows"] == 300  # not the last file's 80 alone


def test_a_glob_with_by_file_on_the_command_line(
    split: tuple[str, list[str], list[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, parts, sizes = split
    pattern = str(Path(parts[0]).parent / "part-*.csv")
    code, out, err = _cli(capsys, "ce", "--csv", pattern, "--by-file", "--json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert [(f["source"], f["rows"]) for f in document["files"]] == list(
        zip(parts, sizes, strict=True)
    )
    code, out, err = _cli(capsys, "ce", "--csv", pattern + ".gz")
    assert (code, out) == (2, "")
    assert err == f"cecli: error: {pattern}.gz: no file matches the pattern\n"


def test_labels_and_preds_lists_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _rows(30, seed=5)
    whole = _write(tmp_path / "whole.csv", rows)
    args = ["ce"]
    for number, chunk in enumerate((rows[:10], rows[10:])):
        fields = [row.split(",") for row in chunk]
        (tmp_path / f"y{number}.csv").write_text("label\n" + "".join(f"{f[0]}\n" for f in fields))
        (tmp_path / f"p{number}.csv").write_text(
            "p0,p1,p2\n" + "".join(",".join(f[1:4]) + "\n" for f in fields)
        )
        args += ["--labels", str(tmp_path / f"y{number}.csv")]
        args += ["--preds", str(tmp_path / f"p{number}.csv")]
    code, out, err = _cli(capsys, *args, "-q")
    assert (code, err) == (0, "")
    assert out == f"{cecli.score_file(whole).loss!r}\n"
