"""The ``cecli`` command's entry point.

Importing the command (Typer, NumPy) takes a tenth of a second; a Ctrl-C in that time would
end in Python's KeyboardInterrupt traceback, before :func:`cecli.cli.main` has installed its
own handlers.  This module imports nothing heavy (``import cecli`` is lazy), so the import can
be caught here and the command stops quietly with 130, as it does later in a run.

Two settings make the start cheaper; both are the command's, not the library's:

- The cyclic garbage collector is paused while the command is imported.  The import makes
  tens of thousands of objects that live as long as the process and no garbage, so each
  collection in that time walked the same objects for nothing (about 20 ms of CPU); they are
  then frozen out of later collections (:func:`gc.freeze`).
- OpenBLAS, which NumPy loads, starts a thread per core that spins while it waits for work.
  cecli makes no BLAS calls, and that spinning took CPU from the parser on two cores (and a
  third of the one-liner's CPU time), so ``OPENBLAS_NUM_THREADS`` is 1 unless it is set.

And one makes the end cheaper: :func:`command` leaves by :func:`os._exit` once standard output
and error are flushed, when nothing is left to finish (no other thread, no cluster).  Python's
own shutdown took 40 ms of a scored file's 0.8 s taking apart modules the process no longer
needs.
"""

from __future__ import annotations

import gc
import os
import sys

TYPE_CHECKING = False  # typing is not imported before the Ctrl-C guard below (see cecli/__init__)
if TYPE_CHECKING:
    from typing import NoReturn

EXIT_INTERRUPTED = 130


def command() -> NoReturn:
    """The console script: :func:`main`, then the process ends with its exit code."""
    code = main()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None: closed by the shell (`2>&-`)
                stream.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None  # Python's own shutdown says what it can
    import threading

    if threading.active_count() == 1 and "distributed" not in sys.modules:
        os._exit(code)
    raise SystemExit(code)


def main() -> int:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    collecting = gc.isenabled()
    gc.disable()
    watch = _InterruptWatch()
    try:
        watch.start()
        from cecli.cli import main as run
    except BaseException as error:
        if watch.seen or interrupted(error):
            return EXIT_INTERRUPTED
        raise
    finally:
        watch.stop()
        if collecting:
            gc.enable()
    if watch.seen:  # a Ctrl-C that code inside the import caught and carried on from
        return EXIT_INTERRUPTED
    if collecting:
        gc.freeze()
    try:
        return run()
    except KeyboardInterrupt:  # one that landed before the command's own handlers
        return EXIT_INTERRUPTED


class _InterruptWatch:
    """Python's own Ctrl-C handling for the time of the import, noting that it happened.

    A KeyboardInterrupt raised inside an extension module's initialisation may come out as
    another error with no trace of it (NumPy's: "ImportError: numpy._core.umath failed to
    import"), or be caught inside the import and not come out at all; the note tells such an
    error from a real one, and stops a run whose Ctrl-C was swallowed.
    """

    def __init__(self) -> None:
        self.seen = False
        self._installed = False

    def start(self) -> None:
        import signal  # imports enum, which the command imports anyway

        # Not where Ctrl-C is ignored (a background job) or handled by someone else.
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._interrupt)
            self._installed = True

    def _interrupt(self, signum: int, frame: object) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def stop(self) -> None:
        if self._installed:
            import signal

            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._installed = False


def interrupted(error: BaseException) -> bool:
    """Whether ``error`` is a Ctrl-C in disguise: Python 3.11 wraps an exception raised while a
    class is being made (a dataclass's field, say) in a RuntimeError, with the
    KeyboardInterrupt as its cause."""
    seen: BaseException | None = error
    for _ in range(32):  # a chain of causes is short; a cycle is not followed for ever
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
