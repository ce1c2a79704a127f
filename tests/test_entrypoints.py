"""The installed command as a user runs it: real processes, pipes and environment."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cecli.inputs import InputError

REFERENCE = ["ce", "1,0,0,0,0", "0.1,0.5,0.1,0.1,0.2"]


def _installed_cecli() -> str:
    beside_python = Path(sys.executable).with_name("cecli")
    found = str(beside_python) if beside_python.exists() else shutil.which("cecli")
    assert found, "the cecli console script is not installed (pip install -e '.[test]')"
    return found


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "NO_COLOR")}
    env.update(extra)
    return env


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, env=_env(), **kwargs)  # type: ignore[call-overload, no-any-return]


def test_console_script() -> None:
    result = run([_installed_cecli(), *REFERENCE, "-q"], stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stdout, result.stderr) == (0, "2.3025850929940455\n", "")


def test_python_dash_m() -> None:
    result = run([sys.executable, "-m", "cecli", *REFERENCE, "-q"])
    assert result.stdout == "2.3025850929940455\n"


def test_error_is_one_line_without_traceback() -> None:
    result = run([_installed_cecli(), "ce", "0", "0.5,zz"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == "cecli: error: PREDS row 1, value 2: 'zz' is not a number (class names need --classes)\n"
    )


def test_usage_error_is_one_line() -> None:
    result = run([_installed_cecli(), "ce", "0", "0.5,0.5", "--gama", "3"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1


def test_piped_table_has_no_colour_and_no_cut_numbers() -> None:
    result = run([_installed_cecli(), "ce", "0", "0.1234567891,0.8765432109"])
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout
    assert "…" not in result.stdout
    assert "0.1234568" in result.stdout


def test_no_color_is_respected_even_when_forced() -> None:
    env = _env(FORCE_COLOR="1", NO_COLOR="1")
    forced = subprocess.run(
        [_installed_cecli(), *REFERENCE], capture_output=True, text=True, env=env, check=False
    )
    assert forced.returncode == 0
    assert "\x1b[3" not in forced.stdout  # no foreground colours


def test_pipe_into_head_ends_quietly() -> None:
    rows = "\n".join(["0.5,0.5"] * 20000)
    labels = ";".join(["0"] * 20000)
    script = f"'{_installed_cecli()}' ce '{labels}' - --reduction none -q | head -1"
    pipeline = subprocess.run(
        ["sh", "-c", script], input=rows, capture_output=True, text=True, check=False
    )
    assert pipeline.stdout == "0.6931471805599453\n"
    assert pipeline.stderr == ""


def test_large_table_through_head_ends_quietly() -> None:
    rows = ";".join(["0.5,0.5"] * 3000)
    labels = ";".join(["0"] * 3000)
    process = subprocess.Popen(
        [_installed_cecli(), "ce", labels, rows, "--reduction", "none", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err
    assert process.returncode in (0, 1, -13)


def _run_without_importing(args: list[str], module: str) -> None:
    """``main(args)`` in a fresh interpreter loads neither ``module`` nor any of its parts."""
    code = (
        "import sys\n"
        "from cecli.cli import main\n"
        f"main({args!r})\n"
        f"assert not any(m == {module!r} or m.startswith({module!r} + '.') for m in sys.modules), "
        f"sorted(m for m in sys.modules if m.startswith({module!r}))\n"
    )
    result = run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("module", ["rich", "polars", "pyarrow", "plotille"])
def test_quiet_path_imports_no_heavy_module(module: str) -> None:
    _run_without_importing([*REFERENCE, "-q"], module)


@pytest.mark.parametrize("module", ["rich", "cecli.evaluation", "pyarrow", "distributed"])
def test_a_quiet_file_imports_neither_rich_nor_the_evaluation(tmp_path: Path, module: str) -> None:
    """``-q`` prints the loss alone: nothing that draws tables or keeps accuracy is loaded."""
    path = tmp_path / "rows.csv"
    path.write_text("label,p0,p1\n" + "0,0.25,0.75\n" * 70_000)  # past the small-file reader
    _run_without_importing(["ce", "--csv", str(path), "-q"], module)


def test_table_path_does_not_import_progress_or_markdown() -> None:
    code = (
        "import sys\n"
        "from cecli.cli import main\n"
        f"main({REFERENCE!r})\n"
        "heavy = ('rich.progress', 'rich.markdown', 'rich.syntax', 'pyarrow')\n"
        "loaded = [m for m in sys.modules if m in heavy]\n"
        "assert not loaded, loaded\n"
    )
    result = run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr


def test_a_ctrl_c_wrapped_while_a_class_is_made_exits_130(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python 3.11 wraps a KeyboardInterrupt that lands while a dataclass is made in a
    RuntimeError; it ended a run in a traceback (seen once in the import-time SIGINT test)."""
    import types

    from cecli import _entry

    class Interrupted(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as interrupt:
                raise RuntimeError("Error calling __set_name__") from interrupt

    monkeypatch.setitem(sys.modules, "cecli.cli", Interrupted("cecli.cli"))
    assert _entry.main() == 130
    assert not _entry.interrupted(RuntimeError("something else"))


def test_a_ctrl_c_caught_inside_the_import_still_stops_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Code inside the import that catches the KeyboardInterrupt and carries on (as a library
    guarding an optional import might) left the run to go ahead, the user's Ctrl-C lost."""
    import signal
    import time
    import types

    from cecli import _entry

    ran: list[bool] = []

    class SwallowsTheInterrupt(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(2000):  # the handler runs between these
                    time.sleep(0.001)
            except KeyboardInterrupt:
                pass
            return command

    def command() -> int:
        ran.append(True)
        return 0

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setitem(sys.modules, "cecli.cli", SwallowsTheInterrupt("cecli.cli"))
    assert _entry.main() == 130
    assert ran == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


_SETTINGS_SEEN = (
    "import gc, os, sys\n"
    "sys.argv = ['cecli', 'ce', '1,0', '0.3,0.7', '-q']\n"
    "from cecli._entry import main\n"
    "code = main()\n"
    "print(code, gc.isenabled(), gc.get_freeze_count() > 0, os.environ['OPENBLAS_NUM_THREADS'])\n"
)


def test_the_command_starts_with_openblas_on_one_thread_and_the_collector_back_on() -> None:
    """cecli makes no BLAS calls: OpenBLAS's spinning threads only took CPU from the parser.
    The collector, paused for the import, is on again for the run, the import's objects
    frozen out of its walks."""
    env = {k: v for k, v in _env().items() if k != "OPENBLAS_NUM_THREADS"}
    result = subprocess.run(
        [sys.executable, "-c", _SETTINGS_SEEN], capture_output=True, text=True, env=env
    )
    assert result.stdout == f"{-math.log(0.3)!r}\n0 True True 1\n", result.stderr


def test_an_openblas_thread_count_set_by_the_user_is_kept() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SETTINGS_SEEN],
        capture_output=True, text=True, env=_env(OPENBLAS_NUM_THREADS="3"),
    )  # fmt: skip
    assert result.stdout.splitlines()[-1] == "0 True True 3", result.stderr


