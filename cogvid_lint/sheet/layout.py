"""Where everything goes on a contact sheet: pure arithmetic, no image library.

`layout(...)` takes what `inspect` knows of a clip (its display size, the trainer's
`training` record, the planned media fix) and returns a `Sheet`: the sheet's size, one
`Thumb` per frame the trainer takes (in training order, with its label and box), the side
panels (the first frame as the source, as the trainer resizes it, as the fix makes it) with
the crop windows to draw on the source, and the lines of text. Drawing (draw.py) is a thin
layer that paints exactly this, so the tests check the geometry here and in the JSON it
gives (`Sheet.to_json`), not pixels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Mapping, Sequence

MAX_WIDTH = 1600  # the sheet never gets wider: a file to glance at, not a frame dump
MARGIN = 12
GAP = 8  # between thumbnails, panels and the grid and its side column
LINE_H = 18  # a line of text (the font is 13 px)
LABEL_H = 16  # the label under a thumbnail (11 px)
THUMB_W = 160  # a landscape thumbnail's width, up to 49 frames
THUMB_W_MANY = 128  # ... beyond 49
THUMB_MAX_H = 160  # a portrait thumbnail is bounded by its height instead
THUMB_MIN = 4  # a 100:1 clip still gets a visible strip
SIDE_W = 400  # the side column: the first frame as the source, trained and fixed
SIDE_MAX_H = 320


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Thumb:
    position: int  # place in the training sample (0 = the first frame the model sees)
    index: int  # the source frame shown
    label: str  # `#12 1.50s`, `#43 pad`
    padded: bool  # a copy appended to reach the frame count (drawn dimmed)
    box: Box  # the picture
    label_box: Box


@dataclass(frozen=True)
class Panel:
    kind: str  # "source" | "trained" | "fixed"
    title: str
    box: Box  # the picture
    title_box: Box
    size: tuple[int, int]  # the picture it shows, in its own pixels (source: display size)
    window: Box | None = None  # source panel: the trainer's crop window, in sheet pixels
    fix_window: Box | None = None  # source panel: the media fix's crop window


@dataclass(frozen=True)
class Line:
    text: str
    box: Box
    tone: str = "text"  # "text" | "title" | "warn" | "error"


@dataclass(frozen=True)
class Sheet:
    width: int
    height: int
    thumb_size: tuple[int, int]
    columns: int
    thumbs: tuple[Thumb, ...]
    panels: tuple[Panel, ...]
    lines: tuple[Line, ...]

    def panel(self, kind: str) -> Panel | None:
        return next((p for p in self.panels if p.kind == kind), None)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Fix:
    """A planned media fix: the crop window (display pixels) and the size it is written at."""

    crop: tuple[int, int, int, int]
    size: tuple[int, int]
    title: str


def time_label(index: int, times: Mapping[int, float | None]) -> str:
    seconds = times.get(index)
    return f"#{index} {seconds:.2f}s" if seconds is not None else f"#{index}"


def fit(width: int, height: int, max_w: int, max_h: int) -> tuple[int, int]:
    """The largest size with the aspect width:height inside max_w x max_h (each side >= 1)."""
    scale = min(max_w / width, max_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def wrap(text: str, width: int, measure: Callable[[str], float]) -> list[str]:
    """`text` broken at spaces into lines no wider than `width` (a longer word stands alone)."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and measure(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return lines + [current] if current or not lines else lines


