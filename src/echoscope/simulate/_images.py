"""Synthetic, neutral images for simulated media (``simulate(..., media_dir=DIR)``).

Every media item of a simulated post names a *picture* (a hex seed): an ``image_repost``
campaign shows the same picture again and again; an organic photo shows a picture of its
own or, a quarter of the time, one of a few dozen viral pictures (memes, news photos that
many unrelated accounts upload anew: a hard negative, ``viral_images`` in truth.json). A picture is abstract art drawn from its seed (a colour gradient, a few ellipses,
rectangles and polygons, light noise): nothing real, nothing readable. Each copy is then
re-encoded the way a re-upload would be, with perturbations drawn from its media id: a
resize (55-100 %), a crop of up to 1 % per side, a brightness change of up to 10 % and a
JPEG quality between 55 and 92. So two copies of one picture are different files (other
bytes, other size, other media id) that look the same, as real re-uploads do.

File names: ``media_file_name(media_id)``, the last path segment of the media URL that the
Twitter v1.1 and v2 writers record (``…/media/B<15 digits>.jpg``), which is the name a
downloader (twarc, a hydrator) gives the file and what ``--media-dir`` looks up.

Images are drawn with their own generators (seeded by picture and media id), never with
the simulation's, so the posts written are the same with or without images.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from echoscope.simulate._names import _mix

__all__ = ["copy_bytes", "media_file_name", "render_picture"]

BASE_SIZE = (480, 360)


def media_file_name(media_id: int) -> str:
    """The file name of a simulated media item (the last segment of its media URL)."""
    return f"B{_mix(media_id) % 10**15:015d}.jpg"


def _seed(text: str) -> int:
    return int(text[:16].ljust(16, "0"), 16)


def render_picture(picture: str, size: tuple[int, int] = BASE_SIZE) -> np.ndarray:
    """The RGB uint8 picture (height, width, 3) drawn from the hex seed ``picture``."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(_seed(picture))
    w, h = size
    c0, c1 = rng.integers(0, 256, size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (xx * np.cos(angle) + yy * np.sin(angle))
    t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
    base = (c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None])
    img = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(10, 19))):
        colour = tuple(int(x) for x in rng.integers(0, 256, size=3))
        x0, y0 = int(rng.integers(-w // 5, w)), int(rng.integers(-h // 5, h))
        x1 = x0 + int(rng.integers(w // 8, w // 2))
        y1 = y0 + int(rng.integers(h // 8, h // 2))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            pts = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(3)]
            draw.polygon(pts, fill=colour)
    arr = np.asarray(img, dtype=np.int16)
    noise = rng.normal(0, 6, size=arr.shape)
    return np.clip(arr + noise, 0, 255).astype(np.uint8)


def copy_bytes(picture: np.ndarray, media_id: int) -> bytes:
    """One re-upload of ``picture`` as JPEG bytes: resized, cropped, brightened and
    re-compressed by amounts drawn from ``media_id``."""
    from PIL import Image, ImageEnhance

    rng = np.random.default_rng(_mix(media_id) & 0x7FFF_FFFF_FFFF_FFFF)
    img = Image.fromarray(picture)
    w, h = img.size
    crop = rng.uniform(0, 0.01, size=4)
    box = (int(w * crop[0]), int(h * crop[1]), w - int(w * crop[2]), h - int(h * crop[3]))
    img = img.crop(box)
    scale = rng.uniform(0.55, 1.0)
    img = img.resize((max(16, round(img.width * scale)), max(16, round(img.height * scale))),
                     Image.Resampling.BILINEAR)
    img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.9, 1.1)))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(rng.integers(55, 93)))
    return buf.getvalue()


#: Share of organic photos that show a viral picture (a meme, a news photo) uploaded anew,
#: and the number of such pictures (popularity falls steeply with the index).
VIRAL_SHARE = 0.25
VIRAL_POOL = 40


def organic_picture(media_id: int, phash: str) -> tuple[str, bool]:
    """The picture of an organic photo, and whether it is a viral one.

    Drawn from the media id (not from the simulation's generator): a quarter of organic
    photos are new uploads of one of ``VIRAL_POOL`` viral pictures (index ~ pool x u^2, so
    a few are very popular), the rest show a picture of their own.
    """
    x = _mix(media_id ^ 0x5EED_1A6E_0F_F1C1A1)
    u = (x >> 11) / float(1 << 53)
    if u >= VIRAL_SHARE:
        return phash, False
    v = (_mix(x) >> 11) / float(1 << 53)
    idx = int(VIRAL_POOL * v * v)
    return f"{_mix(idx + 0xA1B2C3):016x}", True


class MediaWriter:
    """Writes the image file of every media item of the posts it is given, once each.

    ``viral_accounts`` collects the authors of organic posts that showed a viral picture
    (given ``author``), a hard negative: unrelated accounts posting one image.
    """

    def __init__(self, media_dir: Path) -> None:
        self.dir = media_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.done: set[int] = set()
        self.pictures: dict[str, np.ndarray] = {}
        self.viral_accounts: set[int] = set()
        self.files = 0

    def write(self, items: list[tuple[int, str, str]], author: int | None = None) -> None:
        for mid, phash, picture in items:
            if mid in self.done:
                continue
            self.done.add(mid)
            if not picture:
                picture, viral = organic_picture(mid, phash)
                if viral and author is not None:
                    self.viral_accounts.add(author)
            arr = self.pictures.get(picture)
            if arr is None:
                arr = render_picture(picture)
                if len(self.pictures) > 256:
                    self.pictures.clear()
                self.pictures[picture] = arr
            (self.dir / media_file_name(mid)).write_bytes(copy_bytes(arr, mid))
            self.files += 1
