"""The probe of a clip in object storage: as few bytes as its answer needs, through the
same probe code as a local file (probe.pyav), with the same answer.

* mp4/mov: the index (moov) holds the frame count, every sample's size and offset, the
  keyframes and the timestamps. The top-level boxes are walked with range reads — the
  first 64 KiB (ftyp, and the moov of a faststart file), then a moov at the end in one
  more request — and PyAV demuxes a SparseView in which the mdat payloads read as zeros:
  every packet is counted from the index without its bytes being fetched. A sample that
  ends past the object's end reads short, as it does from a cut file. Where the verdict
  needs pixels (a suspect tail is decoded, MPEG-4 Part 2 tells its frame size only
  decoded) probe_sparse raises NeedsBytes and the object is probed whole.
* Anything else (webm, mkv, avi) and the NeedsBytes cases: up to the fetch limit, the
  object in one GET, probed as a local file (a temporary copy); above it, the same probe
  code (pyav.probe_media) over file objects of a cache of large blocks (remote.blocks),
  each block one range request, a few held: the memory stays bounded however large the
  object, and a demuxer streaming it reads each block about once (the Matroska walk of
  ebml reads every cluster's header, a pass of its own where clusters are smaller than a
  block). Either way the answer is the local file's, naming the URL.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Callable

from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.probe.mp4box import HEAD_BYTES, sniff_format
from cogvid_lint.probe.pyav import Media, NeedsBytes, SparseMedia, probe, probe_media, probe_sparse
from cogvid_lint.remote import urls
from cogvid_lint.remote.access import RemoteError, RemoteSpec, describe, filesystem
from cogvid_lint.remote.blocks import HELD_BLOCKS, BlockCache, block_size
from cogvid_lint.remote.reader import ObjectChanged, ObjectReader, SparseView

MP4_SUFFIXES = (".mp4", ".mov", ".m4v")
_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
# A box header past what is held: the rest of the object is fetched in one request when it
# is at most this (a moov at the end, which for hours of video is a few MB), else the header.
TAIL_FETCH = 16 << 20
# Past these the walk gives up and the object is probed whole (a forged or fragmented file).
MAX_INDEX_REQUESTS = 6
# An object this small is read whole in its first request: one GET costs less than the two
# or three range requests of its index, and its bytes are a few round trips' worth.
SMALL_OBJECT = 256 << 10
MAX_TOP_BOXES = 1000


def probe_remote(path: str, size: int | None, spec: RemoteSpec, probe_fn: Callable[[str], VideoInfo] = probe
                 ) -> VideoInfo:
    """VideoInfo of the remote clip `path` (urls.to_path's form), listed with `size` bytes;
    `probe_fn`: the pool's probe of a local file (pyav.probe, unless a test swapped it: then
    every object is read whole, whatever its size, and given to it). Never raises."""
    try:
        return _probe_remote(path, int(size or 0), spec, probe_fn)
    except ObjectChanged as exc:
        return VideoInfo(path=path, error=f"changed since it was listed: {exc}")
    except RemoteError as exc:
        return VideoInfo(path=path, error=f"cannot read: {exc}")
    except Exception as exc:  # noqa: BLE001 - the store's errors (gone, denied, unreachable) are the clip's finding
        return VideoInfo(path=path, error=f"cannot read: {describe(exc)}")


def _probe_remote(path: str, size: int, spec: RemoteSpec, probe_fn) -> VideoInfo:
    if size == 0:
        return VideoInfo(path=path, error="zero bytes", size_bytes=0)
    reader = ObjectReader(filesystem(urls.scheme(path), spec), path, size)
    if probe_fn is probe and path.lower().endswith(MP4_SUFFIXES):
        head = reader.fetch(0, size if size <= SMALL_OBJECT else HEAD_BYTES)
        if len(head) < size and sniff_format(head) == _MP4:
            holes = mdat_holes(reader)
            if holes is not None:
                try:
                    return probe_sparse(path, SparseMedia(size, head, lambda: SparseView(reader, holes)))
                except NeedsBytes:
                    pass
    if probe_fn is probe and size > spec.fetch_limit:
        return probe_blocks(reader, path, block_size(spec.fetch_limit))
    return probe_whole(reader, path, probe_fn)


def mdat_holes(reader: ObjectReader) -> list[tuple[int, int]] | None:
    """The payload ranges of the object's mdat boxes, every other top-level box fetched
    (kept by `reader`); None when the layout is not a plain moov + mdat file (no moov, a box
    past the end: a truncated upload) or costs too many requests: probe it whole."""
    size = reader.size
    holes: list[tuple[int, int]] = []
    pos, boxes, moov = 0, 0, False
    while pos < size:
        boxes += 1
        if boxes > MAX_TOP_BOXES or reader.requests > MAX_INDEX_REQUESTS or size - pos < 8:
            return None
        if reader.cached(pos) is None:
            reader.ensure(pos, size if size - pos <= TAIL_FETCH else pos + 16)
        header = reader.read(pos, 16)
        length, kind, header_len = int.from_bytes(header[:4], "big"), header[4:8], 8
        if length == 1 and len(header) >= 16:
            length, header_len = int.from_bytes(header[8:16], "big"), 16
        elif length == 0:  # to the end of the file
            length = size - pos
        end = pos + length
        if length < header_len or end > size:
            return None
        if kind == b"mdat":
            holes.append((pos + header_len, end))
        else:
            moov = moov or kind == b"moov"
            reader.ensure(pos, min(end + 16, size))  # the box, and the next one's header
        pos = end
    return holes if moov else None


def probe_whole(reader: ObjectReader, path: str, probe_fn=probe) -> VideoInfo:
    """The object read whole (what is held already, the rest in one GET), probed as a file."""
    size = reader.size
    data = reader.read(0, size)
    suffix = os.path.splitext(path)[1][:16]
    with tempfile.NamedTemporaryFile(prefix="cogvid-lint-", suffix=suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        info = probe_fn(tmp.name)
        error = info.error.replace(tmp.name, urls.to_url(path)) if info.error else info.error
    return dataclasses.replace(info, path=path, error=error)


def probe_blocks(reader: ObjectReader, path: str, block: int, held: int = HELD_BLOCKS) -> VideoInfo:
    """The object probed as its local file would be, read through a BlockCache of `held`
    blocks of `block` bytes. A failed or short request (the object changed since it was
    listed) raises, whatever the probe made of the end of file it read there."""
    cache = BlockCache(reader, block, held)
    head = cache.read(0, HEAD_BYTES)
    info = probe_media(path, Media(reader.size, head, lambda: cache.view(path)))
    if cache.failure is not None:
        raise cache.failure
    error = info.error.replace(path, urls.to_url(path)) if info.error else info.error
    return dataclasses.replace(info, error=error)
