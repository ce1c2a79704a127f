"""Random command lines for every subcommand, and ``cecli.cli.main`` run on them in-process.

The options come from the Typer commands themselves, so the fuzzer follows the CLI as it
changes.  Values mix valid vectors with odd numbers, class names holding control characters
or rich markup, unknown options, ``--``, ``-`` and empty strings.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import resource
import shutil
import signal
import sys
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import typer.main

from cecli import cli
from tests.fuzz.checks import Failure, stream_failures

COMMANDS = ("ce", "bce", "multilabel", "kl", "grad", "smooth", "focal", "plot", "tour")
SAMPLES = Path(__file__).resolve().parent.parent.parent / "sample_data"
SAMPLE_FILES = (
    "iris3_index.csv",
    "iris3_onehot.csv",
    "logits.csv",
    "multilabel.csv",
    "bad_row.csv",
)
"""Copied into each case's working folder, so options can name real files there."""
CPU_SECONDS = 5.0
"""In-process limit of one command line, in CPU time (all threads): a loaded machine slows
the clock, not the work, so a slow CI box does not turn into a hang."""
WALL_SECONDS = 60.0
"""The backstop for a run that waits without working (a deadlock)."""
MEMORY_HEADROOM = 3 << 30
"""Address space a case may add, so that a huge size fails with MemoryError, not the machine."""


# --- the real option set -------------------------------------------------------------------


@dataclass(frozen=True)
class OptionSpec:
    names: tuple[str, ...]
    flag: bool
    kind: str
    """The parser's type name: "float", "int", "text", "choice" or "boolean"."""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandSpec:
    name: str
    arguments: tuple[OptionSpec, ...]
    options: tuple[OptionSpec, ...]


def _spec(param: object) -> OptionSpec:
    param_type = getattr(param, "type", None)
    choices = tuple(str(c) for c in getattr(param_type, "choices", ()) or ())
    names = tuple(getattr(param, "opts", ())) + tuple(getattr(param, "secondary_opts", ()))
    kind = str(getattr(param_type, "name", "text"))
    return OptionSpec(
        names=names,
        flag=bool(getattr(param, "is_flag", False)),
        kind={"integer": "int", "int range": "int", "float range": "float"}.get(kind, kind),
        choices=choices,
    )


def command_specs() -> dict[str, CommandSpec]:
    """Each subcommand's arguments and options, as Typer builds them for the parser."""
    group = typer.main.get_group(cli.full_app())
    specs = {}
    for name, command in group.commands.items():
        params = [(p.param_type_name, _spec(p)) for p in command.params]
        specs[name] = CommandSpec(
            name=name,
            arguments=tuple(s for kind, s in params if kind == "argument"),
            options=tuple(s for kind, s in params if kind == "option"),
        )
    return specs


SPECS = command_specs()


# --- values --------------------------------------------------------------------------------

