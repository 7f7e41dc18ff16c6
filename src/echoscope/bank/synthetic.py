"""Synthetic, content-free test images and the edits re-uploads go through.

Used by the tests and ``benchmarks/match.py`` to measure how well hashing survives
resizing, re-compression, brightness shifts, mirroring, cropping and letterboxing, and how
often unrelated images match. Images are gradients, shapes and noise: no real content.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

__all__ = ["EDITS", "edit", "synthetic_image"]

U8 = npt.NDArray[np.uint8]


def synthetic_image(seed: int, size: tuple[int, int] | None = None) -> Image.Image:
    """A reproducible textured image: gradient, waves, random shapes and mild noise."""
    r = np.random.default_rng(seed)
    w, h = size or (int(r.integers(240, 480)), int(r.integers(200, 400)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx /= w
    yy /= h
    a = r.uniform(0, 255, 3)
    b = r.uniform(-200, 200, 3)
    c = r.uniform(-200, 200, 3)
    f = r.uniform(2, 9, 2)
    ph = r.uniform(0, 2 * np.pi, 2)
    amp = r.uniform(20, 60, 3)
    waves = np.sin(2 * np.pi * f[0] * xx + ph[0]) * np.cos(2 * np.pi * f[1] * yy + ph[1])
    arr = (a + b * xx[..., None] + c * yy[..., None] + amp * waves[..., None]).clip(0, 255)
    img = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(int(r.integers(8, 16))):
        x0, y0 = int(r.integers(-w // 4, w)), int(r.integers(-h // 4, h))
        x1, y1 = x0 + int(r.integers(w // 10, w // 2)), y0 + int(r.integers(h // 10, h // 2))
        col = tuple(int(v) for v in r.integers(0, 256, 3))
        kind = r.integers(0, 3)
        if kind == 0:
            d.ellipse([x0, y0, x1, y1], fill=col)
        elif kind == 1:
            d.rectangle([x0, y0, x1, y1], fill=col)
        else:
            d.line([x0, y0, x1, y1], fill=col, width=int(r.integers(3, 15)))
    noise = r.normal(0, 6, (h, w, 3))
    return Image.fromarray((np.asarray(img, dtype=np.float32) + noise).clip(0, 255)
                           .astype(np.uint8))


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return im.convert("RGB")


def _crop(img: Image.Image, frac: float) -> Image.Image:
    w, h = img.size
    dw, dh = round(w * frac), round(h * frac)
    return img.crop((dw, dh, w - dw, h - dh))


def _crop_uneven(img: Image.Image, lo: float, hi: float) -> Image.Image:
    """Crop each side by its own fraction in [lo, hi] (seeded by the image size)."""
    w, h = img.size
    r = np.random.default_rng(w * 10_007 + h)
    fl, ft, fr, fb = r.uniform(lo, hi, 4)
    return img.crop((round(w * fl), round(h * ft), w - round(w * fr), h - round(h * fb)))


def _letterbox(img: Image.Image, frac: float = 0.15) -> Image.Image:
    w, h = img.size
    bar = round(h * frac)
    out = Image.new("RGB", (w, h + 2 * bar), (0, 0, 0))
    out.paste(img, (0, bar))
    return out


def _brightness(img: Image.Image, delta: int) -> Image.Image:
    return Image.fromarray((np.asarray(img, dtype=np.int16) + delta).clip(0, 255)
                           .astype(np.uint8))


#: Named edits: each takes an image and returns the edited copy.
EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resize": lambda im: im.resize((max(32, im.width * 2 // 3), max(32, im.height * 2 // 3)),
                                   Image.Resampling.BILINEAR),
    "jpeg50": lambda im: _jpeg(im, 50),
    "brighter": lambda im: _brightness(im, 40),
    "mirror": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "rotate90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "crop2.5": lambda im: _crop(im, 0.025),
    "crop5": lambda im: _crop(im, 0.05),
    "crop2-3uneven": lambda im: _crop_uneven(im, 0.02, 0.03),
    "crop2.5+resize": lambda im: _crop(im, 0.025).resize((im.width // 2, im.height // 2)),
    "crop4-6uneven": lambda im: _crop_uneven(im, 0.04, 0.06),
    "letterbox": _letterbox,
    "crop2.5+jpeg70": lambda im: _jpeg(_crop(im, 0.025), 70),
}


def edit(img: Image.Image, name: str) -> Image.Image:
    """Apply a named edit from :data:`EDITS`."""
    return EDITS[name](img)
