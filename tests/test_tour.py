"""The tour: every stop computes its numbers and renders; its corrections are right."""

from __future__ import annotations

import io
import math

import pytest

from cecli import render
from cecli.cli import main
from cecli.results import MultilabelResult
from cecli.tour import STOPS
from tests.helpers import run


@pytest.mark.parametrize("number", range(1, len(STOPS) + 1))
def test_every_stop_renders(number: int) -> None:
    code, out, err = run("tour", str(number))
    assert code == 0, err
    assert out.startswith(f"{number}/{len(STOPS)} · ")
    assert "→" in out


def test_list() -> None:
    code, out, _ = run("tour", "--list")
    assert code == 0
    assert len(out.splitlines()) == len(STOPS)
    assert "1. One-hot cross-entropy" in out


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
    assert captured.err == "cecli: error: unexpected extra argument(s): extra junk\n"


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
