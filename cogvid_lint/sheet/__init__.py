"""`inspect --show`: a contact sheet of what the trainer takes of a clip.

scan the clip's frame table (frames.scan) → place everything (layout.layout, pure) →
decode exactly the frames placed (frames.decode) → paint (draw.render) → write atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from cogvid_lint.sheet.layout import Fix, Sheet

__all__ = ["Fix", "Sheet", "make_sheet"]


def make_sheet(clip: str, out: Path, *, width: int, height: int, rotation: int, fps: float | None,
               training: Mapping, notes: Sequence[tuple[str, str]], fix: Fix | None = None) -> dict:
    """Write the sheet of `clip` to `out`; what it holds (the layout, as JSON) and its size."""
    from cogvid_lint.sheet import draw, frames, layout

    table = frames.scan(clip)
    times = table.times(fps)
    text_font, _ = draw.fonts()
    place = dict(width=width, height=height, training=training, times=times, measure=draw.measure(text_font),
                 fix=fix)
    sheet = layout.layout(notes=notes, **place)
    indices = list(training.get("indices") or ())
    decoded = frames.decode(clip, table, indices, sheet.thumb_size, rotation, full=indices[0] if indices else None)
    if decoded.problem:  # said on the sheet too; the grid keeps its place (only the text grows)
        sheet = layout.layout(notes=[*notes, (decoded.problem, "error")], **place)
    image = draw.render(sheet, decoded.pictures, decoded.full, training, fix)
    size = draw.write(image, out)
    return {"path": str(out), "bytes": size, "seeks": decoded.seeks, "problem": decoded.problem, **sheet.to_json()}
