"""Every ``$ cecli …`` example in README.md runs and prints what the README shows.

``python tests/test_readme.py --update`` rewrites the outputs in README.md from real runs.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CONSOLE_BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
PYCON_BLOCK = re.compile(r"```pycon\n(.*?)```", re.DOTALL)


def console_examples(text: str) -> list[tuple[str, str]]:
    """(command, expected output) for each ``$`` line of the console blocks."""
    examples: list[tuple[str, str]] = []
    for block in CONSOLE_BLOCK.findall(text):
        command: str | None = None
        output: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    examples.append((command, "\n".join(output)))
                command, output = line[2:], []
            else:
                output.append(line)
        if command is not None:
            examples.append((command, "\n".join(output)))
    return examples


def run_example(command: str) -> str:
    """Run a README command as a shell would, stdout and stderr together, lines right-trimmed."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "110"
    result = subprocess.run(
        ["sh", "-c", f"{command} 2>&1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    return "\n".join(line.rstrip() for line in result.stdout.rstrip("\n").splitlines())


EXAMPLES = console_examples(README.read_text(encoding="utf-8"))


def test_readme_has_examples_for_every_subcommand() -> None:
    commands = " ".join(command for command, _ in EXAMPLES)
    for subcommand in ("ce", "bce", "multilabel", "kl", "grad", "smooth", "focal"):
        assert f"cecli {subcommand} " in commands


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example(command: str, expected: str) -> None:
    assert run_example(command) == expected


def test_readme_python_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples read sample_data/ as the console ones do
    text = "\n".join(PYCON_BLOCK.findall(README.read_text(encoding="utf-8")))
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, "README.md", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert test.examples
    assert runner.failures == 0


def _update() -> None:
    def fill(match: re.Match[str]) -> str:
        lines: list[str] = []
        for command, _ in console_examples(match.group(0)):
            lines.append(f"$ {command}")
            output = run_example(command)
            if output:
                lines.append(output)
        return "```console\n" + "\n".join(lines) + "\n```"

    README.write_text(CONSOLE_BLOCK.sub(fill, README.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__" and "--update" in sys.argv:
    _update()
