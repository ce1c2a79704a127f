"""The terminal around a run: keys read as pressed (``tour --pause``), and the signals that
stop a run (SIGINT, SIGTERM, SIGHUP)."""

from __future__ import annotations

import _thread
import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import CodeType, FrameType

    from cecli.render import TourMove

EXIT_INTERRUPTED = 130

_TOUR_MOVES: dict[str, TourMove] = {
    "\n": "next", "\r": "next", " ": "next", "\x1b[B": "next", "\x1b[C": "next", "\x1b[6~": "next",
    "b": "back", "\x1b[A": "back", "\x1b[D": "back", "\x1b[5~": "back",
    "q": "quit", "\x04": "quit", "": "quit",
}  # fmt: skip
"""Keys of ``tour --pause``; the arrow and page keys arrive as escape sequences. Ctrl-D and the
end of input quit."""
_KEY = re.compile(r"\x1b\[[0-9;]*[~A-Za-z]|.", re.DOTALL)
"""One key in what the terminal sends: an escape sequence or one character."""


@contextlib.contextmanager
def keys_as_pressed() -> Iterator[Callable[[], TourMove]]:
    """The terminal reading keys as they are pressed, not echoed, for as long as the tour
    pages (keys pressed while a screen is drawn wait their turn); its settings come back
    however the tour ends.  Yields the function that reads the next tour key."""
    import termios
    import tty

    descriptor = sys.stdin.fileno()
    saved = termios.tcgetattr(descriptor)

    pending: list[str] = []  # keys read but not yet acted on: one read may bring several

    def read_move() -> TourMove:
        while True:
            if not pending:
                typed = os.read(descriptor, 64).decode(errors="replace")
                pending.extend(_KEY.findall(typed) if typed else [""])
            key = pending.pop(0)
            move = _TOUR_MOVES.get(key.lower() if len(key) == 1 else key)
            if move is not None:
                return move

    try:
        tty.setcbreak(descriptor, termios.TCSANOW)  # Ctrl-C still interrupts
        yield read_move
    finally:
        termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)


def _inside(frame: FrameType | None, code: CodeType) -> bool:
    """Whether ``frame`` or one of its callers runs ``code``."""
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


class Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that a run unwinds as on Ctrl-C:
    staging and spooled files are removed, and the target is left as it was."""


class Interrupts:
    """Handlers for SIGINT, SIGTERM and SIGHUP while ``main`` runs.

    The first signal raises in the main thread (KeyboardInterrupt, or :class:`Signalled`);
    later ones are noted but do not raise, so that the clean-up the first one started runs to
    its end.  One that lands in a finalizer, where Python can only print it ("Exception
    ignored in …") and go on, is kept quiet and raised again in the main thread, and the
    exit code still says what stopped the run.  Signals that are ignored when the run starts
    (``nohup``) stay ignored.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.signum: int | None = None
        self.caught = False
        self.lost = False
        """The first signal's exception was lost in a finalizer: the next one raises."""
        self.previous: dict[int, Any] = {}
        self.previous_hook = sys.unraisablehook

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for name in self.NAMES:
            number = getattr(signal, name, None)
            if number is None:
                continue
            current = signal.getsignal(number)
            if current is None or current == signal.SIG_IGN:
                continue
            self.previous[number] = current
            signal.signal(number, self.handle)
        sys.unraisablehook = self.unraisable

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        sys.unraisablehook = self.previous_hook

    def ignore(self) -> None:
        for number in self.previous:
            signal.signal(number, signal.SIG_IGN)

    def handle(self, number: int, frame: FrameType | None) -> None:
        if self.caught or (self.signum is not None and not self.lost):
            return
        if self.signum is None:
            self.signum = number
        if self.lost and _inside(frame, self.unraisable.__code__):
            return  # raised in the hook, it would be lost again: the next try is outside
        self.lost = False
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Signalled(self.signum)

    def unraisable(self, info: sys.UnraisableHookArgs) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt) and self.signum is not None:
            # Raised in a finalizer (a garbage-collected object's __del__), it stopped
            # nothing: Python reports it here and goes on.  Raised again, once this hook has
            # returned, it stops the run.
            if not self.caught and not self.lost:
                self.lost = True
                threading.Thread(target=self._raise_again, daemon=True).start()
            return  # the run stops, quietly, with 128 + the signal's number
        self.previous_hook(info)

    def _raise_again(self) -> None:
        """Signal the main thread until it raises outside this hook.  (From the main thread
        itself, the handler would run at once, still inside the hook.)"""
        signum = self.signum
        while self.lost and not self.caught and signum is not None:
            _thread.interrupt_main(signal.Signals(signum))
            time.sleep(0.002)

    def exit_code(self) -> int:
        self.caught = True
        return EXIT_INTERRUPTED if self.signum is None else 128 + self.signum
