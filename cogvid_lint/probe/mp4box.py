"""Minimal ISO-BMFF (mp4/mov) box walker: display rotation and top-level layout.

PyAV 18 exposes no stream display matrix, and decoding a frame just to read it would
decode whatever size the header declares. The matrix lives in a few dozen bytes of
`moov/trak/tkhd` (and `moov/mvhd`), so we read exactly those and nothing else: the
sample tables and `mdat` are skipped by offset (in the probe's head when it holds them).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field

# Top-level box types that plausibly start an ISO-BMFF file; anything else means the
# file is not mp4/mov, whatever its name says.
_TOP_LEVEL = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid",
              b"styp", b"sidx", b"moof", b"mfra", b"meta", b"pdin", b"prfl"}
_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
_ONE_2_30 = 1 << 30
# Box headers read per file, in all lists together: a corrupt or forged file (every byte
# an 8-byte box, in many lists) must not cost more than ~0.1 s. Real files have a few
# dozen at the levels walked; a long fragmented one a few thousand.
_MAX_BOXES = 100_000
# Read once per probe and shared: the format sniff and, for the small clips datasets hold,
# the whole box walk; a larger file's moov (often at the end) is read where it lies.
HEAD_BYTES = 64 << 10


@dataclass
class BoxLayout:
    is_bmff: bool = False  # first box looks like an ISO-BMFF box
    has_moov: bool = False
    # declared end of the last top-level box beyond the file's end (interrupted write)
    overruns_eof: bool = False
    track_rotations: list[int] = field(default_factory=list)  # per trak, in file order


class _Source:
    """Reads by offset, from the head already in memory when it holds the bytes (a small
    clip is all head), else from the file, opened on first need."""

    def __init__(self, path: str, head: bytes, size: int, opener=None):
        self.path, self.head, self.file = path, head, None
        self.opener = opener  # a fresh reader of its own (a remote object), else open(path)
        self.whole = len(head) >= size  # the head is the file: nothing to open
        self.boxes = 0  # headers read so far (_MAX_BOXES)

    def read(self, pos: int, n: int) -> bytes:
        if self.whole or pos + n <= len(self.head):
            return self.head[pos:pos + n]
        if self.file is None:
            # its own reader: sharing PyAV's would move the position under the demuxer
            self.file = open(self.path, "rb") if self.opener is None else self.opener()  # noqa: SIM115
        self.file.seek(pos)
        return self.file.read(n)


def _header(src: _Source, pos: int, end: int) -> tuple[bytes, int, int] | None:
    """(type, payload_start, box_end) of the box at pos, or None when unreadable."""
    src.boxes += 1
    if src.boxes > _MAX_BOXES:
        raise ValueError("too many boxes")  # read_layout keeps what it had
    raw = src.read(pos, 16)
    if len(raw) < 8:
        return None
    size, kind = struct.unpack_from(">I4s", raw)
    start = pos + 8
    if size == 1:
        if len(raw) < 16:
            return None
        size = struct.unpack_from(">Q", raw, 8)[0]
        start += 8
    elif size == 0:
        size = end - pos
    if size < start - pos:
        return None
    return kind, start, pos + size


def _children(src: _Source, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        h = _header(src, pos, end)
        if h is None:
            return
        yield h
        if h[2] <= pos:
            return
        pos = h[2]


def _matrix(src: _Source, payload: int, v0_offset: int, v1_offset: int):
    raw = src.read(payload, v1_offset + 36)  # v1's offset is the larger: covers both
    if not raw:
        return None
    offset = v1_offset if raw[0] == 1 else v0_offset
    if len(raw) < offset + 36:
        return None
    a, b, u, c, d, v, x, y, w = struct.unpack_from(">9i", raw, offset)
    # a, b, c, d, x, y are 16.16 fixed point; u, v, w are 2.30 (ISO 14496-12 8.3.2)
    return (a / 65536.0, b / 65536.0, u / _ONE_2_30,
            c / 65536.0, d / 65536.0, v / _ONE_2_30,
            x / 65536.0, y / 65536.0, w / _ONE_2_30)


def _multiply(a, b):
    return tuple(sum(a[i * 3 + e] * b[e * 3 + j] for e in range(3))
                 for i in range(3) for j in range(3))


def decord_rotation(m) -> int:
    """The clockwise quarter-turn decord 0.6.0 (FFmpeg 4.1) applies for matrix m.

    FFmpeg stores the "rotate" tag as atan2(b, a) in degrees (normalised to [0, 360),
    printed with %g); decord truncates it to int and rotates only for exactly
    90/180/270, so any other angle (and a degenerate matrix) displays unrotated.
    Mirrors map to a rotation too (a=-1, d=1 reads as 180), as they do in FFmpeg.
    """
    s0, s1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if s0 == 0 or s1 == 0:
        return 0
    angle = math.degrees(math.atan2(m[1] / s1, m[0] / s0))
    if angle < 0:
        angle += 360
    angle = float(f"{angle:g}") % 360
    return int(angle) if int(angle) in (90, 180, 270) else 0


def sniff_format(head: bytes) -> str | None:
    """FFmpeg's demuxer for mp4/mov, Matroska/WebM and AVI files, told by their first
    bytes (`head`) as FFmpeg's own probe tells them (saves it trying every demuxer)."""
    if head[4:8] == b"ftyp":
        return "mov,mp4,m4a,3gp,3g2,mj2"  # the demuxer's full name, as it reports it
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska,webm"
    return "avi" if head[:4] == b"RIFF" and head[8:12] == b"AVI " else None


