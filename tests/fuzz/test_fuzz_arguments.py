"""Random command lines through ``main``: no traceback, exit 0 or 2, one error line, no
control characters in the output (see :mod:`tests.fuzz.arguments`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fuzz.arguments import case_arguments, failures_of, run_main
from tests.fuzz.checks import settle
from tests.fuzz.profile import PROFILE


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-arguments")


@pytest.mark.parametrize("index", range(PROFILE.arguments), ids=lambda i: f"args-{i}")
def test_command_line(index: int, workdir: Path) -> None:
    args, stdin_closed = case_arguments(PROFILE.seed, index)
    folder = workdir / str(index)
    folder.mkdir()
    run = run_main(args, folder, stdin_closed=stdin_closed)
    shutil.rmtree(folder, ignore_errors=True)
    closed = ", standard input closed" if stdin_closed else ", standard input empty"
    reproducer = (
        f"CECLI_FUZZ_SEED={PROFILE.seed} pytest 'tests/fuzz/test_fuzz_arguments.py::"
        f"test_command_line[args-{index}]', i.e. cecli.cli.main({args!r}){closed}"
    )
    settle(failures_of(args, run), reproducer)


def test_the_generator_follows_the_cli() -> None:
    """Every option of every subcommand is one the fuzzer can draw."""
    from cecli import cli
    from tests.fuzz.arguments import COMMANDS, SPECS

    assert set(SPECS) == set(COMMANDS) == set(cli.COMMANDS)
    assert any(o.names == ("--quiet", "-q") and o.flag for o in SPECS["ce"].options)
    assert any(o.names == ("--width",) and o.kind == "int" for o in SPECS["plot"].options)
