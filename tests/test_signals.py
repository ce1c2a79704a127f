"""SIGINT, SIGTERM and SIGHUP at random moments of a file run: the process exits 130, 143 or
129 (or 0, if it finished first), prints nothing on stderr, and leaves no staging file beside
the target and no spooled copy in its temporary folder.

CECLI_SIGNAL_TRIALS sets the runs per signal (default 4; 20 for a thorough check).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cecli import files, parts, tempfiles
from tests.helpers import default_signal_actions

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("cecli") is None,
    reason="reads /proc/PID/status and runs the installed cecli script",
)

ROWS = 2_000_000
TRIALS = int(os.environ.get("CECLI_SIGNAL_TRIALS", "4"))
LONGEST_WAIT = 1.5
"""Seconds after start-up within which a signal is sent: about a run's length here."""


@pytest.fixture(scope="session")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2M rows of three-class predictions: one block of distinct rows, repeated."""
    rng = np.random.default_rng(7)
    block = 20_000
    probabilities = rng.dirichlet([1.0, 1.0, 1.0], size=block)
    labels = rng.integers(0, 3, size=block)
    text = "".join(
        f"{label},{p[0]:.6f},{p[1]:.6f},{p[2]:.6f}\n"
        for label, p in zip(labels.tolist(), probabilities, strict=True)
    )
    path = tmp_path_factory.mktemp("signals") / "big.csv"
    with path.open("w") as handle:
        handle.write("label,p0,p1,p2\n")
        for _ in range(ROWS // block):
            handle.write(text)
    return path


def _handlers_installed(pid: int) -> bool:
    """Whether the process catches SIGHUP, which only cecli's main sets up: before that,
    Python is still starting and a signal gets its default action."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signal.SIGHUP - 1) & 1)
    return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_stop_quietly_and_leave_nothing(
    big_csv: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    rng = random.Random(int(signum))
    spool = tmp_path / "tmp"
    spool.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "TMPDIR": str(spool)}
    outcomes = []
    for trial in range(TRIALS):
        from_stdin = trial % 2 == 1
        if from_stdin:
            command = ["cecli", "ce", "--csv", "-", "-q"]
        else:
            command = ["cecli", "ce", "--csv", str(big_csv), "--reduction", "none", "--output"]
            command.append(str(out_dir / "rows.csv"))
        with big_csv.open("rb") as stdin:
            process = subprocess.Popen(
                command,
                stdin=stdin if from_stdin else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                preexec_fn=default_signal_actions,
            )
            while process.poll() is None and not _handlers_installed(process.pid):
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, LONGEST_WAIT))
            process.send_signal(signum)
            _, err = process.communicate(timeout=120)
        outcomes.append(process.returncode)
        assert process.returncode in (0, 128 + signum), (trial, process.returncode, err)
        assert err == b"", (trial, err.decode())
        assert sorted(p.name for p in out_dir.iterdir() if p.name != "rows.csv") == []
        assert list(spool.iterdir()) == []
    # Shown with -rP: how many runs the signal stopped, and how many finished first.
    print(f"{signum.name}: exit codes {sorted(outcomes)}")
    # At least one run was really interrupted, or the test tested nothing.
    assert 128 + signum in outcomes


def test_prefetch_closes_its_source_in_the_reader_when_stopped_early() -> None:
    """An interrupted run stops the reader, which shuts its source (and the parser threads
    behind it) down itself, before the consumer goes on: not later, in a finalizer of the
    main thread, where an interrupt could only be printed."""
    import threading

    from cecli.batch import prefetched
    from cecli.files import Batch

    closed_in: list[str] = []

    def source() -> Iterator[Batch]:
        try:
            for line in range(100):
                empty = np.zeros((1, 2))
                yield Batch(empty, empty, None, None, np.array([line]))
        finally:
            closed_in.append(threading.current_thread().name)

    batches = prefetched(source())
    assert isinstance(batches, Generator)
    assert next(batches).lines[0] == 0
    batches.close()
    assert closed_in == ["cecli-reader"]


