"""Random malformed CSV, gzip and Parquet files, each scored by the installed ``cecli`` in a
subprocess (so that a hang is caught by a timeout and a crash by its exit status).

A file starts as a well-formed table for a random subcommand; then values are spoilt (not
numbers, NaN, infinities, values outside [0, 1], markup and control characters), lines are
broken (ragged rows, stray quotes, quoted line breaks, binary garbage, line-ending mixes), or
the whole file is replaced (empty, header only, Parquet bytes named .csv, a cut gzip).

The row-count invariant holds for files whose records are each one physical line (no quote or
line-ending damage, ``clean``): with ``--reduction none --json`` every line of stdout is one
scored row, ``cecli: warning: skipped N invalid row(s)`` counts the skipped ones, and empty
lines (not records; a row of empty fields is one, and invalid) are passed over silently, so
scored + skipped + blank = records, and each scored row's ``line`` is one of the file's
non-blank record lines.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.checks import Failure, shell_quote, stream_failures

CPU_SECONDS = 10
"""A run's limit in CPU time: a busy loop stops there however loaded the machine is."""
WALL_SECONDS = 55
"""The limit for a run that waits without working; not 10 s, because on a loaded machine
starting the interpreter alone was seen to take over 6 s."""
_LIMITED = """
import faulthandler, resource, runpy, signal, sys
cpu, wall, script = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
faulthandler.register(signal.SIGXCPU, all_threads=True)
faulthandler.dump_traceback_later(wall, exit=True)
sys.argv = sys.argv[3:]
runpy.run_path(script, run_name="__main__")
"""
"""Runs the installed script under a CPU and a wall-clock limit, printing every thread's
stack when one is passed (the CPU one kills at its hard limit, 5 s later), so that a hang
names where it spins."""
_HANG = re.compile(r"^Timeout \(\d+:\d+:\d+\)!$|^(Current thread|Thread) 0x[0-9a-f]+", re.M)


def _hang_place(stderr: str) -> str:
    """The innermost cecli frame of the first thread that is not waiting, from a dump."""
    for block in re.split(r"\n(?=(?:Current thread|Thread) 0x)", stderr):
        frames = re.findall(r'File "(.*)", line \d+ in (\S+)', block)
        if not frames or frames[0][0].endswith(("threading.py", "queue.py")):
            continue
        for path, function in frames:
            if f"{os.sep}cecli{os.sep}" in path:
                return f", at cecli/{Path(path).name}:{function}"
    return ""


EXIT_CODES = (0, 2, 130)
LOSS_COMMANDS = ("ce", "bce", "multilabel", "kl", "grad", "smooth", "focal")
ODD_CELLS = (
    "abc", "NA", "null", "None", "", " ", "nan", "NaN", "inf", "-inf", "Infinity", "1.5", "-0.1",
    "1e308", "-1e308", "1e-320", "-0", "2", "-1", "0x1p-3", "1_0", "١", "0.5.5", "1e", "TRUE",
    '"0.5"', '"0,5"', '""', "\x1b[2J", "[/x]", "[bold]b", "\x07", "\x00", "\x7f", "\x85", "é",
    "\ufeff0.5", "1e400", " 0.5", "0.5 ", "+0.5", ".5", "9" * 40,
)  # fmt: skip
ODD_HEADERS = (
    "p 0", " p0", "p0 ", "label ", "[/x]", "[bold]h", "\x1b[2J", "a\tb", '"quoted"', '"a""b"',
    "é", "", "\x00", "\\n", "%s", "{}", "p*", "\x7f",
)  # fmt: skip


@dataclass
class FileCase:
    """One generated file, how cecli is asked to read it, and what is known of its rows."""

    name: str
    content: bytes
    args: list[str]
    stdin: bytes | None = None
    records: int | None = None
    """Data records (blank ones included), when each is one physical line; else None."""
    blank_lines: frozenset[int] = frozenset()
    record_lines: frozenset[int] = frozenset()
    notes: list[str] = field(default_factory=list)
    """The damage done, for the failure message."""

    def command_line(self) -> str:
        text = " ".join(shell_quote(argument) for argument in ["cecli", *self.args])
        return text + (f" < {self.name}" if self.stdin is not None else "")

    def reproducer(self, kept: Path | None = None) -> str:
        """The shell line that reruns this case; with ``kept``, the file is written there
        first and the line starts in that folder."""
        if kept is not None:
            kept.mkdir(parents=True, exist_ok=True)
            (kept / self.name).write_bytes(self.content)
        line = f"{self.command_line()}  # {', '.join(self.notes)}"
        return line if kept is None else f"cd {kept} && {line}"


