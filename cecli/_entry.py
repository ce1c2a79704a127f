"""The ``cecli`` command's entry point.

Importing the command (Typer, NumPy) takes a tenth of a second; a Ctrl-C in that time would
end in Python's KeyboardInterrupt traceback, before :func:`cecli.cli.main` has installed its
own handlers.  This module imports nothing heavy (``import cecli`` is lazy), so the import can
be caught here and the command stops quietly with 130, as it does later in a run.
"""

from __future__ import annotations

EXIT_INTERRUPTED = 130


def main() -> int:
    try:
        from cecli.cli import main as run
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:
        if interrupted(error):
            return EXIT_INTERRUPTED
        raise
    return run()


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
