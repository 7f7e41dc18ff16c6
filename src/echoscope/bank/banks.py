"""Banks: named sets of labelled signals, imported from and exported to CSV / JSON lines.

A bank file has one signal a row with the columns ``signal_type`` and ``value`` (required)
and ``label``, ``source``, ``added_at``, ``item``, ``variant``, ``quality`` (optional). The
hashes file written by ``echoscope hash`` is a valid bank file too (its ``item`` column
names the file each hash came from, and rows with an ``error`` are rejected with it).

Import is idempotent: an entry already in the bank (same signal type, value and label) is
not added again. Rows that fail validation are kept aside in the workspace's ``rejects``
table with their line number and reason (``format`` = ``bank:NAME``); with ``strict`` the
first bad row stops the import and nothing is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from echoscope import progress, schema
from echoscope.bank._signals import canonical_value
from echoscope.errors import InputError, ParameterError, RecordError
from echoscope.workspace import Workspace, file_sha256

__all__ = [
    "BankImport",
    "BankReject",
    "export_bank",
    "import_bank",
    "list_banks",
    "read_bank_file",
]

_RAW_LIMIT = 1 << 20
_COLUMNS = ("signal_type", "value", "label", "source", "added_at", "item", "variant", "quality")


@dataclass(frozen=True)
class BankReject:
    """A bank-file row that failed validation."""

    line: int
    reason: str
    raw: bytes


@dataclass
class BankImport:
    """What one import did."""

    bank: str
    path: str
    rows: int = 0
    added: int = 0
    already_present: int = 0
    rejects: int = 0
    reject_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_bank_name(name: str) -> str:
    n = name.strip()
    if not n or len(n) > 100 or any(ord(c) < 32 for c in n):
        raise ParameterError(
            f"bank name {name!r} must be 1-100 printable characters (e.g. gifct-2024)."
        )
    return n


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _parse_time(value: Any, default: dt.datetime) -> dt.datetime:
    if value in (None, ""):
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.UTC).replace(tzinfo=None)
    s = str(value).strip()
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"added_at {s[:40]!r} is not an ISO-8601 time") from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, bytes, str]]:
    """(line number, row or None, raw bytes, error) for every record of a bank file."""
    name = path.name.lower()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read bank file ({e.strerror or e}).",
                         path=str(path)) from None
    if name.endswith((".jsonl", ".ndjson", ".json")):
        for i, raw_line in enumerate(data.splitlines(), start=1):
            if not raw_line.strip():
                continue
            try:
                obj = json.loads(raw_line)
            except ValueError as e:
                yield i, None, raw_line, f"not valid JSON: {e}"
                continue
            if not isinstance(obj, dict):
                yield i, None, raw_line, "a JSON lines bank file needs one object a line"
                continue
            yield i, obj, raw_line, ""
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e}); bank files are CSV or JSON lines.",
                         path=str(path)) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as e:
        raise InputError(f"{path}: bad CSV header: {e}.", path=str(path)) from None
    missing = [c for c in ("signal_type", "value") if c not in header]
    if missing:
        raise InputError(
            f"{path}: a bank CSV needs the columns signal_type and value (missing: "
            f"{', '.join(missing)}); optional: label, source, added_at, item, variant.",
            path=str(path),
        )
    prev = reader.line_num
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            yield reader.line_num, None, b"", f"bad CSV: {e}"
            prev = reader.line_num
            continue
        line = prev + 1
        prev = reader.line_num
        raw = ",".join(rec).encode("utf-8")
        if not any(v.strip() for v in rec):
            continue
        if len(rec) != len(header):
            yield line, None, raw, f"{len(rec)} fields, the header has {len(header)}"
            continue
        yield line, dict(zip(header, rec, strict=True)), raw, ""


def _entry(row: dict[str, Any], bank: str, label: str | None, source: str,
           now: dt.datetime) -> dict[str, Any]:
    err = row.get("error")
    if err not in (None, ""):
        raise ValueError(f"the hashes file marks this row as failed: {err}")
    st = str(row.get("signal_type") or "").strip().lower()
    value = canonical_value(st, None if row.get("value") is None else str(row["value"]))
    q = row.get("quality")
    quality: int | None = None
    if q not in (None, ""):
        try:
            quality = int(q)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"quality {q!r} is not an integer") from None
        if not 0 <= quality <= 100:
            raise ValueError(f"quality {quality} is outside 0-100")
    variant = str(row.get("variant") or "").strip()
    if st == "pdq" and not variant:
        variant = "orig"
    lab = label if label is not None else str(row.get("label") or "")
    return {
        "bank": bank,
        "signal_type": st,
        "value": value,
        "label": lab,
        "source": str(row.get("source") or "") or source,
        "added_at": _parse_time(row.get("added_at"), now),
        "item": str(row.get("item") or "") or value,
        "variant": variant,
        "quality": quality,
    }


def read_bank_file(
    path: str | os.PathLike[str],
    bank: str | None = None,
    *,
    label: str | None = None,
    source: str | None = None,
    strict: bool = False,
) -> tuple[pa.Table, list[BankReject]]:
    """Read and validate a bank file into ``bank_entries`` rows (and the rejected rows).

    ``label``/``source`` override/default the file's columns. Duplicate rows within the
    file are kept once.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such bank file.", path=str(path))
    name = check_bank_name(bank if bank is not None else p.stem)
    src = source if source is not None else p.name
    now = _now()
    entries: dict[tuple[str, str, str], dict[str, Any]] = {}
    rejects: list[BankReject] = []
    for line, row, raw, err in _rows(p):
        if row is not None:
            try:
                e = _entry(row, name, label, src, now)
            except ValueError as ex:
                err = str(ex)
            else:
                entries.setdefault((e["signal_type"], e["value"], e["label"]), e)
                continue
        if strict:
            raise RecordError(f"{path}, line {line}: {err}.", path=str(path), record=line,
                              reason=err)
        rejects.append(BankReject(line, err, raw[:_RAW_LIMIT]))
    table = pa.Table.from_pylist(list(entries.values()), schema=schema.TABLES["bank_entries"].schema)
    return table, rejects


