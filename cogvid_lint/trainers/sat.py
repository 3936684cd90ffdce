"""CogVideo `sat/` (SwissArmyTransformer): `videos/` + `labels/`, 3+3 frame skip, time
resampling to the config's fps, center crop, and a pad to max_num_frames for every clip.

`sat/data_video.py:393-463` (SFTDataset), N = len(vr), r = vr.get_avg_fps():
- N / r * fps > F: start = skip, end = int(start + F / fps * r), step = (end − start) // F,
  frames read are [start, min(end, N)): an index past N is an IndexError (50–51 frames at
  8 fps), a step of 0 (r < fps) a ZeroDivisionError;
- else N > F: frames skip .. N − skip at step max((N − 2·skip) // F, 1);
- else: skip .. N − skip cut to the largest 4k+1;
- then `pad_last_frame(..., F)`: cut to F, or the last frame repeated up to F.
Resize: aspect-preserving resize to cover the video_size, then a center crop.
"""

from __future__ import annotations

from cogvid_lint.settings import Source
from cogvid_lint.trainers.base import Launch, Profile, Sample, cover_crop


def _nearest_smaller_4k_plus_1(n: int) -> int:
    remainder = n % 4
    return n - 3 if remainder == 0 else n - remainder + 1


class Sat(Profile):
    name = "sat"
    title = "CogVideo SAT"
    launch = Launch(entry_points=("train_video.py",), flags={"--base": "option:configs"}, requires=("--base",),
                    lists=("--base",))
    layout = "sat"
    id_token = "caption"
    defaults = {"fps": 8, "skip_frms_num": 3, "max_num_frames": 49}

    def from_launch(self, values, options, reader):
        """`--base a.yaml b.yaml`: the configs merged in order; `args.train_data` the data
        roots (relative to the script's folder), `data.params` the sampling."""
        configs = options.get("configs") or []
        configs = [configs] if isinstance(configs, str) else list(configs)
        merged: dict = {}
        where: dict[str, Source] = {}
        for name in configs:
            path, data = reader.load(name)
            if not isinstance(data, dict):
                continue
            params = ((data.get("data") or {}).get("params") or {}) if isinstance(data.get("data"), dict) else {}
            if isinstance(params, dict) and params:
                merged.setdefault("params", {}).update(params)
                where["train_resolution"] = Source.in_file(path)
            train = (data.get("args") or {}).get("train_data") if isinstance(data.get("args"), dict) else None
            if train:
                merged["train_data"] = [train] if isinstance(train, str) else list(train)
                where["data_root"] = Source.in_file(path)
        params = merged.get("params", {})
        opts = {**options, **{k: params[k] for k in ("fps", "skip_frms_num", "max_num_frames") if k in params}}
        base = dict(values)
        size = params.get("video_size")
        if isinstance(size, (list, tuple)) and len(size) == 2:
            base["train_resolution"] = f"{opts.get('max_num_frames', 49)}x{size[0]}x{size[1]}"
        found = []
        for folder in merged.get("train_data", []):
            if isinstance(folder, str):
                # as written, and where it is relative to: SAT rewrites `videos` in the label
                # path as its config writes it (discover.layouts)
                found.append(({**base, "data_root": str(reader.path(folder))},
                              {**opts, "data_dir": folder, "cwd": str(reader.path("."))}, dict(where)))
        return found

    def target_frames(self, settings):
        return int(self.options(settings)["max_num_frames"])

    def sample(self, frames, fps, settings):
        opts = self.options(settings)
        f, rate, skip = int(opts["max_num_frames"]), float(opts["fps"]), int(opts["skip_frms_num"])
        n = frames
        crash = None
        if fps and n / fps * rate > f:
            start = skip
            end = int(start + f / rate * fps)
            readable = min(end, n)
            step = (end - start) // f
            if step <= 0:
                return Sample(n, f, (), crash=f"ZeroDivisionError (step {step}: {fps:g} fps is below SAT's {rate:g})",
                              what=f"{n} frames at {fps:g} fps")
            indices = tuple(range(start, end, step))
            past = [i for i in indices if i >= readable]
            if past:
                crash = (f"IndexError: it reads frames {start}..{readable - 1} and indexes frame {past[0]} "
                         f"({n} frames at {fps:g} fps)")
            effective = fps / step
            how = f"frames {start}–{min(indices[:f][-1], n - 1)} every {step}"
        elif n > f:
            start, end = skip, n - skip
            step = max((end - start) // f, 1)
            indices = tuple(range(start, end, step))
            effective = fps / step if fps else None
            how = f"frames {start}–{indices[:f][-1]}" + (f" every {step}" if step > 1 else "")
        else:
            start = skip
            count = _nearest_smaller_4k_plus_1(n - 2 * skip)
            if count <= 0:
                return Sample(n, f, (), crash=f"IndexError: {n} frames leave none after SAT's {skip}+{skip} frame skip",
                              what=f"{n} frames")
            indices = tuple(range(start, start + count))
            step, effective = 1, fps
            how = f"frames {start}–{indices[-1]}"
        taken = indices[:f]
        padded = f - len(taken)
        if padded > 0:
            taken = taken + (taken[-1],) * padded
        unique = taken[:f - padded] if padded else taken
        tail = max(0, n - skip - 1 - unique[-1]) if unique else 0  # the last `skip` frames: skipped by design
        padding = (f"{n} frames: SAT keeps {how} and repeats the last {padded} time{'s' if padded != 1 else ''}"
                   if padded else "")
        return Sample(n, f, taken, padded=padded, stride=step, unseen_tail=tail, effective_fps=effective,
                      crash=crash, what=f"{n} frames: SAT keeps {how}", padding=padding)

    def resize(self, width, height, settings, frames=None):
        resolution = settings.resolution
        if resolution is None or width <= 0 or height <= 0:
            return None
        return cover_crop(width, height, resolution.width, resolution.height)


PROFILES = (Sat(),)
