"""Minimal ISO-BMFF (mp4/mov) box walker: display rotation and top-level layout.

PyAV 18 exposes no stream display matrix, and decoding a frame just to read it would
decode whatever size the header declares. The matrix lives in a few dozen bytes of
`moov/trak/tkhd` (and `moov/mvhd`), so we seek to exactly those and read nothing else:
the sample tables and `mdat` are skipped by offset.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

# Top-level box types that plausibly start an ISO-BMFF file; anything else means the
# file is not mp4/mov, whatever its name says.
_TOP_LEVEL = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid",
              b"styp", b"sidx", b"moof", b"mfra", b"meta", b"pdin", b"prfl"}
_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
_MAX_BOXES = 100_000  # a corrupt file must not make us loop for long


@dataclass
class BoxLayout:
    is_bmff: bool = False  # first box looks like an ISO-BMFF box
    has_moov: bool = False
    # declared end of the last top-level box beyond the file's end (interrupted write)
    overruns_eof: bool = False
    track_rotations: list[int] = field(default_factory=list)  # per trak, in file order


def _header(f: BinaryIO, pos: int, end: int) -> tuple[bytes, int, int] | None:
    """(type, payload_start, box_end) of the box at pos, or None when unreadable."""
    f.seek(pos)
    raw = f.read(8)
    if len(raw) < 8:
        return None
    size, kind = struct.unpack(">I4s", raw)
    start = pos + 8
    if size == 1:
        big = f.read(8)
        if len(big) < 8:
            return None
        size = struct.unpack(">Q", big)[0]
        start += 8
    elif size == 0:
        size = end - pos
    if size < start - pos:
        return None
    return kind, start, pos + size


def _children(f: BinaryIO, start: int, end: int):
    pos, n = start, 0
    while pos + 8 <= end and n < _MAX_BOXES:
        h = _header(f, pos, end)
        if h is None:
            return
        yield h
        if h[2] <= pos:
            return
        pos, n = h[2], n + 1


def _matrix(f: BinaryIO, payload: int, v0_offset: int, v1_offset: int):
    f.seek(payload)
    version = f.read(1)
    if not version:
        return None
    f.seek(payload + (v1_offset if version[0] == 1 else v0_offset))
    raw = f.read(36)
    if len(raw) < 36:
        return None
    m = struct.unpack(">9i", raw)
    # a, b, c, d, x, y are 16.16 fixed point; u, v, w are 2.30 (ISO 14496-12 8.3.2)
    return tuple(v / (1 << 30) if i in (2, 5, 8) else v / 65536.0 for i, v in enumerate(m))


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


def sniff_format(path: str) -> str | None:
    """FFmpeg's demuxer for mp4/mov, Matroska/WebM and AVI files, told by their first
    bytes as FFmpeg's own probe tells them (saves it trying every demuxer); else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head[4:8] == b"ftyp":
        return "mov,mp4,m4a,3gp,3g2,mj2"  # the demuxer's full name, as it reports it
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska,webm"
    return "avi" if head[:4] == b"RIFF" and head[8:12] == b"AVI " else None


def read_layout(path: str) -> BoxLayout:
    """Walk the top level and the tkhd/mvhd matrices of an mp4/mov file. Never raises."""
    layout = BoxLayout()
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            eof = f.tell()
            first = True
            for kind, payload, box_end in _children(f, 0, eof):
                if first:
                    layout.is_bmff = kind in _TOP_LEVEL
                    first = False
                    if not layout.is_bmff:
                        return layout
                if box_end > eof:
                    layout.overruns_eof = True
                if kind == b"moov":
                    layout.has_moov = True
                    layout.track_rotations = _moov_rotations(f, payload, min(box_end, eof))
    except (OSError, ValueError, struct.error):
        pass
    return layout


def _moov_rotations(f: BinaryIO, start: int, end: int) -> list[int]:
    movie = _IDENTITY
    tracks = []
    for kind, payload, box_end in _children(f, start, end):
        if kind == b"mvhd":
            # after version/flags: times (4+4 or 8+8), timescale 4, duration 4|8,
            # rate 4, volume 2, reserved 10
            movie = _matrix(f, payload, 4 + 16 + 16, 4 + 28 + 16) or _IDENTITY
        elif kind == b"trak":
            track = _IDENTITY
            for ck, cp, _ in _children(f, payload, min(box_end, end)):
                if ck == b"tkhd":
                    # after version/flags: times, track_ID, reserved, duration, then
                    # reserved 8, layer 2, alternate_group 2, volume 2, reserved 2
                    track = _matrix(f, cp, 4 + 20 + 16, 4 + 32 + 16) or _IDENTITY
                    break
            tracks.append(track)
    # FFmpeg applies the movie matrix after the track's (mov_read_tkhd); mvhd precedes
    # the traks in practice, so it is known by the time we combine.
    return [decord_rotation(_multiply(t, movie)) for t in tracks]