def read_head(path: str, size: int) -> bytes:
    """The first HEAD_BYTES of the file of `size` bytes (all of a small clip); b"" when
    unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return b""
    try:
        return os.read(fd, min(size, HEAD_BYTES))
    except OSError:
        return b""
    finally:
        os.close(fd)


def read_layout(path: str, head: bytes = b"", size: int | None = None, opener=None) -> BoxLayout:
    """Walk the top level and the tkhd/mvhd matrices of an mp4/mov file. Never raises.
    `head` (read_head's) and `size` (the file's) spare reading them again; `opener`, a
    function giving a fresh binary reader of the file (a remote object), replaces open()."""
    layout = BoxLayout()
    src = None
    try:
        if size is None:
            size = os.stat(path).st_size
        src = _Source(path, head, size, opener)
        first = True
        for kind, payload, box_end in _children(src, 0, size):
            if first:
                layout.is_bmff = kind in _TOP_LEVEL
                first = False
                if not layout.is_bmff:
                    return layout
            if box_end > size:
                layout.overruns_eof = True
            if kind == b"moov":
                layout.has_moov = True
                layout.track_rotations = _moov_rotations(src, payload, min(box_end, size))
    except (OSError, ValueError, struct.error):
        pass
    finally:
        if src is not None and src.file is not None:
            src.file.close()
    return layout


def _moov_rotations(src: _Source, start: int, end: int) -> list[int]:
    movie = _IDENTITY
    tracks = []
    for kind, payload, box_end in _children(src, start, end):
        if kind == b"mvhd":
            # after version/flags: times (4+4 or 8+8), timescale 4, duration 4|8,
            # rate 4, volume 2, reserved 10
            movie = _matrix(src, payload, 4 + 16 + 16, 4 + 28 + 16) or _IDENTITY
        elif kind == b"trak":
            track = _IDENTITY
            for ck, cp, _ in _children(src, payload, min(box_end, end)):
                if ck == b"tkhd":
                    # after version/flags: times, track_ID, reserved, duration, then
                    # reserved 8, layer 2, alternate_group 2, volume 2, reserved 2
                    track = _matrix(src, cp, 4 + 20 + 16, 4 + 32 + 16) or _IDENTITY
                    break
            tracks.append(track)
    # FFmpeg applies the movie matrix after the track's (mov_read_tkhd); mvhd precedes
    # the traks in practice, so it is known by the time we combine. The usual identity
    # movie matrix leaves the track's exactly as it is (parsed entries are never -0.0).
    if movie == _IDENTITY:
        return [decord_rotation(t) for t in tracks]
    return [decord_rotation(_multiply(t, movie)) for t in tracks]
