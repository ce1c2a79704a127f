"""Shared test helpers: comparison with the oracle, and running the CLI in-process."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
from mpmath import mpf
from typer.testing import CliRunner

from cecli.cli import main

_runner = CliRunner()


def run(*args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``cecli ARGS``: :func:`cecli.cli.main`, with standard
    input, output and error replaced (by Typer's CliRunner's isolation) as a shell would."""
    with _runner.isolation(input=input) as (stdout, stderr, _):
        code = main(list(args))
        sys.stdout.flush()
        sys.stderr.flush()
        return code, stdout.getvalue().decode(), stderr.getvalue().decode()


def run_json(*args: str) -> dict[str, Any]:
    """The JSON document ``cecli ARGS --json`` prints (the run must succeed)."""
    code, out, err = run(*args, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


REL = 1e-12
# Values below this are compared absolutely: subnormal floats hold fewer digits.
TINY = 1e-300


def assert_close(actual: Any, expected: Any, rel: float = REL) -> None:
    """Every value of ``actual`` within ``rel`` relative error of the oracle's ``expected``."""
    actual_array = np.asarray(actual, dtype=np.float64)
    expected_list = _flatten(expected)
    actual_list = actual_array.reshape(-1).tolist()
    assert len(actual_list) == len(expected_list), (actual_array.shape, len(expected_list))
    for index, (a, e) in enumerate(zip(actual_list, expected_list, strict=True)):
        if e in (mpf("inf"), mpf("-inf")):
            assert a == float(e), f"value {index}: {a!r} != {e}"
            continue
        error = abs(mpf(a) - e)
        bound = max(rel * abs(e), mpf(TINY))
        assert error <= bound, (
            f"value {index}: {a!r} vs oracle {e}, relative error {error / abs(e)}"
        )


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, list | tuple):
        return [item for value in values for item in _flatten(value)]
    return [mpf(values)]


def within_rounding(
    actual: Any, expected: Any, dtype: str, scale: float, *, float32_rtol: float = 1e-6
) -> bool:
    """Equal but for a library's dtype: same shape, the same infinities and NaNs, and the
    finite values within ``float32_rtol`` (float32) or 1e-12 (float64) relative, or 16 units
    in the last place of ``scale``, the largest number the computation holds (a loss near 0
    computed as logsumexp(z) - z_y with z = 1000 carries the rounding of 1000)."""
    ours, theirs = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if ours.shape != theirs.shape:
        return False
    same_special = np.array_equal(np.isnan(ours), np.isnan(theirs)) and np.array_equal(
        np.where(np.isinf(ours), ours, 0), np.where(np.isinf(theirs), theirs, 0)
    )
    if not same_special:
        return False
    finite = np.isfinite(ours)
    rtol, unit = (float32_rtol, 2.0**-23) if dtype == "float32" else (1e-12, 2.0**-52)
    return bool(np.allclose(ours[finite], theirs[finite], rtol=rtol, atol=16 * unit * scale))


def default_signal_actions() -> None:
    """For ``subprocess.Popen(preexec_fn=…)``: SIGINT, SIGTERM and SIGHUP with their default
    actions in the child, as a shell at a terminal starts a command.  A background job of a
    non-interactive shell (as a CI runner may start the tests) inherits SIGINT ignored, and
    ``nohup`` SIGHUP; cecli rightly keeps an ignored signal ignored, so a test that sends one
    must start the command as a user's shell would."""
    import signal

    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