def layout(*, width: int, height: int, training: Mapping, times: Mapping[int, float | None],
           notes: Sequence[tuple[str, str]], measure: Callable[[str], float],
           fix: Fix | None = None, max_width: int = MAX_WIDTH) -> Sheet:
    """The sheet of a `width`x`height` (display) clip as `training` (inspect's record) takes it.

    notes: (text, tone) lines for the top, wrapped to the sheet's width with `measure`
    (a string's width in pixels in the sheet's font)."""
    indices = list(training.get("indices") or ())
    padded = int(training.get("padded_frames") or 0)
    first = len(indices) - padded  # positions from here on are padding copies
    resized_to = training.get("resized_to")
    has_side = bool(indices) and resized_to is not None and not training.get("crash")
    side_w = SIDE_W if has_side else 0
    grid_room = max_width - 2 * MARGIN - (side_w + GAP if has_side else 0)

    # thumbnails: a fixed width for landscape clips, a fixed height for portrait ones
    base_w = THUMB_W if len(indices) <= 49 else THUMB_W_MANY
    tw, th = base_w, max(THUMB_MIN, round(base_w * height / width))
    if th > THUMB_MAX_H:
        tw, th = max(THUMB_MIN, round(THUMB_MAX_H * width / height)), THUMB_MAX_H
    tw = min(tw, grid_room)
    columns = max(1, min(len(indices) or 1, (grid_room + GAP) // (tw + GAP)))
    rows = math.ceil(len(indices) / columns) if indices else 0
    grid_w = columns * tw + (columns - 1) * GAP if indices else 0
    sheet_w = min(max_width, max(2 * MARGIN + grid_w + (side_w + GAP if has_side else 0), 480))
    text_w = sheet_w - 2 * MARGIN

    lines: list[Line] = []
    y = MARGIN
    for text, tone in notes:
        for part in wrap(text, text_w, measure):
            lines.append(Line(part, Box(MARGIN, y, text_w, LINE_H), tone))
            y += LINE_H
    top = y + GAP

    thumbs = []
    for position, index in enumerate(indices):
        row, col = divmod(position, columns)
        x = MARGIN + col * (tw + GAP)
        ty = top + row * (th + LABEL_H + GAP)
        pad = position >= first
        label = f"#{index} pad" if pad else time_label(index, times)
        thumbs.append(Thumb(position, index, label, pad, Box(x, ty, tw, th), Box(x, ty + th, tw, LABEL_H)))
    grid_h = rows * (th + LABEL_H + GAP) - (GAP if rows else 0)

    panels: list[Panel] = []
    side_h = 0
    if has_side:
        panels = _side(MARGIN + grid_w + GAP if indices else MARGIN, top, width, height, indices[0], times,
                       training, fix)
        side_h = max(p.box.y + p.box.h for p in panels) - top
    sheet_h = top + max(grid_h, side_h) + MARGIN
    return Sheet(sheet_w, sheet_h, (tw, th), columns, tuple(thumbs), tuple(panels), tuple(lines))


def _side(x: int, y: int, width: int, height: int, first: int, times: Mapping[int, float | None],
          training: Mapping, fix: Fix | None) -> list[Panel]:
    """The first taken frame: the source (with the crop windows), as trained, as fixed."""
    target_w, target_h = training["resized_to"]
    mode = training.get("resize")
    panels = []

    def place(kind: str, title: str, size: tuple[int, int], top: int, **windows) -> Panel:
        w, h = fit(size[0], size[1], SIDE_W, SIDE_MAX_H)
        panel = Panel(kind, title, Box(x, top + LINE_H, w, h), Box(x, top, SIDE_W, LINE_H), size, **windows)
        panels.append(panel)
        return panel

    source_w, source_h = fit(width, height, SIDE_W, SIDE_MAX_H)
    window = None
    crop = training.get("crop")
    if crop and mode in ("cover-crop", "crop-only"):
        # the crop is in the scaled frame's pixels (crop-only: the source's own)
        scaled_w, scaled_h = training.get("scaled_to") or (width, height)
        window = _scaled_box(crop, x, y + LINE_H, source_w / scaled_w, source_h / scaled_h)
    fix_window = None
    if fix is not None:
        fix_window = _scaled_box(fix.crop, x, y + LINE_H, source_w / width, source_h / height)
    label = time_label(first, times)
    what = {"cover-crop": "the trainer's crop in red", "crop-only": "the trainer's crop in red"}.get(mode, "")
    if fix is not None:
        what = (what + ", " if what else "") + "the fix's crop in green"
    source = place("source", f"source {label}, {width}x{height}" + (f" ({what})" if what else ""),
                   (width, height), y, window=window, fix_window=fix_window)
    how = {"stretch": "stretched to", "cover-crop": "scaled and cropped to", "crop-only": "cropped to"}.get(mode, "to")
    trained = place("trained", f"as the trainer sees it: {how} {target_w}x{target_h}", (target_w, target_h),
                    source.box.y + source.box.h + GAP)
    if fix is not None:
        place("fixed", fix.title, (target_w, target_h), trained.box.y + trained.box.h + GAP)
    return panels


def _scaled_box(crop: Sequence[int], x0: int, y0: int, fx: float, fy: float) -> Box:
    cx, cy, cw, ch = crop
    left, top = round(cx * fx), round(cy * fy)
    return Box(x0 + left, y0 + top, max(1, round((cx + cw) * fx) - left), max(1, round((cy + ch) * fy) - top))
