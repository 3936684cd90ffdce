"""finetrainers: the current trainer (`--dataset_config` JSON, v0.1.0+) and v0.0.1
(`--data_root`, what the early-2025 README taught).

Current (`functional/video.py`): the frame bucket is the largest ≤ N (else the closest), the
resolution the bucket of that frame count with the nearest aspect; N > T: `torch.linspace(0,
N − 1, T)` over the whole clip; N ≤ T: the clip as is (no pad, no 4k+1 trim). `reshape_mode`
bicubic (default) stretches, center_crop crops without resizing, resize_crop covers and
crops. The id token is prepended with a space.
v0.0.1 (`dataset.py:269-289`): the frame bucket is the closest ≤ N — none ≤ N is a TypeError
— taken at stride N // T from the start; the nearest bucket by |dh| + |dw|, stretched.
"""

from __future__ import annotations

from pathlib import Path

from cogvid_lint.settings import Source

from cogvid_lint.wording import every_text
from cogvid_lint.trainers.base import (LAUNCHED, CacheSpec, Launch, Profile, Resize, Sample, cover_crop, crop_only,
                                      stretch)


def torch_linspace_long(end: int, steps: int) -> tuple[int, ...]:
    """`torch.linspace(0, end, steps).long()` on the CPU: float32, the first half counted up
    from 0 and the second down from `end` (ATen's kernel), truncated toward zero."""
    if steps == 1:
        return (0,)
    import numpy as np  # only for a clip longer than its bucket: the code hook never imports numpy

    step = np.float32(end) / np.float32(steps - 1)
    half = steps // 2
    values = [np.float32(step * np.float32(i)) if i < half else np.float32(np.float32(end) - step * np.float32(steps - i - 1))
              for i in range(steps)]
    return tuple(int(v) for v in values)


PRECOMPUTED_DATA_DIR = "finetrainers-precomputed-data"  # data/precomputation.py:13


def string_to_filename(text: str) -> str:
    """v0.0.1 utils/file_utils.py:34-44: how the model id becomes part of the cache folder's name."""
    for char in " /:.,;!?":
        text = text.replace(char, "-")
    return text


def buckets(value) -> list[tuple[int, int, int]]:
    """Buckets as (F, H, W): from a JSON list of [F, H, W] or a list of "FxHxW" strings."""
    found = []
    for item in value or ():
        if isinstance(item, str):
            parts = item.lower().split("x")
        else:
            parts = list(item)
        if len(parts) == 3:
            try:
                found.append(tuple(int(p) for p in parts))
            except (TypeError, ValueError):
                continue
    return found


class _Bucketed(Profile):
    """A trainer of `video_resolution_buckets` (else the one training resolution)."""

    def _buckets(self, settings) -> list[tuple[int, int, int]]:
        found = buckets(self.options(settings).get("video_resolution_buckets"))
        if not found and settings.resolution is not None:
            r = settings.resolution
            found = [(r.frames, r.height, r.width)]
        return found

    def target_frames(self, settings):
        found = self._buckets(settings)
        return max(b[0] for b in found) if found else None