# --- cells and tables ----------------------------------------------------------------------


def _probability_row(rng: random.Random, width: int) -> list[float]:
    weights = [rng.random() ** 2 + 1e-9 for _ in range(width)]
    return [w / sum(weights) for w in weights]


def _format(rng: random.Random, value: float) -> str:
    style = rng.random()
    if style < 0.6:
        return f"{value:.{rng.randint(1, 6)}f}"
    if style < 0.9:
        return repr(value)
    return f"{value:.3e}"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    label_names: list[str] | None = None


def _table(rng: random.Random, command: str, rows: int, logits: bool) -> Table:
    width = rng.randint(1, 4) if command in ("bce", "multilabel") else rng.randint(2, 4)
    index_labels = command in ("ce", "smooth", "grad", "focal") and rng.random() < 0.7
    label_header = ["label"] if index_labels else [f"y{c}" for c in range(width)]
    pred_prefix = "z" if logits and rng.random() < 0.3 else "p"
    header = [*label_header, *(f"{pred_prefix}{c}" for c in range(width))]
    with_id, with_weight = rng.random() < 0.3, rng.random() < 0.2
    if with_id:
        header.insert(0, "id")
    if with_weight:
        header.append("w")
    names = [f"c{c}" for c in range(width)] if index_labels and rng.random() < 0.2 else None
    table_rows = []
    for r in range(rows):
        probabilities = _probability_row(rng, width)
        if logits:
            probabilities = [rng.uniform(-8, 8) for _ in range(width)]
        if index_labels:
            target = rng.randrange(width)
            labels = [names[target] if names else str(target)]
        elif command in ("bce", "multilabel") or rng.random() < 0.3:
            labels = [rng.choice("01") for _ in range(width)]
        else:
            target = rng.randrange(width)
            labels = ["1" if c == target else "0" for c in range(width)]
        row = [*labels, *(_format(rng, v) for v in probabilities)]
        if with_id:
            row.insert(0, rng.choice((f"row-{r}", f"r{r}", str(r), f"[/x]{r}", f"i\x1b[2J{r}")))
        if with_weight:
            row.append(rng.choice(("1", "0.5", "2", "0", "-1", "nan", "")))
        table_rows.append(row)
    return Table(header, table_rows, names)


# --- damage ----------------------------------------------------------------------------------


def _spoil_values(rng: random.Random, table: Table, notes: list[str]) -> None:
    """Odd cells here and there; every record stays one line."""
    if not table.rows or rng.random() < 0.4:
        return
    for _ in range(rng.randint(1, 4)):
        row = rng.choice(table.rows)
        column = rng.randrange(len(row))
        row[column] = rng.choice(ODD_CELLS)
        notes.append(f"cell {row[column]!r}")


def _spoil_header(rng: random.Random, table: Table, notes: list[str]) -> None:
    roll = rng.random()
    if roll < 0.08 and len(table.header) > 1:
        position = rng.randrange(len(table.header))
        table.header[position] = table.header[(position + 1) % len(table.header)]
        notes.append("duplicate header")
    elif roll < 0.16:
        position = rng.randrange(len(table.header))
        table.header[position] = rng.choice(ODD_HEADERS)
        notes.append(f"header {table.header[position]!r}")


def _lines(rng: random.Random, table: Table, separator: str) -> tuple[list[str], set[int]]:
    """The header and records as lines, with blank records among them (their line numbers)."""
    lines = [separator.join(table.header)]
    blank: set[int] = set()
    for row in table.rows:
        # Only an empty line is not a record: a row of empty fields (",,,") is one, and is
        # skipped or refused like any other invalid record.
        if rng.random() < 0.05:
            empty = rng.choice(("", separator * (len(table.header) - 1)))
            lines.append(empty)
            if not empty:
                blank.add(len(lines))
        lines.append(separator.join(row))
        if not lines[-1]:
            blank.add(len(lines))
    if rng.random() < 0.05:
        lines.append("")
        blank.add(len(lines))
    return lines, blank


def _half_blank(table: Table) -> bool:
    """Whether some row has every label and prediction empty but not every field: whether it
    counts as blank is not settled, so such files are left out of the row-count check."""
    width = len(table.header) - ("id" in table.header) - ("w" in table.header)
    start = 1 if "id" in table.header else 0
    return any(any(row) and not any(row[start : start + width]) for row in table.rows)


_BREAKS = ("ragged", "stray quote", "quoted line break", "garbage", "spaces")


