"""Write docs/cli.md from the commands' own --help (so the reference cannot drift).

Usage: .venv/bin/python scripts/gen_cli_docs.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from echoscope.cli import cli  # noqa: E402

OUT = ROOT / "docs" / "cli.md"


def render() -> str:
    parts = [
        "# Command-line reference\n",
        "Generated from each command's `--help` by `scripts/gen_cli_docs.py`; "
        "a test fails when it is out of date.\n",
    ]
    # make_context applies the group's context_settings (help option names, widths), as
    # running the command does; click caches each command's help option on first use, so
    # building contexts any other way would make the output depend on what ran before.
    ctx = cli.make_context("echoscope", [], resilient_parsing=True, terminal_width=100)
    parts.append("## echoscope\n\n```\n" + cli.get_help(ctx) + "\n```\n")
    for name in sorted(cli.commands):
        cmd = cli.commands[name]
        sub = cmd.make_context(f"echoscope {name}", [], parent=ctx, resilient_parsing=True)
        parts.append(f"## echoscope {name}\n\n```\n{cmd.get_help(sub)}\n```\n")
        if isinstance(cmd, click.Group):
            for sname in sorted(cmd.commands):
                scmd = cmd.commands[sname]
                ssub = scmd.make_context(f"echoscope {name} {sname}", [], parent=sub,
                                         resilient_parsing=True)
                parts.append(f"### echoscope {name} {sname}\n\n```\n{scmd.get_help(ssub)}\n```\n")
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print("docs/cli.md is out of date: run scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
