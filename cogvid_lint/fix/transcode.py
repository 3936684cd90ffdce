"""One re-encode of a clip: decode → rotate → crop → resize → (re-time) → encode.

Everything a media fix does to the pixels happens in this single pass through an FFmpeg
filter graph (the same filters the `ffmpeg` command line would use), so a clip that needs a
crop and a re-time is decoded and encoded once. av is imported by the caller's first use.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

# The muxer for each suffix the discovery accepts: the fixed clip keeps its container type.
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}


@dataclass(frozen=True)
class Job:
    """What to make of one clip. Sizes are display sizes (after the rotation decord applies)."""

    rotation: int  # degrees clockwise decord turns the stored picture (baked into the pixels)
    crop: tuple[int, int, int, int] | None  # x, y, w, h in display coordinates
    size: tuple[int, int] | None  # output width, height
    fps: Fraction | None  # constant output rate when re-timing; None keeps every timestamp
    frames: int  # frames the output must hold
    crf: int
    muxer: str
    # A trim: only source frames first_frame..last_frame (decoded order, inclusive) are kept,
    # and the first kept one starts at time 0 (None: to the last frame).
    first_frame: int = 0
    last_frame: int | None = None


def muxer_for(path: Path) -> str | None:
    return MUXERS.get(path.suffix.lower())


def _filters(job: Job) -> list[tuple[str, str]]:
    # FFmpeg's transpose=clock turns 90° clockwise, decord's convention for `rotation`.
    turn = {90: [("transpose", "clock")], 180: [("hflip", ""), ("vflip", "")],
            270: [("transpose", "cclock")]}.get(job.rotation % 360, [])
    chain = list(turn)
    if job.crop is not None:
        x, y, w, h = job.crop
        chain.append(("crop", f"{w}:{h}:{x}:{y}"))
    if job.size is not None:
        # area averaging: a downscale keeps fine detail without aliasing (as cv2.INTER_AREA)
        chain.append(("scale", f"{job.size[0]}:{job.size[1]}:flags=area"))
    chain += [("format", "yuv420p"), ("setsar", "1")]
    return chain


class _Graph:
    def __init__(self, av, stream, job: Job):
        self._av = av
        self.graph = av.filter.Graph()
        nodes = [self.graph.add_buffer(template=stream)]
        nodes += [self.graph.add(name, args) for name, args in _filters(job)]
        nodes.append(self.graph.add("buffersink"))
        for a, b in zip(nodes, nodes[1:]):
            a.link_to(b)
        self.graph.configure()

    def run(self, frame):
        """The filtered frame for `frame` (these filters give exactly one frame per frame)."""
        self.graph.push(frame)
        out = []
        while True:
            try:
                out.append(self.graph.pull())
            except (self._av.error.BlockingIOError, self._av.error.EOFError):
                return out


def _encoder(av, out, job: Job, stream, width: int, height: int):
    codec = "libvpx-vp9" if job.muxer == "webm" else "libx264"  # webm holds VP8/VP9/AV1 only
    rate = job.fps or stream.average_rate or stream.guessed_rate or Fraction(8)
    enc = out.add_stream(codec, rate=rate)
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    time_base = Fraction(1) / job.fps if job.fps else stream.time_base
    enc.codec_context.time_base = time_base
    enc.time_base = time_base
    if codec == "libx264":
        options = {"crf": str(job.crf)}
        if job.muxer == "avi":
            options["bframes"] = "0"  # avi stores no presentation times: B-frames reorder badly
    else:
        # constant quality on VP9's 0-63 scale (the same number is a high quality there too)
        options = {"crf": str(job.crf), "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}
    enc.codec_context.options = options
    return enc


def transcode(src: Path, dst: Path, job: Job, on_frame: Callable[[int], None] | None = None) -> int:
    """Write `dst` from `src` as `job` says; return the number of frames encoded.

    Without re-timing every frame keeps its timestamp (so frame count, rate and timing stay).
    With `job.fps`, output frame k shows the source frame on screen at time k / fps (counted
    from the first frame): frames are dropped or repeated by timestamp, never by index.
    """
    import av

    with av.open(os.fspath(src), metadata_errors="ignore") as inp:
        stream = _video_stream(inp)
        stream.thread_type = "AUTO"
        graph = _Graph(av, stream, job)
        with av.open(os.fspath(dst), "w", format=job.muxer) as out:
            writer = _Writer(av, out, job, stream)
            decoded = _trimmed(inp.decode(stream), job)
            frames = _retimed(decoded, job, stream.time_base) if job.fps else _kept(decoded, job.first_frame > 0)
            last, filtered = None, []
            for frame, pts in frames:
                if frame is not last:  # a frame repeated by re-timing is filtered once
                    last, filtered = frame, graph.run(frame)
                for picture in filtered:
                    writer.write(picture, pts)
                    if on_frame is not None:
                        on_frame(writer.count)
            writer.close()
    return writer.count


class _Writer:
    def __init__(self, av, out, job: Job, stream):
        self.av, self.out, self.job, self.stream = av, out, job, stream
        self.enc = None
        self.count = 0
        self.last_pts: int | None = None

    def write(self, frame, pts: int) -> None:
        if self.enc is None:  # the filtered size is known once the first frame is through
            self.enc = _encoder(self.av, self.out, self.job, self.stream, frame.width, frame.height)
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # a broken source repeats a timestamp; x264 refuses that
        frame.pts, frame.time_base = pts, self.enc.codec_context.time_base
        self.last_pts = pts
        frame.pict_type = self.av.video.frame.PictureType.NONE  # let the encoder choose
        self.out.mux(self.enc.encode(frame))
        self.count += 1

    def close(self) -> None:
        if self.enc is not None:
            self.out.mux(self.enc.encode(None))


def _trimmed(decoded, job: Job):
    """The decoded frames the job keeps; decoding stops past the last one."""
    if job.first_frame <= 0 and job.last_frame is None:
        yield from decoded
        return
    stop = None if job.last_frame is None else job.last_frame + 1
    yield from itertools.islice(decoded, max(0, job.first_frame), stop)


def _kept(decoded, rebase: bool = False):
    """(frame, pts); with `rebase` (a clip trimmed at its start), the first kept frame's pts
    is subtracted so the clip still starts at 0 (else players hold its first frame)."""
    start = None
    for index, frame in enumerate(decoded):
        pts = frame.pts if frame.pts is not None else index
        if start is None:
            start = pts if rebase else 0
        yield frame, pts - start


def _retimed(decoded, job: Job, time_base: Fraction):
    """(frame, output index) pairs: each output instant k / fps gets the frame on screen then."""
    step = Fraction(1) / job.fps
    k, held, start = 0, None, None
    for index, frame in enumerate(decoded):
        pts = frame.pts if frame.pts is not None else index
        if start is None:
            start = pts
        shown_at = (pts - start) * time_base
        while held is not None and k < job.frames and k * step < shown_at:
            yield held, k
            k += 1
        held = frame
    while held is not None and k < job.frames:
        yield held, k  # the last frame stays on screen to the end
        k += 1


def _video_stream(container):
    for stream in container.streams.video:
        if not (stream.disposition & type(stream.disposition).attached_pic):
            return stream
    raise ValueError("no video stream")


def decoded_frames(path: Path) -> int:
    """Decode every frame of `path` (proves it decodes to the last frame); return the count."""
    import av

    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))
