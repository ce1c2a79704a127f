"""What every run must satisfy, the failures it can show, and the failures known today.

A :class:`Failure` has a ``kind`` and a ``text`` that name its class (they hold no line
numbers, paths or data, so one bug gives one class) and a ``detail`` that shows this case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 controls but tab and line feed, DEL, and C1 controls: bytes a terminal may act on.
A carriage return is one of them: it lets a value overwrite what came before on its line."""

PYTHON_WARNING = re.compile(r"\b[A-Z]\w*Warning\b|\bwarnings\.warn\b")
"""Python's own warning text (``RuntimeWarning: …``), unlike cecli's ``cecli: warning:``."""

ERROR_PREFIX = "cecli: error: "


@dataclass(frozen=True)
class Failure:
    kind: str
    text: str
    detail: str = ""

    @property
    def signature(self) -> str:
        return f"{self.kind}: {self.text}"

    def __str__(self) -> str:
        return self.signature + (f"\n    {self.detail}" if self.detail else "")


def _shown(text: str, limit: int = 300) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


_FRAME = re.compile(r'^  File ".*[/\\]cecli[/\\](\w+\.py)", line \d+, in (\S+)$', re.MULTILINE)


def _traceback_class(stderr: str) -> str:
    """The exception's class and the innermost frame in cecli, from a printed traceback."""
    last = [line for line in stderr.splitlines() if line and not line.startswith(" ")]
    exception = last[-1].split(":")[0] if last else "?"
    frames = _FRAME.findall(stderr)
    return exception + (f" from cecli/{frames[-1][0]}:{frames[-1][1]}" if frames else "")


def control_failures(stream: str, text: str, code: object) -> list[Failure]:
    found = CONTROL.search(text)
    if found is None:
        return []
    start = max(0, found.start() - 40)
    return [
        Failure(
            "control character",
            f"on {stream}, exit {code}",
            f"U+{ord(found.group()):04X} in …{_shown(text[start : found.end() + 40])}",
        )
    ]


def stream_failures(
    code: object, stdout: str, stderr: str, *, rows_verbatim: bool
) -> list[Failure]:
    """The checks shared by in-process and subprocess runs, given the exit code and output.

    ``rows_verbatim`` is true when stdout carries per-row CSV output, whose id values are the
    file's data as written (quoted by the CSV rules, not escaped): stdout is not searched for
    control characters then.
    """
    failures: list[Failure] = []
    if "Traceback (most recent call last)" in stderr + stdout:
        failures.append(Failure("traceback text", _traceback_class(stderr), _shown(stderr[-600:])))
    if code == 2:
        lines = stderr.split("\n")
        if len(lines) != 2 or lines[1] != "" or not lines[0].startswith(ERROR_PREFIX):
            shape = (
                "not one line" if len(lines) != 2 or lines[1] != "" else "no 'cecli: error:' prefix"
            )
            failures.append(Failure("error message", shape, _shown(stderr)))
    elif code == 0 and PYTHON_WARNING.search(stderr):
        failures.append(Failure("warning text", "on stderr, exit 0", _shown(stderr)))
    if not rows_verbatim:
        failures += control_failures("stdout", stdout, code)
    failures += control_failures("stderr", stderr, code)
    return failures


# --- known failures ------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """A failure class seen on the current code, skipped (not failed) until its fix lands."""

    name: str
    matches: Callable[[Failure], bool]


def _is(kind: str, text: str) -> Callable[[Failure], bool]:
    return lambda failure: failure.kind == kind and failure.text == text


def _starts(kind: str, text: str) -> Callable[[Failure], bool]:
    return lambda failure: failure.kind == kind and failure.text.startswith(text)


def _hang_at(*places: str) -> Callable[[Failure], bool]:
    """A subprocess stopped at its CPU or wall-clock limit with a cecli frame in ``places``
    (which frame a stack dump catches varies between the function and its comprehension)."""
    texts = {
        f"over {limit} in a subprocess, at cecli/{place}"
        for limit in ("10 s of CPU", "55 s")
        for place in places
    }
    return lambda failure: failure.kind == "hang" and failure.text in texts


KNOWN_FAILURES: tuple[Known, ...] = ()
"""Delete an entry once its bug is fixed; the case then fails if the bug is back."""


def known(failure: Failure) -> Known | None:
    return next((entry for entry in KNOWN_FAILURES if entry.matches(failure)), None)


def shell_quote(argument: str) -> str:
    """``argument`` for a POSIX shell, as ``$'…'`` when it holds control characters or bytes
    that are not UTF-8 (lone surrogates), so that printing a reproducer is harmless."""
    import shlex

    if not any(CONTROL.match(c) or 0xD800 <= ord(c) <= 0xDFFF for c in argument):
        return shlex.quote(argument)
    escaped = []
    for character in argument:
        code = ord(character)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape keeps it
            escaped.append(f"\\x{code - 0xDC00:02x}")
        elif character in "\\'":
            escaped.append("\\" + character)
        elif character == "\n":
            escaped.append("\\n")
        elif character == "\t":
            escaped.append("\\t")
        elif CONTROL.match(character) or 0xD800 <= code <= 0xDFFF:
            escaped.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        else:
            escaped.append(character)
    return "$'" + "".join(escaped) + "'"


def settle(failures: list[Failure], reproducer: str) -> None:
    """Fail on any failure not known today; skip the case if every failure is known."""
    if not failures:
        return
    import pytest

    from tests.fuzz.profile import PROFILE

    matched = [known(failure) for failure in failures]
    if any(entry is None for entry in matched):
        listing = "\n".join(f"  {failure}" for failure in failures)
        pytest.fail(f"{PROFILE.header()}\nreproduce: {reproducer}\n{listing}", pytrace=False)
    names = sorted({entry.name for entry in matched if entry is not None})
    pytest.skip(f"known failure ({'; '.join(names)}): {reproducer}")
