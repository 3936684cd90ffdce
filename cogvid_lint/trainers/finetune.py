"""CogVideo `finetune/` (diffusers-based): lists, stretch, pad or stride from the start.

`datasets/utils.py:102-146`: N < F → every frame, then the last repeated F − N times;
else `range(0, N, N // F)[:F]` — frames after the last index are never seen; fps ignored.
`decord.VideoReader(uri, width=W, height=H)`: a stretch to the training size.
"""

from __future__ import annotations

from cogvid_lint.trainers.base import CacheSpec, Launch, Profile, Sample, strided
from cogvid_lint.wording import every_text


class Finetune(Profile):
    name = "finetune"
    title = "CogVideo finetune/"
    launch = Launch(
        entry_points=("finetune/train.py", "train.py"),
        flags={"--data_root": "data_root", "--train_resolution": "train_resolution", "--model_name": "model",
               "--caption_column": "caption_column", "--video_column": "video_column",
               "--image_column": "image_column",
               # the model folder or hub id: its tokenizer/spiece.model counts caption tokens
               "--model_path": "option:pretrained_model"},
        requires=("--data_root",),
    )
    layout = "cogvideo"
    list_entries_from = "list"  # datasets/utils.py:25-36: list_file.parent / line.strip()
    id_token = "caption"
    # datasets/t2v_dataset.py:98-147: reusable iff the file exists (checks/cache.py, cache_layout.py)
    cache = CacheSpec("finetune", "<data_root>/cache/video_latent/<model>/<F>x<H>x<W>/<stem>.safetensors", "stem",
                      "whenever the file exists", judged=("stale", "orphan", "corrupt", "shape"))

    def sample(self, frames, fps, settings):
        target = self.target_frames(settings)
        n, f = frames, target
        if n < f:
            indices = tuple(range(n)) + (n - 1,) * (f - n) if n > 0 else ()
            return Sample(n, f, indices, padded=f - n, stride=1, effective_fps=fps,
                          padding=f"{n} frames < {f}: the trainer repeats the last frame {f - n} times",
                          what=f"{n} frames padded to {f}")
        indices = strided(n, f)
        stride = n // f
        return Sample(n, f, indices, stride=stride, unseen_tail=n - 1 - indices[-1],
                      effective_fps=fps / stride if fps else None,
                      what=f"{n} frames sampled {every_text(stride)} to {f}")


PROFILES = (Finetune(),)
