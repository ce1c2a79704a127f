"""The ``cecli`` command: the app, its subcommands, and ``main``, the error boundary.

``main(argv)`` is the one place an error becomes an exit code: every bad input, whether
Click's usage errors, :class:`cecli.cli.options.OptionError` or the library's
:class:`cecli.inputs.InputError`, ends as one ``cecli: error: …`` line on stderr and exit
code 2, with nothing on stdout.  The library names parameters (``eps``); this is where they
are written as the flags (``--eps``), once.
"""

# No `from __future__ import annotations`: Typer reads these annotations at run time.
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Annotated, TextIO, cast

import typer

from cecli import __version__
from cecli._entry import interrupted
from cecli.cli.commands import COMMANDS
from cecli.cli.options import with_flags
from cecli.cli.terminal import EXIT_INTERRUPTED, Interrupts
from cecli.inputs import InputError
from cecli.render import Output

EXIT_USAGE = 2

HELP = (
    "Compute, check and explain classification losses.\n\n"
    'Give LABELS and PREDS as numbers: a row is `1,0,0` or `"[1 0 0]"`, a batch is rows '
    'split by `;` (`"1,0;0,1"`) or nested brackets; one label per row is a class index '
    '(`"0;2;1"`); `-` reads the argument from standard input.\n\n'
    "`--frameworks` shows what PyTorch, Keras, tf.keras, scikit-learn and optax return for the "
    "same input, and why they differ; `--like LIB` prints one library's number."
)


def _print_version(requested: bool) -> None:
    if requested:
        Output().text(f"cecli {__version__}")
        raise typer.Exit()


def _app_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Only the full app (`cecli --version`, `cecli --help`) runs this."""


def full_app() -> typer.Typer:
    """Every subcommand, with ``--version`` and shell completion (``--install-completion``)."""
    app = typer.Typer(
        name="cecli",
        help=HELP,
        no_args_is_help=True,
        add_completion=True,
        rich_markup_mode="markdown",
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_app_options)
    for name, function in COMMANDS.items():
        app.command(name=name, context_settings=getattr(function, "cecli_settings"))(function)  # noqa: B009
    return app


def _one_command_app(name: str) -> typer.Typer:
    """An app holding only ``name``: Typer builds every command's options on each run, and
    building all nine cost about 12 ms of a one-liner's start-up."""
    single = typer.Typer(
        add_completion=False, rich_markup_mode="markdown", pretty_exceptions_enable=False
    )
    function = COMMANDS[name]
    single.command(name=name, context_settings=getattr(function, "cecli_settings"))(function)  # noqa: B009
    return single


def _write_what_the_encoding_cannot_as_escapes() -> None:
    """Under an encoding without Σ, − or ∞ (``LC_ALL=C``, ``PYTHONIOENCODING=ascii``), such
    characters are written as escapes (``\\u2211``) instead of ending the run in a
    UnicodeEncodeError."""
    import codecs

    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding is None or reconfigure is None:
            continue
        with contextlib.suppress(LookupError):
            if codecs.lookup(encoding).name not in ("utf-8", "utf-16", "utf-32", "gb18030"):
                reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cecli`` with ``argv`` (default: the command line); return the exit code.

    SIGINT, SIGTERM and SIGHUP stop a run quietly, with nothing left behind, and exit 130,
    143 and 129 (128 + the signal's number).
    """
    interrupts = Interrupts()
    try:
        if sys.stdout is None:  # closed by the shell (`>&-`): writing to it is an error
            from cecli.render import ClosedStdout

            sys.stdout = cast(TextIO, ClosedStdout())
        _write_what_the_encoding_cannot_as_escapes()
        interrupts.install()
        code = _run(argv, interrupts)
    except KeyboardInterrupt:  # one that arrived before the run's own error boundary
        code = EXIT_INTERRUPTED
    finally:
        interrupts.caught = True  # from here on, a late signal does not raise
        if argv is not None:
            interrupts.restore()  # a call from Python gets its own handlers back
        else:
            # The run is over: a signal from here to the process's end changes nothing.
            # Ignored, not handled: Python's shutdown puts the default action back on signals
            # with a Python handler, and a SIGHUP in those last moments would kill the process.
            interrupts.ignore()
    # Typer turns KeyboardInterrupt into its own exit 130, whatever the signal was.
    return code if interrupts.signum is None else 128 + interrupts.signum


def _run(argv: Sequence[str] | None, interrupts: Interrupts) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:  # `cecli` alone asks what there is: the help, as `cecli --help` (exit 0)
        args = ["--help"]
    try:
        if args and args[0] in COMMANDS:
            target, prog_name, args = _one_command_app(args[0]), f"cecli {args[0]}", args[1:]
        else:
            target, prog_name = full_app(), "cecli"
        code = target(args=args, prog_name=prog_name, standalone_mode=False)
    except BrokenPipeError:
        # The reader went away (`cecli … | head`): stop quietly, and keep Python's final
        # flush of stdout from raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as error:
        from cecli.render import discard_unwritten, stdout_failed

        if not stdout_failed(sys.stdout, error):
            raise
        # A full disk (`>/dev/full`) or a closed descriptor: one line, and the text Python
        # still holds for standard output is dropped instead of failing again at exit.
        discard_unwritten(sys.stdout)
        Output().error(f"cannot write to standard output ({error.strerror or error})")
        return EXIT_USAGE
    except (KeyboardInterrupt, typer.Abort):
        return interrupts.exit_code()
    except typer.Exit as done:
        return int(done.exit_code)
    except InputError as error:
        if interrupts.signum is not None:  # what the signal cut short, not the input
            return interrupts.exit_code()
        Output().error(with_flags(str(error), error.named))
        return EXIT_USAGE
    except Exception as error:
        # A Ctrl-C that Python wrapped (while a class was being made), or any error after a
        # signal: one that an extension module's import turned into its own ImportError
        # leaves no trace of it, and the run was asked to stop anyway.
        if interrupted(error) or interrupts.signum is not None:
            return interrupts.exit_code()
        # Typer's own usage errors (missing argument, unknown option, bad option value) carry
        # a message and an exit code; their class is private to Typer's vendored Click.
        message = getattr(error, "format_message", None)
        exit_code = getattr(error, "exit_code", None)
        if message is None or exit_code is None:
            raise
        text = " ".join(str(message()).split())
        if text[:1].isupper() and text[1:2].islower():  # Click's sentences, in cecli's style
            text = text[0].lower() + text[1:]
        if text:
            Output().error(text)
        return int(exit_code)
    return code if isinstance(code, int) else 0
