"""--output never destroys an input, is checked before any input is read, and leaves nothing
behind; standard input, pipes and .gz files are spooled within a limit."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import pytest

import cecli
import cecli.files
from cecli.cli import main

ROWS = "label,p0,p1\n0,0.9,0.1\n1,0.2,0.8\n"


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(ROWS)
    path.chmod(0o644)
    return path


def _one_error(capsys: pytest.CaptureFixture[str], code: int, needle: str) -> None:
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("cecli: error: ")
    assert needle in lines[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize(
    "output",
    ["same", "dotted", "symlink", "hardlink"],
)
def test_output_that_is_the_input_is_refused(
    table: Path, output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = {
        "same": table,
        "dotted": table.parent / "." / table.name,
        "symlink": table.parent / "link.csv",
        "hardlink": table.parent / "hard.csv",
    }[output]
    if output == "symlink":
        target.symlink_to(table)
    if output == "hardlink":
        os.link(table, target)
    code = main(["ce", "--csv", str(table), "--reduction", "none", "--output", str(target)])
    _one_error(capsys, code, "is also an input file")
    assert table.read_text() == ROWS
    assert stat.S_IMODE(table.stat().st_mode) == 0o644
    assert _leftovers(table.parent) == []


def test_labels_file_as_output_is_refused(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    preds = table.parent / "preds.csv"
    preds.write_text("p0,p1\n0.9,0.1\n0.2,0.8\n")
    labels = table.parent / "labels.csv"
    labels.write_text("label\n0\n1\n")
    code = main(["ce", "--labels", str(labels), "--preds", str(preds), "--output", str(labels)])
    _one_error(capsys, code, "is also an input file")
    assert labels.read_text() == "label\n0\n1\n"


@pytest.mark.parametrize(
    ("output", "needle"),
    [("", "the file name is empty"), (".", "is not empty"), ("{dir}/no/such/", "no folder"),
     ("{dir}/no/such/x.csv", "no folder")],
)  # fmt: skip
def test_bad_output_names_are_refused_before_reading(
    tmp_path: Path, output: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The input does not exist: the output is checked first, so the error is about it.
    code = main(
        ["ce", "--csv", str(tmp_path / "missing.csv"), "--output", output.format(dir=tmp_path)]
    )
    _one_error(capsys, code, needle)


@pytest.mark.skipif(os.geteuid() == 0, reason="the superuser may write anywhere")
def test_unwritable_folder_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    code = main(["ce", "--csv", str(tmp_path / "missing.csv"), "--output", str(folder / "x.csv")])
    _one_error(capsys, code, "cannot write")


@pytest.mark.parametrize("output", ["/dev/full", "/proc/version", "/proc/self/rows.csv"])
def test_unwritable_places_are_one_line(
    table: Path, output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not Path(output).parent.exists():
        pytest.skip(f"no {Path(output).parent} here")
    if output == "/dev/full" and (os.geteuid() == 0 or not stat.S_ISCHR(os.stat(output).st_mode)):
        # As the superuser, a writer that renames over its target would replace the device.
        pytest.skip("/dev/full is not a character device, or this is the superuser")
    code = main(["ce", "--csv", str(table), "--reduction", "none", "--output", output])
    _one_error(capsys, code, f"--output: cannot write {output}")


def test_dash_writes_the_rows_to_standard_output(
    table: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(table.parent)
    code = main(["ce", "--csv", str(table), "--output", "-"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.splitlines()[0] == "line,loss"
    assert len(captured.out.splitlines()) == 3
    assert not (table.parent / "-").exists()


def test_new_output_gets_the_umask_mode_and_a_replaced_one_keeps_its_mode(table: Path) -> None:
    target = table.parent / "out.csv"
    previous = os.umask(0o027)
    try:
        assert main(["ce", "--csv", str(table), "-q", "--output", str(target)]) == 0
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        target.chmod(0o604)
        assert main(["ce", "--csv", str(table), "-q", "--output", str(target)]) == 0
        assert stat.S_IMODE(target.stat().st_mode) == 0o604
    finally:
        os.umask(previous)
    assert target.read_text().splitlines()[0] == "line,loss"
    assert _leftovers(table.parent) == []


@pytest.mark.parametrize("name", ["a" * 251 + ".csv", "é" * 125 + ".csv", "a" * 254 + "/"])
def test_a_target_with_the_longest_name_is_written(table: Path, name: str) -> None:
    """A name of 255 bytes is a file's longest: the file or folder staged beside it has a
    longer name of its own, which must still be one the file system takes."""
    target = table.parent / name.rstrip("/")
    assert len(os.fsencode(target.name)) >= 254
    folder = name.endswith("/")
    output = f"{target}/" if folder else str(target)
    assert main(["ce", "--csv", str(table), "-q", "--output", output]) == 0
    rows = (target / "part-00000.csv") if folder else target
    assert rows.read_text().splitlines()[0] == "line,loss"
    assert [p.name for p in table.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("option", "name", "ending"),
    [("--output", "rows.csv.gz", ".gz"), ("--rejects", "bad.CSV.XZ", ".XZ"),
     ("--output", "rows.zst", ".zst")],
)  # fmt: skip
def test_a_compressed_name_is_refused_not_written_as_plain_text(
    table: Path, option: str, name: str, ending: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read back, a plain file named .gz would be taken for gzip and fail."""
    target = table.parent / name
    code = main(["ce", "--csv", str(table), "-q", "--skip-invalid", option, str(target)])
    _one_error(capsys, code, f"{option}: {target} ends in {ending}, but the rows are written")
    assert sorted(p.name for p in table.parent.iterdir()) == ["in.csv"]
    with pytest.raises(cecli.InputError, match=r"^output: .* ends in \.gz"):
        cecli.score_file(table, output=str(table.parent / "rows.csv.gz"))


