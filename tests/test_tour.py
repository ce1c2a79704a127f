"""The tour: every stop computes its numbers and renders whole at 80 columns; its corrections
are right; ``--pause`` pages through it at a terminal."""

from __future__ import annotations

import codecs
import fcntl
import io
import math
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cecli import render
from cecli.cli import main
from cecli.frameworks import Reproduction
from cecli.results import BinaryResult, MultilabelResult
from cecli.tour import STOPS, Stop
from tests.helpers import default_signal_actions, run


@pytest.mark.parametrize("number", range(1, len(STOPS) + 1))
def test_every_stop_renders(number: int) -> None:
    code, out, err = run("tour", str(number))
    assert code == 0, err
    assert out.startswith(f"{number}/{len(STOPS)} · ")
    assert "→" in out


def test_list() -> None:
    code, out, _ = run("tour", "--list")
    assert code == 0
    assert len(out.splitlines()) == len(STOPS) == 11
    assert "1. One-hot cross-entropy" in out
    assert "9. Clipping: why p = 0 costs 16.1 and not ∞" in out
    assert "10. Logits and log-sum-exp" in out
    assert "11. Why does my framework give a different number?" in out


# Every number a stop's tables show, by the field of the result that holds it.
SHOWN_FIELDS = (
    "loss", "per_row", "targets", "preds", "probs", "log_probs", "terms", "positive_terms",
    "negative_terms", "positive", "negative", "entropy", "cross_entropy", "grad",
    "hard_targets", "loss_hard", "p_t", "modulating", "ce_terms", "ce",
)  # fmt: skip
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]?\d+)?")


def _held(stop: Stop) -> set[float]:
    """The finite numbers the stop's results and framework values hold: of a row wider than
    the tables list class by class, the labelled classes' values."""
    values: list[float] = []
    for result in stop.results:
        for name in SHOWN_FIELDS:
            if name == "log_probs" and isinstance(result, BinaryResult):
                continue  # binary tables show the terms, not log p
            value = getattr(result, name, None)
            if value is None:
                continue
            array = np.asarray(value, dtype=np.float64)
            if array.ndim == 2 and result.classes > render.WIDE:
                array = array[result.targets > 0]
            values.extend(np.ravel(array).tolist())
    if stop.frameworks is not None:
        values.append(float(stop.frameworks.exact))
        values += [float(i.value) for i in stop.frameworks.found if isinstance(i, Reproduction)]
    return {abs(v) for v in values if math.isfinite(v)}


@pytest.mark.parametrize("number", range(1, len(STOPS) + 1))
def test_every_stop_fits_80_columns_without_cutting_a_number(
    number: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["tour", str(number)]) == 0
    out = capsys.readouterr().out
    # The frameworks' calls are printed whole, to be copied, and left to the terminal to wrap.
    laid_out = [line for line in out.splitlines() if not line.startswith("    ")]
    assert max(len(line) for line in laid_out) <= 80
    assert not re.search(r"\d…|…\d", out), "a number was cut short"
    shown = [float(n) for n in NUMBER.findall(out)]
    for value in _held(STOPS[number - 1]()):
        assert any(math.isclose(value, n, rel_tol=5e-4, abs_tol=1e-12) for n in shown), value


def test_whole_tour_runs_without_a_terminal() -> None:
    code, out, _ = run("tour", "--pause")
    assert code == 0
    assert out.count("→") >= len(STOPS)


def test_stop_numbers_are_checked() -> None:
    code, out, err = run("tour", "99")
    assert (code, out) == (2, "")
    assert "choose 1 to" in err


def test_one_hot_stop_shows_equal_losses_and_different_gradients() -> None:
    stop = STOPS[0]()
    first, second = stop.results
    assert first.loss == second.loss == -math.log(0.1)
    assert "in 2 of 5 entries" in stop.conclusions[1]


def test_kl_stop_corrects_the_copied_slip() -> None:
    stop = STOPS[4]()
    text = " ".join(stop.conclusions)
    expected = 0.5 * math.log2(0.5 / 0.9) + 0.5 * math.log2(5)
    assert f"{expected:.3f}" == "0.737"
    assert "0.737" in text
    assert "1.737" in text


def test_drowned_positives_stop_counts_the_negatives() -> None:
    stop = STOPS[3]()
    result = stop.results[0]
    assert isinstance(result, MultilabelResult)
    assert float(result.negative) == pytest.approx(-998 * math.log(0.99), rel=1e-12)
    assert float(result.positive) == pytest.approx(-2 * math.log(0.3), rel=1e-12)


