"""Words for numbers in messages, shared by the checks and the trainer profiles."""

from __future__ import annotations


def last_frames_text(count: int) -> str:
    return "the last frame" if count == 1 else f"the last {count} frames"


def every_text(stride: int) -> str:
    """How the trainer steps through a clip: `frame by frame`, `every 2nd frame`, ..."""
    if stride == 1:
        return "frame by frame"
    suffix = "th" if 10 <= stride % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(stride % 10, "th")
    return f"every {stride}{suffix} frame"


def rate_text(fps: float) -> str:
    """A frame rate to two decimals at most (29.97, 19.05, 30): every rate in one message alike."""
    return f"{fps:.2f}".rstrip("0").rstrip(".")


def turned_text(rotation: int) -> str:
    """decord's clockwise turn in the words of both conventions: a legacy `rotate` tag of 90
    and a display matrix that ffprobe reports as rotation -90 are one turn, `90° clockwise`;
    a display rotation of 90 (counter-clockwise) is `90° counter-clockwise`, not `270°`."""
    rotation %= 360
    if rotation == 270:
        return "turned 90° counter-clockwise"
    if rotation == 180:
        return "turned 180°"
    return f"turned {rotation}° clockwise"
