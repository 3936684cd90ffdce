"""The center-crop-resize plan for a clip whose aspect differs from the training size.

Pure arithmetic (no media library): the plan is carried in the finding's fix, shown by
`--diff`, and executed by the media fixer.
"""

from __future__ import annotations

from cogvid_lint.discover.project import Clip
from cogvid_lint.findings import Applicability, Fix, RewriteMedia
from cogvid_lint.models import Resolution


def crop_window(width: int, height: int, target_w: int, target_h: int) -> tuple[int, int, int, int]:
    """The centred (x, y, w, h) window of a width×height picture with the target's aspect.

    Scaling by max(W/w, H/h) makes the picture cover the target; the window is the target
    size divided by that scale, rounded to even sizes (yuv420p needs them)."""
    scale = max(target_w / width, target_h / height)
    crop_w = min(width, max(2, int(round(target_w / scale / 2)) * 2))
    crop_h = min(height, max(2, int(round(target_h / scale / 2)) * 2))
    return (width - crop_w) // 2, (height - crop_h) // 2, crop_w, crop_h


def crop_resize_fix(clip: Clip, resolution: Resolution) -> Fix:
    info = clip.info
    x, y, crop_w, crop_h = crop_window(info.width, info.height, resolution.width, resolution.height)
    plan = {
        "kind": "crop-resize",
        "source": [info.width, info.height],
        "rotation": info.rotation,
        "crop": [x, y, crop_w, crop_h],
        "resize": [resolution.width, resolution.height],
    }
    steps = f"{info.width}x{info.height}"
    if info.rotation:
        steps = f"{info.coded_width}x{info.coded_height} rotated {info.rotation}° → {steps}"
    title = (f"Center-crop-resize: {steps} → crop {crop_w}x{crop_h} → resize "
             f"{resolution.width}x{resolution.height} (re-encodes the clip; audio is dropped)")
    return Fix(title, Applicability.UNSAFE, (RewriteMedia(clip.path, clip.dataset.root, plan),))