VECTORS = (
    "1,0;0,1", "0.3,0.7;0.6,0.4", "0", "1", "2", "0;1", "0;2;1", "0.7,0.2,0.1", "1,0,0",
    "[1 0 0]", "[[1,0],[0,1]]", "(0.5, 0.5)", "2,1,0.1", "1,0,1", "0.9,0.2,0.7", "-1.2,0.3",
    "0.5", "0.5,0.5", "0.5 0.5", "1\n0", "0.1;0.9", "[0.2,0.8]", "0,1,0,1",
)  # fmt: skip
ODD_NUMBERS = (
    "1e308", "-1e308", "1e309", "1e-320", "5e-324", "-0", "-0.0", "+0", "nan", "NaN", "-nan",
    "inf", "-inf", "Infinity", "١", "٠٫٥", "１", "０.５", "1_000", "0_5", "0x1p-3", "0x10",
    "1e99999", "-1e99999", "1e-99999", "9" * 400, "0." + "0" * 400 + "1", ".5", "5.", "1e",
    "e1", "--1", "1,,0", ",", ";", ";;", "[", "]", "[[1]", "[]", "()", "1 0", "\t1\n0", "²",
    "½", "1e+308", "0b1", "1j", "True", "None", "0.5e", "1__0", "⁻1", "−1",
    "1.7976931348623157e308", "2.2250738585072014e-308", "1e-7", "0.9999999999999999",
    "1.0000000000000002",
)  # fmt: skip
NAMES = (
    "a,b", "cat,dog", "a,b,c", "[/x]", "[bold]x[/bold]", "[red]a,b", "\x1b[2J", "a\x1b[31mb",
    "\x1b]8;;http://x\x07link", "a\tb", "\x7f", "\x85", "\x9b", "\u2028", "\u202e", "a\nb",
    "\r", "é,ü", "🙂", "[", "]", "\\", "'", '"', "a,a", ",", " ", "", "x" * 300, "\x07",
    "\udcff", "a\udcfe", "{}", "%s", "$HOME", "[link=x]y[/link]", ":smile:", "a\x08b",
)  # fmt: skip
"""Class names, column names and free text: markup, escapes, controls, lone surrogates (which
is how Python hands over command-line bytes that are not UTF-8)."""
FLOATS = (
    "0", "0.1", "0.5", "1", "2", "-1", "1e-7", "0.4999999", "0.5", "1e308", "nan", "inf", "-inf",
    "-0", "1e-320", "x", "", "1_000", "0x1p-3", "١", "1e400", "0.1.2", " 1", "1 ",
)  # fmt: skip
INTEGERS = (
    "0", "1", "2", "3", "5", "8", "-1", "18", "40", "200", "2000", "100000", "1000000000",
    "99999999999999999999", "x", "1.5", "", "١", "0x10", "-0", "+5", "1_0",
)  # fmt: skip
TEXT_POOLS: dict[str, tuple[str, ...]] = {
    "--base": ("e", "2", "10", "E", "3", "", "ln", "nan", "1e1", "2.0", "bits"),
    "--reduction": ("mean", "sum", "none", "MEAN", "avg", "", " none"),
    "--like": ("torch", "keras", "sklearn", "optax", "pytorch", "scikit-learn", "TORCH", "x", ""),
    "--csv": ("iris3_index.csv", "iris3_onehot.csv", "logits.csv", "multilabel.csv",
              "bad_row.csv", "-", "missing.csv", "", ".", "iris3_index.csv.gz", "x.parquet"),
    "--parquet": ("iris3_index.csv", "-", "missing.parquet", "", "."),
    "--labels": ("iris3_index.csv", "multilabel.csv", "-", "missing.csv", ""),
    "--preds": ("iris3_index.csv", "logits.csv", "-", "missing.csv", ""),
    "--output": ("out.csv", "-", "", "nofolder/x.csv", ".", "out.csv.gz"),
    "--label-col": ("label", "y0", "id", "p0", "nope", "", "l*"),
    "--label-cols": ("y0,y1,y2", "y*", "label", "nope", "", "p*"),
    "--pred-cols": ("p0,p1,p2", "p*", "z*", "z0,z1,z2", "nope", "", "label", "p0"),
    "--weight-col": ("w", "p0", "label", "nope", ""),
    "--id-col": ("id", "label", "p0", "nope", ""),
    "--delimiter": (",", ";", "\t", "", ",,", "|", "\n", '"', "\\t"),
}  # fmt: skip
VECTOR_OPTIONS = ("--weights", "--vs", "--at", "--gamma", "--logits", "--temperature")
UNKNOWN_OPTIONS = ("--nope", "--gama", "-x", "--json=1", "--eps=0.1", "--", "-", "---", "--=")


