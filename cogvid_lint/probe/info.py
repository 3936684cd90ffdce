"""What a probe learns about one clip. Plain data: cached, pickled across workers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class VideoInfo:
    """Facts about one clip as the trainer (decord) will see it.

    `frames` is the real count of frames (demuxed packets with data), which equals
    `len(decord.VideoReader(path))`; `header_frames` is what the container claims (0 when
    it says nothing, as mkv/webm do). `width`/`height` are the *display* size, after the
    rotation that decord applies; `coded_width`/`coded_height` are the stored size.
    `error` is None for a readable clip, else a short reason ("zero bytes", "no video
    stream", "truncated: ...", "decoder crashed", ...).
    """

    path: str
    error: str | None = None
    frames: int = 0
    header_frames: int = 0
    width: int = 0
    height: int = 0
    coded_width: int = 0
    coded_height: int = 0
    rotation: int = 0
    fps: float | None = None
    variable_frame_rate: bool = False
    min_frame_duration_s: float | None = None
    max_frame_duration_s: float | None = None
    duration_s: float | None = None
    codec: str | None = None
    container: str | None = None
    pix_fmt: str | None = None
    has_audio: bool = False
    size_bytes: int = 0

    @property
    def readable(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
