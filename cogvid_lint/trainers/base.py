"""What a trainer does with a dataset: the seam every clip rule goes through.

A `Profile` says how a trainer is recognised in a repository (its launch commands), which
flags it reads, how it samples frames from a clip of N frames (`sample`), how it resizes
(`resize`), what it does with an id token, and how to call it in a message. Rules ask the
dataset's profile; none names a trainer. A profile is plain data and pure functions of
(frames, fps, settings): table-driven tests check each against the trainer's arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

if TYPE_CHECKING:
    from cogvid_lint.settings import DatasetSettings

ResizeMode = Literal["stretch", "cover-crop", "crop-only"]
# How the trainer uses an id token: "caption" — a caption convention the captions must carry
# (CogVideo); "glued" — prepended with no separator (diffusers); "prepended" — prepended with
# a space by the trainer (finetrainers, cogvideox-factory): never required in captions.
IdTokenMode = Literal["caption", "glued", "prepended"]


@dataclass(frozen=True)
class Sample:
    """The frames a trainer takes of a clip of `source` frames."""

    source: int
    target: int  # frames in the training sample the trainer aims for (F, the bucket)
    indices: tuple[int, ...]  # source frame indices in training order; padding repeats one
    padded: int = 0  # copies of a frame appended to reach the target
    stride: float | None = None  # source frames between two taken ones (None: not regular)
    unseen_tail: int = 0  # frames after the last taken one, never shown
    effective_fps: float | None = None  # the rate the taken frames show motion at
    crash: str | None = None  # the trainer's own error on this clip, when it would stop
    what: str = ""  # what the trainer does, in words, for messages
    padding: str = ""  # "...repeats the last frame 19 times", for messages

    @property
    def taken(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class Resize:
    """How the trainer maps a `width`x`height` display frame to its training size."""

    mode: ResizeMode
    width: int  # the training frame
    height: int
    scaled: tuple[int, int] | None = None  # (w, h) after an aspect-preserving resize, before cropping
    crop: tuple[int, int, int, int] | None = None  # (x, y, w, h) of the scaled frame that is kept
    lost: float = 0.0  # share of the source frame's area cropped away
    upscale: float = 1.0  # the largest factor a side is scaled up by (> 1: upscaled)
    crash: str | None = None  # the trainer's own error on a frame of this size


@dataclass(frozen=True)
class Launch:
    """How a trainer shows in a launch script, and which flags it reads."""

    # a token of the command that names this trainer (script or module), as a path suffix
    entry_points: tuple[str, ...]
    # flag -> dataset key (data_root, caption_column, video_column, image_column, model,
    # train_resolution, id_token) or an option of the profile ("option:<name>")
    flags: Mapping[str, str] = field(default_factory=dict)
    # a flag that must be present too (tells two trainers with one entry point apart)
    requires: tuple[str, ...] = ()
    # a flag whose presence rules this trainer out
    excludes: tuple[str, ...] = ()
    # flags that take several words (`--base a.yaml b.yaml`, `--frame_buckets 17 49`)
    lists: tuple[str, ...] = ()


# How the trainer finds a cached entry again: "stem" — by the clip's file stem (CogVideo
# finetune/); "index" — by its position in the data stream, with no link to any clip
# (finetrainers); "name" — by the clip's file name up to its first dot (cogvideox-factory).
CacheLink = Literal["stem", "index", "name"]


@dataclass(frozen=True)
class CacheSpec:
    """Where a trainer caches what, and when it reuses it (the cache rules read this)."""

    kind: str  # which layout reader (checks/cache.py): finetune, precomputed, precomputed-v0, prepared
    where: str  # the path pattern, for messages and docs
    link: CacheLink
    reuse: str  # when the trainer reads the cache back instead of recomputing, in words
    # options (launch switches) that must all be set for the cache to be read; a launch
    # script that lacks one makes the cache unused (nothing to judge)
    reuse_flags: tuple[str, ...] = ()
    # what the cache rules report for this trainer (stale, orphan, corrupt, shape, count, missing)
    judged: tuple[str, ...] = ()


class Profile:
    """A trainer. Subclasses set the class attributes and implement `sample`."""

    name: str = ""  # the value of `trainer:` / `--trainer`
    title: str = ""  # how messages call it ("CogVideo finetune/")
    launch: Launch = Launch(entry_points=())
    layout: str = "cogvideo"  # the dataset layout it reads (discover.dataset)
    # what a list line is joined to: "list" (the list file's folder) or "root" (the data root)
    list_entries_from: str = "root"
    id_token: IdTokenMode = "caption"
    cache: CacheSpec | None = None  # None: the trainer keeps no cache on disk
    # options a launch script or config may set, with their defaults
    defaults: Mapping[str, Any] = {}

    def from_launch(self, values: dict[str, Any], options: dict[str, Any], reader: Any) -> list[tuple[dict, dict, dict]]:
        """The datasets a launch command gives this trainer: (dataset keys, options, sources
        of keys read from other files) for each. `reader.load(name)` reads a file the
        command names (None on a problem, said once by the reader)."""
        values = dict(values)
        pretrained = options.get("pretrained_model")
        if "model" not in values and isinstance(pretrained, str):
            model = model_from_checkpoint(pretrained)
            if model:
                values["model"] = model
        return [(values, dict(options), {})]

    def options(self, settings: DatasetSettings) -> dict[str, Any]:
        return {**self.defaults, **(settings.trainer_options or {})}

    @property
    def caches_latents(self) -> bool:
        return self.cache is not None

    def cache_reused(self, settings: DatasetSettings) -> bool | None:
        """Whether the trainer reads its cache back: True when the launch command sets every
        reuse switch, False when a launch command was read and lacks one, None when no launch
        command says (the cache rules judge what is on disk then)."""
        if self.cache is None:
            return False
        if not self.cache.reuse_flags:
            return True
        opts = settings.trainer_options or {}
        if all(switch_set(opts.get(flag)) for flag in self.cache.reuse_flags):
            return True
        return False if opts.get(LAUNCHED) else None

    def cache_location(self, settings: DatasetSettings) -> Path | None:
        """The folder the cache lives in, when it does not hang off each clip; None when unknown."""
        return None

    def target_frames(self, settings: DatasetSettings) -> int | None:
        resolution = settings.resolution
        return resolution.frames if resolution is not None else None

    def sample(self, frames: int, fps: float | None, settings: DatasetSettings) -> Sample:
        raise NotImplementedError

    def batch_crash(self, frames: Mapping[int, tuple[int, str]], settings: DatasetSettings) -> str | None:
        """The trainer's own error when it batches the dataset's clips: `frames` maps each
        frame count a clip trains at to (how many clips do, the first's name). None: it
        batches them (or takes one clip a step)."""
        return None

    def count_error(self, captions: int, videos: int) -> str | None:
        """The trainer's own error on `captions` caption lines beside `videos` video lines
        (counted its way), when it says one."""
        return None

    def resize(self, width: int, height: int, settings: DatasetSettings, frames: int | None = None) -> Resize | None:
        """Stretch to the training size (most trainers); None without a training size."""
        resolution = settings.resolution
        if resolution is None or width <= 0 or height <= 0:
            return None
        return stretch(width, height, resolution.width, resolution.height)

    def __repr__(self) -> str:
        return f"<trainer {self.name}>"


# The option a caching profile's `from_launch` sets: a launch command was read for this dataset
# (so a reuse switch it lacks is really absent).
LAUNCHED = "launch_script"


def switch_set(value: Any) -> bool:
    """A launch switch (`--load_tensors`) as parsed: True, or a word after it that is no flag."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def model_from_checkpoint(name: str) -> str | None:
    """`THUDM/CogVideoX1.5-5B-I2V` -> cogvideox1.5-i2v: the model a checkpoint's name says."""
    lowered = name.lower()
    if "cogvideox" not in lowered:
        return None
    version = "cogvideox1.5" if "1.5" in lowered else "cogvideox"
    return f"{version}-{'i2v' if 'i2v' in lowered else 't2v'}"


def stretch(width: int, height: int, target_w: int, target_h: int) -> Resize:
    return Resize("stretch", target_w, target_h, upscale=max(target_w / width, target_h / height))


def cover_crop(width: int, height: int, target_w: int, target_h: int) -> Resize:
    """Scale so the frame covers target_w x target_h (aspect kept), then cut the center."""
    scale = max(target_w / width, target_h / height)
    scaled_w, scaled_h = max(target_w, round(width * scale)), max(target_h, round(height * scale))
    x, y = (scaled_w - target_w) // 2, (scaled_h - target_h) // 2
    lost = 1 - (target_w * target_h) / (scaled_w * scaled_h)
    return Resize("cover-crop", target_w, target_h, (scaled_w, scaled_h), (x, y, target_w, target_h), lost, scale)


def crop_only(width: int, height: int, target_w: int, target_h: int) -> Resize:
    """Cut target_w x target_h out of the center, no resize; a frame smaller than that is
    finetrainers' `ValueError` (functional/video.py:7-14)."""
    if width < target_w or height < target_h:
        return Resize("crop-only", target_w, target_h, crash=(f"ValueError: Video size ({height}, {width}) is smaller "
                                                              f"than the target size ({target_h}, {target_w})."))
    x, y = max(0, (width - target_w) // 2), max(0, (height - target_h) // 2)
    lost = max(0.0, 1 - (min(width, target_w) * min(height, target_h)) / (width * height))
    return Resize("crop-only", target_w, target_h, (width, height), (x, y, target_w, target_h), lost, 1.0)


def strided(frames: int, target: int, start: int = 0, end: int | None = None) -> tuple[int, ...]:
    """range(start, end, (end - start) // target)[:target]: the trainers' common stride."""
    end = frames if end is None else end
    step = (end - start) // target
    return tuple(range(start, end, step))[:target] if step > 0 else ()


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"
