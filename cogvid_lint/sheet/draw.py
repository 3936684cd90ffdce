"""Paint a `Sheet` (layout.py) with Pillow, and write it atomically.

Everything placed here comes from the layout; this module only turns pictures into pixels:
thumbnails into their boxes (padding copies dimmed), the side panels (the first frame as
the trainer resizes it, as the fix writes it), the crop windows and the text. The font is
the one Pillow ships (`ImageFont.load_default`), never a system font.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping

import numpy as np

from cogvid_lint.fsutil import atomic_write_bytes
from cogvid_lint.sheet.layout import Box, Fix, Sheet

BACKGROUND = (24, 24, 24)
TONES = {"title": (240, 240, 240), "text": (200, 200, 200), "warn": (255, 190, 90), "error": (255, 110, 110)}
LABEL = (170, 170, 170)
PAD_LABEL = (255, 190, 90)
TRAINER_CROP = (255, 60, 60)
FIX_CROP = (80, 220, 110)
MISSING = (70, 70, 70)
TEXT_SIZE, LABEL_SIZE = 13, 11
JPEG_QUALITY = 85
# a padding copy: dimmed to under half its brightness (white 255 -> 133, black 0 -> 20)
DIM_SCALE, DIM_OFFSET = 0.45, 20


def fonts():
    """(text font, label font): Pillow's own, scalable from Pillow 10.1."""
    from PIL import ImageFont

    return ImageFont.load_default(size=TEXT_SIZE), ImageFont.load_default(size=LABEL_SIZE)


def measure(font):
    return lambda text: font.getlength(text)


def dim(picture: np.ndarray) -> np.ndarray:
    return (picture.astype(np.float32) * DIM_SCALE + DIM_OFFSET).clip(0, 255).astype(np.uint8)


def trained_picture(first: np.ndarray, training: Mapping):
    """The first frame as the trainer resizes it (a PIL image of the training size)."""
    from PIL import Image

    image = Image.fromarray(first)
    width, height = training["resized_to"]
    mode = training.get("resize")
    if mode == "cover-crop" and training.get("scaled_to") and training.get("crop"):
        x, y, w, h = training["crop"]
        return image.resize(tuple(training["scaled_to"]), Image.BILINEAR).crop((x, y, x + w, y + h))
    if mode == "crop-only" and training.get("crop"):
        x, y, w, h = training["crop"]
        return image.crop((x, y, x + w, y + h))
    return image.resize((width, height), Image.BILINEAR)  # stretch: the aspect is not kept


def fixed_picture(first: np.ndarray, fix: Fix, training: Mapping):
    """The first frame as the fix writes it (crop, then its size), as the trainer then takes it."""
    from PIL import Image

    x, y, w, h = fix.crop
    written = Image.fromarray(first).crop((x, y, x + w, y + h)).resize(fix.size, Image.BOX)
    return written.resize(tuple(training["resized_to"]), Image.BILINEAR)


def render(sheet: Sheet, pictures: Mapping[int, np.ndarray], first: np.ndarray | None, training: Mapping,
           fix: Fix | None = None):
    """The sheet as a PIL image."""
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", (sheet.width, sheet.height), BACKGROUND)
    pen = ImageDraw.Draw(canvas)
    text_font, label_font = fonts()
    for line in sheet.lines:
        pen.text((line.box.x, line.box.y + 2), line.text, font=text_font, fill=TONES.get(line.tone, TONES["text"]))
    for thumb in sheet.thumbs:
        picture = pictures.get(thumb.index)
        if picture is None:
            pen.rectangle(_corners(thumb.box), fill=MISSING)
        else:
            if thumb.padded:
                picture = dim(picture)
            _paste(canvas, Image.fromarray(picture), thumb.box)
        # `#12 1.50s`: the index at the left, the time (or `pad`) at the right of the box,
        # since the font's narrow space would run them together
        index, _, rest = thumb.label.partition(" ")
        rest = rest if picture is not None else f"{rest} ?".strip()
        colour = PAD_LABEL if thumb.padded else LABEL
        box = thumb.label_box
        pen.text((box.x + 1, box.y + 2), index, font=label_font, fill=colour)
        if rest:
            pen.text((box.x + box.w - 1, box.y + 2), rest, font=label_font, fill=colour, anchor="ra")
    pictures_by_kind = {}
    if first is not None:
        from PIL import Image as _Image

        pictures_by_kind = {"source": _Image.fromarray(first), "trained": trained_picture(first, training)}
        if fix is not None:
            pictures_by_kind["fixed"] = fixed_picture(first, fix, training)
    for panel in sheet.panels:
        pen.text((panel.title_box.x, panel.title_box.y + 2), panel.title, font=text_font, fill=TONES["text"])
        image = pictures_by_kind.get(panel.kind)
        if image is None:
            pen.rectangle(_corners(panel.box), fill=MISSING)
        else:
            _paste(canvas, image, panel.box)
        for window, colour in ((panel.window, TRAINER_CROP), (panel.fix_window, FIX_CROP)):
            if window is not None:
                pen.rectangle(_corners(window), outline=colour, width=2)
    return canvas


def _paste(canvas, image, box: Box) -> None:
    from PIL import Image

    if image.size != (box.w, box.h):
        image = image.resize((box.w, box.h), Image.BILINEAR)
    canvas.paste(image, (box.x, box.y))


def _corners(box: Box) -> tuple[int, int, int, int]:
    return box.x, box.y, box.x + box.w - 1, box.y + box.h - 1


def encode(image, suffix: str) -> bytes:
    """PNG, or JPEG for .jpg/.jpeg."""
    out = io.BytesIO()
    if suffix.lower() in (".jpg", ".jpeg"):
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _opens(path: Path) -> None:
    """The written temp file decodes as an image (checked before it replaces anything)."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()


def write(image, path: Path) -> int:
    """Write the sheet to `path` atomically (temp → verify it opens → os.replace); its size."""
    data = encode(image, path.suffix)
    atomic_write_bytes(path, data, check=_opens, new_mode=0o666)  # an image to share, as any new file
    return len(data)
