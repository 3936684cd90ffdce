"""Probe one clip with PyAV: demux every packet, decode (almost) nothing.

`probe(path) -> VideoInfo` never raises. What it reports is what decord 0.6.0 (the
trainer's reader, FFmpeg 4.1 inside) will see:

* frames: decord indexes one frame per demuxed video packet, so we count packets with
  data (PyAV also yields an empty flush packet at EOF). duration x fps is wrong whenever
  an audio track outlasts the video or timestamps are irregular.
* rotation: decord turns frames clockwise by the mp4/mov tkhd matrix (its "rotate" tag)
  and ignores Matroska's, so we read the matrix from the file (see mp4box) rather than
  from a decoded frame, which would also honour mkv and decode the declared size.
* truncation: decoded only when the packets fall short of the header's count or the
  demuxer flags the last one incomplete, and then only from the last keyframe on.
"""

from __future__ import annotations

import os
import stat
from fractions import Fraction
from operator import sub
from typing import BinaryIO, Callable, NamedTuple

from cogvid_lint.probe.ebml import PatchedFile, lenient_patches
from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.probe.mp4box import read_head, read_layout, sniff_format
from cogvid_lint.probe.pixfmt import DECODE, header_pix_fmt

# Timestamp jitter below this share of the median step is rounding (mkv stores ms: 30 fps
# alternates 33/34 ms), not variable frame rate.
VFR_TOLERANCE = 0.10
MAX_SANE_FPS = 1000.0
# The tail we would decode to verify the last packet: past these, a clip that already
# lacks frames is reported truncated without decoding (a forged 16384x16384 header, a
# GOP of hundreds of 8K frames) and we stop holding its packets in memory.
MAX_DECODE_PIXELS = 8192 * 4352
MAX_TAIL_PIXELS = 400_000_000
MAX_TAIL_BYTES = 64 << 20
_IMAGE_FORMATS = ("image2", "image2pipe", "apng", "webp_pipe")
# FFmpeg decodes frames while it reads stream info, to learn the pixel format: that costs
# as much as decoding the first frames, and is most of what decord's open costs. For
# containers whose headers give frame rate and count, we let no decoder open while FFmpeg
# probes, and read the pixel format from the codec's headers instead.
_HEADER_ONLY = {"codec_whitelist": "none"}
_MATROSKA = "matroska,webm"
_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
# Before reading a frame, decord 0.6.0 reserves its frame index for the count the header
# claims (nb_frames, else average rate x duration): 24 bytes a frame (AVFrameTime: pts,
# dts, start, stop). A damaged count (an stts entry or strh length of 2^31-1) makes that
# one allocation tens of GiB, which fails (std::bad_alloc; Linux refuses one allocation
# beyond RAM + swap) and, uncaught, aborts the process: the training run dies. We flag a
# reservation beyond 32 GiB: counts of 2^31-1 (48 GiB) and more crash on ordinary
# machines, while 10^9 (22 GiB) did not on a 23 GiB one. A fixed bound, so the verdict
# is the same wherever the linter runs.
DECORD_INDEX_ENTRY_BYTES = 24
DECORD_INDEX_LIMIT = 32 << 30


def warm_up() -> None:
    """What a probe worker does before its first clip (see ProbePool(start=True))."""
    import av  # noqa: F401


class NeedsBytes(Exception):
    """The probe of a SparseMedia would read pixels (decode a frame) where the view has
    placeholders: the caller probes the whole object instead."""


class Media(NamedTuple):
    """A clip read through `open()` rather than from its path: an object in a store, read
    by range requests (probe.remote). `open()`: a fresh binary reader with its own position
    (the demuxer, the mp4 box walk and the Matroska walk each read on their own); `head`:
    the first HEAD_BYTES (all of a smaller clip), as read_head reads a file's."""

    size: int
    head: bytes
    open: Callable[[], BinaryIO]


class SparseMedia(Media):
    """An mp4/mov object whose index (moov) is real and whose sample data (mdat) reads as
    zeros: demuxing it gives every packet's size, timestamps and keyframe flag from the
    index alone, as the file would."""


