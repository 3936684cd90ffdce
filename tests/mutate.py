"""Damage real clips the way issue 17's findings were damaged: a field of a named box or
element overwritten in place (the file keeps its length), or bytes changed at random with
a fixed seed. Used by the decord differential test and its fast regressions.

Box and element positions are found by walking the file's structure (ISO-BMFF boxes,
Matroska EBML elements, RIFF chunks), never by searching for the tag's bytes, which also
occur in the compressed data.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

# --- ISO-BMFF (mp4/mov) ---------------------------------------------------------------

_BMFF_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta"}


def bmff_boxes(data: bytes, start: int = 0, end: int | None = None, path: tuple = ()):
    """(path of types, box start, payload start, box end) of every box, depth first."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        payload = pos + 8
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            payload += 8
        elif size == 0:
            size = end - pos
        if size < payload - pos:
            return
        here = (*path, kind.decode("latin-1"))
        yield here, pos, payload, pos + size
        if kind in _BMFF_CONTAINERS:
            yield from bmff_boxes(data, payload, min(pos + size, end), here)
        pos += size


def bmff_box(data: bytes, where: str, n: int = 0) -> tuple[int, int, int]:
    """(start, payload, end) of the n-th box whose path ends with `where` ("stbl/stts")."""
    want = tuple(where.split("/"))
    found = [b[1:] for b in bmff_boxes(data) if b[0][-len(want):] == want]
    return found[n]


def set_stts_count(data: bytearray, count: int, track: int = 0) -> bytearray:
    """The first time-to-sample entry of trak `track` claims `count` samples."""
    _, payload, _ = bmff_box(data, "stbl/stts", track)
    struct.pack_into(">I", data, payload + 8, count)  # after version/flags, entry_count
    return data


def set_box_size(data: bytearray, where: str, size: int, n: int = 0) -> bytearray:
    """The 32-bit size field of a box (0xFFFFFFFF is -1 read as signed)."""
    start, _, _ = bmff_box(data, where, n)
    struct.pack_into(">I", data, start, size & 0xFFFFFFFF)
    return data


# --- RIFF (avi) -----------------------------------------------------------------------

def riff_chunk(data: bytes, fourcc: bytes, n: int = 0) -> int:
    """Payload offset of the n-th chunk `fourcc` (or of the n-th list of that type, after
    its type), walking RIFF/LIST lists."""
    found: list[int] = []

    def walk(pos: int, end: int) -> None:
        while pos + 8 <= end:
            cc, size = struct.unpack_from("<4sI", data, pos)
            if cc in (b"RIFF", b"LIST"):
                if data[pos + 8:pos + 12] == fourcc:
                    found.append(pos + 12)
                walk(pos + 12, min(pos + 8 + size, end))
            elif cc == fourcc:
                found.append(pos + 8)
            pos += 8 + size + (size & 1)

    walk(0, len(data))
    return found[n]


def set_strh_length(data: bytearray, length: int, stream: int = 0) -> bytearray:
    """AVISTREAMHEADER.dwLength (the stream's frame count) of stream `stream`."""
    # fccType, fccHandler, dwFlags, wPriority+wLanguage, dwInitialFrames, dwScale,
    # dwRate, dwStart: 32 bytes, then dwLength
    struct.pack_into("<I", data, riff_chunk(data, b"strh", stream) + 32, length)
    return data


# --- Matroska / WebM (EBML) -----------------------------------------------------------

SEGMENT, TRACKS, TRACK_ENTRY, VIDEO, CLUSTER, BLOCK_GROUP = (
    0x18538067, 0x1654AE6B, 0xAE, 0xE0, 0x1F43B675, 0xA0)
PIXEL_WIDTH, PIXEL_HEIGHT, SIMPLE_BLOCK, CLUSTER_TIMECODE = 0xB0, 0xBA, 0xA3, 0xE7
_EBML_MASTERS = {SEGMENT, TRACKS, TRACK_ENTRY, VIDEO, CLUSTER, BLOCK_GROUP}


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    first = data[pos]
    length = 8 - first.bit_length() + 1
    if first == 0 or pos + length > len(data):
        raise ValueError("bad vint")
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    return value, length


def ebml_elements(data: bytes, start: int = 0, end: int | None = None):
    """(id, element start, size field start, payload start, payload end), depth first."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        try:
            eid, idlen = _vint(data, pos, keep_marker=True)
            size, sizelen = _vint(data, pos + idlen, keep_marker=False)
        except (ValueError, IndexError):
            return
        payload = pos + idlen + sizelen
        if size == (1 << (7 * sizelen)) - 1:  # unknown size (live streams)
            size = end - payload
        stop = min(payload + size, end)
        yield eid, pos, pos + idlen, payload, stop
        if eid in _EBML_MASTERS:
            yield from ebml_elements(data, payload, stop)
        pos = payload + size


def ebml_element(data: bytes, eid: int, n: int = 0) -> tuple[int, int, int, int]:
    """(start, size field, payload, end) of the n-th element `eid`."""
    return [e[1:] for e in ebml_elements(data) if e[0] == eid][n]


def damage_ebml_size(data: bytearray, eid: int, first_byte: int, n: int = 0) -> bytearray:
    """Overwrite the first byte of element `eid`'s size field: 0x00 is no valid length,
    0x01 an 8-byte length (read from the payload's bytes), 0xFF "unknown"."""
    _, size_at, _, _ = ebml_element(data, eid, n)
    data[size_at] = first_byte
    return data


def set_ebml_uint(data: bytearray, eid: int, value: int, n: int = 0) -> bytearray:
    """Element `eid`'s unsigned payload, in the bytes it already has."""
    _, _, payload, end = ebml_element(data, eid, n)
    data[payload:end] = (value % (1 << (8 * (end - payload)))).to_bytes(end - payload, "big")
    return data


# --- at random ------------------------------------------------------------------------

def random_bytes(data: bytearray, rng: random.Random, count: int, within: int | None = None) -> bytearray:
    """`count` bytes set to random values at random offsets (in the first `within` bytes)."""
    limit = min(len(data), within or len(data))
    for _ in range(count):
        data[rng.randrange(limit)] = rng.randrange(256)
    return data


def mutated(src: Path, dst: Path, fn, *args) -> Path:
    """dst: a copy of src changed by fn(bytearray, *args)."""
    dst.write_bytes(bytes(fn(bytearray(src.read_bytes()), *args)))
    return dst
