"""Training-configuration rules: model, frame count, resolution, I2V first frames (CVL2xx).

A finding points at the place the setting came from: a launch script line, the config
file (at the key's line when it can be found), or the data root for command-line values.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

from cogvid_lint.discover.project import Dataset
from cogvid_lint.findings import Finding, Location
from cogvid_lint.models import known_model_names
from cogvid_lint.cache_layout import first_frames_dir
from cogvid_lint.registry import RuleContext, check
from cogvid_lint.fsutil import is_inside

def setting_location(dataset: Dataset, key: str) -> Location:
    """Where the setting `key` was written: its file and line (a config file's line is
    looked up by the key's name), else the data root."""
    source = dataset.settings.sources.get(key)
    if source is None or source.file is None or not source.file.is_file():
        return Location(dataset.root)
    return Location(source.file, source.line or _key_line(source.file, key))


def _key_line(path: Path, key: str) -> int | None:
    names = (key, key.replace("_", "-"))
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if any(re.match(rf"\s*{re.escape(name)}\s*[:=]", line) for name in names):
                return number
    except OSError:
        return None
    return None


@check("training.unknown_model", args=("model", "known", "suggestion"))
def unknown_model(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if dataset.settings.model_spec is None:
        import difflib

        close = difflib.get_close_matches(dataset.settings.model.lower(), known_model_names(), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        yield Finding(setting_location(dataset, "model"),
                      {"model": dataset.settings.model, "known": ", ".join(known_model_names()), "suggestion": hint})


@check("training.invalid_frame_count", args=("frames", "model", "rule", "max", "nearest"))
def invalid_frame_count(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    spec, resolution = dataset.settings.model_spec, dataset.settings.resolution
    if spec is None or resolution is None or spec.frame_count_ok(resolution.frames):
        return
    valid = spec.valid_frame_counts()
    nearest = min(valid, key=lambda f: (abs(f - resolution.frames), f))
    yield Finding(setting_location(dataset, "train_resolution"),
                  {"frames": resolution.frames, "model": spec.name, "rule": f"{spec.frame_step}N+1",
                   "max": valid[-1], "nearest": nearest})


@check("training.unsupported_resolution", args=("height", "width", "model", "problem"))
def unsupported_resolution(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    spec, resolution = dataset.settings.model_spec, dataset.settings.resolution
    if spec is None or resolution is None:
        return
    problem = spec.resolution_problem(resolution.height, resolution.width)
    if problem:
        yield Finding(setting_location(dataset, "train_resolution"),
                      {"height": resolution.height, "width": resolution.width, "model": spec.name,
                       "problem": problem})


@check("training.i2v_first_frame_fallback", args=("folder", "outside"))
def i2v_first_frame_fallback(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    spec = dataset.settings.model_spec
    if spec is None or spec.kind != "i2v" or dataset.images is not None or not dataset.clips:
        return
    folder = first_frames_dir(dataset)
    outside = " — outside the data root, so it is shared by every dataset listing bare file names there" \
        if not is_inside(folder, dataset.root) else ""
    # shown as the report shows paths: relative to its folder (a message has no absolute path)
    shown = Path(os.path.relpath(folder, ctx.settings.display_root)).as_posix() if ctx.settings else folder.name
    yield Finding(setting_location(dataset, "model"), {"folder": shown, "outside": outside})

