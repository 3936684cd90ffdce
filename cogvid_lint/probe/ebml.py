"""Minimal Matroska/WebM (EBML) walker: the damage decord's FFmpeg 4.1 forgives and ours
(PyAV's FFmpeg 7) does not, and a view of the file in which ours forgives it too.

The probe reads clips with a newer FFmpeg than the trainer's. On two kinds of damage the
newer Matroska demuxer is stricter, and the probe would call a clip unreadable (or count
a fraction of its frames) that decord reads completely (issue 17 item 11):

* a track's PixelWidth/PixelHeight that is zero or absurd: FFmpeg 7 refuses the file
  ("Invalid coded dimensions"); 4.1 opens it and the decoder sizes the frames. Seen
  through `lenient_patches`, the track's Video element is a Void element, so FFmpeg 7
  also leaves the size to the decoder.
* a Cluster whose size is wrong (its declared end is not where the next top-level
  element starts): FFmpeg 7 ends the cluster there and drops its remaining blocks up to
  the next cluster; 4.1 keeps reading blocks until the next cluster. Seen through the
  patches, that cluster's size is "unknown", which makes FFmpeg 7 do the same.

Only a few bytes of the file are read (element headers, in place), and only the
headers of blocks inside a damaged cluster are walked one by one.
"""

from __future__ import annotations

import io
import os

EBML_HEADER, SEGMENT, TRACKS, TRACK_ENTRY, TRACK_TYPE, VIDEO = (
    0x1A45DFA3, 0x18538067, 0x1654AE6B, 0xAE, 0x83, 0xE0)
PIXEL_WIDTH, PIXEL_HEIGHT, CLUSTER, VOID, SEEK_HEAD = 0xB0, 0xBA, 0x1F43B675, 0xEC, 0x114D9B74
# Segment children: where a cluster whose size is right must end.
_TOP_LEVEL = {SEEK_HEAD, 0x1549A966, TRACKS, CLUSTER, 0x1C53BB6B, 0x1941A469, 0x1043A770,
              0x1254C367, VOID, 0xBF}
_VIDEO_TRACK = 1
_INT_MAX = 2**31 - 1
# Element headers read per file: a forged file of nothing but tiny elements costs ~0.1 s.
_MAX_ELEMENTS = 200_000
_RESYNC_CHUNK = 64 << 10


class _Reader:
    def __init__(self, path: str, size: int, opener=None):
        # its own reader (a remote object's, from `opener`): never the demuxer's position
        self.file = open(path, "rb") if opener is None else opener()  # noqa: SIM115  closed by lenient_patches
        self.size = size
        self.elements = 0

    def read(self, pos: int, n: int) -> bytes:
        self.file.seek(pos)
        return self.file.read(n)

    def header(self, pos: int) -> tuple[int, int, int, int | None] | None:
        """(id, size field offset, payload offset, payload size or None if unknown) of
        the element at pos; None when its header is no valid EBML."""
        self.elements += 1
        if self.elements > _MAX_ELEMENTS:
            raise ValueError("too many elements")
        raw = self.read(pos, 12)
        idlen = _vint_length(raw, 0)
        if idlen is None or idlen > 4:
            return None
        sizelen = _vint_length(raw, idlen)
        if sizelen is None:
            return None
        eid = int.from_bytes(raw[:idlen], "big")
        value = int.from_bytes(raw[idlen:idlen + sizelen], "big") & ((1 << (7 * sizelen)) - 1)
        unknown = value == (1 << (7 * sizelen)) - 1
        return eid, pos + idlen, pos + idlen + sizelen, None if unknown else value

    def find(self, needle: bytes, pos: int) -> int:
        """Offset of the next `needle` at or after pos, -1 when none."""
        while pos < self.size:
            chunk = self.read(pos, _RESYNC_CHUNK + len(needle) - 1)
            at = chunk.find(needle)
            if at >= 0:
                return pos + at
            pos += _RESYNC_CHUNK
        return -1


def _vint_length(raw: bytes, at: int) -> int | None:
    if at >= len(raw) or raw[at] == 0:
        return None
    length = 9 - raw[at].bit_length()
    return length if at + length <= len(raw) else None


def lenient_patches(path: str, size: int, refused: bool = False, opener=None) -> dict[int, bytes]:
    """Offset -> replacement bytes (never changing the file's length) under which FFmpeg 7
    reads the Matroska file at `path` as decord's FFmpeg 4.1 does; {} when nothing needs
    forgiving (an undamaged file) or the file is not one we can walk. Never raises.
    `opener`: a function giving a fresh binary reader of the file (a remote object),
    replaces open().

    `refused`: FFmpeg 7 refused to open the file as it is. Then the header damage 4.1
    reads past is forgiven too: the invalid frame size (the Video element voided) and
    the SeekHead (voided: FFmpeg 7 follows its entries while opening and fails on a
    broken one, 4.1 carried on; without it the demuxer reads the file in order)."""
    patches: dict[int, bytes] = {}
    try:
        reader = _Reader(path, size, opener)
    except OSError:
        return patches
    try:
        _walk(reader, patches, refused)
    except (OSError, ValueError):
        pass  # keep what was found before the walk gave up
    finally:
        reader.file.close()
    return patches


