"""`cogvid-lint inspect CLIP...`: what the trainer will see of each clip."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

from cogvid_lint.checks.common import turned_text
from cogvid_lint.errors import UsageError
from cogvid_lint.models import DEFAULT_MODEL, parse_resolution
from cogvid_lint import trainers
from cogvid_lint.settings import DatasetSettings

KEYS = ("path", "frames", "header_frames", "width", "height", "rotation", "fps", "variable_frame_rate",
        "duration_s", "codec", "error")


def describe(path: str, train_resolution: str | None, trainer: str | None = None) -> dict[str, Any]:
    from cogvid_lint.probe.pyav import probe

    info = probe(Path(path))
    record = {key: getattr(info, key) for key in KEYS if key != "path"}
    record = {"path": path, **record, "coded_width": info.coded_width, "coded_height": info.coded_height,
              "container": info.container}
    if (train_resolution or trainer) and info.error is None and info.frames > 0:
        profile = trainers.get(trainer or trainers.DEFAULT)
        ds = _settings(Path(path).parent, profile.name, parse_resolution(train_resolution) if train_resolution else None)
        target = profile.target_frames(ds)
        if target is None:
            raise UsageError(f"--trainer {profile.name}: give --train-resolution FxHxW (its frame count and size)")
        sample = profile.sample(info.frames, info.fps, ds)
        resize = profile.resize(info.width, info.height, ds, info.frames)
        taken = sample.indices[:len(sample.indices) - sample.padded] if sample.padded else sample.indices
        last = taken[-1] if taken else None
        record["training"] = {
            "trainer": profile.name,
            "resolution": str(ds.resolution) if ds.resolution else None,
            "stride": sample.stride,
            "indices": list(sample.indices),
            "padded_frames": sample.padded,
            "unseen_tail_frames": sample.unseen_tail,
            "unseen_tail_seconds": sample.unseen_tail / info.fps if info.fps else None,
            "effective_fps": sample.effective_fps,
            "crash": sample.crash or (resize.crash if resize else None),
            "last_frame_shown": last,
            "resized_from": [info.width, info.height],
            "resized_to": [resize.width, resize.height] if resize else None,
            "resize": resize.mode if resize else None,
            "crop": list(resize.crop) if resize and resize.crop else None,
            "cropped_away": round(resize.lost, 4) if resize else 0.0,
        }
    return record


def _settings(folder: Path, trainer: str, resolution) -> DatasetSettings:
    """A dataset of the clip alone, trained by `trainer` with its defaults."""
    return DatasetSettings(data_root=folder, layout="auto", caption_column=None, video_column=None, image_column=None,
                           model=DEFAULT_MODEL, train_resolution=resolution, purpose="general", id_token=None,
                           sources={}, trainer=trainer)


def inspect_clips(clips: Sequence[str], *, as_json: bool, train_resolution: str | None,
                  trainer: str | None = None) -> int:
    if train_resolution:
        try:
            parse_resolution(train_resolution)
        except ValueError as exc:
            raise UsageError(f"--train-resolution: {exc}") from None
    if trainer and trainers.get(trainer) is None:
        raise UsageError(f"--trainer: unknown trainer {trainer!r} (known: {', '.join(trainers.all_profiles())})")
    records = [describe(clip, train_resolution, trainer) for clip in clips]
    if as_json:
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
    else:
        for record in records:
            sys.stdout.write(_text(record))
    return 1 if any(record["error"] or (record.get("training") or {}).get("crash") for record in records) else 0


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
        lines.append(f"  {training['trainer']}" + (f" at {training['resolution']}" if training["resolution"] else "")
                     + ": " + _frames_text(training))
        if training["crash"]:
            lines.append(f"  the trainer would stop on this clip: {training['crash']}")
        elif training["resized_to"]:
            how = {"stretch": "stretched", "cover-crop": "scaled and center-cropped",
                   "crop-only": "center-cropped"}[training["resize"]]
            lost = f" ({round(100 * training['cropped_away'])}% of the frame cut away)" if training["cropped_away"] else ""
            lines.append(f"  {how} {training['resized_from'][0]}x{training['resized_from'][1]} → "
                         f"{training['resized_to'][0]}x{training['resized_to'][1]}{lost}")
    return "\n".join(lines) + "\n"


def _frames_text(training: dict[str, Any]) -> str:
    """The source frames taken, as runs (`3..43`, `0, 2, 4 .. 96`), then the padding and the
    unseen tail in words."""
    indices = training["indices"]
    padded = training["padded_frames"]
    taken = indices[:len(indices) - padded] if padded else indices
    if not taken:
        return "no frame"
    steps = {b - a for a, b in zip(taken, taken[1:])}
    if len(taken) == 1:
        shown = f"frame {taken[0]}"
    elif len(steps) == 1:
        step = steps.pop()
        shown = f"frames {taken[0]}..{taken[-1]}" + (f" every {step}" if step > 1 else "")
    else:
        shown = "frames " + ", ".join(str(i) for i in taken[:4]) + f" .. {taken[-1]}"
    parts = [f"{len(taken)} of them: {shown}" if len(taken) > 1 else shown]
    if padded:
        parts.append(f"then frame {taken[-1]} repeated {padded} times")
    if training["unseen_tail_frames"]:
        seconds = training["unseen_tail_seconds"]
        parts.append(f"the last {training['unseen_tail_frames']} never shown"
                     + (f" ({seconds:.2f} s)" if seconds else ""))
    return "; ".join(parts)
