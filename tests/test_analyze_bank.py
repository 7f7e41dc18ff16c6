"""`analyze --bank ... --media-dir ...`: matches land in bank_matches.csv and the report."""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image

from echoscope.bank.synthetic import synthetic_image  # content-free synthetic test image
from echoscope.cli import main


def test_analyze_with_bank_and_media_dir(formats_dir: Path, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    img = synthetic_image(7)
    assert isinstance(img, Image.Image)
    # the example's photo, by the file name of its media URL (never fetched)
    img.save(media / "BqAbCdEfGhIjKlM.jpg", quality=95)
    from echoscope.bank.hashing import HashParams, hash_files

    rows = hash_files([media / "BqAbCdEfGhIjKlM.jpg"], HashParams()).to_pylist()
    pdq = next(r["value"] for r in rows if r["signal_type"] == "pdq" and r["variant"] == "orig")
    bank = tmp_path / "bank.csv"
    with bank.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["signal_type", "value", "label", "source"])
        w.writerow(["url", "http://example-news.net/2014/06/13/bridge", "label-url", "test"])
        w.writerow(["pdq", pdq, "label-image", "test"])
    out = tmp_path / "out"
    rc = main(["analyze", str(formats_dir / "twitter_v1_1_twarc1.jsonl"), "--out", str(out),
               "--bank", str(bank), "--media-dir", str(media), "-q"])
    assert rc == 0
    with (out / "bank_matches.csv").open() as f:
        got = list(csv.DictReader(f))
    labels = {r["label"] for r in got}
    assert {"label-url", "label-image"} <= labels
    html = (out / "report.html").read_text()
    assert "label-url" in html and "label-image" in html
