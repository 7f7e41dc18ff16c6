"""The ``echoscope`` command line: a thin layer over the library.

Each command lives in its own module under ``echoscope.cli`` and calls one public library
function. Errors from the library become a one-line message on stderr and the exit code of
:mod:`echoscope.errors` (user error 2, internal error 1, Ctrl-C 130, never a traceback for
an expected error).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from echoscope import __version__
from echoscope.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EchoscopeError

__all__ = ["COMMAND_MODULES", "cli", "main"]

# Modules under echoscope.cli that define a click command named ``command`` (or a list
# ``commands``). Adding a command = adding a module and its name here.
COMMAND_MODULES: tuple[str, ...] = (
    "ingest",
    "info",
    "export",
    "report",
    "serve",
    "analyze",
    "detect",
    "network",
    "simulate",
    "evaluate",
    "hash",
    "match",
    "bank",
)

EXIT_CODES_HELP = """
Exit codes: 0 success; 1 internal error (a bug: please report it); 2 user error (bad input,
bad parameter, wrong workspace: the message says what to fix); 130 interrupted (Ctrl-C).
"""


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, prog_name="echoscope")
def cli() -> None:
    """echoscope: find coordinated amplification campaigns in social-media data.

    Start with `echoscope analyze FILE... --out DIR`, which runs every stage and writes an
    HTML report, tables and networks. Data goes to stdout, progress to stderr.
    """


def _register() -> None:
    for name in COMMAND_MODULES:
        mod = importlib.import_module(f"echoscope.cli.{name}")
        cmds = getattr(mod, "commands", None) or [mod.command]
        for cmd in cmds:
            cli.add_command(cmd)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    try:
        cli.main(args=argv, prog_name="echoscope", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except click.exceptions.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except EchoscopeError as e:
        click.echo(f"Error: {e}", err=True)
        return e.exit_code
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:  # pragma: no cover - last resort, keeps the promise of exit 1
        if os.environ.get("ECHOSCOPE_DEBUG"):
            raise
        click.echo(
            f"Internal error: {type(e).__name__}: {e}\n"
            "This is a bug in echoscope; set ECHOSCOPE_DEBUG=1 for the traceback.",
            err=True,
        )
        return EXIT_INTERNAL
    return 0


def run() -> None:  # console-script target
    sys.exit(main())
