"""What the CogVideoX trainers accept: model names, frame counts, resolutions, frame rates."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cogvid_lint.bounded import short


@dataclass(frozen=True)
class Resolution:
    frames: int
    height: int
    width: int

    def __str__(self) -> str:
        return f"{self.frames}x{self.height}x{self.width}"


_RESOLUTION = re.compile(r"\s*(\d{1,6})x(\d{1,6})x(\d{1,6})\s*")


def parse_resolution(text: str) -> Resolution:
    """Parse `FxHxW` (e.g. `49x480x720`); ValueError with a one-line reason otherwise."""
    match = _RESOLUTION.fullmatch(str(text))
    if not match:
        raise ValueError(f"{short(text)} is not FxHxW (three whole numbers, e.g. 49x480x720)")
    frames, height, width = (int(g) for g in match.groups())
    if min(frames, height, width) <= 0:
        raise ValueError(f"{short(text)}: frames, height and width must be positive")
    return Resolution(frames, height, width)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str  # "1.0" | "1.5"
    kind: str  # "t2v" | "i2v"
    default_resolution: Resolution
    fps: int
    frame_step: int  # F = step * N + 1
    max_n: int
    # T5 tokens the trainers encode a caption to (EOS included; the rest is truncated without
    # a warning): CogVideo README.md:234-240, sat/configs/cogvideox_5b.yaml:53 (226) and
    # cogvideox1.5_5b.yaml:52 (224), zai-org/CogVideo@7a1af71
    t5_max_tokens: int

    def frame_count_ok(self, frames: int) -> bool:
        n, rest = divmod(frames - 1, self.frame_step)
        return rest == 0 and 1 <= n <= self.max_n

    def valid_frame_counts(self) -> list[int]:
        return [self.frame_step * n + 1 for n in range(1, self.max_n + 1)]

    def resolution_problem(self, height: int, width: int) -> str | None:
        """Why H×W is not supported, or None when it is."""
        if self.version == "1.0":
            if (height, width) != (480, 720):
                return "CogVideoX 1.0 models train at 480x720 only"
            return None
        if self.kind == "t2v":
            if (height, width) != (768, 1360):
                return "CogVideoX 1.5 text-to-video trains at 768x1360 only"
            return None
        short, long = min(height, width), max(height, width)
        if short != 768:
            return "CogVideoX 1.5 image-to-video needs the shorter side to be 768"
        if not 768 <= long <= 1360:
            return "CogVideoX 1.5 image-to-video needs the longer side between 768 and 1360"
        if long % 16:
            return "CogVideoX 1.5 image-to-video needs the longer side to be a multiple of 16"
        return None


_V10 = dict(version="1.0", default_resolution=Resolution(49, 480, 720), fps=8, frame_step=8, max_n=6,
            t5_max_tokens=226)
_V15 = dict(version="1.5", default_resolution=Resolution(81, 768, 1360), fps=16, frame_step=16, max_n=10,
            t5_max_tokens=224)

MODELS: dict[str, ModelSpec] = {
    "cogvideox-t2v": ModelSpec(name="cogvideox-t2v", kind="t2v", **_V10),
    "cogvideox-i2v": ModelSpec(name="cogvideox-i2v", kind="i2v", **_V10),
    "cogvideox1.5-t2v": ModelSpec(name="cogvideox1.5-t2v", kind="t2v", **_V15),
    "cogvideox1.5-i2v": ModelSpec(name="cogvideox1.5-i2v", kind="i2v", **_V15),
}

ALIASES = {"cogvideox-2b": "cogvideox-t2v", "cogvideox-5b": "cogvideox-t2v"}

DEFAULT_MODEL = "cogvideox-t2v"


def lookup_model(name: str) -> ModelSpec | None:
    key = name.strip().lower()
    return MODELS.get(ALIASES.get(key, key))


def known_model_names() -> list[str]:
    return sorted([*MODELS, *ALIASES])
