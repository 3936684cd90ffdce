"""`cogvid-lint inspect CLIP...`: what the trainer will see of each clip."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

from cogvid_lint.checks.common import turned_text
from cogvid_lint.errors import UsageError
from cogvid_lint.models import parse_resolution
from cogvid_lint.sampling import sample_plan

KEYS = ("path", "frames", "header_frames", "width", "height", "rotation", "fps", "variable_frame_rate",
        "duration_s", "codec", "error")


def describe(path: str, train_resolution: str | None) -> dict[str, Any]:
    from cogvid_lint.probe.pyav import probe

    info = probe(Path(path))
    record = {key: getattr(info, key) for key in KEYS if key != "path"}
    record = {"path": path, **record, "coded_width": info.coded_width, "coded_height": info.coded_height,
              "container": info.container}
    if train_resolution and info.error is None and info.frames > 0:
        resolution = parse_resolution(train_resolution)
        plan = sample_plan(info.frames, resolution.frames, info.fps)
        record["training"] = {
            "resolution": str(resolution),
            "stride": plan.stride,
            "indices": list(plan.indices),
            "padded_frames": plan.padded_frames,
            "unseen_tail_frames": plan.tail_frames,
            "unseen_tail_seconds": plan.tail_seconds,
            "resized_from": [info.width, info.height],
            "resized_to": [resolution.width, resolution.height],
        }
    return record


def inspect_clips(clips: Sequence[str], *, as_json: bool, train_resolution: str | None) -> int:
    if train_resolution:
        try:
            parse_resolution(train_resolution)
        except ValueError as exc:
            raise UsageError(f"--train-resolution: {exc}") from None
    records = [describe(clip, train_resolution) for clip in clips]
    if as_json:
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
    else:
        for record in records:
            sys.stdout.write(_text(record))
    return 1 if any(record["error"] for record in records) else 0


def _text(record: dict[str, Any]) -> str:
    if record["error"]:
        return f"{record['path']}: unreadable: {record['error']}\n"
    fps = f"{record['fps']:g} fps" if record["fps"] else "no fps"
    lines = [f"{record['path']}: {record['codec']} in {record['container']}, {record['width']}x{record['height']}"
             + (f" (stored {record['coded_width']}x{record['coded_height']}, {turned_text(record['rotation'])})"
                if record["rotation"] else ""),
             f"  frames {record['frames']} (header says {record['header_frames']}), {fps}"
             + (", variable frame rate" if record["variable_frame_rate"] else "")
             + (f", {record['duration_s']:.2f} s" if record["duration_s"] else "")]
    training = record.get("training")
    if training:
        shown = training["indices"]
        lines.append(f"  at {training['resolution']}: stride {training['stride']}, frames "
                     f"{shown[0]}..{shown[-1]} sampled, {training['padded_frames']} padded, "
                     f"{training['unseen_tail_frames']} never shown"
                     + (f" ({training['unseen_tail_seconds']:.2f} s)" if training["unseen_tail_seconds"] else "")
                     + f"; resized {training['resized_from'][0]}x{training['resized_from'][1]} → "
                     f"{training['resized_to'][0]}x{training['resized_to'][1]}")
    return "\n".join(lines) + "\n"
