"""The reader of small, plain CSV files (no polars) against the polars reader, as a user sees
them: the same exit code, the same output and the same messages, byte for byte, on generated
files and on the file fuzzer's damaged ones."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import cecli.plain_csv
from cecli.files import Reading, select_columns
from cecli.plain_csv import plain_batches, read_plain
from tests.fuzz.malformed import LOSS_COMMANDS, _options, _table, file_case
from tests.helpers import run

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _both_readers(
    monkeypatch: pytest.MonkeyPatch, folder: Path, args: list[str], stdin: bytes | None = None
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """``cecli ARGS`` in ``folder`` as read without polars where it can be, and by polars."""
    monkeypatch.chdir(folder)
    plain = run(*args, input=stdin)
    with monkeypatch.context() as patched:
        patched.setattr(cecli.plain_csv, "PLAIN_CSV_BYTES", -1)
        by_polars = run(*args, input=stdin)
    return plain, by_polars


@pytest.mark.parametrize("index", range(120))
def test_fuzzed_files_read_the_same_by_both_readers(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = file_case(7, index, large_share=0.0)
    (tmp_path / case.name).write_bytes(case.content)
    plain, by_polars = _both_readers(monkeypatch, tmp_path, case.args, case.stdin)
    assert plain == by_polars, case.reproducer()


@pytest.mark.parametrize("index", range(150))
def test_generated_plain_files_read_the_same_by_both_readers(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fuzzer's well-formed tables, undamaged: most of them are read without polars.
    rng = random.Random(f"plain:{index}")
    command = rng.choice(LOSS_COMMANDS)
    logits = rng.random() < 0.2 and command != "kl"
    table = _table(rng, command, rng.choice((1, 2, 5, 40, 400)), logits)
    ending = rng.choice(("\n", "\r\n"))
    lines = [",".join(table.header), *(",".join(row) for row in table.rows)]
    (tmp_path / "data.csv").write_text(ending.join(lines) + ending, newline="")
    args = [command, "--csv", "data.csv", *_options(rng, table, command, logits)]
    plain, by_polars = _both_readers(monkeypatch, tmp_path, args)
    assert plain == by_polars, " ".join(args)


ROWS = """id,split,label,weight,p_cat,p_dog,p_bird
a1,train,cat,1,0.7,0.2,0.1
a2,test,dog,2.5, 0.25 ,0.5,0.25
a3,train,bird,0,1e-3,0.5,0.499
a4,test,0,1,.5,5e-1,0
a5,val,2,3,0.1,0.1,0.8
"""


@pytest.mark.parametrize(
    "args",
    [
        ["ce", "--json"],
        ["ce", "--per-class", "--by", "split", "--json"],
        ["ce", "--reduction", "none", "--json", "--columns", "label,pred,p_true,rank,correct"],
        ["ce", "--reduction", "none", "--keep", "split"],
        ["ce", "--by", "split,id"],
        ["focal", "--gamma", "2", "--json"],
        ["smooth", "--smoothing", "0.1", "--json"],
        ["grad", "--reduction", "none", "--json"],
        ["ce", "--classes", "bird,cat,dog", "--json"],
        ["ce", "--weight-col", "weight", "--by", "label", "--json"],
    ],
)
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_plain_file_gives_what_polars_gives(
    args: list[str], ending: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(ROWS.replace("\n", ending).encode())
    plain, by_polars = _both_readers(
        monkeypatch, tmp_path, [args[0], "--csv", str(path), *args[1:]]
    )
    assert plain == by_polars
    assert plain[0] == 0, plain[2]


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLE.glob("*.csv")))
def test_the_sample_files_read_the_same(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = "bce" if "bce" in name or "binary" in name else "ce"
    command = "multilabel" if "multilabel" in name else command
    plain, by_polars = _both_readers(
        monkeypatch, tmp_path, [command, "--csv", str(SAMPLE / name), "--json", "--skip-invalid"]
    )
    assert plain == by_polars


def test_a_small_plain_file_is_scored_without_importing_polars(tmp_path: Path) -> None:
    path = tmp_path / "four.csv"
    path.write_text("label,p0,p1\n0,0.3,0.7\n1,0.2,0.8\n0,0.5,0.5\n1,0.1,0.9\n")
    script = (
        "import sys\nfrom cecli.cli import main\n"
        f"code = main(['ce', '--csv', {str(path)!r}, '-q'])\n"
        "print('polars' in sys.modules, code)\n"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    loss, imported = done.stdout.split("\n")[:2]
    assert imported == "False 0"
    # The true class's probabilities: 0.3, 0.8, 0.5 and 0.9.
    expected = -math.fsum(math.log(p) for p in (0.3, 0.8, 0.5, 0.9)) / 4
    assert float(loss) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b'label,p0,p1\n0,"0.3",0.7\n', "a quote"),
        (b"label,p0,p1\n0,0.3,0.7\n\n1,0.2,0.8\n", "an empty line"),
        (b"label,p0,p1\n0,0.3,0.7,9\n", "a ragged record"),
        (b"label,p0,p1\n0,0.3\r,0.7\n", "a carriage return inside a line"),
        (b"label,label,p1\n0,0.3,0.7\n", "a name given twice"),
        (b"label,p0,p1\n0,0.3,0.7\n" * 110_000, "too large"),
        (b"label,p0,p1\n0,\xff,0.7\n", "not UTF-8"),
    ],
)
def test_what_is_not_plain_is_left_to_polars(content: bytes, why: str, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert read_plain(path, ",", len(content)) is None, why


@pytest.mark.parametrize("field", ["x", "", "0x1", "1_0", "１"])
def test_a_field_that_is_not_a_number_is_left_to_polars(field: str, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(f"label,p0,p1\n0,0.3,0.7\n1,{field},0.8\n")
    plain = read_plain(path, ",", path.stat().st_size)
    assert plain is not None
    columns = select_columns(plain.names, "categorical")
    assert plain_batches(plain, columns, Reading.of(columns, None), 2) is None