def _walk(r: _Reader, patches: dict[int, bytes], refused: bool) -> None:
    first = r.header(0)
    if first is None or first[0] != EBML_HEADER or first[3] is None:
        return
    seg = r.header(first[2] + first[3])
    if seg is None or seg[0] != SEGMENT:
        return
    end = r.size if seg[3] is None else min(seg[2] + seg[3], r.size)
    pos = seg[2]
    while pos < end:
        h = r.header(pos)
        if h is None:
            return
        eid, size_at, payload, length = h
        if refused and eid == TRACKS and length is not None:
            _tracks(r, payload, min(payload + length, end), patches)
        if refused and eid == SEEK_HEAD and length is not None:
            patches.update(_void(pos, payload, payload + length))
        if eid == CLUSTER:
            declared = None if length is None else payload + length
            if declared is not None and (declared >= end or _starts_top_level(r, declared)):
                pos = declared
                continue
            if declared is None:
                # a live stream's: FFmpeg 7 reads it to the next cluster already, and the
                # rest are alike (walking their every block would cost for nothing)
                return
            patches[size_at] = _unknown_size(payload - size_at)  # a wrong size: read on, as 4.1
            pos = _cluster_end(r, payload, end)
            continue
        if length is None:
            return  # only clusters may have an unknown size
        pos = payload + length


def _starts_top_level(r: _Reader, pos: int) -> bool:
    h = r.header(pos)
    return h is not None and h[0] in _TOP_LEVEL


def _cluster_end(r: _Reader, pos: int, end: int) -> int:
    """Where the cluster whose payload starts at pos really ends: the next top-level
    element after its blocks, or the next cluster found by scanning (FFmpeg's resync)."""
    while pos < end:
        h = r.header(pos)
        if h is None or h[3] is None:
            break
        if h[0] in _TOP_LEVEL:
            return pos
        pos = h[2] + h[3]
    found = r.find(CLUSTER.to_bytes(4, "big"), pos + 1)
    return end if found < 0 else found


def _void(start: int, payload: int, end: int) -> dict[int, bytes]:
    """The patch that turns the element at start (payload at `payload`, ending at `end`)
    into a Void element of the same length: a 1-byte ID, then a size field filling the
    rest of the old header."""
    width = payload - start - 1
    if not 1 <= width <= 8:
        return {}
    return {start: VOID.to_bytes(1, "big") + (1 << (7 * width) | (end - payload)).to_bytes(width, "big")}


def _unknown_size(length: int) -> bytes:
    """The size field of `length` bytes that says "unknown": the marker bit, then ones."""
    return ((1 << (7 * length)) - 1 | 1 << (7 * length)).to_bytes(length, "big")


def _tracks(r: _Reader, pos: int, end: int, patches: dict[int, bytes]) -> None:
    for _, eid, _, payload, length in _children(r, pos, end):
        if eid != TRACK_ENTRY:
            continue
        kind, video = None, None
        for at, ceid, _, cpay, clen in _children(r, payload, min(payload + length, end)):
            if ceid == TRACK_TYPE:
                kind = int.from_bytes(r.read(cpay, min(clen, 8)), "big")
            elif ceid == VIDEO:
                video = (at, cpay, min(cpay + clen, end))
        if kind == _VIDEO_TRACK and video is not None and not _valid_dimensions(r, *video[1:]):
            patches[video[0]] = VOID.to_bytes(1, "big")  # Void's ID is one byte, as Video's


def _valid_dimensions(r: _Reader, pos: int, end: int) -> bool:
    """False when FFmpeg 7 refuses the Video element's PixelWidth/PixelHeight (zero,
    absent, over 8 bytes, or beyond av_image_check_size's bound) where 4.1 reads on.
    True (leave it) when the element's children are no valid EBML: both refuse some of
    those, and we cannot tell which."""
    dims = {}
    while pos < end:
        h = r.header(pos)
        if h is None or h[3] is None:
            return True
        eid, _, payload, length = h
        if eid in (PIXEL_WIDTH, PIXEL_HEIGHT):
            if length > 8 or payload + length > end:
                return False
            dims[eid] = int.from_bytes(r.read(payload, length), "big")
        pos = payload + length
    w, h = dims.get(PIXEL_WIDTH, 0), dims.get(PIXEL_HEIGHT, 0)
    return 0 < w <= _INT_MAX and 0 < h <= _INT_MAX and (w + 128) * (h + 128) < _INT_MAX // 8


def _children(r: _Reader, pos: int, end: int):
    while pos < end:
        h = r.header(pos)
        if h is None or h[3] is None:
            return
        yield (pos, *h)
        pos = h[2] + h[3]


class PatchedFile(io.RawIOBase):
    """The file at `path` read through `patches` (offset -> bytes of the same length):
    what PyAV is given to open a damaged Matroska file the way decord's FFmpeg reads it.
    `opener`: as lenient_patches'."""

    def __init__(self, path: str, patches: dict[int, bytes], opener=None):
        super().__init__()
        # closed with this object
        self._file = open(path, "rb", buffering=0) if opener is None else opener()  # noqa: SIM115
        self._patches = sorted(patches.items())

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer) -> int:
        start = self._file.tell()
        n = self._file.readinto(buffer)
        if not n:
            return n or 0
        for at, data in self._patches:
            lo, hi = max(at, start), min(at + len(data), start + n)
            if lo < hi:
                buffer[lo - start:hi - start] = data[lo - at:hi - at]
        return n

    def close(self) -> None:
        self._file.close()
        super().close()