class Finetrainers(_Bucketed):
    name = "finetrainers"
    title = "finetrainers"
    launch = Launch(entry_points=("train.py", "finetrainers"), requires=("--dataset_config",),
                    flags={"--dataset_config": "option:dataset_config",
                           "--pretrained_model_name_or_path": "option:pretrained_model",
                           "--precomputation_dir": "option:precomputation_dir", "--output_dir": "option:output_dir",
                           "--enable_precomputation": "option:enable_precomputation",
                           "--precomputation_reuse": "option:precomputation_reuse"})
    layout = "finetrainers"
    id_token = "prepended"
    # data/precomputation.py:13, :157-173, :326-341, :413-419: wiped at start unless
    # --precomputation_reuse; then read back by index with no link to clips, captions, model or bucket
    cache = CacheSpec("precomputed", "<precomputation_dir>/finetrainers-precomputed-data/{condition,latent}-<i>.pt",
                      "index", "only with --enable_precomputation --precomputation_reuse, by index",
                      reuse_flags=("enable_precomputation", "precomputation_reuse"), judged=("stale", "count", "missing"))
    defaults = {"reshape_mode": "bicubic"}

    def from_launch(self, values, options, reader):
        """`--dataset_config training.json`: one dataset per entry of its `datasets`."""
        (base, opts, _), = super().from_launch(values, options, reader)
        opts[LAUNCHED] = str(reader.script)
        # args.py:924: --precomputation_dir, else <--output_dir, default finetrainers-training>/precomputed,
        # relative to the folder the command runs in (taken as the script's)
        precomputed = opts.get("precomputation_dir")
        if not isinstance(precomputed, str):
            output = opts.get("output_dir")
            precomputed = str(Path(output if isinstance(output, str) else "finetrainers-training") / "precomputed")
        opts["precomputation_path"] = str(reader.path(precomputed))
        name = opts.get("dataset_config")
        if not isinstance(name, str):
            return []
        path, data = reader.load(name)
        entries = data.get("datasets") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            if data is not None:
                reader.problem(path, "no list under 'datasets'")
            return []
        found = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("data_root"), str):
                continue  # a dataset_file or a hub dataset: not a folder to lint
            values = {**base, "data_root": str(reader.path(entry["data_root"]))}
            if isinstance(entry.get("id_token"), str):
                values["id_token"] = entry["id_token"]
            options = dict(opts)
            found_buckets = buckets(entry.get("video_resolution_buckets"))
            if found_buckets:
                options["video_resolution_buckets"] = found_buckets
                f, h, w = found_buckets[0]
                values["train_resolution"] = f"{f}x{h}x{w}"
            for key in ("reshape_mode", "dataset_type"):
                if isinstance(entry.get(key), str):
                    options[key] = entry[key]
            if isinstance(entry.get("rename_columns"), dict):  # a metadata column renamed to `caption`
                options["rename_columns"] = entry["rename_columns"]
            source = Source.in_file(path)
            found.append((values, options, {key: source for key in ("data_root", "id_token", "train_resolution")
                                             if key in values}))
        return found

    def count_error(self, captions, videos):
        return f"ValueError: Number of captions ({captions}) must match number of videos ({videos})"


    def cache_location(self, settings):
        found = (settings.trainer_options or {}).get("precomputation_path")
        return Path(found) / PRECOMPUTED_DATA_DIR if isinstance(found, str) else None

    def _frame_bucket(self, n: int, all_buckets) -> int:
        fitting = [b for b in all_buckets if b[0] <= n]
        if fitting:
            return max(fitting, key=lambda b: b[0])[0]
        return min(all_buckets, key=lambda b: abs(b[0] - n))[0]


    def sample(self, frames, fps, settings):
        found = self._buckets(settings)
        n = frames
        t = self._frame_bucket(n, found)
        if t < n:
            indices = torch_linspace_long(n - 1, t)
            stride = (n - 1) / (t - 1) if t > 1 else float(n)
            return Sample(n, t, indices, stride=stride, effective_fps=fps / stride if fps else None,
                          what=f"{n} frames: finetrainers spreads {t} over the whole clip")
        return Sample(n, t, tuple(range(n)), stride=1, effective_fps=fps,
                      what=f"{n} frames: finetrainers trains them all (bucket {t})")

    def resize(self, width, height, settings, frames=None):
        found = self._buckets(settings)
        if not found or width <= 0 or height <= 0:
            return None
        t = self._frame_bucket(frames, found) if frames else found[0][0]
        same = [b for b in found if b[0] == t]
        _, h, w = min(same, key=lambda b: abs(b[2] / b[1] - width / height))
        mode = self.options(settings).get("reshape_mode", "bicubic")
        if mode == "center_crop":
            return crop_only(width, height, w, h)
        if mode == "resize_crop":
            return cover_crop(width, height, w, h)
        if mode != "bicubic":  # e.g. random_crop, which the args docs name and the code refuses
            return Resize("stretch", w, h, crash=f"ValueError: Invalid resize_mode: {mode}")
        return stretch(width, height, w, h)


