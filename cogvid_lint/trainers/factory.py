"""cogvideox-factory (legacy): `training/prepare_dataset.sh` + `prepare_dataset.py`, then
`train_text_to_video_lora.sh` with `--load_tensors`.

Frames (`training/cogvideox/dataset.py:279-283`): the frame bucket nearest to min(N,
max_num_frames) on either side, indices range(0, N, N // bucket) — N < bucket is a step of
0, `ValueError: range() arg 3 must not be zero`, which stops the whole prepare run. Resize:
the nearest (h, w) of all bucket pairs by |dh| + |dw|, stretched (or covered and cropped
with --video_reshape_mode). The id token is prepended with a space.
"""

from __future__ import annotations

from cogvid_lint.wording import every_text
from cogvid_lint.trainers.base import Launch, Profile, Sample, cover_crop, stretch


def _numbers(value) -> list[int]:
    if isinstance(value, (int, float)):
        return [int(value)]
    if isinstance(value, str):
        value = value.split()
    found = []
    for item in value or ():
        for word in item.split() if isinstance(item, str) else (item,):  # `--height_buckets "480 720"`
            try:
                found.append(int(word))
            except (TypeError, ValueError):
                continue
    return found


class Factory(Profile):
    name = "cogvideox-factory"
    title = "cogvideox-factory"
    launch = Launch(entry_points=("cogvideox/prepare_dataset.py", "cogvideox_text_to_video_lora.py",
                                  "cogvideox_image_to_video_lora.py", "cogvideox_text_to_video_sft.py",
                                  "cogvideox_image_to_video_sft.py"),
                    flags={"--data_root": "data_root", "--caption_column": "caption_column",
                           "--video_column": "video_column", "--id_token": "id_token",
                           "--height_buckets": "option:height_buckets", "--width_buckets": "option:width_buckets",
                           "--frame_buckets": "option:frame_buckets", "--max_num_frames": "option:max_num_frames",
                           "--video_reshape_mode": "option:video_reshape_mode",
                           "--load_tensors": "option:load_tensors"},
                    lists=("--height_buckets", "--width_buckets", "--frame_buckets"))
    layout = "cogvideo"
    id_token = "prepended"
    caches_latents = True
    defaults = {"height_buckets": [480], "width_buckets": [720], "frame_buckets": [49], "max_num_frames": 49}

    def from_launch(self, values, options, reader):
        found = super().from_launch(values, options, reader)
        for values, options, _ in found:
            merged = {**self.defaults, **options}
            frames, heights, widths = (_numbers(merged[k]) for k in ("frame_buckets", "height_buckets", "width_buckets"))
            if "train_resolution" not in values and frames and heights and widths:
                values["train_resolution"] = f"{max(frames)}x{heights[0]}x{widths[0]}"
        return found

    def target_frames(self, settings):
        return max(_numbers(self.options(settings)["frame_buckets"]) or [49])

    def sample(self, frames, fps, settings):
        opts = self.options(settings)
        frame_buckets = _numbers(opts["frame_buckets"]) or [49]
        n = frames
        wanted = min(n, int(opts["max_num_frames"]))
        bucket = min(frame_buckets, key=lambda b: abs(b - wanted))
        step = n // bucket
        if step == 0:
            return Sample(n, bucket, (), crash=(f"ValueError: range() arg 3 must not be zero ({n} frames < the "
                                                f"frame bucket {bucket}); it stops the whole prepare run"),
                          what=f"{n} frames")
        indices = tuple(range(0, n, step))[:bucket]
        return Sample(n, bucket, indices, stride=step, unseen_tail=n - 1 - indices[-1],
                      effective_fps=fps / step if fps else None, what=f"{n} frames sampled {every_text(step)} to {bucket}")

    def resize(self, width, height, settings, frames=None):
        opts = self.options(settings)
        pairs = [(h, w) for h in _numbers(opts["height_buckets"]) for w in _numbers(opts["width_buckets"])]
        if not pairs or width <= 0 or height <= 0:
            return None
        h, w = min(pairs, key=lambda p: abs(p[0] - height) + abs(p[1] - width))
        if opts.get("video_reshape_mode"):
            return cover_crop(width, height, w, h)
        return stretch(width, height, w, h)


PROFILES = (Factory(),)
