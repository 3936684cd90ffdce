"""Write real, tiny video clips with PyAV for tests.

Importable as `clips` (tests/ is on sys.path under pytest's prepend import mode) and as
`tests.clips`; hence no relative imports here.

Conventions worth knowing when writing assertions:
  * `rotation` uses decord's convention: degrees *clockwise* the stored picture is turned
    for display (ffmpeg's legacy "rotate" tag). decord (FFmpeg 4.1 inside) honours it only
    for mp4/mov (the tkhd matrix); for mkv/webm the matrix is written but decord ignores it.
  * Frames differ from each other (a moving dark gradient, values < 100) so encoders keep
    every frame; `marker` adds a white block (255) that survives compression: find it
    with `(frame.min(axis=-1) > 200).nonzero()`.
  * decord 0.6.0 mis-reads frames whose *display* width is 16, 24, 48 or 72 (seen among
    even widths 16..258: it reports 4 or 6 channels and `get_batch` raises), so rotate
    e.g. 64x32, not 64x48, by 90/270.
  * Import av before decord in a process: decord's wheel bundles libvpx 1.8, whose
    unversioned symbols then shadow PyAV's libvpx, and every libvpx-vp9 *encode* fails
    with EINVAL. Importing this module first takes care of it.
"""

from __future__ import annotations

import os
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av  # before anything imports decord; see the module docstring
import numpy as np

_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
               ".webm": "webm", ".avi": "avi"}
_VIDEO_CODECS = {"mp4": "libx264", "mov": "libx264", "matroska": "libx264",
                 "webm": "libvpx-vp9", "avi": "mpeg4"}
_AUDIO_CODECS = {"webm": ("libopus", 48000), "matroska": ("aac", 16000),
                 "mp4": ("aac", 16000), "mov": ("aac", 16000), "avi": ("aac", 16000)}
# Irregular frame durations (ms) cycled for vfr=True; ratios far beyond any tolerance.
_VFR_PATTERN_MS = (40, 120, 40, 250, 80, 40, 160)


def _container_for(path: Path, container: str | None) -> str:
    if container:
        return container
    try:
        return _CONTAINERS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"cannot infer container from suffix {path.suffix!r}") from None


# `pattern=True`: each frame carries its own index, bit k (most significant first) as the
# k-th of PATTERN_BITS cells across the middle half of the frame's height, white for 1 and
# black for 0, so a test can tell which source frame a picture shows (after scaling, too).
PATTERN_BITS = 10  # frames 0..1023


