"""The ``cecli`` command line: parsing and printing only, over the library.

``options``   the options, declared once in groups (loss, output, compare, files)
``request``   a frozen request and the one check of which options go together
``runners``   one runner per route (typed vectors, ``--vs``, frameworks, files)
``commands``  the subcommands, each a few lines: its own options, a request, a run
``terminal``  keys read as pressed (the tour) and the signals that stop a run
``program``   the Typer app and ``main(argv) -> int``, the one error boundary
"""

from cecli.cli.commands import COMMANDS
from cecli.cli.program import EXIT_USAGE, full_app, main
from cecli.cli.terminal import EXIT_INTERRUPTED

__all__ = ["COMMANDS", "EXIT_INTERRUPTED", "EXIT_USAGE", "full_app", "main"]
