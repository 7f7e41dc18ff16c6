"""Hashing of images, files and texts into bank signals.

Images get a PDQ hash (256 bits, with PDQ's quality score, via the ``pdqhash`` package)
and every file an MD5 of its bytes. To survive the edits propaganda is re-posted with, one
image yields several PDQ *variants*:

- ``orig``: the image as it is (what other PDQ hashers compute);
- ``unboxed``: the image with uniform borders (letterboxing, pillarboxing) removed, when
  there were any;
- ``rot90``, ``rot180``, ``rot270``, ``mirror``, ``flip``, ``transpose``,
  ``antitranspose``: the seven other dihedral transforms of the (unboxed) image, so
  rotated and mirrored copies match (compared on the query side only);
- ``crop95``, ``crop90``, ...: centre crops keeping 95 %, 90 %, ... of each side, so a
  copy cropped by a few percent per side still meets a hash of (nearly) the same region.

Large JPEGs are decoded at reduced size (Pillow's ``Image.draft``), since decoding dominates
the cost. Every region is box-filtered to PDQ's 64 x 64 working size before hashing (see
:func:`_to64`): within a few bits of full-resolution PDQ, and it makes the dihedral
variants exact and nearly free. Nothing is ever fetched: only local files are read. A file
that is not a readable image gets its MD5 and an error row, never a crash.
"""

from __future__ import annotations

import base64
import hashlib
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from echoscope import progress
from echoscope.bank._signals import bank_text
from echoscope.errors import InputError
from echoscope.normalise import text_hash
from echoscope.params import Params, limit

__all__ = [
    "DIHEDRAL",
    "HASH_SCHEMA",
    "HashParams",
    "ImageHash",
    "hash_files",
    "hash_image",
    "hash_texts",
    "iter_files",
    "minhash_signature",
    "parse_signature",
    "text_shingles",
]

#: Columns of a hashes file (``echoscope hash -o hashes.csv``), one row per hash.
HASH_SCHEMA = pa.schema(
    [
        ("item", pa.string()),
        ("kind", pa.string()),
        ("signal_type", pa.string()),
        ("variant", pa.string()),
        ("value", pa.string()),
        ("quality", pa.int64()),
        ("error", pa.string()),
    ]
)

#: Names of the dihedral variants (transforms applied to the image before hashing).
DIHEDRAL = ("orig", "rot90", "rot180", "rot270", "mirror", "flip", "transpose",
            "antitranspose")

NUM_PERM = 128
MINHASH_SEED = 1
MINHASH_SCHEME = "affine32"  # datasketch >= 2: 32-bit values, stated explicitly
SHINGLE = 5
_SIG_PREFIX = "mh1:"

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class HashParams(Params):
    """How images are hashed."""

    max_side: int = field(default=512, metadata=limit(64, 8192, "pixels",
                          "images are decoded/reduced to at most this side before PDQ"))
    crops: tuple[float, ...] = field(default=(0.95, 0.90), metadata=limit(
        0.5, 0.999, "fraction", "centre crops (fraction of each side kept) also hashed"))
    dihedral: bool = True
    unbox: bool = True
    draft: bool = True  # decode JPEGs at reduced size (1/2, 1/4, 1/8) when large
    workers: int = field(default=0, metadata=limit(0, 256, "threads",
                         "threads hashing files (0: one per core, at most 8)"))
    unbox_tolerance: int = field(default=24, metadata=limit(0, 128, "grey levels",
                                 "max-min luma of a border line counted as uniform"))


@dataclass(frozen=True)
class ImageHash:
    """One PDQ variant of an image."""

    variant: str
    value: str
    quality: int


def _bits_to_hex(vec: Any) -> str:
    return bytes(np.packbits(np.asarray(vec, dtype=np.uint8))).hex()


def _uniform_run(lines: npt.NDArray[np.float32], tol: float) -> int:
    """Leading lines that are uniform and of the first line's colour."""
    if lines.shape[0] == 0:
        return 0
    ref = float(np.median(lines[0]))
    ok = (lines.max(axis=1) - lines.min(axis=1) <= tol) & (
        np.abs(lines.mean(axis=1) - ref) <= tol / 2
    )
    if not ok[0]:
        return 0
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else int(lines.shape[0])