def _number(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(("0", "1", "0.5", "0.25", "0.75", "0.1", "0.9", "2", "-1", "0.3"))
    return rng.choice(ODD_NUMBERS)


def _vector(rng: random.Random) -> str:
    """A valid vector, an odd value, or a batch made of random numbers."""
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(VECTORS)
    if roll < 0.6:
        return rng.choice(ODD_NUMBERS)
    if roll < 0.65:
        return rng.choice(NAMES)
    if roll < 0.7:
        return rng.choice(("", "-", " ", "--"))
    rows, width = rng.randint(1, 3), rng.randint(1, 4)
    separator = rng.choice((",", ",", " ", ", "))
    text = ";".join(separator.join(_number(rng) for _ in range(width)) for _ in range(rows))
    return f"[{text}]" if rng.random() < 0.1 else text


ODD_NAMES = tuple(n for n in NAMES if "," not in n and n.strip())
"""Single class names that survive being split on commas."""


def _coherent(rng: random.Random, command: str) -> tuple[list[str], str | None]:
    """LABELS and PREDS that fit each other (and maybe --classes naming odd classes), so
    that the run reaches the output instead of an input error."""
    classes, rows = rng.randint(2, 4), rng.randint(1, 3)
    names = None
    if rng.random() < 0.5:
        names = [rng.choice(ODD_NAMES) + str(c) for c in range(classes)]
    label_rows, pred_rows = [], []
    for _ in range(rows):
        weights = [rng.random() + 1e-3 for _ in range(classes)]
        probabilities = [w / sum(weights) for w in weights]
        pred_rows.append(",".join(f"{v:.{rng.randint(1, 17)}g}" for v in probabilities))
        if command in ("bce", "multilabel") or (command == "focal" and rng.random() < 0.3):
            label_rows.append(",".join(rng.choice("01") for _ in range(classes)))
        elif command == "kl" or rng.random() < 0.2:
            target = rng.randrange(classes)
            label_rows.append(",".join("1" if c == target else "0" for c in range(classes)))
        else:
            target = rng.randrange(classes)
            label_rows.append(names[target] if names and rng.random() < 0.7 else str(target))
    if command == "bce":
        names = None
    return [";".join(label_rows), ";".join(pred_rows)], None if names is None else ",".join(names)


def _value(rng: random.Random, option: OptionSpec) -> str:
    name = option.names[0]
    if rng.random() < 0.08:
        return rng.choice(NAMES + ODD_NUMBERS[:12])
    if option.choices:
        return rng.choice((*option.choices, "x", ""))
    if option.kind == "float":
        return rng.choice(FLOATS)
    if option.kind == "int":
        return rng.choice(INTEGERS)
    if name == "--classes":
        return rng.choice(NAMES)
    if name in TEXT_POOLS:
        return rng.choice(TEXT_POOLS[name])
    if name in VECTOR_OPTIONS:
        return _vector(rng)
    return rng.choice(NAMES)


def _option_tokens(rng: random.Random, option: OptionSpec) -> list[str]:
    name = rng.choice(option.names)
    if option.flag:
        return [name]
    value = _value(rng, option)
    if name.startswith("--") and rng.random() < 0.15:
        return [f"{name}={value}"]
    return [name, value]


def argument_list(rng: random.Random) -> list[str]:
    """One random command line, without the program name."""
    roll = rng.random()
    command = rng.choice(COMMANDS) if roll < 0.97 else rng.choice(("nope", "--help", "CE", "-q"))
    spec = SPECS.get(command)
    if spec is None:
        return [command, *(_vector(rng) for _ in range(rng.randint(0, 2)))]
    positionals: list[str] = []
    extra: list[list[str]] = []
    if command == "plot":
        kinds = spec.arguments[0].choices
        positionals = [rng.choice((*kinds, *kinds, "x", "", "-"))] if rng.random() < 0.95 else []
    elif command == "tour":
        if rng.random() < 0.5:
            positionals = [rng.choice(("1", "3", "0", "-1", "99", "x", "", "1.5", "١"))]
    elif rng.random() < 0.4:
        positionals, classes = _coherent(rng, command)
        if classes is not None:
            extra.append(["--classes", classes])
    else:
        count = rng.choices((0, 1, 2, 3), weights=(5, 8, 80, 7))[0]
        positionals = [_vector(rng) for _ in range(count)]
    tokens = [[p] for p in positionals] + extra
    options = list(spec.options)
    for _ in range(rng.choices((0, 1, 2, 3, 4, 6), weights=(20, 30, 25, 12, 8, 5))[0]):
        tokens.append(_option_tokens(rng, rng.choice(options)))
    if rng.random() < 0.07:
        tokens.append([rng.choice(UNKNOWN_OPTIONS)])
    if rng.random() < 0.02:
        tokens.append(["--help"])
    if rng.random() < 0.5:
        rng.shuffle(tokens)
    flat = [token for group in tokens for token in group]
    if rng.random() < 0.08 and flat:
        flat.insert(rng.randint(0, len(flat)), "--")
    if rng.random() < 0.04:
        # An option with its value missing, last so it cannot swallow a file name.
        flat.append(rng.choice(options).names[0])
    return [command, *flat]


# --- running main() in-process -------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: object
    stdout: str
    stderr: str
    exception: str | None
    """The escaped exception's class and innermost place, for grouping; None if none."""
    traceback: str
    warnings: tuple[str, ...]
    overtime: bool


class _Overtime(BaseException):
    """Raised by the alarm: a BaseException, so that no ``except Exception`` swallows it."""


@contextlib.contextmanager
def _deadline() -> Iterator[None]:
    if os.name != "posix" or not _main_thread():
        yield
        return

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise _Overtime

    previous = {number: signal.signal(number, alarm) for number in (signal.SIGPROF, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_PROF, CPU_SECONDS)
    signal.setitimer(signal.ITIMER_REAL, WALL_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for number, handler in previous.items():
            signal.signal(number, handler)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _memory_cap() -> Iterator[None]:
    statm = Path("/proc/self/statm")
    if not statm.exists():
        yield
        return
    size = int(statm.read_text().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _where(error: BaseException) -> str:
    """The exception's class, the innermost frame, and the innermost frame in cecli."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if f"{os.sep}cecli{os.sep}" in f.filename]
    last = frames[-1] if frames else None
    place = f" in {Path(last.filename).name}:{last.name}" if last else ""
    own = f" from cecli/{Path(ours[-1].filename).name}:{ours[-1].name}" if ours else ""
    return f"{type(error).__name__}{place}{own}"


def run_main(args: list[str], folder: Path, *, stdin_closed: bool = False) -> Run:
    """``cecli ARGS`` through ``main`` in ``folder`` (which gets fresh copies of the sample
    files), with empty (or no) standard input, UTF-8 output and a time and memory limit."""
    for name in SAMPLE_FILES:
        shutil.copyfile(SAMPLES / name, folder / name)
    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out_bytes, encoding="utf-8", errors="strict")
    stderr = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="backslashreplace")
    stdin = None if stdin_closed else io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
    saved = sys.stdin, sys.stdout, sys.stderr
    cwd = Path.cwd()
    code: object = None
    exception, trace, overtime = None, "", False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        os.chdir(folder)
        sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
        try:
            with _memory_cap(), _deadline():
                code = cli.main(args)
        except _Overtime:
            overtime = True
        except BaseException as error:  # everything that escapes main is the finding
            exception, trace = _where(error), traceback.format_exc()
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved
            os.chdir(cwd)
    for stream in (stdout, stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    found = tuple(f"{w.category.__name__}: {w.message}" for w in caught)
    return Run(
        code=code,
        stdout=out_bytes.getvalue().decode("utf-8", "replace"),
        stderr=err_bytes.getvalue().decode("utf-8", "replace"),
        exception=exception,
        traceback=trace,
        warnings=found,
        overtime=overtime,
    )


def failures_of(args: list[str], run: Run) -> list[Failure]:
    """Everything wrong with one in-process run."""
    if run.overtime:
        limits = f"over {CPU_SECONDS:g} s of CPU or {WALL_SECONDS:g} s, in-process"
        return [Failure("hang", f"cecli {args[0] if args else ''}: {limits}")]
    if run.exception is not None:
        last = run.traceback.strip().splitlines()[-1:] or [""]
        return [Failure("exception", run.exception, last[0][:300])]
    failures = [Failure("python warning", w[:120], w[:300]) for w in run.warnings]
    if run.code not in (0, 2):
        failures.append(Failure("exit code", repr(run.code), run.stderr[-300:]))
    if run.code == 2 and run.stdout and "--help" not in args:
        failures.append(Failure("output on error", "stdout not empty on exit 2", run.stdout[:200]))
    failures += stream_failures(run.code, run.stdout, run.stderr, rows_verbatim=False)
    return failures


def case_arguments(seed: int, index: int) -> tuple[list[str], bool]:
    """The command line of case ``index``, and whether its standard input is closed."""
    rng = random.Random(f"{seed}:arguments:{index}")
    return argument_list(rng), rng.random() < 0.2
