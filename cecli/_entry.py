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
    return run()