def _pattern_cells(width: int, height: int):
    """(x0, x1) of each cell and the band's (y0, y1), in the picture's own pixels."""
    edges = [round(k * width / PATTERN_BITS) for k in range(PATTERN_BITS + 1)]
    return list(zip(edges, edges[1:])), (height // 4, height - height // 4)


def read_pattern(picture: np.ndarray, threshold: int = 77) -> int:
    """The frame index `pattern=True` drew into `picture` (H x W x 3 RGB, any size): the
    centre of each cell, brighter than `threshold`, is a 1. The default suits pictures
    dimmed to about half brightness too."""
    height, width = picture.shape[:2]
    cells, (y0, y1) = _pattern_cells(width, height)
    value = 0
    for x0, x1 in cells:
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        patch = picture[max(cy - 1, 0):cy + 2, max(cx - 1, 0):cx + 2].astype(float)
        value = value * 2 + (1 if patch.mean() > threshold else 0)
    return value


def _frame_pixels(i: int, width: int, height: int, marker, pattern: bool = False) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    base = ((xx * 3 + yy * 2 + i * 17) % 100).astype(np.uint8)
    img = np.stack([base, (base + 40) % 100, np.full_like(base, (i * 23) % 100)], axis=-1)
    if pattern:
        cells, (y0, y1) = _pattern_cells(width, height)
        for bit, (x0, x1) in enumerate(cells):
            img[y0:y1, x0:x1] = 255 if (i >> (PATTERN_BITS - 1 - bit)) & 1 else 0
    if marker is True:
        marker = ((width - 8) // 2, (height - 8) // 2, 8)
    if marker:
        x, y, *rest = marker
        size = rest[0] if rest else 8
        img[max(y, 0):y + size, max(x, 0):x + size] = 255
    return img


def make_clip(
    path: str | os.PathLike,
    width: int = 64,
    height: int = 48,
    frames: int = 10,
    fps: float | Fraction = 8,
    container: str | None = None,
    codec: str | None = None,
    rotation: int = 0,
    vfr: bool = False,
    audio_seconds: float | None = None,
    marker: tuple[int, int] | tuple[int, int, int] | bool | None = None,
    faststart: bool = False,
    bframes: bool = True,
    streamed: bool = False,
    pattern: bool = False,
    gop: int | None = None,
) -> Path:
    """Encode `frames` frames of `width`x`height` (stored size) into `path`.

    rotation: 0/90/180/270 clockwise (decord's convention), stored as a display matrix.
    vfr: timestamps follow an irregular pattern instead of 1/fps steps.
    audio_seconds: add a mono audio track of that length (may outlast the video).
    marker: (x, y[, size]) white block in stored-frame pixels (size 8 by default) on
      every frame; True centres an 8x8 block.
    faststart: mp4/mov only; moov before mdat, so cutting the file's tail leaves a header
      that still claims every frame.
    bframes: False asks x264 for none (pts order == decode order).
    streamed: mkv/webm only; written as a live stream (no Duration, no Cues), as browser
      MediaRecorder files are. decord 0.6.0 refuses those ("broken metadata").
    pattern: draw each frame's index into it (see `read_pattern`); stored-frame pixels.
    gop: a keyframe every `gop` frames (default: the encoder's, one GOP for short clips).
    """
    path = Path(path)
    fmt = _container_for(path, container)
    codec = codec or _VIDEO_CODECS[fmt]
    if rotation % 90:
        raise ValueError("rotation must be a multiple of 90")
    rate = Fraction(fps).limit_denominator(1001000)
    options = {"movflags": "faststart"} if faststart else {}
    if streamed:
        options["live"] = "1"
    with av.open(str(path), "w", format=fmt, options=options) as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            vs.codec_context.options = {"bframes": "3" if bframes else "0", "threads": "1"}
            if gop:
                vs.codec_context.options = {**vs.codec_context.options,
                                            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        elif codec == "libvpx-vp9":
            vs.codec_context.options = {"deadline": "realtime", "cpu-used": "8",
                                        "threads": "1"}
        if gop and codec != "libx264":
            vs.codec_context.gop_size = gop
        tb = Fraction(1, 1000) if vfr else 1 / rate
        vs.codec_context.time_base = tb
        if rotation % 360:
            # FFmpeg's matrix angle is counter-clockwise; decord turns it clockwise by
            # -angle, so negate to land on `rotation` in decord's convention.
            vs.set_display_rotation(-(rotation % 360))
        astream = None
        if audio_seconds:
            acodec, sr = _AUDIO_CODECS[fmt]
            astream = out.add_stream(acodec, rate=sr, layout="mono")
        pts = 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(
                _frame_pixels(i, width, height, marker, pattern), format="rgb24"
            ).reformat(format="yuv420p")
            frame.pts, frame.time_base = pts, tb
            pts += _VFR_PATTERN_MS[i % len(_VFR_PATTERN_MS)] if vfr else 1
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if astream is not None:
            _write_audio(out, astream, audio_seconds)
    return path


def _write_audio(out, astream, seconds: float) -> None:
    sr = astream.codec_context.sample_rate
    fmt = astream.codec_context.codec.audio_formats[0].name
    total, chunk, done = int(seconds * sr), 4096, 0
    while done < total:
        n = min(chunk, total - done)
        t = (np.arange(done, done + n) / sr).astype(np.float32)
        wave = 0.2 * np.sin(2 * np.pi * 440 * t)
        data = (wave * 32767).astype(np.int16) if fmt.startswith("s16") else wave
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout="mono")
        frame.sample_rate, frame.pts = sr, done
        out.mux(astream.encode(frame))
        done += n
    out.mux(astream.encode(None))


def make_forged_size_avi(
    path: str | os.PathLike, declared_width: int, declared_height: int, frames: int = 10,
    width: int = 64, height: int = 48,
) -> Path:
    """A rawvideo avi of small frames whose header claims a huge frame size.

    The BITMAPINFOHEADER (strf) is the size FFmpeg believes; anything that decodes such a
    clip would allocate declared_width x declared_height frames.
    """
    path = Path(path)
    with av.open(str(path), "w", format="avi") as out:
        vs = out.add_stream("rawvideo", rate=8)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(
                _frame_pixels(i, width, height, None), format="rgb24"
            ).reformat(format="yuv420p")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    data = bytearray(path.read_bytes())
    strf = data.find(b"strf")
    # strf payload: biSize(4) then biWidth, biHeight (signed 32-bit little-endian)
    struct.pack_into("<ii", data, strf + 12, declared_width, declared_height)
    path.write_bytes(bytes(data))
    return path


def packet_offsets(path: str | os.PathLike) -> list[tuple[int, int]]:
    """(file offset, size) of every video packet, in file order (for exact cuts)."""
    with av.open(str(path)) as c:
        return sorted((p.pos, p.size) for p in c.demux(video=0) if p.size)


def make_audio_only(path: str | os.PathLike, seconds: float = 1.0) -> Path:
    """A valid media file with one audio track and no video (e.g. clip.mp4)."""
    path = Path(path)
    fmt = _container_for(path, None)
    acodec, sr = _AUDIO_CODECS[fmt]
    with av.open(str(path), "w", format=fmt) as out:
        _write_audio(out, out.add_stream(acodec, rate=sr, layout="mono"), seconds)
    return path


def truncate_clip(path: str | os.PathLike, fraction: float) -> Path:
    """Keep the first `fraction` of the file's bytes, as an interrupted download would."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def cut_tail_bytes(path: str | os.PathLike, nbytes: int) -> Path:
    """Drop the last `nbytes` bytes of the file."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: max(len(data) - nbytes, 0)])
    return path


def make_zero_byte(path: str | os.PathLike) -> Path:
    path = Path(path)
    path.write_bytes(b"")
    return path


def make_text(path: str | os.PathLike, text: str = "this is not a video\n") -> Path:
    path = Path(path)
    path.write_text(text)
    return path


def make_png(path: str | os.PathLike, width: int = 8, height: int = 8) -> Path:
    """A genuine PNG image (whatever the file name says)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + bytes(range(width * 3)) for _ in range(height))
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    path = Path(path)
    path.write_bytes(png)
    return path


def make_noise_clip(path: str | os.PathLike, frames: int = 30, width: int = 160, height: int = 120,
                    fps: int = 8, faststart: bool = False, rotation: int = 0, seed: int = 0) -> Path:
    """An H.264 mp4/mov (or VP9 webm, MPEG-4 avi, by suffix) of random noise: frames that do
    not compress, so the clip's bytes are nearly all sample data (mdat) and its size grows
    with frames x pixels (160x120: ~40 KB a frame) — the shape of real footage for tests
    that count the bytes a probe reads."""
    path = Path(path)
    fmt = _container_for(path, None)
    codec = _VIDEO_CODECS[fmt]
    rng = np.random.default_rng(seed)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            vs.codec_context.options = {"threads": "1", "crf": "10"}
        elif codec == "libvpx-vp9":
            vs.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "threads": "1"}
        if rotation % 360:
            vs.set_display_rotation(-(rotation % 360))
        for i in range(frames):
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path
