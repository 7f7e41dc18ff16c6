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
from typing import Any

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


class _LazyGroup(click.Group):
    """A group whose command modules are imported on first use: running one command
    imports its module only (the others' imports, e.g. rich and the simulator's tables,
    cost about 0.1 s of every start-up); listing the commands (``--help``,
    ``cli.commands``) imports them all."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._cmds: dict[str, click.Command] = {}
        self._loaded: set[str] = set()
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        self._load(*COMMAND_MODULES)
        return self._cmds

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._cmds = dict(value)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._cmds[name] = cmd

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._cmds and cmd_name in COMMAND_MODULES:
            self._load(cmd_name)  # the module named like the command, usually its home
        if cmd_name not in self._cmds:
            self._load(*COMMAND_MODULES)
        return self._cmds.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

    def _load(self, *names: str) -> None:
        for name in names:
            if name in self._loaded:
                continue
            mod = importlib.import_module(f"echoscope.cli.{name}")
            self._loaded.add(name)
            for cmd in getattr(mod, "commands", None) or [mod.command]:
                self.add_command(cmd)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, prog_name="echoscope")
def cli() -> None:
    """echoscope: find coordinated amplification campaigns in social-media data.

    Start with `echoscope analyze FILE... --out DIR`, which runs every stage and writes an
    HTML report, tables and networks. Data goes to stdout, progress to stderr.
    """


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


#: Set by a command (e.g. ``network --compat cnt``) whose run leaves nothing for the
#: interpreter's teardown to do: its files closed, no threads, no objects whose
#: finalizers write anything. The console script then ends the process without that
#: teardown (:func:`_exit_now`).
FAST_EXIT = False


def run() -> None:  # console-script target
    code = main()
    if FAST_EXIT:
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """End the process with ``code`` once the exit handlers (:mod:`atexit`) have run and
    the output is flushed, skipping the interpreter's teardown: freeing every object and
    module one by one took ~0.025 CPU s after a 0.3 s ``network`` run (mypy's console
    script exits the same way). Returns (for a normal exit) if another thread still
    runs."""
    import atexit
    import contextlib
    import threading

    if threading.active_count() > 1:
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a broken pipe
            stream.flush()
    os._exit(code)
