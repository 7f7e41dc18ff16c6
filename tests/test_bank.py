"""Banks: validation, idempotent import, rejects with line numbers, export round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from echoscope.bank import canonical_value, export_bank, import_bank, list_banks, read_bank_file
from echoscope.cli import main
from echoscope.errors import InputError, ParameterError, RecordError
from echoscope.normalise import normalise_text, text_hash
from echoscope.workspace import Workspace

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"

GOOD_AND_BAD = f"""signal_type,value,label,source,added_at
pdq,{PDQ.upper()},campaign-a,partner,2024-05-01T10:00:00Z
md5,{MD5},campaign-a,,
text_exact,"Join   the  MARCH today!",campaign-b,,
text_near,"A long neutral invented sentence about gardening tools and rain",campaign-b,,
url,https://Example.org/page/?utm_source=x&b=2&a=1,campaign-c,,
pdq,abc,campaign-a,,
md5,{MD5}zz,campaign-a,,
colour,red,x,,
url,not a url,campaign-c,,
pdq,{PDQ},campaign-a,,not-a-time
"""


def test_canonical_values() -> None:
    assert canonical_value("pdq", PDQ.upper()) == PDQ
    assert canonical_value("md5", " " + MD5.upper()) == MD5
    assert canonical_value("text_exact", "Hello  WORLD") == text_hash(normalise_text("hello world"))
    assert canonical_value("text_exact", "0123456789abcdef") == "0123456789abcdef"
    assert canonical_value("text_near", " Some  Text ") == "some text"
    assert canonical_value("url", "HTTP://Example.org/a/?utm_medium=x") == "http://example.org/a"
    for st, v, msg in [("pdq", "12", "64 hex"), ("md5", "xyz", "32 hex"), ("url", "ftp://x", "http"),
                       ("nope", "x", "unknown signal_type"), ("pdq", "", "empty")]:
        with pytest.raises(ValueError, match=msg):
            canonical_value(st, v)


def test_read_bank_file_rejects_with_line_numbers(tmp_path: Path) -> None:
    f = tmp_path / "known.csv"
    f.write_text(GOOD_AND_BAD)
    entries, rejects = read_bank_file(f)
    assert entries.num_rows == 5
    assert set(entries.column("bank").to_pylist()) == {"known"}
    rows = {r["signal_type"]: r for r in entries.to_pylist()}
    assert rows["pdq"]["value"] == PDQ and rows["pdq"]["variant"] == "orig"
    assert rows["pdq"]["added_at"].isoformat() == "2024-05-01T10:00:00"
    assert rows["pdq"]["source"] == "partner" and rows["md5"]["source"] == "known.csv"
    assert rows["url"]["value"] == "https://example.org/page?a=1&b=2"
    assert [r.line for r in rejects] == [7, 8, 9, 10, 11]
    assert "64 hex" in rejects[0].reason and "unknown signal_type" in rejects[2].reason
    assert "ISO-8601" in rejects[4].reason


def test_strict_stops_at_first_bad_row(tmp_path: Path) -> None:
    f = tmp_path / "known.csv"
    f.write_text(GOOD_AND_BAD)
    with pytest.raises(RecordError, match="line 7"):
        read_bank_file(f, strict=True)


def test_import_is_idempotent_and_keeps_rejects(tmp_path: Path) -> None:
    f = tmp_path / "known.csv"
    f.write_text(GOOD_AND_BAD)
    with Workspace(tmp_path / "ws.duckdb") as ws:
        s1 = import_bank(ws, "known", f)
        assert (s1.added, s1.already_present, s1.rejects) == (5, 0, 5)
        s2 = import_bank(ws, "known", f)
        assert (s2.added, s2.already_present, s2.rejects) == (0, 5, 5)
        assert ws.count("bank_entries") == 5
        rej = ws.sql("SELECT source_record, format FROM rejects ORDER BY 1").to_pylist()
        assert [r["source_record"] for r in rej] == [7, 8, 9, 10, 11]
        assert {r["format"] for r in rej} == {"bank:known"}
        # a second bank, same values: kept apart
        import_bank(ws, "other", f, label="relabelled")
        banks = list_banks(ws).to_pylist()
        assert {b["bank"] for b in banks} == {"known", "other"}
        assert ws.count("bank_entries") == 10
        assert ws.runs()[-1]["command"] == "bank import"


def test_strict_import_writes_nothing(tmp_path: Path) -> None:
    f = tmp_path / "known.csv"
    f.write_text(GOOD_AND_BAD)
    with Workspace(tmp_path / "ws.duckdb") as ws:
        with pytest.raises(RecordError):
            import_bank(ws, "known", f, strict=True)
        assert ws.count("bank_entries") == 0


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_export_round_trip(tmp_path: Path, suffix: str) -> None:
    f = tmp_path / "known.csv"
    f.write_text(GOOD_AND_BAD)
    out = tmp_path / f"exported{suffix}"
    with Workspace(tmp_path / "ws.duckdb") as ws:
        import_bank(ws, "known", f)
        assert export_bank(ws, "known", out) == 5
        s = import_bank(ws, "known", out)
        assert (s.added, s.already_present, s.rejects) == (0, 5, 0)
        s = import_bank(ws, "copy", out)
        assert s.added == 5
        a = ws.sql("SELECT signal_type, value, label, source, added_at FROM bank_entries "
                   "WHERE bank = 'known' ORDER BY ALL").to_pylist()
        b = ws.sql("SELECT signal_type, value, label, source, added_at FROM bank_entries "
                   "WHERE bank = 'copy' ORDER BY ALL").to_pylist()
        assert a == b
    if suffix == ".jsonl":
        first = json.loads(out.read_text().splitlines()[0])
        assert set(first) >= {"signal_type", "value", "label", "source", "added_at"}


def test_jsonl_bad_lines(tmp_path: Path) -> None:
    f = tmp_path / "b.jsonl"
    good = json.dumps({"signal_type": "md5", "value": MD5})
    f.write_text(good + '\n{not json\n[1, 2]\n\n{"signal_type": "pdq", "value": "00"}\n')
    entries, rejects = read_bank_file(f)
    assert entries.num_rows == 1
    assert [r.line for r in rejects] == [2, 3, 5]


def test_bad_bank_name_and_missing_columns(tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_text("kind,hash\nmd5,x\n")
    with Workspace(":memory:") as ws, pytest.raises(ParameterError, match="bank name"):
        import_bank(ws, "", f)

    with pytest.raises(InputError, match="signal_type and value"):
        read_bank_file(f)


def test_cli_import_list_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "known.csv"
    f.write_text(GOOD_AND_BAD)
    ws = str(tmp_path / "ws.duckdb")
    assert main(["bank", "import", "known", str(f), "-w", ws, "-q"]) == 0
    out = capsys.readouterr()
    assert "5 entries added" in out.out and "line 7" in out.err
    assert main(["bank", "import", "known", str(f), "-w", ws, "--strict", "-q"]) == 2
    assert "line 7" in capsys.readouterr().err
    assert main(["bank", "list", "-w", ws, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {r["signal_type"] for r in listed} == {"pdq", "md5", "text_exact", "text_near", "url"}
    assert main(["bank", "export", "known", "-w", ws]) == 0
    csv_text = capsys.readouterr().out
    assert csv_text.startswith("signal_type,value,label") and PDQ in csv_text
    assert main(["bank", "export", "missing", "-w", ws]) == 2
    assert "no bank named missing" in capsys.readouterr().err