def _break_lines(
    rng: random.Random, lines: list[str], separator: str, notes: list[str], *, force: bool
) -> bool:
    """Damage to the records' structure; True if some was done."""
    if (rng.random() < 0.55 and not force) or len(lines) < 2:
        return False
    damage = "stray quote" if force and rng.random() < 0.5 else rng.choice(_BREAKS)
    notes.append(damage)
    target = rng.randrange(1, len(lines))
    line = lines[target]
    if damage == "ragged":
        fields = line.split(separator)
        if rng.random() < 0.5 and fields:
            fields.pop(rng.randrange(len(fields)))
        else:
            fields.insert(rng.randrange(len(fields) + 1), rng.choice(("0.5", "", "x")))
        lines[target] = separator.join(fields)
    elif damage == "stray quote":
        position = rng.randrange(len(line) + 1)
        lines[target] = line[:position] + '"' + line[position:]
    elif damage == "quoted line break":
        fields = line.split(separator)
        column = rng.randrange(len(fields))
        cut = rng.randrange(len(fields[column]) + 1)
        text = fields[column]
        fields[column] = '"' + text[:cut] + rng.choice(("\n", "\r\n", "\r")) + text[cut:] + '"'
        lines[target] = separator.join(fields)
    elif damage == "garbage":
        garbage = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        position = rng.randrange(len(line) + 1)
        # Bytes that are not UTF-8 ride along as lone surrogates until _join encodes them.
        lines[target] = (
            line[:position] + garbage.decode("utf-8", "surrogateescape") + line[position:]
        )
    elif damage == "spaces":
        lines[target] = rng.choice(("  ", "\t", " " + line, line + " "))
    return True


def _join(rng: random.Random, lines: list[str], notes: list[str]) -> tuple[bytes, bool]:
    """The lines as bytes; False if the line endings make line numbers ambiguous."""
    style = rng.random()
    if style < 0.75:
        text, plain = "\n".join(lines), True
    elif style < 0.85:
        text, plain = "\r\n".join(lines), True
        notes.append("CRLF")
    elif style < 0.92:
        text, plain = "\r".join(lines), False
        notes.append("CR")
    else:
        text = "".join(line + rng.choice(("\n", "\r\n", "\r")) for line in lines)
        plain = False
        notes.append("mixed line endings")
    if rng.random() < 0.85:
        text += rng.choice(("\n", "\n", "\r\n")) if plain else "\n"
    content = text.encode("utf-8", "surrogateescape")
    if rng.random() < 0.06:
        content = b"\xef\xbb\xbf" + content
        notes.append("BOM")
    if rng.random() < 0.03:
        content = text.encode("utf-16", "surrogatepass")
        notes.append("UTF-16")
        plain = False
    if rng.random() < 0.02 and lines:
        huge = "9" * rng.choice((70_000, 1_100_000))
        content += (huge + "\n").encode()
        notes.append("huge field")
        plain = False
    return content, plain


def _parquet(rng: random.Random, table: Table, notes: list[str]) -> bytes:
    import polars as pl

    columns: dict[str, list[object]] = {}
    for position, name in enumerate(table.header):
        cells = [row[position] if position < len(row) else None for row in table.rows]
        key = name if name not in columns else f"{name}_{position}"
        as_numbers = []
        for cell in cells:
            try:
                as_numbers.append(float(cell) if cell is not None else None)
            except ValueError:
                as_numbers = []
                break
        if as_numbers and rng.random() < 0.8:
            columns[key] = list(as_numbers)
        else:
            columns[key] = list(cells)
            notes.append(f"string column {key!r}")
    frame = pl.DataFrame(columns, strict=False)
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _whole_file(rng: random.Random, csv_text: bytes, parquet: bytes) -> tuple[bytes, str] | None:
    """Now and then, a file that is not a table at all."""
    roll = rng.random()
    if roll > 0.15:
        return None
    choices: list[tuple[bytes, str]] = [
        (b"", "empty file"),
        (csv_text.split(b"\n")[0], "header only, no line break"),
        (csv_text.split(b"\n")[0] + b"\n", "header only"),
        (b"\n\n\n", "only line breaks"),
        (b"\xef\xbb\xbf", "only a BOM"),
        (parquet, "Parquet bytes named .csv"),
        (bytes(rng.randrange(256) for _ in range(rng.randint(1, 3000))), "random bytes"),
        (gzip.compress(csv_text)[: rng.randint(0, 60)], "cut gzip named .csv"),
        (b"\x00" * rng.randint(1, 100), "NUL bytes"),
        (b'"' * rng.randint(1, 5) + b"\n" + csv_text, "quotes before the header"),
    ]
    return rng.choice(choices)


# --- options ---------------------------------------------------------------------------------


