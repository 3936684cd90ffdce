"""What a report shows of a clip: its thumbnail strip, as data (made upstream, stored in the
project store by probe/thumbs.py; reporters only format it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StripFrame:
    position: int  # place in the trainer's sample (0: the first frame the model sees)
    index: int  # the source frame (decord's index)
    seconds: float | None  # its time from the first frame (index / fps), None without an fps


@dataclass(frozen=True)
class ClipPictures:
    """A clip's strip: `frames` left to right in one JPEG, each tile `tile` = (w, h) px."""

    jpeg: bytes
    tile: tuple[int, int]
    frames: tuple[StripFrame, ...]
    sample: str  # what the trainer takes, in words ("49 of 60 frames: 0..48; the last 11 never shown")
    problem: str | None = None  # why a tile is grey, or why there is no strip (then jpeg is b"")
