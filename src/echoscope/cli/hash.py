"""``echoscope hash``."""

from __future__ import annotations

import sys

import click

from echoscope.cli._common import quiet_option


@click.command("hash")
@click.argument("paths", nargs=-1)
@click.option("-o", "--output", default="-", type=click.Path(dir_okay=False, allow_dash=True),
              help="Hashes CSV to write (default: stdout).")
@click.option("--texts", "texts_file", default=None, type=click.Path(dir_okay=False),
              help="Also hash texts: a UTF-8 file with one text a line.")
@click.option("--max-side", default=512, show_default=True,
              help="Decode/reduce images to at most this many pixels a side before PDQ.")
@click.option("--crop", "crops", multiple=True, type=float,
              help="Centre-crop fractions also hashed (default 0.95 and 0.90).")
@click.option("--no-crops", is_flag=True, help="Do not hash centre crops.")
@click.option("--no-dihedral", is_flag=True, help="Do not hash rotations and mirror images.")
@click.option("--no-unbox", is_flag=True, help="Do not remove letterbox borders.")
@quiet_option
def command(paths: tuple[str, ...], output: str, texts_file: str | None, max_side: int,
            crops: tuple[float, ...], no_crops: bool, no_dihedral: bool, no_unbox: bool) -> None:
    """Hash image files and folders (recursively) into PDQ and MD5, and texts.

    Each image yields PDQ variants (orig, unboxed, the 7 rotations/mirrors, centre crops)
    with PDQ's quality (under 50: featureless, not matched by default) and the file's MD5.
    A file that is not a readable image gets its MD5 and a row with the error. The output
    is also a valid bank file (`echoscope bank import`). Nothing is ever fetched.

    \b
    Example:
      echoscope hash media/ extra.jpg -o hashes.csv
      echoscope hash --texts known_texts.txt -o text_hashes.csv
    """
    import pyarrow as pa

    from echoscope.bank import HashParams, hash_files, hash_texts, write_hashes
    from echoscope.errors import InputError, ParameterError

    if not paths and not texts_file:
        raise ParameterError("give image files/folders to hash, or --texts FILE.")
    hp = HashParams(max_side=max_side, dihedral=not no_dihedral, unbox=not no_unbox,
                    crops=() if no_crops else (tuple(crops) if crops else HashParams().crops))
    tables = [hash_files(list(paths), hp)] if paths else []
    if texts_file:
        try:
            with open(texts_file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{texts_file}: cannot read texts ({e}).", path=texts_file) from None
        tables.append(hash_texts((f"{texts_file}:{i}", t) for i, t in enumerate(lines, 1)
                                 if t.strip()))
    table = pa.concat_tables(tables)
    n = write_hashes(table, sys.stdout if output == "-" else output)
    errors = sum(1 for e in table.column("error").to_pylist() if e)
    click.echo(f"{n:,} hashes written{'' if output == '-' else ' to ' + output}"
               + (f"; {errors:,} file(s) could not be hashed as images (see the error column)"
                  if errors else ""), err=True)