def _options(rng: random.Random, table: Table, command: str, logits: bool) -> list[str]:
    args: list[str] = []
    if logits:
        args.append("--logits")
    if command == "grad" and not logits and rng.random() < 0.8:
        args.append("--probs")
    if rng.random() < 0.4:
        args.append("--skip-invalid")
    if rng.random() < 0.5:
        args += ["--reduction", rng.choice(("none", "none", "sum", "mean", "bogus"))]
    output = rng.random()
    if output < 0.45:
        args.append("--json")
    elif output < 0.6:
        args.append("-q")
    if rng.random() < 0.1:
        args.append("--explain")
    if rng.random() < 0.2 and command != "bce":
        names = table.label_names or [f"c{c}" for c in range(rng.randint(1, 4))]
        if rng.random() < 0.2:
            names = [*names[:-1], rng.choice(("[/x]", "\x1b[2J", "a b", "é"))]
        args += ["--classes", ",".join(names)]
    header = [h for h in table.header if h]
    if "id" in table.header and rng.random() < 0.6:
        args += ["--id-col", "id"]
    if "w" in table.header and rng.random() < 0.6:
        args += ["--weight-col", "w"]
    picks: dict[str, Callable[[], str]] = {
        "--label-col": lambda: rng.choice((*header, "label", "nope", "")),
        "--pred-cols": lambda: rng.choice(("p*", "z*", "p0,p1", "nope", ",".join(header[-2:]))),
        "--weight-col": lambda: rng.choice(("w", "nope", *header)),
        "--id-col": lambda: rng.choice(("id", "id", "id", "nope", *header)),
        "--delimiter": lambda: rng.choice((",", ";", "\t", "|", ",,", "")),
        "--label-cols": lambda: rng.choice(("y*", "y0,y1", "nope")),
    }
    for option, pick in picks.items():
        if rng.random() < 0.05:
            args += [option, pick()]
    if rng.random() < 0.15:
        args.append("--normalize" if command not in ("bce", "multilabel", "grad") else "")
    if rng.random() < 0.08:
        args += ["-o", rng.choice(("out.csv", "out.csv", "nofolder/out.csv"))]
    return [a for a in args if a]


# --- a case ------------------------------------------------------------------------------------


LARGE_SHARE = 0.03
"""Share of the long profile's files made past CHUNK_BYTES (8 MiB)."""


def file_case(seed: int, index: int, *, large_share: float) -> FileCase:
    rng = random.Random(f"{seed}:files:{index}")
    command = rng.choice(LOSS_COMMANDS)
    logits = rng.random() < 0.2 and command != "kl"
    rows = rng.choice((0, 1, 1, 2, 3, 3, 5, 8, 13, 30, 100))
    large = rng.random() < large_share
    if large:
        # Past CHUNK_BYTES (8 MiB) the reader cuts the file into blocks at record ends:
        # damage there is what small files cannot show.
        rows = rng.choice((140_000, 300_000))
    table = _table(rng, command, rows, logits)
    notes: list[str] = []
    _spoil_values(rng, table, notes)
    _spoil_header(rng, table, notes)
    separator = ","
    container = rng.choices(("csv", "tsv", "gz", "parquet", "stdin"), (60, 8, 10, 15, 7))[0]
    if container == "tsv" or (container == "csv" and rng.random() < 0.05):
        separator = rng.choice(("\t", ";"))
    lines, blank = _lines(rng, table, separator)
    broken = _break_lines(rng, lines, separator, notes, force=large) or _half_blank(table)
    content, plain = _join(rng, lines, notes)
    records: int | None = len(lines) - 1 if plain and not broken else None
    record_lines = frozenset(range(2, len(lines) + 1))
    name = {"csv": "data.csv", "tsv": "data.tsv", "gz": "data.csv.gz"}.get(container, "data.csv")
    parquet = b""
    if container == "parquet" or rng.random() < 0.05:
        parquet = _parquet(rng, table, notes)
    if container == "parquet":
        content, name = parquet, "data.parquet"
        records, blank = len(table.rows), set()
        record_lines = frozenset(range(1, len(table.rows) + 1))
        if rng.random() < 0.1:
            content = content[: rng.randrange(len(content))]
            notes.append("cut Parquet")
            records = None
    elif (replaced := _whole_file(rng, content, parquet or b"PAR1")) is not None:
        content, what = replaced
        notes.append(what)
        records = None
    if container == "gz":
        content = gzip.compress(content)
        if rng.random() < 0.15:
            content = content[: rng.randrange(len(content) + 1)]
            notes.append("cut gzip")
            records = None
    args = [command]
    if container == "parquet":
        args += [rng.choice(("--parquet", "--parquet", "--csv")), name]
    elif container == "stdin":
        args += ["--csv", "-"]
    else:
        args += ["--csv", name]
    # A column name spoiled with a NUL cannot reach a command line (argv has no NUL): the
    # option names the column without it, which no column is called.
    args += [option.replace("\0", "") for option in _options(rng, table, command, logits)]
    if "UTF-16" in notes:
        records = None
    return FileCase(
        name=name,
        content=content,
        args=args,
        stdin=content if container == "stdin" else None,
        records=records,
        blank_lines=frozenset(blank),
        record_lines=record_lines,
        notes=notes,
    )