def probe(path: str | os.PathLike) -> VideoInfo:
    """Facts about the clip at `path`; every failure is `VideoInfo(error=...)`. (A clip in
    an object store is probed by probe.remote, through this same code.)"""
    p = os.fspath(path)
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    try:
        return _probe(p)
    except Exception as exc:  # noqa: BLE001  contract is "never raises": report as data
        return _failed(p, exc)


def probe_media(p: str, media: Media) -> VideoInfo:
    """probe() of the clip named `p` whose bytes `media` reads: the same code, the same
    answer as for the file. Never raises; a failure of media's reader is the caller's to
    learn from the reader (the demuxer may have taken it for an end of file)."""
    try:
        return _probe_bytes(p, media.size, media.head, media.open)
    except Exception as exc:  # noqa: BLE001  as probe()
        return _failed(p, exc)


def _failed(p: str, exc: Exception) -> VideoInfo:
    return VideoInfo(path=p, error=f"probe failed: {type(exc).__name__}: {exc}"[:300])


def probe_sparse(p: str, media: SparseMedia) -> VideoInfo:
    """The probe of an mp4/mov object from its index (SparseMedia); raises NeedsBytes where
    the answer needs its sample data, else answers as probe() on the whole file would."""
    import av

    fmt = sniff_format(media.head)
    if fmt != _MP4:
        raise NeedsBytes
    try:
        container = av.open(media.open(), format=fmt, metadata_errors="ignore", container_options=_HEADER_ONLY)
    except (av.error.FFmpegError, OSError):
        raise NeedsBytes from None  # the whole file's open says why, as it always did
    with container:
        vs = _pick_stream(container)
        pix_fmt = header_pix_fmt(vs)
        if pix_fmt is DECODE:
            raise NeedsBytes
        return _inspect(av, container, vs, p, media.head, media.size, pix_fmt, media.open, sparse=True)


def _probe(p: str) -> VideoInfo:
    try:
        st = os.stat(p)
    except FileNotFoundError:
        return VideoInfo(path=p, error="not found")
    except OSError as exc:
        return VideoInfo(path=p, error=f"cannot stat: {exc.strerror or exc}")
    # Before any open(): opening a FIFO blocks until a writer appears.
    if not stat.S_ISREG(st.st_mode):
        return VideoInfo(path=p, error="not a regular file")
    size = st.st_size
    if size == 0:
        return VideoInfo(path=p, error="zero bytes", size_bytes=0)
    # One read serves the format sniff and, in most clips, the mp4 box walk (rotation).
    return _probe_bytes(p, size, read_head(p, size), None)


