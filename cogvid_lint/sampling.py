"""How CogVideo's trainer turns N source frames into F training frames.

With N = len(decord.VideoReader(path)): if N < F it repeats the last frame F - N times;
else it takes indices range(0, N, N // F)[:F], so frames after the last index are never
seen, and fps is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class SamplePlan:
    source_frames: int
    target_frames: int
    stride: int
    indices: tuple[int, ...]
    padded_frames: int  # copies of the last frame appended (N < F)
    tail_frames: int  # frames after the last sampled index, never shown (N >= F)
    tail_seconds: float | None


@lru_cache(maxsize=4096)  # three video rules ask for the same clip's plan
def sample_plan(source_frames: int, target_frames: int, fps: float | None) -> SamplePlan:
    n, f = source_frames, target_frames
    if n < f:
        indices = tuple(range(n)) + (n - 1,) * (f - n) if n > 0 else ()
        return SamplePlan(n, f, 1, indices, f - n, 0, 0.0 if fps else None)
    stride = n // f
    indices = tuple(range(0, n, stride))[:f]
    tail = n - 1 - indices[-1]
    return SamplePlan(n, f, stride, indices, 0, tail, (tail / fps) if fps else None)