def _command_with(setup: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import atexit, sys, threading\n"
        "atexit.register(lambda: print('shut down by Python'))\n"
        f"{setup}\n"
        "sys.argv = ['cecli', 'ce', '1,0', '0.3,0.7', '-q']\n"
        "from cecli._entry import command\n"
        "command()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())


def test_the_command_ends_without_python_s_shutdown_when_nothing_is_left_to_finish() -> None:
    """Taking apart the modules cost 40 ms of a scored file's run; what was printed is
    flushed first."""
    result = _command_with("")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{-math.log(0.3)!r}\n", "")


def test_the_command_leaves_by_python_s_shutdown_while_a_thread_runs() -> None:
    result = _command_with("threading.Thread(target=threading.Event().wait, daemon=True).start()")
    assert result.returncode == 0
    assert result.stdout == f"{-math.log(0.3)!r}\nshut down by Python\n", result.stderr


def test_an_error_s_exit_code_and_line_survive_the_quick_exit() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['cecli', 'ce', '1,0', '0.3,zz']\n"
        "from cecli._entry import command\n"
        "command()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("cecli: error: PREDS row 1, value 2: 'zz'")


def test_a_ctrl_c_before_the_handlers_are_installed_exits_130(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the import got faster, a Ctrl-C 75 ms in landed while main set up its streams,
    before its handlers, and ended in a traceback."""
    from cecli.cli import program

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(program, "_write_what_the_encoding_cannot_as_escapes", interrupted)
    assert program.main([*REFERENCE, "-q"]) == 130


def test_the_entry_point_is_reached_without_importing_typing() -> None:
    """The console script's Ctrl-C guard starts in cecli._entry; everything imported before it
    (cecli/__init__ included) is time in which a Ctrl-C ends in Python's traceback.  typing
    was most of it."""
    code = (
        "import sys\nimport cecli._entry\nprint(sorted({'typing', 'threading'} & set(sys.modules)))"
    )
    result = run([sys.executable, "-c", code])
    assert result.stdout == "[]\n", result.stderr


@pytest.mark.parametrize("error", [ImportError("x._core failed to import"), InputError("x")])
def test_an_error_that_a_signal_left_behind_is_not_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception
) -> None:
    """A Ctrl-C that lands in an extension module's import (polars is imported during the
    run) can come out as that module's own error, with no KeyboardInterrupt behind it: it
    ended in a traceback. After a signal the run stops quietly with 128 + its number."""
    import signal
    import time

    from cecli.cli import program

    def command(**options: object) -> int:
        stopped = False
        try:
            os.kill(os.getpid(), signal.SIGINT)
            for _tick in range(2000):  # the handler runs between these
                time.sleep(0.001)
        except KeyboardInterrupt:
            stopped = True
        if stopped:
            raise error  # with no KeyboardInterrupt as its cause or context
        return 0

    monkeypatch.setattr(program, "_one_command_app", lambda name: command)
    assert program.main([*REFERENCE, "-q"]) == 130
    assert capsys.readouterr() == ("", "")


def test_a_ctrl_c_lost_in_a_finalizer_still_stops_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Ctrl-C whose KeyboardInterrupt is raised inside a garbage-collected object's
    __del__ stops nothing (Python can only print it, and cecli keeps it quiet): the run went
    on and printed its result, then exited 130. It is raised again in the run itself."""
    import signal
    import time

    from cecli.cli import program

    class Finalized:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGINT)
            for _tick in range(2000):  # the handler runs between these, inside __del__
                time.sleep(0.001)

    def command(**options: object) -> int:
        Finalized()  # collected at once, its __del__ run
        for _tick in range(2000):  # the interrupt raised again lands here
            time.sleep(0.001)
        print("the run went on")
        return 0

    monkeypatch.setattr(program, "_one_command_app", lambda name: command)
    assert program.main([*REFERENCE, "-q"]) == 130
    assert capsys.readouterr() == ("", "")