# --- running ---------------------------------------------------------------------------------


def installed_cecli() -> str:
    beside_python = Path(sys.executable).with_name("cecli")
    found = str(beside_python) if beside_python.exists() else shutil.which("cecli")
    if not found:
        raise RuntimeError("the cecli console script is not installed (pip install -e .)")
    return found


def environment() -> dict[str, str]:
    """Plain output, as the test suite pins it: no terminal, no colour, a fixed width."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "PY_COLORS")}
    env.update({"TTY_COMPATIBLE": "0", "_TYPER_FORCE_DISABLE_TERMINAL": "1", "COLUMNS": "160"})
    return env


@dataclass(frozen=True)
class FileRun:
    code: int | None
    """None when the run was killed at the time limit."""
    stdout: str
    stderr: str


def run_file_case(case: FileCase, folder: Path) -> FileRun:
    (folder / case.name).write_bytes(case.content)
    cecli = installed_cecli()
    limited = [sys.executable, "-c", _LIMITED, str(CPU_SECONDS), str(WALL_SECONDS)]
    try:
        done = subprocess.run(
            [*limited, cecli, *case.args],
            cwd=folder,
            input=case.stdin if case.stdin is not None else b"",
            capture_output=True,
            timeout=WALL_SECONDS + 30,
            env=environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return FileRun(None, "", "")
    return FileRun(
        done.returncode,
        done.stdout.decode("utf-8", "surrogateescape"),
        done.stderr.decode("utf-8", "surrogateescape"),
    )


_SKIPPED = re.compile(r"^cecli: warning: skipped (\d+) invalid row", re.MULTILINE)


def _row_count_failures(case: FileCase, run: FileRun) -> list[Failure]:
    """scored + skipped + blank = records, for ``--reduction none --json`` on a clean file."""
    args = case.args
    per_row_json = "--json" in args and "none" in args and "-o" not in args
    if run.code != 0 or case.records is None or not per_row_json:
        return []
    if "--reduction" not in args or args[args.index("--reduction") + 1] != "none":
        return []
    documents = []
    for line in run.stdout.splitlines():
        try:
            documents.append(json.loads(line))
        except ValueError:
            return [Failure("row count", "stdout line is not JSON", repr(line[:200]))]
    skipped_match = _SKIPPED.search(run.stderr)
    skipped = int(skipped_match.group(1)) if skipped_match else 0
    blank = len(case.blank_lines)
    failures = []
    if len(documents) + skipped + blank != case.records:
        failures.append(
            Failure(
                "row count",
                "scored + skipped + blank != records",
                f"{len(documents)} scored + {skipped} skipped + {blank} blank, "
                f"{case.records} records",
            )
        )
    if "--id-col" not in args:
        lines = [d.get("line") for d in documents]
        valid = case.record_lines - case.blank_lines
        wrong = [line for line in lines if line not in valid]
        if wrong or len(set(lines)) != len(lines):
            failures.append(
                Failure("row count", "scored line numbers", f"{lines[:20]} vs {sorted(valid)[:20]}")
            )
    return failures


def failures_of(case: FileCase, run: FileRun) -> list[Failure]:
    if run.code is None:
        return [Failure("hang", f"no end {WALL_SECONDS + 30} s after starting a subprocess")]
    if (dump := _HANG.search(run.stderr)) is not None:
        place = _hang_place(run.stderr)
        if dump.group().startswith("Timeout"):
            return [Failure("hang", f"over {WALL_SECONDS} s in a subprocess{place}")]
        return [Failure("hang", f"over {CPU_SECONDS} s of CPU in a subprocess{place}")]
    failures: list[Failure] = []
    rows_verbatim = "none" in case.args and "--json" not in case.args and "-q" not in case.args
    failures += stream_failures(run.code, run.stdout, run.stderr, rows_verbatim=rows_verbatim)
    if run.code not in EXIT_CODES and not any(f.kind == "traceback text" for f in failures):
        failures.append(Failure("exit code", str(run.code), run.stderr[-300:]))
    failures += _row_count_failures(case, run)
    return failures
