"""diffusers `examples/cogvideo`: `train_cogvideox_lora.py` (T2V) and
`train_cogvideox_image_to_video_lora.py` (I2V).

Sampling (`_preprocess_data`, T2V :579-632): start = min(skip_start, N), end = max(0, N −
skip_end); end ≤ start → one frame; ≤ F frames → all; else range(start, end, (end − start)
// F); then [:F] and trimmed to 4k+1 — never padded. Resize: T2V covers H×W and crops
(`--video_reshape_mode` center, random or none); I2V stretches (VideoReader(width, height)).
The id token is glued to the caption with no separator (`self.id_token + prompt`).
"""

from __future__ import annotations

from cogvid_lint.trainers.base import Launch, Profile, Sample, cover_crop

_FLAGS = {"--instance_data_root": "data_root", "--caption_column": "caption_column",
          "--video_column": "video_column", "--id_token": "id_token",
          "--height": "option:height", "--width": "option:width", "--max_num_frames": "option:max_num_frames",
          "--skip_frames_start": "option:skip_frames_start", "--skip_frames_end": "option:skip_frames_end",
          "--video_reshape_mode": "option:video_reshape_mode", "--train_batch_size": "option:train_batch_size",
          "--pretrained_model_name_or_path": "option:pretrained_model"}


class DiffusersT2V(Profile):
    name = "diffusers"
    title = "diffusers (train_cogvideox_lora.py)"
    launch = Launch(entry_points=("train_cogvideox_lora.py",), flags=_FLAGS)
    layout = "cogvideo"
    id_token = "glued"
    defaults = {"height": 480, "width": 720, "max_num_frames": 49, "skip_frames_start": 0, "skip_frames_end": 0,
                "video_reshape_mode": "center", "train_batch_size": 4}
    crops = True

    def from_launch(self, values, options, reader):
        found = super().from_launch(values, options, reader)
        for values, options, _ in found:
            if "train_resolution" not in values and {"height", "width", "max_num_frames"} & set(options):
                merged = {**self.defaults, **options}
                values["train_resolution"] = f"{merged['max_num_frames']}x{merged['height']}x{merged['width']}"
        return found

    def target_frames(self, settings):
        resolution = settings.resolution
        return resolution.frames if resolution is not None else int(self.options(settings)["max_num_frames"])

    def sample(self, frames, fps, settings):
        opts = self.options(settings)
        f = self.target_frames(settings)
        n = frames
        start = min(int(opts["skip_frames_start"]), n)
        end = max(0, n - int(opts["skip_frames_end"]))
        if end <= start:
            if start >= n:  # get_batch([N]): past the last frame
                return Sample(n, f, (), crash=(f"IndexError: Out of bound indices: [{start}] (--skip_frames_start "
                                               f"{opts['skip_frames_start']} skips all {n} frames)"),
                              what=f"{n} frames")
            indices, step = (start,), 1
        elif end - start <= f:
            indices, step = tuple(range(start, end)), 1
        else:
            step = (end - start) // f
            indices = tuple(range(start, end, step))
        indices = indices[:f]
        remainder = (3 + len(indices) % 4) % 4
        if remainder:
            indices = indices[:-remainder]
        tail = max(0, end - 1 - indices[-1]) if indices else 0
        how = f"{len(indices)} of {n} frames" + (f" every {step}" if step > 1 else "")
        return Sample(n, f, indices, stride=step, unseen_tail=tail, effective_fps=fps / step if fps else None,
                      what=f"{n} frames: diffusers takes {how}")

    def batch_crash(self, frames, settings):
        """collate_fn `torch.cat`s the batch's latents (T2V :1278-1289, I2V :1241-1262): clips
        that train at different frame counts in one batch of --train_batch_size > 1 stop it."""
        try:
            batch = int(self.options(settings)["train_batch_size"])
        except (TypeError, ValueError):
            return None
        if batch <= 1 or len(frames) < 2:
            return None
        counts = sorted(frames.items(), key=lambda item: (-item[1][0], item[0]))
        (common, _), rest = counts[0], counts[1:]
        latent = [(f - 1) // 4 + 1 for f, _ in counts[:2]]
        odd = "; ".join(f"{n} clip{'s' if n != 1 else ''} at {f} (first: {name})" for f, (n, name) in rest[:3])
        return (f"RuntimeError: Sizes of tensors must match except in dimension 0. Expected size {latent[0]} but "
                f"got size {latent[1]} for tensor number 1 in the list (collate_fn's torch.cat on a batch of "
                f"--train_batch_size {batch}: most clips train at {common} frames, {odd})")

    def resize(self, width, height, settings, frames=None):
        resolution = settings.resolution
        if resolution is None or width <= 0 or height <= 0:
            return None
        if self.crops:
            return cover_crop(width, height, resolution.width, resolution.height)
        return super().resize(width, height, settings, frames)


class DiffusersI2V(DiffusersT2V):
    name = "diffusers-i2v"
    title = "diffusers (train_cogvideox_image_to_video_lora.py)"
    launch = Launch(entry_points=("train_cogvideox_image_to_video_lora.py",), flags=_FLAGS)
    crops = False


PROFILES = (DiffusersT2V(), DiffusersI2V())