def test_failed_run_leaves_the_target_and_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("label,p0,p1\n0,0.9,0.1\n1,abc,0.8\n")
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    code = main(["ce", "--csv", str(source), "--output", str(target)])
    _one_error(capsys, code, "'abc' is not a number")
    assert target.read_text() == "old\n"
    assert _leftovers(tmp_path) == []


def test_endless_input_stops_at_the_spool_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cecli.files, "SPOOL_LIMIT", 4 << 20)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    code = main(["ce", "--csv", "/dev/zero"])
    _one_error(capsys, code, "more than 0.00390625 GiB to hold in the temporary folder")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_gzip_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(gzip.compress(ROWS.encode() * 500))
    for position in range(20, 60):
        data[position] ^= 0x55
    source = tmp_path / "in.csv.gz"
    source.write_bytes(bytes(data))
    code = main(["ce", "--csv", str(source)])
    _one_error(capsys, code, f"{source}: cannot read (Error -3 while decompressing")


def test_a_file_that_reports_no_size_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc here")
    # /proc/self/status has text but a size of 0; read like a pipe, it has no label column.
    code = main(["ce", "--csv", "/proc/self/status"])
    _one_error(capsys, code, "no label column")


def test_low_free_space_stops_the_spool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cecli.files, "SPOOL_RESERVE", 1 << 60)  # more than any disk has
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    code = main(["ce", "--csv", "/dev/zero"])
    _one_error(capsys, code, f"the temporary folder {str(tmp_path)!r} has less than")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only the superuser may give a file away")
def test_a_replaced_output_keeps_its_owner(table: Path) -> None:
    target = table.parent / "out.csv"
    target.write_text("old\n")
    os.chown(target, 12345, 23456)
    assert main(["ce", "--csv", str(table), "-q", "--output", str(target)]) == 0
    assert (target.stat().st_uid, target.stat().st_gid) == (12345, 23456)
    assert target.read_text().splitlines()[0] == "line,loss"