def test_binary_stop_separates_nats_from_bits() -> None:
    text = " ".join(STOPS[2]().conclusions)
    assert "0.105 nats but 0.152 bits" in text


def test_extra_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tour", "1", "extra", "junk"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == "cecli: error: got unexpected extra argument(s) (extra junk)\n"


# --- the side-by-side table and the progress bar ---------------------------------------------


def test_kl_side_by_side_names_p_and_q(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kl", "0.5,0.5", "0.9,0.1", "--vs", "0.6,0.4"]) == 0
    header = next(line for line in capsys.readouterr().out.splitlines() if "class" in line)
    assert header.split() == ["class", "P", "Q", "(A)", "Q", "(B)", "term", "(A)", "term", "(B)",
                              "∂L/∂z", "(A)", "∂L/∂z", "(B)"]  # fmt: skip


def test_ce_side_by_side_keeps_y_and_p(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ce", "0", "0.7,0.3", "--vs", "0.6,0.4"]) == 0
    header = next(line for line in capsys.readouterr().out.splitlines() if "class" in line)
    assert header.split()[:4] == ["class", "y", "p", "(A)"]


def test_highlighting_is_mentioned_only_where_it_is_drawn(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    arguments = ["ce", "0", "0.7,0.3", "--vs", "0.6,0.4"]
    assert main(arguments) == 0
    plain = capsys.readouterr().out
    assert "\x1b[" not in plain
    assert "loss A = " in plain
    assert "highlighted" not in plain
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("TTY_COMPATIBLE")
    assert main(arguments) == 0
    styled = capsys.readouterr().out
    assert "\x1b[1;33m" in styled  # the differing values are drawn bold yellow
    assert "values that differ are highlighted" in styled


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, so the progress bar draws into it."""

    def isatty(self) -> bool:
        return True


def test_progress_counts_rows_with_thousands_separators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTY_COMPATIBLE")  # the suite's pin to plain text
    stream = _Terminal()
    with render.progress(stream, 2_000_000, 10_000_000, enabled=True) as advance:
        advance(1_234_567)
    assert "1,234,567/2,000,000" in stream.getvalue()


# --- the stops' content ----------------------------------------------------------------------


def test_flowers_stop_uses_the_readme_class_order_and_shows_each_claim() -> None:
    stop = STOPS[1]()
    (result,) = stop.results
    assert result.class_names == ("setosa", "versicolor", "virginica")
    assert "setosa, versicolor and virginica" in stop.intro
    text = " ".join(stop.conclusions)
    assert "Write-ups" not in text
    losses = [-math.log(0.57), -math.log(0.58), -math.log(0.52)]
    for loss in losses:
        assert f"{loss:.4f}" in text
    assert f"{sum(losses) / 3:.4f}" == "0.5869"
    assert "0.5869" in text


def test_clipping_stop_explains_16_1() -> None:
    stop = STOPS[8]()
    clipped, exact = stop.results
    assert clipped.loss == pytest.approx(-math.log(1e-7), rel=1e-15)
    assert exact.loss == math.inf
    text = " ".join(stop.conclusions)
    assert repr(-math.log(1e-7)) in text
    assert "16.1" in stop.title
    assert "loss is inf" in text


def test_log_sum_exp_stop_is_exact_at_1000() -> None:
    stop = STOPS[9]()
    exact, from_probs = stop.results
    # −log softmax(z)₁ for z = [1000, −1000] is 2000 + log(1 + e^−2000): 2000 in a double.
    assert exact.loss == 2000.0
    assert from_probs.loss == math.inf
    text = " ".join(stop.conclusions)
    assert "softmax(z) = [1.0, 0.0]" in text
    assert "-1000.0 − 1000.0 = -2000.0" in text


def test_frameworks_stop_shows_each_library_on_one_input(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stop = STOPS[10]()
    assert stop.frameworks is not None
    values = {
        item.library: float(item.value)
        for item in stop.frameworks.found
        if isinstance(item, Reproduction)
    }
    assert values["torch"] == values["optax"] == math.inf
    assert values["sklearn"] == pytest.approx(-math.log(2.0**-52), rel=1e-15)
    assert values["keras"] == pytest.approx(-math.log(1e-7), rel=1e-7)
    assert values["keras"] != -math.log(1e-7)  # float32
    text = " ".join(stop.conclusions)
    assert repr(-math.log(2.0**-52)) in text
    assert main(["tour", "11"]) == 0
    out = capsys.readouterr().out
    # The same table as `cecli ce 0 0,1 --frameworks`, line for line.
    assert main(["ce", "0", "0,1", "--frameworks"]) == 0
    table = capsys.readouterr().out.splitlines()[2:9]
    assert all(line in out.splitlines() for line in table)


# --- tour --pause at a terminal --------------------------------------------------------------

ENTER_ALTERNATE_SCREEN = "\x1b[?1049h"
LEAVE_ALTERNATE_SCREEN = "\x1b[?1049l"
KEYS_LINE = "q quit"


def _installed_cecli() -> str:
    beside_python = Path(sys.executable).with_name("cecli")
    found = str(beside_python) if beside_python.exists() else shutil.which("cecli")
    assert found, "the cecli console script is not installed (pip install -e '.[test]')"
    return found


class _Terminal80x24:
    """``cecli tour --pause`` on a pseudo-terminal of 80 columns and 24 rows."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        unpinned = ("COLUMNS", "LINES", "TTY_COMPATIBLE", "_TYPER_FORCE_DISABLE_TERMINAL")
        env = {k: v for k, v in os.environ.items() if k not in unpinned}
        env["TERM"] = "xterm-256color"
        self.process = subprocess.Popen(
            [_installed_cecli(), "tour", "--pause"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            preexec_fn=default_signal_actions,
        )
        os.close(slave)
        self.output = ""
        # A read may end inside a character; the decoder keeps its first bytes for the next.
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def wait_for_screens(self, count: int) -> str:
        """Read until ``count`` screens have been drawn; return the latest."""
        while self.output.count(KEYS_LINE) < count:
            self._read()
        return self.output[self.output.rindex("\x1b[2J") :]

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def finish(self) -> int:
        # Read to the end first: a process writing to a full terminal waits for its reader
        # (restoring the screen, say), and waiting for it without reading never ends.
        while self._read():
            pass
        return self.process.wait(timeout=60)

    def line_settings(self) -> int:
        return int(termios.tcgetattr(self.master)[3])

    def _read(self) -> bool:
        ready, _, _ = select.select([self.master], [], [], 60)
        assert ready, f"no output; so far: {self.output[-300:]!r}"
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the terminal's other end closed (Linux)
            return False
        self.output += self._decoder.decode(data)
        return bool(data)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def terminal() -> Iterator[_Terminal80x24]:
    session = _Terminal80x24()
    yield session
    session.close()


def test_pause_pages_on_the_alternate_screen(terminal: _Terminal80x24) -> None:
    first = terminal.wait_for_screens(1)
    assert ENTER_ALTERNATE_SCREEN in terminal.output
    assert "1/11 · One-hot cross-entropy" in first
    assert "stop 1/11 (screen 1 of 2)" in first
    terminal.press("\r")
    second = terminal.wait_for_screens(2)
    assert "1/11 · One-hot cross-entropy" in second  # the heading stays on top
    assert "stop 1/11 (screen 2 of 2)" in second
    terminal.press("b")
    assert "stop 1/11 (screen 1 of 2)" in terminal.wait_for_screens(3)
    terminal.press(" ")
    terminal.press(" ")
    assert "stop 2/11" in terminal.wait_for_screens(5)
    terminal.press("q")
    assert terminal.finish() == 0
    assert terminal.output.rindex(LEAVE_ALTERNATE_SCREEN) > terminal.output.rindex(KEYS_LINE)
    assert terminal.line_settings() & termios.ICANON  # keys are read by line again
    assert terminal.line_settings() & termios.ECHO


def test_every_screenful_fits_the_terminal(terminal: _Terminal80x24) -> None:
    screens = 1
    while True:
        screen = terminal.wait_for_screens(screens)
        # Lines written (the key line has no line break after it), counting wrapped ones.
        body = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", screen).split("\n")
        assert sum(max(1, -(-len(line) // 80)) for line in body) <= 24, screen
        if "Enter/space end" in screen:
            break
        terminal.press(" ")
        screens += 1
    assert "stop 11/11" in screen
    terminal.press(" ")
    assert terminal.finish() == 0


def test_interrupted_pause_restores_the_screen(terminal: _Terminal80x24) -> None:
    terminal.wait_for_screens(1)
    terminal.process.send_signal(signal.SIGINT)
    assert terminal.finish() == 130
    assert terminal.output.rindex(LEAVE_ALTERNATE_SCREEN) > terminal.output.rindex(KEYS_LINE)
    assert "Traceback" not in terminal.output
    assert terminal.line_settings() & termios.ECHO
