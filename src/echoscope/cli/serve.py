"""``echoscope serve``."""

from __future__ import annotations

import click

from echoscope.cli._common import quiet_option


@click.command("serve")
@click.argument("workspace", type=click.Path(dir_okay=False, exists=True))
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="TCP port (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback also needs --allow-remote.")
@click.option("--allow-remote", is_flag=True,
              help="Allow binding to a non-loopback address (prints a warning: the UI has "
                   "no authentication).")
@quiet_option
def command(workspace: str, port: int, host: str, allow_remote: bool) -> None:
    """Browse a workspace in a local, read-only web UI: campaigns, accounts, posts, networks.

    Opens nothing on its own; prints the URL. Stop with Ctrl-C.

    \b
    Example:
      echoscope serve case.echoscope.duckdb --port 8765
    """
    from echoscope.report.serve import serve

    def ready(url: str) -> None:
        click.echo(f"Serving {workspace} at {url} (read-only; Ctrl-C to stop)", err=True)
        click.echo(url)

    serve(workspace, host=host, port=port, allow_remote=allow_remote, ready=ready)
