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
            "scaled_to": list(resize.scaled) if resize and resize.scaled else None,
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
                  trainer: str | None = None, show: str | None = None) -> int:
    if train_resolution:
        try:
            parse_resolution(train_resolution)
        except ValueError as exc:
            raise UsageError(f"--train-resolution: {exc}") from None
    if trainer and trainers.get(trainer) is None:
        raise UsageError(f"--trainer: unknown trainer {trainer!r} (known: {', '.join(trainers.all_profiles())})")
    targets = sheet_targets(clips, show) if show else None
    # a sheet shows what a trainer takes: with no --trainer, the one cogvid-lint assumes
    records = [describe(clip, train_resolution, trainer or (trainers.DEFAULT if show else None)) for clip in clips]
    failed = False
    for record, target in zip(records, targets or ()):
        record["sheet"] = _sheet(record, target)
        failed = failed or "error" in record["sheet"]
    if as_json:
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
    else:
        for record in records:
            sys.stdout.write(_text(record) + (_sheet_text(record["sheet"]) if "sheet" in record else ""))
    crashed = any(record["error"] or (record.get("training") or {}).get("crash") for record in records)
    return 1 if crashed or failed else 0


SHEET_SUFFIXES = (".png", ".jpg", ".jpeg")


def sheet_targets(clips: Sequence[str], show: str) -> list[Path]:
    """Where each clip's sheet goes. `--show OUT.png|OUT.jpg` names the sheet of one clip;
    any other path is a folder (made if missing) with one JPEG per clip (the smaller file for
    many sheets), named after the clip (`a.mp4` → `a.mp4.jpg`; a second `a.mp4` from another
    folder → `a.mp4-2.jpg`)."""
    out = Path(show)
    if out.suffix.lower() in SHEET_SUFFIXES and not out.is_dir():
        if len(clips) > 1:
            raise UsageError(f"--show {show}: {len(clips)} clips need a folder (one sheet per clip, named after it)")
        if not out.parent.is_dir():
            raise UsageError(f"--show {show}: no such folder {out.parent}")
        return [out]
    if out.exists() and not out.is_dir():
        raise UsageError(f"--show {show}: neither a folder nor a .png/.jpg file name")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--show {show}: cannot make the folder: {exc.strerror or exc}") from None
    taken: set[str] = set()
    targets = []
    for clip in clips:
        base = Path(clip).name
        name, n = f"{base}.jpg", 2
        while name in taken:
            name, n = f"{base}-{n}.jpg", n + 1
        taken.add(name)
        targets.append(out / name)
    return targets


def _sheet(record: dict[str, Any], target: Path) -> dict[str, Any]:
    """Write the clip's sheet; what it holds (see sheet.layout), or {"error": why not}."""
    if record["error"]:
        return {"path": str(target), "error": f"no sheet: the clip is unreadable ({record['error']})"}
    training = record.get("training")
    if not training:
        return {"path": str(target), "error": "no sheet: the clip has no frames"}
    from cogvid_lint.sheet import make_sheet

    fix = _planned_fix(record)
    try:
        return make_sheet(record["path"], target, width=record["width"], height=record["height"],
                          rotation=record["rotation"], fps=record["fps"], training=training,
                          notes=_sheet_notes(record, fix), fix=fix)
    except OSError as exc:
        return {"path": str(target), "error": f"cannot write: {exc.strerror or exc}"}
    except Exception as exc:  # noqa: BLE001 - a clip the decoder or the imaging library chokes on: its line
        return {"path": str(target), "error": f"no sheet: {type(exc).__name__}: {exc}"}


def _planned_fix(record: dict[str, Any]):
    """The CVL105 center-crop-resize that `--fix --unsafe-fixes` would plan for this clip:
    only a stretching trainer distorts, and only past CVL105's default tolerance (the test
    of checks/video.py aspect_mismatch, which a config may change; the sheet uses the default)."""
    training = record["training"]
    if training.get("resize") != "stretch" or not training.get("resized_to") or training.get("crash"):
        return None
    target_w, target_h = training["resized_to"]
    aspect, target = record["width"] / record["height"], target_w / target_h
    if abs(aspect - target) / target <= _aspect_tolerance():
        return None
    from cogvid_lint.fix.media_plan import crop_resize_plan
    from cogvid_lint.sheet import Fix

    crop, size, upscale = crop_resize_plan(record["width"], record["height"], target_w, target_h)
    then = f" (not upscaled to {target_w}x{target_h})" if upscale else f", resize {size[0]}x{size[1]}"
    return Fix(crop, size, f"after --fix --unsafe-fixes (CVL105): crop {crop[2]}x{crop[3]}{then}")


def _aspect_tolerance() -> float:
    from cogvid_lint.catalogue import builtin_rules_dir, load_rules

    rule = next(r for r in load_rules(builtin_rules_dir()) if r.code == "CVL105")
    return float(rule.default_params()["tolerance"])


def _sheet_notes(record: dict[str, Any], fix) -> list[tuple[str, str]]:
    """The sheet's lines of text: the clip, the frames taken, then what goes wrong in words."""
    training = record["training"]
    fps = f"{record['fps']:g} fps" if record["fps"] else "no fps"
    turned = f", displayed {turned_text(record['rotation'])}" if record["rotation"] else ""
    notes = [(f"{record['path']}: {record['width']}x{record['height']}{turned}, {record['frames']} frames, {fps}",
              "title")]
    indices, padded = training["indices"], training["padded_frames"]
    shown = _frames_text({**training, "padded_frames": 0, "unseen_tail_frames": 0,
                          "indices": indices[:len(indices) - padded] if padded else indices})
    notes.append((f"{training['trainer']}" + (f" at {training['resolution']}" if training["resolution"] else "")
                  + f" takes {shown}, in this order", "text"))
    if padded:
        last = indices[len(indices) - padded - 1] if len(indices) > padded else indices[-1]
        notes.append((f"frame {last} is repeated {padded} times to reach {len(indices)} frames (dimmed, 'pad')",
                      "warn"))
    tail = training["unseen_tail_frames"]
    if tail:
        seconds = training["unseen_tail_seconds"]
        span = f" ({seconds:.2f} s)" if seconds else ""
        notes.append((f"the last {tail} frames{span} are never shown" if tail > 1
                      else f"the last frame{span} is never shown", "warn"))
    if training["crash"]:
        notes.append((f"the trainer would stop on this clip: {training['crash']}", "error"))
    elif training["resized_to"]:
        how = {"stretch": "stretched", "cover-crop": "scaled and center-cropped",
               "crop-only": "center-cropped"}[training["resize"]]
        lost = f" ({round(100 * training['cropped_away'])}% of the frame cut away)" if training["cropped_away"] else ""
        notes.append((f"{how} {record['width']}x{record['height']} -> "  # the sheet's font has no arrow
                      f"{training['resized_to'][0]}x{training['resized_to'][1]}{lost}",
                      "warn" if fix is not None or training["cropped_away"] else "text"))
    return notes


def _sheet_text(sheet: dict[str, Any]) -> str:
    if "error" in sheet:
        return f"  sheet {sheet['path']}: {sheet['error']}\n"
    padded = sum(1 for thumb in sheet["thumbs"] if thumb["padded"])
    what = f"{len(sheet['thumbs'])} frames" + (f" ({padded} padding)" if padded else "")
    problem = f"; {sheet['problem']}" if sheet.get("problem") else ""
    return f"  sheet: {sheet['path']} ({what}, {sheet['width']}x{sheet['height']}, {sheet['bytes'] // 1024} kB{problem})\n"


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
