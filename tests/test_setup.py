"""A newcomer's first commands: the README's set-up lines, ``--version`` and ``-h``."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import tomllib

import pytest

import cecli
from cecli.cli import COMMANDS, main
from tests.conftest import ROOT

README = ROOT / "README.md"
SUBCOMMANDS = ("ce", "bce", "multilabel", "kl", "grad", "smooth", "focal", "plot", "tour")


def setup_commands() -> list[str]:
    """The lines of the ``sh`` blocks of README.md's "Set-up" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Set-up\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_setup_is_three_one_line_commands() -> None:
    install, tests, frameworks = setup_commands()
    # The first command works as pasted where a bare `pip install .` is refused (PEP 668).
    assert install.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install . ")
    assert install.endswith("&& cecli ce --csv sample_data/iris3_index.csv")
    # The test command installs no framework: torch's pin alone would fetch a CUDA build.
    assert tests.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert "pip install -e '.[test]'" in tests
    assert tests.endswith("&& python -m pytest")
    assert "frameworks" not in tests
    assert "torch" not in tests
    assert "--index-url https://download.pytorch.org/whl/cpu" in frameworks
    assert "pip install -e '.[test,frameworks]'" in frameworks
    assert frameworks.endswith("&& python -m pytest tests/frameworks")


def test_readme_names_the_tool_installers() -> None:
    section = README.read_text(encoding="utf-8").split("\n## Set-up\n", 1)[1]
    assert "`pipx install .`" in section
    assert "`uv tool install .`" in section


def test_readme_installs_the_torch_that_the_extra_pins() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    torch_pins = [
        requirement
        for requirement in pyproject["project"]["optional-dependencies"]["frameworks"]
        if requirement.startswith("torch")
    ]
    assert torch_pins == ["torch==2.13.0"]
    assert f"pip install {torch_pins[0]} --index-url" in setup_commands()[2]


@pytest.mark.skipif(shutil.which("bash") is None, reason="CI's script is a bash script")
def test_ci_runs_the_readme_test_command() -> None:
    printed = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run"), "--print-readme-command"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,  # a script that ignored the flag would start the whole CI run
    )
    assert printed.stdout == setup_commands()[1] + "\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (f"cecli {cecli.__version__}\n", "")
    assert re.fullmatch(r"\d+\.\d+\.\d+", cecli.__version__)


def test_installed_version_is_the_package_version() -> None:
    # pyproject.toml reads the version from cecli/__init__.py.
    assert importlib.metadata.version("cecli") == cecli.__version__


def test_every_subcommand_is_checked() -> None:
    assert set(SUBCOMMANDS) == set(COMMANDS)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_subcommand_help(subcommand: str, flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([subcommand, flag]) == 0
    captured = capsys.readouterr()
    assert f"Usage: cecli {subcommand} " in captured.out
    assert captured.err == ""


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_app_help_lists_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([flag]) == 0
    out = capsys.readouterr().out
    assert "Usage: cecli " in out
    assert "--version" in out
    for subcommand in SUBCOMMANDS:
        assert subcommand in out


def test_h_after_arguments_is_help(capsys: pytest.CaptureFixture[str]) -> None:
    # `-h` was read as LABELS, then as an unknown option after them.
    assert main(["ce", "0", "0.5,0.5", "-h"]) == 0
    assert "Usage: cecli ce " in capsys.readouterr().out