def unbox(arr: U8, tolerance: float = 24) -> U8:
    """Remove uniform borders (letterbox/pillarbox bars); the array itself if none.

    Borders thinner than 1 % of a side are left; nothing is removed when the borders
    would take half the image or more (a featureless image stays as it is).
    """
    luma = arr[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    h, w = luma.shape
    top = _uniform_run(luma, tolerance)
    bottom = _uniform_run(luma[::-1], tolerance)
    left = _uniform_run(luma.T, tolerance)
    right = _uniform_run(luma.T[::-1], tolerance)
    top, bottom = (t if t >= max(2, h // 100) else 0 for t in (top, bottom))
    left, right = (t if t >= max(2, w // 100) else 0 for t in (left, right))
    if top + bottom >= h // 2 or left + right >= w // 2:
        return arr
    if top + bottom + left + right == 0:
        return arr
    return np.ascontiguousarray(arr[top : h - bottom, left : w - right])


def _centre_crop(arr: U8, keep: float) -> U8:
    h, w = arr.shape[:2]
    dh = round(h * (1 - keep) / 2)
    dw = round(w * (1 - keep) / 2)
    if h - 2 * dh < 8 or w - 2 * dw < 8:
        return arr
    return np.ascontiguousarray(arr[dh : h - dh, dw : w - dw])


def _to64(arr: U8) -> U8:
    """Box-filter an image down to PDQ's 64 x 64 working size.

    PDQ itself reduces any image to 64 x 64 (Jarosz filters) before its DCT. Doing that
    step with an exact box filter (a) costs almost nothing afterwards, (b) stays within a
    few bits of PDQ on the full-resolution image (median 4, max 6 of 256 bits on 40
    synthetic 1600 x 1200 images) and (c) makes the eight dihedral hashes exact: at
    64 x 64 PDQ samples every pixel, so a mirrored copy's ``mirror`` hash equals the
    original's hash bit for bit.
    """
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8))
    return np.ascontiguousarray(
        np.asarray(img.resize((64, 64), Image.Resampling.BOX), dtype=np.uint8))


def _pdq(arr: U8) -> tuple[str, int]:
    import pdqhash

    vec, quality = pdqhash.compute(_to64(arr))
    return _bits_to_hex(vec), int(quality)


#: pdqhash.compute_dihedral's outputs in DIHEDRAL order (checked by a test).
_PDQ_DIHEDRAL_ORDER = (0, 1, 2, 3, 5, 4, 6, 7)


def _dihedral(arr: U8) -> list[tuple[str, U8]]:
    """The eight rotations and reflections of an image, by name (DIHEDRAL order)."""
    t = np.ascontiguousarray(np.swapaxes(arr, 0, 1))
    return [
        ("orig", arr),
        ("rot90", np.ascontiguousarray(np.rot90(arr, 1))),
        ("rot180", np.ascontiguousarray(np.rot90(arr, 2))),
        ("rot270", np.ascontiguousarray(np.rot90(arr, 3))),
        ("mirror", np.ascontiguousarray(arr[:, ::-1])),
        ("flip", np.ascontiguousarray(arr[::-1])),
        ("transpose", t),
        ("antitranspose", np.ascontiguousarray(t[::-1, ::-1])),
    ]


def hash_array(arr: U8, params: HashParams | None = None) -> list[ImageHash]:
    """PDQ variants of an RGB uint8 array of shape (height, width, 3)."""
    import pdqhash

    p = params or HashParams()
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    out: list[ImageHash] = []
    base = unbox(arr, p.unbox_tolerance) if p.unbox else arr
    boxed = base is not arr
    if boxed:
        h, q = _pdq(arr)
        out.append(ImageHash("orig", h, q))
    if p.dihedral:
        vecs, quality = pdqhash.compute_dihedral(_to64(base))
        for name, i in zip(DIHEDRAL, _PDQ_DIHEDRAL_ORDER, strict=True):
            variant = "unboxed" if (name == "orig" and boxed) else name
            out.append(ImageHash(variant, _bits_to_hex(vecs[i]), int(quality)))
    else:
        h, q = _pdq(base)
        out.append(ImageHash("unboxed" if boxed else "orig", h, q))
    for keep in p.crops:
        crop = _centre_crop(base, keep)
        if crop is base:
            continue
        h, q = _pdq(crop)
        out.append(ImageHash(f"crop{round(keep * 100)}", h, q))
    return out


def load_image(path: str | os.PathLike[str], max_side: int = 512, *, draft: bool = True) -> U8:
    """Decode an image file to RGB uint8, reduced to at most ``max_side`` pixels a side.

    Raises ``ValueError`` (with the reason) when the file is not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if draft:
                    im.draft("RGB", (max_side, max_side))  # JPEG: decode at 1/2, 1/4, 1/8
                im.seek(0)
                img: Image.Image = im
                if im.getexif().get(0x0112, 1) != 1:  # EXIF orientation: upright it
                    img = ImageOps.exif_transpose(im) or im
                img = img.convert("RGB")
                if max(img.size) > max_side:
                    img.thumbnail((max_side, max_side), Image.Resampling.BOX)
                return np.asarray(img, dtype=np.uint8)
    except UnidentifiedImageError:
        raise ValueError("not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError("image has too many pixels to decode safely") from None
    except (OSError, SyntaxError, EOFError) as e:
        raise ValueError(f"unreadable image: {e}") from None


def hash_image(path: str | os.PathLike[str], params: HashParams | None = None) -> list[ImageHash]:
    """PDQ variants of an image file (``ValueError`` if it is not a readable image)."""
    p = params or HashParams()
    return hash_array(load_image(path, p.max_side, draft=p.draft), p)


def file_md5(path: str | os.PathLike[str]) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def iter_files(paths: Sequence[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named or found (recursively, sorted, hidden entries skipped) under folders."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for sub in sorted(p.rglob("*")):
                rel = sub.relative_to(p)
                if sub.is_file() and not any(part.startswith(".") for part in rel.parts):
                    yield sub
        elif p.is_file():
            yield p
        else:
            raise InputError(f"{raw}: no such file or folder.", path=str(raw))


def _file_rows(path: Path, params: HashParams) -> list[dict[str, Any]]:
    item = str(path)
    try:
        md5 = file_md5(path)
    except OSError as e:
        return [_row(item, "file", "md5", "", None, f"unreadable file: {e.strerror or e}")]
    try:
        hashes = hash_image(path, params)
    except ValueError as e:
        return [_row(item, "file", "md5", md5, None, None),
                _row(item, "file", "pdq", "", None, str(e))]
    rows = [_row(item, "image", "md5", md5, None, None)]
    rows += [_row(item, "image", "pdq", h.value, h.quality, None, h.variant) for h in hashes]
    return rows


def _row(item: str, kind: str, signal_type: str, value: str, quality: int | None,
         error: str | None, variant: str = "") -> dict[str, Any]:
    return {"item": item, "kind": kind, "signal_type": signal_type, "variant": variant,
            "value": value, "quality": quality, "error": error}


def hash_files(paths: Sequence[str | os.PathLike[str]],
               params: HashParams | None = None) -> pa.Table:
    """Hash files and folders (recursively): MD5 of every file, PDQ variants of images.

    Returns a table with :data:`HASH_SCHEMA`; a file that is not a readable image has a
    ``pdq`` row with an empty value and the reason in ``error``.
    """
    from concurrent.futures import ThreadPoolExecutor

    p = params or HashParams()
    files = list(iter_files(paths))
    rows: list[dict[str, Any]] = []
    workers = p.workers or min(8, os.cpu_count() or 1)
    # Pillow's decoders and pdqhash release the GIL, so threads use every core; results
    # come back in input order whatever the number of workers.
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            progress.task("hashing files", total=len(files)) as bar:
        for file_rows in pool.map(lambda f: _file_rows(f, p), files):
            rows.extend(file_rows)
            bar.advance()
    return pa.Table.from_pylist(rows, schema=HASH_SCHEMA)


# -- text --------------------------------------------------------------------------


def text_shingles(normalised: str, k: int = SHINGLE) -> set[bytes]:
    """Character ``k``-grams of normalised text (the whole text if shorter)."""
    if len(normalised) <= k:
        return {normalised.encode("utf-8")}
    return {normalised[i : i + k].encode("utf-8") for i in range(len(normalised) - k + 1)}


def minhash_signatures(texts: Sequence[str]) -> npt.NDArray[np.uint64]:
    """MinHash signatures (datasketch, ``NUM_PERM`` values, fixed seed) of normalised texts."""
    from datasketch import MinHash

    if not texts:
        return np.zeros((0, NUM_PERM), dtype=np.uint64)
    mhs = MinHash.bulk([text_shingles(t) for t in texts], num_perm=NUM_PERM,
                       seed=MINHASH_SEED, scheme=MINHASH_SCHEME)
    return np.stack([np.asarray(m.hashvalues, dtype=np.uint64) for m in mhs])


def minhash_signature(normalised: str) -> str:
    """A text's MinHash signature as a compact string (``mh1:`` + base64)."""
    sig = minhash_signatures([normalised])[0].astype("<u4")
    return _SIG_PREFIX + base64.b64encode(sig.tobytes()).decode("ascii")


def parse_signature(value: str) -> npt.NDArray[np.uint64]:
    """Inverse of :func:`minhash_signature` (``ValueError`` if malformed)."""
    if not value.startswith(_SIG_PREFIX):
        raise ValueError("MinHash signature must start with 'mh1:'")
    try:
        raw = base64.b64decode(value[len(_SIG_PREFIX):], validate=True)
    except (ValueError, TypeError):
        raise ValueError("MinHash signature is not valid base64") from None
    if len(raw) != NUM_PERM * 4:
        raise ValueError(f"MinHash signature must hold {NUM_PERM} values")
    return np.frombuffer(raw, dtype="<u4").astype(np.uint64)


def hash_texts(texts: Iterable[tuple[str, str]]) -> pa.Table:
    """``(item, text)`` pairs -> ``text_exact`` and ``text_near`` rows (HASH_SCHEMA)."""
    rows: list[dict[str, Any]] = []
    for item, text in texts:
        norm = bank_text(text)
        if not norm:
            rows.append(_row(item, "text", "text_exact", "", None, "empty text"))
            continue
        rows.append(_row(item, "text", "text_exact", text_hash(norm), None, None))
        rows.append(_row(item, "text", "text_near", minhash_signature(norm), None, None))
    return pa.Table.from_pylist(rows, schema=HASH_SCHEMA)