def _importing_numpy(pid: int) -> bool:
    """Whether the command has begun importing NumPy, which it does inside its entry point
    (the first lines of the script pip writes, ``import re`` among them, run before any of
    cecli's code can catch a signal)."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return "numpy" in maps.read()
    except OSError:
        return False


def test_ctrl_c_while_the_command_is_still_importing_is_quiet() -> None:
    """Through the imports of Typer and NumPy to the end of a one-liner: exit 130 (or 0 if it
    finished), never a KeyboardInterrupt traceback."""
    delays = random.Random(11).sample(range(0, 120), 12)
    interrupted = 0
    for delay in sorted(delays):
        process = subprocess.Popen(
            ["cecli", "ce", "1,0,0", "0.7,0.2,0.1", "-q"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=default_signal_actions,
        )
        while process.poll() is None and not _importing_numpy(process.pid):
            time.sleep(0.001)
        time.sleep(delay / 1000)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert err == b"", (delay, err.decode(errors="replace"))
        assert process.returncode in (0, 130), (delay, process.returncode)
        interrupted += process.returncode == 130
    assert interrupted, "no run was interrupted: the delays are too long for this machine"


@contextlib.contextmanager
def _held_elsewhere(folder: Path, prefix: str, suffix: str | None = None) -> Iterator[Path]:
    """A file made by :func:`cecli.tempfiles.held` (a folder by :func:`held_folder`, without
    ``suffix``) in another process, which holds it (as another run in progress would) until
    the block ends."""
    made = "t.held(f, p, *s)" if suffix is not None else "t.held_folder(f, p)"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, pathlib, cecli.tempfiles as t; "
         "f, p, *s = pathlib.Path(sys.argv[1]), *sys.argv[2:]; "
         f"print({made}.path, flush=True); sys.stdin.read()",
         str(folder), prefix, *([] if suffix is None else [suffix])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None
    try:
        yield Path(holder.stdout.readline().strip())
    finally:
        holder.communicate("", timeout=60)


def test_a_spool_left_by_a_killed_run_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the copy of standard input stays, until the next command
    that spools in the same temporary folder removes it (its lock went with its process)."""
    spool = tmp_path / "tmp"
    spool.mkdir()
    env = {**os.environ, "TMPDIR": str(spool)}
    reader, writer = os.pipe()
    with subprocess.Popen(
        ["cecli", "ce", "--csv", "-", "-q"], stdin=reader, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=env, preexec_fn=default_signal_actions,
    ) as killed:  # fmt: skip
        os.close(reader)
        os.write(writer, b"label,p0,p1\n0,0.25,0.75\n")  # and the pipe stays open
        # Not any file: the first look at the temporary folder (tempfile.gettempdir) writes
        # and removes a file of its own there, just before the spool.
        deadline = time.monotonic() + 60
        while (
            not any(path.name.startswith(files.SPOOL_PREFIX) for path in spool.iterdir())
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        left = list(spool.iterdir())
        killed.kill()
        killed.wait(timeout=60)
    os.close(writer)
    assert [path.name.startswith("cecli-spool-") for path in left] == [True]
    assert list(spool.iterdir()) == left  # killed: nothing removed it

    # Another user's process holding its copy keeps it: only files nobody holds go.
    with _held_elsewhere(spool, files.SPOOL_PREFIX, ".csv") as held:
        done = subprocess.run(
            ["cecli", "ce", "--csv", "-", "-q"], input=b"label,p0,p1\n0,0.25,0.75\n",
            capture_output=True, env=env, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert float(done.stdout) == -np.log(0.25)
        assert list(spool.iterdir()) == [held]
    # Its process gone (without removing it), the next sweep takes it too.
    tempfiles.sweep(spool, files.SPOOL_PREFIX)
    assert list(spool.iterdir()) == []


def test_a_staging_file_left_by_a_killed_run_is_removed_by_the_next_write(
    big_csv: Path, tmp_path: Path
) -> None:
    """SIGKILL during ``--output``: the staging file beside the target stays, the target is
    not touched, and the next run that writes that target removes it (its lock went with its
    process).  Another target's staging file, and one a live process holds, are left."""
    target = tmp_path / "rows.csv"
    target.write_text("before\n")
    other = tmp_path / f".other.csv.1-{'0' * 12}{files.STAGING_SUFFIX}"
    other.write_text("")
    command = ["cecli", "ce", "--csv", str(big_csv), "--reduction", "none", "-q"]
    with subprocess.Popen(
        [*command, "--output", str(target)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, preexec_fn=default_signal_actions,
    ) as killed:  # fmt: skip
        deadline = time.monotonic() + 60
        staged: list[Path] = []
        while not staged and killed.poll() is None and time.monotonic() < deadline:
            staged = [p for p in tmp_path.glob(".rows.csv.*") if p.stat().st_size > 0]
            time.sleep(0.005)
        killed.kill()
        killed.wait(timeout=60)
    assert len(staged) == 1, "the run ended before its staging file had rows"
    assert staged[0].name.endswith(files.STAGING_SUFFIX)
    assert target.read_text() == "before\n"
    assert staged[0].exists()  # killed: nothing removed it

    small = tmp_path / "small.csv"
    small.write_text("label,p0,p1\n0,0.25,0.75\n")
    with _held_elsewhere(tmp_path, ".rows.csv.", files.STAGING_SUFFIX) as held:
        done = subprocess.run(
            ["cecli", "ce", "--csv", str(small), "--reduction", "none", "-q",
             "--output", str(target)],
            capture_output=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert held.exists()
    assert not staged[0].exists()
    assert other.exists()
    lines = target.read_text().splitlines()
    assert len(lines) == 2
    assert float(lines[1].split(",")[1]) == -np.log(0.25)


def test_a_staging_folder_left_by_a_killed_run_is_removed_by_the_next_write(
    big_csv: Path, tmp_path: Path
) -> None:
    """SIGKILL during ``--output DIR/``: the staging folder of parts stays beside the target,
    which does not appear; the next run that writes that target removes it.  A staging folder
    that a live run holds is left."""
    target = tmp_path / "rows"
    staging = f".rows{parts.STAGING_INFIX}"
    command = ["cecli", "ce", "--csv", str(big_csv), "--reduction", "none", "-q"]
    with subprocess.Popen(
        [*command, "--output", f"{target}/"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, preexec_fn=default_signal_actions,
    ) as killed:  # fmt: skip
        deadline = time.monotonic() + 60
        left: list[Path] = []
        while not left and killed.poll() is None and time.monotonic() < deadline:
            left = [p for p in tmp_path.glob(f"{staging}*") if len(list(p.iterdir())) > 1]
            time.sleep(0.005)
        killed.kill()
        killed.wait(timeout=60)
    assert len(left) == 1, "the run ended before its staging folder had a part"
    assert left[0].exists()  # killed: nothing removed it
    assert not target.exists()

    small = tmp_path / "small.csv"
    small.write_text("label,p0,p1\n0,0.25,0.75\n")
    with _held_elsewhere(tmp_path, staging) as held:
        done = subprocess.run(
            [*command[:3], str(small), *command[4:], "--output", f"{target}/"],
            capture_output=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert held.is_dir()
    assert not left[0].exists()
    assert sorted(p.name for p in target.iterdir()) == [parts.MANIFEST, "part-00000.csv"]


IMPORT_THAT_HIDES_THE_INTERRUPT = """
import importlib.abc, importlib.machinery, os, signal, sys, time


class Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        # As an extension module's initialisation does: the Ctrl-C that lands in it comes
        # out as an ImportError of its own, with no KeyboardInterrupt left in its chain.
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            pass
        raise ImportError("numpy._core.umath failed to import")


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "cecli.cli":
            return importlib.machinery.ModuleSpec(name, Loader())
        return None


sys.meta_path.insert(0, Finder())
from cecli._entry import main

print(main())
"""


def test_ctrl_c_that_an_import_turns_into_another_error_is_quiet() -> None:
    """A Ctrl-C during NumPy's import came out once as NumPy's ImportError, and the command
    printed its traceback: the interrupt is noted as it arrives, so the run ends with 130."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_THAT_HIDES_THE_INTERRUPT],
        capture_output=True, text=True, timeout=60, check=False,
        preexec_fn=default_signal_actions,
    )  # fmt: skip
    assert (done.stdout, done.stderr) == ("130\n", "")


def test_an_import_error_without_ctrl_c_is_not_taken_for_one() -> None:
    script = IMPORT_THAT_HIDES_THE_INTERRUPT.replace(
        "os.kill(os.getpid(), signal.SIGINT)", "pass"
    ).replace("time.sleep(5)", "pass")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stderr.rstrip().endswith("ImportError: numpy._core.umath failed to import")


def _interrupted_here() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    for _tick in range(200):  # the handler runs between these
        time.sleep(0.001)


def test_interrupts_deferred_hands_a_signal_on_as_the_block_ends() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    reached: list[bool] = []

    def deferred() -> None:
        with tempfiles.interrupts_deferred():
            _interrupted_here()
            reached.append(True)

    with pytest.raises(KeyboardInterrupt):
        deferred()
    assert reached == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _interrupt_after_making_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C right after each held temporary file is made, before its maker returns."""
    made = tempfiles.held

    def interrupted_after_making(*args: Any, **kwargs: Any) -> tempfiles.Held:
        held = made(*args, **kwargs)
        _interrupted_here()
        return held

    monkeypatch.setattr(tempfiles, "held", interrupted_after_making)


def test_a_signal_while_a_spool_file_is_made_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between making the file and arranging its removal, a Ctrl-C left the file behind (the
    next run swept it, but a killed run's file was all that was meant to wait for that)."""
    import io
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _interrupt_after_making_files(monkeypatch)
    with pytest.raises(KeyboardInterrupt), contextlib.ExitStack() as stack:
        files._spool(stack, io.BytesIO(b"label,p0,p1\n0,0.5,0.5\n"), ".csv", "<stdin>")
    assert list(tmp_path.iterdir()) == []


def test_a_signal_while_the_staging_file_is_made_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupt_after_making_files(monkeypatch)
    with pytest.raises(KeyboardInterrupt), files.atomic_writer(str(tmp_path / "out.csv")) as out:
        out.write("never written\n")
    assert list(tmp_path.iterdir()) == []
