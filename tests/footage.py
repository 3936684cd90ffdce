"""Footage-like clips for the pixel rules (CVL5xx), written with PyAV + numpy.

No real footage can be downloaded where these tests run, so "real" here means scenes with
the statistics a camera gives, not flat test patterns: multi-scale noise textures (detail
at every scale), gradients, a camera pan over a texture larger than the frame, small
moving figures on a static background, a lens vignette, a night scene (low luma, real
texture, a few lights), fades, cuts between two such scenes. Each clip is encoded with
libx264 (B-frames) like a camera or an editor would, so the decoder sees real GOPs.

Importable as `footage` (tests/ on sys.path) and from bench/ (which adds tests/ itself).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable

import av
import numpy as np

W, H = 320, 180


def _blur(img: np.ndarray, radius: int) -> np.ndarray:
    """A box blur applied three times (close to a Gaussian), wrapping at the edges."""
    out = img.astype(np.float64)
    for _ in range(3):
        for axis in (0, 1):
            acc = np.cumsum(np.concatenate([out.take(range(-radius - 1, 0), axis=axis), out,
                                            out.take(range(radius), axis=axis)], axis=axis), axis=axis)
            n = out.shape[axis]
            out = (acc.take(range(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
                   - acc.take(range(0, n), axis=axis)) / (2 * radius + 1)
    return out


def texture(seed: int, h: int = H, w: int = W, lo: float = 20, hi: float = 235) -> np.ndarray:
    """A natural-looking RGB texture: noise at four scales (1/f-like), tinted, in [lo, hi]."""
    rng = np.random.default_rng(seed)
    base = sum(_blur(rng.standard_normal((h, w)), r) * r ** 0.8 for r in (1, 3, 9, 27))
    tint = rng.uniform(0.7, 1.0, 3)
    gradient = np.linspace(-0.5, 0.5, h)[:, None] * rng.uniform(-1, 1)
    img = (base - base.min()) / (np.ptp(base) or 1) + gradient
    img = (img - img.min()) / (np.ptp(img) or 1)
    rgb = np.stack([img * t + (1 - t) * 0.5 for t in tint], axis=-1)
    return (lo + rgb * (hi - lo)).clip(0, 255)


def write(path: str | Path, frames: Iterable[np.ndarray], fps: float = 24, gop: int | None = None,
          codec: str = "libx264", bframes: bool = True) -> Path:
    """Encode RGB float/uint8 frames (h x w x 3) to `path` (container from its suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".mp4": "mp4", ".mkv": "matroska", ".avi": "avi", ".mov": "mov"}[path.suffix]
    frames = iter(frames)
    first = next(frames)
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec if fmt != "avi" else "mpeg4", rate=Fraction(fps).limit_denominator(1001))
        vs.height, vs.width = first.shape[:2]
        vs.pix_fmt = "yuv420p"
        if vs.codec_context.name == "libx264":
            opts = {"bframes": "3" if bframes else "0", "threads": "1", "crf": "20"}
            if gop:
                opts.update({"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"})
            vs.codec_context.options = opts
        for i, img in enumerate([first, *frames]):
            frame = av.VideoFrame.from_ndarray(np.asarray(img).clip(0, 255).astype(np.uint8), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


# --- scenes: functions of the frame number giving an RGB frame ---

Scene = Callable[[int], np.ndarray]


def pan(seed: int, speed: float = 2.0, h: int = H, w: int = W) -> Scene:
    """A camera panning right over a texture three frames wide (`speed` px a frame)."""
    big = texture(seed, h + 40, w * 3)

    def at(i: int) -> np.ndarray:
        x = int(i * speed) % (2 * w)
        y = int(20 + 10 * np.sin(i / 15))
        return big[y:y + h, x:x + w]
    return at


def figures(seed: int, count: int = 4, size: int = 6, h: int = H, w: int = W, lo: float = 20,
            hi: float = 235) -> Scene:
    """A static camera on a textured scene with a few small figures walking across it."""
    back = texture(seed, h, w, lo, hi)
    rng = np.random.default_rng(seed + 1)
    starts = rng.uniform(0, w, count)
    rows = rng.uniform(h * 0.5, h * 0.85, count).astype(int)
    speeds = rng.uniform(0.8, 1.6, count) * rng.choice([-1, 1], count)
    colors = rng.uniform(20, 240, (count, 3))

    def at(i: int) -> np.ndarray:
        img = back.copy()
        for x0, y, v, c in zip(starts, rows, speeds, colors):
            x = int(x0 + v * i) % (w - size)
            img[y:y + 2 * size, x:x + size] = c
        return img
    return at


def moving_shapes(seed: int, h: int = H, w: int = W) -> Scene:
    """Large shapes moving over a slowly drifting texture."""
    back = pan(seed, 0.5, h, w)
    rng = np.random.default_rng(seed + 2)
    params = rng.uniform(0, 1, (3, 4))

    def at(i: int) -> np.ndarray:
        img = back(i).copy()
        yy, xx = np.mgrid[0:h, 0:w]
        for cx, cy, r, c in params:
            x = (cx * w + 3 * i) % w
            y = cy * h
            img[(xx - x) ** 2 + (yy - y) ** 2 < (10 + 30 * r) ** 2] = 40 + 200 * c
        return img
    return at


def still(seed: int, h: int = H, w: int = W) -> Scene:
    img = texture(seed, h, w)
    return lambda i: img


def vignette(scene: Scene, strength: float = 0.75) -> Scene:
    """A lens vignette: corners darkened to (1 - strength) of the center."""
    def at(i: int) -> np.ndarray:
        img = scene(i)
        h, w = img.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
        return img * (1 - strength * np.clip(r2 / 2, 0, 1) ** 0.8)[..., None]
    return at


def night(seed: int, h: int = H, w: int = W) -> Scene:
    """A night street: dark textured scene (luma ~3-45) with lit windows and lamps (~3 % of
    the picture, as a city at night has), drifting slowly."""
    big = texture(seed, h, w + 200, lo=3, hi=45)
    rng = np.random.default_rng(seed + 3)
    lights = [(int(rng.uniform(10, h - 10)), int(rng.uniform(10, w + 190))) for _ in range(40)]
    for y, x in lights:
        big[max(0, y - 4):y + 4, max(0, x - 3):x + 3] = rng.uniform(150, 240, 3)

    def at(i: int) -> np.ndarray:
        x = int(i * 0.7)
        return big[:, x:x + w]
    return at


def scale(scene: Scene, factor: float) -> Scene:
    return lambda i: scene(i) * factor


def fade(scene: Scene, start: int, length: int, fade_in: bool = True) -> Scene:
    """Fade in from black over frames start..start+length (or out to black)."""
    def at(i: int) -> np.ndarray:
        t = np.clip((i - start) / length, 0, 1)
        return scene(i) * (t if fade_in else 1 - t)
    return at


def cut(first: Scene, second: Scene, at_frame: int) -> Scene:
    return lambda i: first(i) if i < at_frame else second(i)


def black_until(scene: Scene, frames: int) -> Scene:
    return lambda i: np.zeros_like(scene(i)) if i < frames else scene(i)


def black_from(scene: Scene, frame: int) -> Scene:
    return lambda i: np.zeros_like(scene(i)) if i >= frame else scene(i)


def frozen_from(scene: Scene, frame: int) -> Scene:
    return lambda i: scene(min(i, frame))


def letterbox(scene: Scene, bar: int, h: int = H, w: int = W) -> Scene:
    """The scene squeezed into h - 2*bar rows between black bars (top and bottom)."""
    def at(i: int) -> np.ndarray:
        img = np.zeros((h, w, 3))
        img[bar:h - bar] = scene(i)[:h - 2 * bar]
        return img
    return at


def pillarbox(scene: Scene, bar: int, h: int = H, w: int = W) -> Scene:
    def at(i: int) -> np.ndarray:
        img = np.zeros((h, w, 3))
        img[:, bar:w - bar] = scene(i)[:, :w - 2 * bar]
        return img
    return at


def darken(scene: Scene, factor: float) -> Scene:
    return scale(scene, factor)


def clip(path: str | Path, scene: Scene, frames: int = 96, fps: float = 24, **kwargs) -> Path:
    return write(path, (scene(i) for i in range(frames)), fps=fps, **kwargs)


def copy_of(src: str | Path, dst: str | Path, width: int | None = None, height: int | None = None,
            gain: float = 1.0, crf: int = 30, skip: int = 0) -> Path:
    """A re-encode of `src` as a copy of a clip usually is: resized, brighter or darker,
    lower quality, its first `skip` frames trimmed."""
    with av.open(str(src)) as inp:
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]
        rate = inp.streams.video[0].average_rate
    h, w = frames[0].shape[:2]
    width, height = width or w, height or h

    def resized(img: np.ndarray) -> np.ndarray:
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(width=width, height=height)
        return frame.to_ndarray() * gain

    path = Path(dst)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.options = {"crf": str(crf), "threads": "1"}
        for i, img in enumerate(frames[skip:]):
            frame = av.VideoFrame.from_ndarray(resized(img).clip(0, 255).astype(np.uint8), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def scene(recipe: str, seed: int = 1, **params) -> Scene:
    """A scene by name, for the table-driven cases (tests/cases/CVL5xx.yaml)."""
    if recipe == "pan":
        return pan(seed, params.get("speed", 2.0))
    if recipe == "figures":
        return figures(seed)
    if recipe == "shapes":
        return moving_shapes(seed)
    if recipe == "still":
        return still(seed)
    if recipe == "night":
        return night(seed)
    if recipe == "vignette":
        return vignette(pan(seed, 1.5), params.get("strength", 0.75))
    if recipe == "dark":
        return darken(pan(seed, 1.5), params.get("factor", 0.2))
    if recipe == "fade_out":  # a slow fade to black from `start` over `length` frames
        return fade(pan(seed, 1.0), params.get("start", 10), params.get("length", 80), fade_in=False)
    if recipe == "fade_in":
        return fade(pan(seed, 1.0), params.get("start", 0), params.get("length", 80))
    if recipe == "cut":  # from a pan to a static shot of figures elsewhere (in brighter light) at `at`
        return cut(pan(seed, 1.0), figures(seed + 1, lo=70, hi=250), params["at"])
    if recipe == "shot":  # shot 0 or 1 of a two-shot source video (a pan, then figures)
        source = cut(pan(seed, 1.0), figures(seed + 1), 10_000)
        return source if params["shot"] == 0 else (lambda i: figures(seed + 1)(i + 96))
    if recipe == "black_lead":
        return black_until(pan(seed, 1.5), params["until"])
    if recipe == "black_tail":
        return black_from(pan(seed, 1.5), params["frame"])
    if recipe == "frozen_tail":
        return frozen_from(pan(seed, 1.5), params["frame"])
    if recipe == "letterbox":
        return letterbox(pan(seed, 1.5), params["bar"])
    if recipe == "pillarbox":
        return pillarbox(pan(seed, 1.5), params["bar"])
    raise ValueError(f"unknown footage recipe {recipe!r}")


def make(root: Path, rel: str, recipe: str, frames: int = 96, fps: float = 24, **params) -> Path:
    """Write the clip `rel` under `root`: a recipe's scene, or (`copy`) a re-encode of the
    clip `of` (relative to root) at `width`x`height`, `gain`, trimmed by `skip` frames."""
    path = Path(root) / rel
    if recipe == "copy":
        of = params.pop("of")
        return copy_of(Path(root) / of, path, **params)
    seed = params.pop("seed", 1)
    gop = params.pop("gop", None)
    return clip(path, scene(recipe, seed, **params), frames, fps, gop=gop)