class FinetrainersV0(_Bucketed):
    name = "finetrainers-v0"
    title = "finetrainers v0.0.1"
    launch = Launch(entry_points=("train.py", "finetrainers"), requires=("--data_root", "--video_resolution_buckets"),
                    excludes=("--dataset_config",),
                    flags={"--data_root": "data_root", "--caption_column": "caption_column",
                           "--video_column": "video_column", "--id_token": "id_token",
                           "--video_resolution_buckets": "option:video_resolution_buckets",
                           "--pretrained_model_name_or_path": "option:pretrained_model",
                           "--model_name": "option:model_name",
                           "--precompute_conditions": "option:precompute_conditions"},
                    lists=("--video_resolution_buckets",))
    layout = "cogvideo"
    id_token = "prepended"
    # trainer.py:194-213 and utils/data_utils.py:12-35 (v0.0.1): reused when both folders hold the same
    # non-zero number of .pt files; PrecomputedDataset pairs them by sorted name, nothing links them to a clip
    cache = CacheSpec("precomputed-v0",
                      "<data_root>/<model_name>_<cleaned model id>_precomputed/{conditions,latents}/*-<rank>-<i>.pt",
                      "index", "with --precompute_conditions, when both folders hold the same non-zero number of .pt",
                      reuse_flags=("precompute_conditions",), judged=("stale", "count"))

    def cache_location(self, settings):
        """data_root/<model_name>_<string_to_filename(model id)>_precomputed; None when the launch
        command does not name both (the cache rules then look at every `*_precomputed` folder)."""
        opts = settings.trainer_options or {}
        model, model_id = opts.get("model_name"), opts.get("pretrained_model")
        if not isinstance(model, str) or not isinstance(model_id, str):
            return None
        return settings.data_root / f"{model}_{string_to_filename(model_id)}_precomputed"

    def from_launch(self, values, options, reader):
        found = super().from_launch(values, options, reader)
        for values, options, _ in found:
            options[LAUNCHED] = str(reader.script)
            first = buckets(options.get("video_resolution_buckets"))
            if first and "train_resolution" not in values:
                values["train_resolution"] = "x".join(str(n) for n in first[0])
        return found

    def sample(self, frames, fps, settings):
        found = self._buckets(settings)
        n = frames
        fitting = [b for b in found if b[0] <= n]
        if not fitting:
            smallest = min(b[0] for b in found)
            return Sample(n, smallest, (), crash=(f"TypeError: 'int' object is not subscriptable "
                                                  f"({n} frames: no frame bucket <= {n}, the smallest is {smallest})"),
                          what=f"{n} frames")
        t = min(fitting, key=lambda b: abs(b[0] - n))[0]
        step = n // t
        indices = tuple(range(0, n, step))[:t]
        return Sample(n, t, indices, stride=step, unseen_tail=n - 1 - indices[-1],
                      effective_fps=fps / step if fps else None,
                      what=f"{n} frames sampled {every_text(step)} to {t}")

    def resize(self, width, height, settings, frames=None):
        found = self._buckets(settings)
        if not found or width <= 0 or height <= 0:
            return None
        _, h, w = min(found, key=lambda b: abs(b[1] - height) + abs(b[2] - width))
        resize = stretch(width, height, w, h)
        fitting = [b[0] for b in found if frames is not None and b[0] <= frames]
        if fitting:
            t = min(fitting, key=lambda f: abs(f - frames))
            if (t, h, w) not in found:  # frames from one bucket, size from another: not a bucket
                return Resize("stretch", w, h, upscale=resize.upscale,
                              crash=f"KeyError: {(t, h, w)} (BucketSampler: {t} frames at {h}x{w} is no bucket)")
        return resize


PROFILES = (Finetrainers(), FinetrainersV0())
