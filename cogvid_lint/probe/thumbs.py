"""Thumbnail strips for the HTML report: a few of the frames a clip's trainer takes, small,
side by side in one JPEG, stored in the project store (the `thumbs` kind) like any fact.

A strip is made from frames that are decoded anyway when the content stage runs (its
workers hand each chosen frame to `tile` before reducing it to gray: content.py); else,
only for the clips a report shows findings on, by a decode of just those frames in the
probe pool's workers (`strip`, one clip a job, through sheet.frames: seeking to far frames).
A warm run reads the rows and decodes nothing. The report only formats what is stored.

`choose` picks which frames (positions in the trainer's sample, spread over the taken part,
first and last included); the strip's version is the code's and those frames and the tile
size, so another trainer or size is a miss.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

KIND = "thumbs"
MOST = 8  # tiles in a strip: enough to see a cut, a freeze, bars or a squash at a glance
TILE_H = 45  # px; a 16:9 clip's tile is 80x45
TILE_MAX_W = 120  # a very wide clip is bounded by its width instead
TILE_MIN = 8
JPEG_QUALITY = 60  # at 45 px high the tiles read the same; 10,000 strips: 1/4 less to parse


@dataclass(frozen=True)
class ThumbStrip:
    """The tiles of `indices` (source frame indices, training order), `tile` = (w, h) each,
    left to right in one JPEG; or why there is none (`error`)."""

    path: str
    error: str | None = None
    indices: tuple[int, ...] = ()
    tile: tuple[int, int] = (0, 0)
    jpeg: bytes = b""


def choose(indices: Sequence[int], padded: int, most: int = MOST) -> tuple[int, ...]:
    """The source frames a strip shows, in training order: the taken ones (padding repeats
    the last), at most `most`, spread evenly with the first and the last."""
    taken = list(indices[:len(indices) - padded] if padded else indices)
    if len(taken) <= most:
        return tuple(taken)
    positions = sorted({round(k * (len(taken) - 1) / (most - 1)) for k in range(most)})
    return tuple(taken[p] for p in positions)


def tile_size(width: int, height: int) -> tuple[int, int]:
    """A tile of a `width` x `height` (display) clip: TILE_H high, the aspect kept."""
    if width <= 0 or height <= 0:
        return TILE_H, TILE_H
    w = round(TILE_H * width / height)
    if w > TILE_MAX_W:
        return TILE_MAX_W, max(TILE_MIN, round(TILE_MAX_W * height / width))
    return max(TILE_MIN, w), TILE_H


def tile(frame, size: tuple[int, int], rotation: int):
    """One decoded frame as a tile: swscale's area average to the display size (stored
    orientation before the turn), then turned clockwise as decord shows it. sheet.frames
    makes its thumbnails the same way, so both paths give the same pixels."""
    import numpy as np

    turns = (rotation // 90) % 4
    coded = (size[1], size[0]) if turns % 2 else size
    picture = frame.to_ndarray(width=coded[0], height=coded[1], format="rgb24", interpolation="AREA")
    return np.ascontiguousarray(np.rot90(picture, k=-turns)) if turns else picture


def compose(path: str, chosen: Sequence[int], size: tuple[int, int], pictures: dict) -> ThumbStrip:
    """The strip of `pictures` (index -> tile) in `chosen` order; a frame that did not
    decode is a grey tile (the report says the strip is incomplete)."""
    import numpy as np
    from PIL import Image

    missing = [i for i in chosen if i not in pictures]
    if len(missing) == len(chosen):
        return ThumbStrip(path, error="no chosen frame decodes")
    w, h = size
    canvas = np.full((h, w * len(chosen), 3), 70, np.uint8)
    for n, index in enumerate(chosen):
        picture = pictures.get(index)
        if picture is not None and picture.shape[:2] == (h, w):
            canvas[:, n * w:(n + 1) * w] = picture
    out = io.BytesIO()
    Image.fromarray(canvas).save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    error = f"{len(missing)} frame(s) did not decode (from #{missing[0]})" if missing else None
    return ThumbStrip(path, error=error, indices=tuple(chosen), tile=(w, h), jpeg=out.getvalue())


def failed(job: tuple, reason: str) -> ThumbStrip:
    """The answer for a job whose worker crashed or hung (the pool's contract, worker.py)."""
    return ThumbStrip(path=job[0], error=reason)


def warm_up() -> None:
    import av  # noqa: F401
    import numpy  # noqa: F401
    from PIL import Image  # noqa: F401


def strip(path: str, chosen: Sequence[int], rotation: int, tile_w: int, tile_h: int) -> ThumbStrip:
    """Decode exactly the `chosen` frames of `path` and make their strip; never raises."""
    try:
        from cogvid_lint.sheet import frames

        size = (int(tile_w), int(tile_h))
        chosen = tuple(int(i) for i in chosen)
        table = frames.scan(path)
        decoded = frames.decode(path, table, chosen, size, int(rotation) % 360)
        return compose(path, chosen, size, decoded.pictures)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises": report as data
        return ThumbStrip(path=path, error=f"decode failed: {type(exc).__name__}: {exc}"[:300])


# --- in the store (the `thumbs` kind) ---


def thumbs_version() -> str:
    """Changes whenever a strip could come out otherwise: this module's source, the
    sheet decoder's and the content decode's (the two ways tiles are made), PyAV's version."""
    from cogvid_lint.probe.cache import sources_version

    here = Path(__file__).parent
    return sources_version("thumbs", [Path(__file__), here / "content.py", here.parent / "sheet" / "frames.py"])


def job_version(code_version: str, chosen: Sequence[int], size: tuple[int, int]) -> str:
    """The version a row is stored under: the code, the frames shown and the tile size."""
    what = f"{list(chosen)!r}:{size[0]}x{size[1]}"
    return f"{code_version}:{hashlib.sha256(what.encode()).hexdigest()[:12]}"


def encode(item: ThumbStrip) -> str:
    return json.dumps([item.path, item.error, list(item.indices), list(item.tile),
                       base64.b64encode(item.jpeg).decode("ascii")], separators=(",", ":"))


def decode(text: str) -> ThumbStrip | None:
    """The ThumbStrip a stored row holds, None when it is not one this version wrote."""
    try:
        values = json.loads(text)
    except ValueError:
        return None
    if type(values) is not list or len(values) != 5:
        return None
    path, error, indices, size, data = values
    if type(path) is not str or not (error is None or type(error) is str) or type(data) is not str:
        return None
    if type(indices) is not list or any(type(i) is not int or i < 0 for i in indices):
        return None
    if type(size) is not list or len(size) != 2 or any(type(v) is not int or v < 0 for v in size):
        return None
    try:
        jpeg = base64.b64decode(data.encode("ascii"), validate=True)
    except ValueError:
        return None
    if indices and not jpeg.startswith(b"\xff\xd8"):
        return None
    return ThumbStrip(path, error, tuple(indices), (size[0], size[1]), jpeg)
