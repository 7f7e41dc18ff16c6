"""The bundled sample: present, small, ingestible, and equal to a fresh generation."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from echoscope.ingest import ingest_files
from echoscope.simulate import SAMPLE_PARAMS, STYLES, sample_dir, sample_path, write_sample


def test_sample_is_bundled_and_small() -> None:
    p = sample_path()
    assert p.name == "sample.jsonl.gz" and p.exists()
    total = sum(f.stat().st_size for f in sample_dir().iterdir() if f.is_file())
    assert total < 330_000
    assert (sample_dir() / "truth.json").exists() and (sample_dir() / "suspended.csv").exists()


def test_sample_ingests_with_known_counts(tmp_path: Path) -> None:
    s = ingest_files([sample_path()], tmp_path / "ws.duckdb")
    assert (s.records, s.new_posts, s.rejects) == (SAMPLE_PARAMS.posts, SAMPLE_PARAMS.posts, 0)
    truth = orjson.loads((sample_dir() / "truth.json").read_bytes())
    assert {c["style"] for c in truth["campaigns"]} == set(STYLES)
    assert all(truth["hard_negatives"][k] for k in ("breaking_news", "copypasta",
                                                    "share_button", "benign_bots",
                                                    "lookalike_handles"))
    assert truth["reincarnations"]


def test_sample_equals_a_fresh_generation(tmp_path: Path) -> None:
    fresh = write_sample(tmp_path)
    with gzip.open(fresh) as a, gzip.open(sample_path()) as b:
        assert a.read() == b.read(), (
            "the bundled sample is stale: regenerate it with "
            "`python -c 'from echoscope.simulate import write_sample; write_sample()'`")
    for name in ("truth.json", "suspended.csv"):
        assert (tmp_path / name).read_bytes() == (sample_dir() / name).read_bytes(), name