def _probe_bytes(p: str, size: int, head: bytes, opener: Callable[[], BinaryIO] | None) -> VideoInfo:
    """The probe of the clip `p` of `size` bytes starting with `head`, read through
    `opener` (Media.open) when given, else from the file at `p`."""
    import av  # lazy: importing av costs ~0.1 s, too much for CLI start-up

    fmt = sniff_format(head)
    if fmt == _MATROSKA:
        info = _open_lenient(av, p, head, size, refused=False, opener=opener)
        if info is not None:
            return info
    if fmt:
        try:
            container = av.open(_input(p, opener), format=fmt, metadata_errors="ignore",
                                container_options=_HEADER_ONLY)
        except (av.error.FFmpegError, OSError):
            container = None  # the ordinary open below reports it as it always did
        if container is not None:
            with container:
                vs = _pick_stream(container)
                pix_fmt = header_pix_fmt(vs)
                if pix_fmt is not DECODE:
                    return _inspect(av, container, vs, p, head, size, pix_fmt, opener)
    # Other containers, and what only a decoded frame tells (MPEG-4 Part 2's frame size,
    # codecs we do not parse): open as decord's FFmpeg does.
    try:
        container = av.open(_input(p, opener), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        info = _open_lenient(av, p, head, size, refused=True, opener=opener) if fmt == _MATROSKA else None
        return info or VideoInfo(path=p, error=_open_error(p, exc, head, size, opener), size_bytes=size)
    except OSError as exc:
        return VideoInfo(path=p, error=f"cannot open: {exc.strerror or exc}",
                         size_bytes=size)
    with container:
        return _inspect(av, container, _pick_stream(container), p, head, size, DECODE, opener)


def _input(p: str, opener: Callable[[], BinaryIO] | None):
    """What av.open reads: the path (FFmpeg's own file reads, the fastest), else a fresh
    reader of the clip's bytes."""
    return p if opener is None else opener()


def _open_lenient(av, p: str, head: bytes, size: int, refused: bool, opener=None) -> VideoInfo | None:
    """The clip as decord's FFmpeg 4.1 reads a damaged Matroska file (see ebml), or None
    when nothing needs forgiving (or the forgiving view fails to open too). `refused`:
    our FFmpeg refused the file as it is."""
    patches = lenient_patches(p, size, refused=refused, opener=opener)
    if not patches:
        return None
    with PatchedFile(p, patches, opener) as patched:
        try:
            container = av.open(patched, format=_MATROSKA, metadata_errors="ignore")
        except av.error.FFmpegError:
            return None if refused else _open_lenient(av, p, head, size, refused=True, opener=opener)
        with container:
            return _inspect(av, container, _pick_stream(container), p, head, size, DECODE, opener)


def _open_error(p: str, exc, head: bytes, size: int, opener=None) -> str:
    import av

    msg = _ffmsg(exc)
    layout = read_layout(p, head, size, opener)
    if layout.is_bmff and (not layout.has_moov or layout.overruns_eof):
        what = "no moov box" if not layout.has_moov else "boxes run past end of file"
        return f"truncated: {what} ({msg})"
    if isinstance(exc, EOFError):
        return f"truncated: end of file while reading header ({msg})"
    if isinstance(exc, av.error.InvalidDataError):
        return f"not a video ({msg})"
    return f"cannot open: {msg}"


def _ffmsg(exc) -> str:
    return str(getattr(exc, "strerror", None) or exc)


def _pick_stream(container):
    # Cover art is a video stream too (mp4 covr, mkv attachments); decord skips it.
    for s in container.streams.video:
        disposition = s.disposition  # each read builds a new enum
        if not (disposition & type(disposition).attached_pic):
            return s
    return None


def _inspect(av, container, vs, p: str, head: bytes, size: int, pix_fmt: str | None,
             opener: Callable[[], BinaryIO] | None = None, sparse: bool = False) -> VideoInfo:
    """The VideoInfo of open `container`, whose video stream is `vs` (_pick_stream's).
    `opener`: Media.open, when the clip is not read from its path; `sparse`: the
    container reads a SparseMedia (see probe_sparse)."""
    fmt = container.format.name
    base = {"path": p, "size_bytes": size, "container": fmt,
            "has_audio": bool(container.streams.audio)}
    if vs is None:
        return VideoInfo(**base, error="no video stream")
    cc = vs.codec_context
    if cc is None:  # PyAV found no decoder for the stream's codec id
        return VideoInfo(**base, error="unsupported codec (no decoder)")
    if fmt.endswith("_pipe") or fmt in _IMAGE_FORMATS:
        return VideoInfo(**base, codec=cc.name, error=f"not a video ({fmt} image)")
    coded_w, coded_h = int(cc.width or 0), int(cc.height or 0)
    pix_fmt = cc.pix_fmt if pix_fmt is DECODE else pix_fmt
    base.update(codec=cc.name, pix_fmt=pix_fmt, coded_width=coded_w,
                coded_height=coded_h, header_frames=max(int(vs.frames or 0), 0))
    if coded_w <= 0 or coded_h <= 0:
        return VideoInfo(**base, error="unknown frame size")

    rotation = _rotation(p, head, size, fmt, vs.index, opener)
    w, h = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    base.update(rotation=rotation, width=w, height=h)

    scan = _scan(av, container, vs)
    crash = _decord_crash(vs, container, base["header_frames"])
    if crash:  # decord aborts before it reads a packet: nothing later matters
        return VideoInfo(**base, frames=scan.count, error=crash)
    if scan.error:
        return VideoInfo(**base, frames=scan.count, error=scan.error)
    base["frames"] = scan.count
    if scan.count == 0:
        claim = base["header_frames"]
        err = f"truncated: no readable packets (0 of {claim} frames)" if claim else None
        return VideoInfo(**base, error=err or "no video frames")

    if not scan.first_key:
        # decord decodes from the first packet on; without a keyframe there nothing
        # decodes until the next one (a damaged first cluster, a cut head)
        return VideoInfo(**base, error="damaged: the first packet is not a keyframe "
                                       "(the frames before the next keyframe do not decode)")

    fps = _fps(vs)
    base.update(fps=fps, duration_s=_duration(vs, container, scan.count, fps))
    base.update(_timing(scan.pts, vs.time_base))

    suspect = scan.count < base["header_frames"] or scan.last_corrupt
    if suspect and sparse:
        raise NeedsBytes  # the verdict decodes the last packets: placeholders would not
    if suspect:
        problem = _tail_problem(av, vs, scan, coded_w * coded_h)
        if problem:
            claim = base["header_frames"] or "?"
            error = f"truncated: {problem} ({scan.count} of {claim} frames)"
            return VideoInfo(**base, error=error)
    return VideoInfo(**base, error=_decord_refusal(vs, container, base))


def _decord_crash(vs, container, header_frames: int) -> str | None:
    """Why decord 0.6.0 would abort opening the clip (its frame index reservation,
    DECORD_INDEX_LIMIT), or None."""
    if header_frames >= 1:
        claim, what = header_frames, _COUNT_SOURCE.get(container.format.name, "the header")
        claimed = f"{what} claims {claim} frames"
    else:
        rate, dur = vs.average_rate, container.duration
        if not rate or not dur or dur <= 0:
            return None  # _decord_refusal's case
        estimate = float(rate) * dur / 1_000_000
        claim = estimate if estimate != estimate or estimate > 2**63 else int(estimate)
        claimed = (f"the header's duration ({dur / 1_000_000:g} s) at {float(rate):g} fps "
                   f"claims {claim:.0f} frames")
    if claim * DECORD_INDEX_ENTRY_BYTES <= DECORD_INDEX_LIMIT:
        return None
    gib = claim * DECORD_INDEX_ENTRY_BYTES / (1 << 30)
    return (f"decord would crash: {claimed}, and decord reserves {gib:.0f} GiB for its frame "
            f"index before reading any (std::bad_alloc, the process aborts)")


_COUNT_SOURCE = {"mov,mp4,m4a,3gp,3g2,mj2": "the sample table (stts)", "avi": "the stream header (strh)"}


def _decord_refusal(vs, container, base: dict) -> str | None:
    """Header gaps that make decord 0.6.0 abort while opening a clip we can read."""
    if base["header_frames"] < 1:
        # Before indexing, decord sizes its table from nb_frames, else from
        # avg_frame_rate x container duration, and aborts when that is < 1: live/streamed
        # mkv/webm (MediaRecorder output) carry no Duration.
        rate = vs.average_rate
        dur = container.duration
        estimate = float(rate) * dur / 1_000_000 if rate and dur and dur > 0 else 0.0
        if estimate < 1:
            return "no frame count or duration in header (decord cannot open it)"
    if not base["pix_fmt"]:
        # decord's filter graph needs the stream's pixel format up front
        return "unknown pixel format (decord cannot open it)"
    return None


def _rotation(p: str, head: bytes, size: int, fmt: str, index: int, opener=None) -> int:
    if "mp4" not in fmt and "mov" not in fmt:
        return 0  # decord's FFmpeg 4.1 reads a display matrix from mp4/mov only
    rotations = read_layout(p, head, size, opener).track_rotations
    return rotations[index] if index < len(rotations) else 0


class _Scan:
    __slots__ = ("count", "error", "first_key", "last_corrupt", "pts", "tail")

    def __init__(self):
        self.count, self.pts, self.tail = 0, [], []
        self.last_corrupt, self.error, self.first_key = False, None, True


def _scan(av, container, vs) -> _Scan:
    # Runs for every packet of every clip: locals, and one is_corrupt read at the end
    s = _Scan()
    count, append_pts, tail, tail_bytes, last = 0, s.pts.append, [], 0, None
    try:
        for pkt in container.demux(vs):
            size = pkt.size
            if size <= 0:
                continue
            if not count:
                s.first_key = pkt.is_keyframe
            count += 1
            ts = pkt.pts
            if ts is None:
                ts = pkt.dts
            if ts is not None:
                append_pts(ts)
            if pkt.is_keyframe:
                tail, tail_bytes = [], 0
            # Held so a suspect tail can be decoded without a seek (truncated files
            # seek badly); given up when one GOP is too big to keep around.
            if tail is not None:
                tail.append(pkt)
                tail_bytes += size
                if tail_bytes > MAX_TAIL_BYTES:
                    tail = None
            last = pkt
    except av.error.FFmpegError as exc:
        # decord indexes by demuxing everything up front and aborts on such an error
        s.error = f"demux failed after {count} packets: {_ffmsg(exc)}"
    s.count, s.tail = count, tail
    s.last_corrupt = last is not None and last.is_corrupt
    return s


def _tail_problem(av, vs, scan: _Scan, pixels: int) -> str | None:
    """Why the last packet is unusable, or None when it decodes."""
    if scan.last_corrupt:
        return "last packet is incomplete"
    if pixels > MAX_DECODE_PIXELS:
        return "last packet not verified (frame too large to decode)"
    packets = scan.tail
    if packets is None:
        return "last packet not verified (last GOP too large to decode)"
    if not packets or not packets[0].is_keyframe:
        return "last packet does not decode (no keyframe before it)"
    if pixels * len(packets) > MAX_TAIL_PIXELS:
        return "last packet not verified (last GOP too large to decode)"
    cc = vs.codec_context
    cc.thread_count = 1  # probes run in parallel workers; don't fan out further
    try:
        for pkt in packets[:-1]:
            try:
                cc.decode(pkt)
            except av.error.FFmpegError:
                pass  # damage before the last packet is not what we are judging
        got = len(cc.decode(packets[-1])) + len(cc.decode(None))
    except av.error.FFmpegError:
        return "last packet does not decode"
    return None if got else "last packet does not decode"


def _fps(vs) -> float | None:
    # by name, so FFmpeg's guess (av_guess_frame_rate) is only made when the average fails
    for name in ("average_rate", "guessed_rate"):
        rate = getattr(vs, name)
        try:
            value = float(rate) if rate is not None else 0.0
        except (TypeError, ZeroDivisionError, OverflowError):
            continue
        if 0.0 < value <= MAX_SANE_FPS:
            return value
    return None


def _duration(vs, container, frames: int, fps: float | None) -> float | None:
    if fps:
        return frames / fps
    if vs.duration is not None and vs.time_base:
        return float(vs.duration * vs.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    return None


def _timing(pts: list[int], time_base: Fraction | None) -> dict:
    """VFR verdict and frame-duration range from presentation timestamps."""
    if not time_base or len(pts) < 3:
        return {}
    # Sorted because B-frames demux out of presentation order; the last packet is
    # dropped because muxers often give the final frame a truncated/odd timestamp.
    ordered = sorted(pts)[:-1]
    deltas = sorted(map(sub, ordered[1:], ordered[:-1]))
    if not deltas:
        return {}
    median = deltas[len(deltas) // 2]
    tol = max(VFR_TOLERANCE * median, 1)  # one tick of jitter is timestamp rounding
    tb = float(time_base)
    lo, hi = deltas[0], deltas[-1]
    return {"variable_frame_rate": median - lo > tol or hi - median > tol,
            "min_frame_duration_s": lo * tb, "max_frame_duration_s": hi * tb}