def import_bank(
    ws: Workspace,
    bank: str,
    path: str | os.PathLike[str],
    *,
    label: str | None = None,
    source: str | None = None,
    strict: bool = False,
) -> BankImport:
    """Import a bank file into the workspace's ``bank_entries`` (idempotent)."""
    name = check_bank_name(bank)
    ws.ensure_table("bank_entries")
    with ws.run("bank import", {"bank": name, "label": label, "source": source,
                                "strict": strict}, [path]) as run:
        entries, rejects = read_bank_file(path, name, label=label, source=source,
                                          strict=strict)
        summary = BankImport(bank=name, path=str(path), rows=entries.num_rows + len(rejects))
        sha = file_sha256(path)
        fmt = f"bank:{name}"
        with ws.transaction() as con:
            view = "_echoscope_bank_in"
            con.register(view, entries)
            try:
                new = ws.sql(
                    f"SELECT i.* FROM {view} i ANTI JOIN bank_entries b ON "
                    "b.bank = i.bank AND b.signal_type = i.signal_type AND "
                    "b.value = i.value AND b.label = i.label"
                )
            finally:
                con.unregister(view)
            ws.append("bank_entries", new, stage="bank import")
            con.execute("DELETE FROM rejects WHERE file_sha256 = ? AND format = ?", [sha, fmt])
            if rejects:
                ws.append("rejects", pa.table({
                    "source_file": [str(path)] * len(rejects),
                    "source_record": [r.line for r in rejects],
                    "format": [fmt] * len(rejects),
                    "reason": [r.reason for r in rejects],
                    "raw": [r.raw for r in rejects],
                    "file_sha256": [sha] * len(rejects),
                }), stage="bank import")
        summary.added = new.num_rows
        summary.already_present = entries.num_rows - new.num_rows
        summary.rejects = len(rejects)
        summary.reject_examples = [f"line {r.line}: {r.reason}" for r in rejects[:5]]
        run.count("bank_entries_added", summary.added)
        run.count("rejects", summary.rejects)
    if rejects:
        progress.info(f"{path}: {len(rejects)} bad row(s) kept aside in rejects "
                      f"(first: line {rejects[0].line}: {rejects[0].reason}).")
    return summary


def bank_entries(ws: Workspace, banks: list[str] | None = None) -> pa.Table:
    """Entries of some (default: all) banks of the workspace."""
    ws.ensure_table("bank_entries")
    if banks:
        names = [check_bank_name(b) for b in banks]
        known = {r["bank"] for r in ws.sql("SELECT DISTINCT bank FROM bank_entries").to_pylist()}
        unknown = [b for b in names if b not in known]
        if unknown:
            raise ParameterError(
                f"no bank named {', '.join(unknown)} in workspace {ws.path}; "
                f"known: {', '.join(sorted(known)) or 'none'} (see `echoscope bank list`)."
            )
        q = "SELECT * FROM bank_entries WHERE list_contains(?, bank) ORDER BY bank, signal_type, value"
        return schema.check("bank_entries", ws.sql(q, [names]))
    return schema.check("bank_entries", ws.sql(
        "SELECT * FROM bank_entries ORDER BY bank, signal_type, value"))


def export_bank(ws: Workspace, bank: str, out: str | os.PathLike[str] | IO[str]) -> int:
    """Write a bank as CSV (or JSON lines when the file name ends in .jsonl); rows written."""
    entries = bank_entries(ws, [bank]).select(list(_COLUMNS))
    rows = entries.to_pylist()
    for r in rows:
        r["added_at"] = r["added_at"].isoformat() if r["added_at"] else ""
    as_jsonl = isinstance(out, str | os.PathLike) and str(out).lower().endswith(
        (".jsonl", ".ndjson"))
    ctx = (open(out, "w", newline="", encoding="utf-8")  # noqa: SIM115
           if isinstance(out, str | os.PathLike) else None)
    f: Any = ctx if ctx is not None else out
    try:
        if as_jsonl:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            w = csv.DictWriter(f, fieldnames=list(_COLUMNS))
            w.writeheader()
            for r in rows:
                w.writerow({k: "" if v is None else v for k, v in r.items()})
    finally:
        if ctx is not None:
            ctx.close()
    return len(rows)


def list_banks(ws: Workspace) -> pa.Table:
    """One row per bank and signal type: entries, distinct items and labels."""
    ws.ensure_table("bank_entries")
    return ws.sql(
        "SELECT bank, signal_type, count(*)::BIGINT AS entries, "
        "count(DISTINCT item)::BIGINT AS items, "
        "string_agg(DISTINCT label, ', ' ORDER BY label) AS labels, "
        "max(added_at) AS last_added FROM bank_entries GROUP BY ALL ORDER BY bank, signal_type"
    )
