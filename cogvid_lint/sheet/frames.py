"""Decode exactly the frames a trainer takes of a clip, by decord's frame index.

decord numbers frames in presentation order, one per demuxed packet (see probe/pyav.py), so
frame i is the packet with the i-th smallest timestamp. `scan` demuxes the clip (no decode)
into that table: each index's timestamp and where the keyframes are. `decode` then gets
each wanted index once: forward through the stream while the next wanted frame is near, and
by a seek to the keyframe before it when a keyframe lies more than SEEK_GAP frames ahead —
never in AVI, whose packed B-frames make a seek land on the wrong frames — identifying
every decoded frame by its timestamp. A seek that lands past its target, or a frame whose
timestamp the table lacks, restarts the decode from the top without seeking.
av is imported by the caller's first use.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Sequence

import numpy as np

SEEK_GAP = 12  # frames: nearer than this, decoding forward costs less than a seek
# The largest frame decoded in full (the first taken frame, for the side panels), as the
# probe's bound: a forged 16384x16384 header is not decoded.
MAX_FULL_PIXELS = 8192 * 4352


@dataclass(frozen=True)
class Table:
    count: int  # frames (packets with data)
    pts: tuple[int, ...]  # presentation timestamps in index order ([] when some are missing)
    keys: tuple[int, ...]  # indices of keyframes, ascending
    time_base: Fraction | None
    seekable: bool  # timestamps complete and unique, and not AVI

    def times(self, fps: float | None) -> dict[int, float | None]:
        """Seconds from the first frame, by index: the timestamps, else index / fps."""
        if self.pts and self.time_base:
            start = self.pts[0]
            return {i: float((p - start) * self.time_base) for i, p in enumerate(self.pts)}
        return {i: (i / fps if fps else None) for i in range(self.count)}

    def key_before(self, index: int) -> int:
        at = bisect.bisect_right(self.keys, index) - 1
        return self.keys[at] if at >= 0 else 0


@dataclass
class Decoded:
    pictures: dict[int, np.ndarray] = field(default_factory=dict)  # index -> thumbnail (display orientation)
    full: np.ndarray | None = None  # the `full` index at its display size
    seeks: int = 0  # how many seeks it took (the tests check that far frames are sought)
    problem: str | None = None  # why some wanted frames are missing


def video_stream(container):
    """The clip's video stream, as the probe picks it (an attached cover picture is no video)."""
    for stream in container.streams.video:
        if not (stream.disposition & type(stream.disposition).attached_pic):
            return stream
    raise ValueError("no video stream")


def scan(path: str | os.PathLike) -> Table:
    import av

    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        stream = video_stream(container)
        stamps, keyed, count = [], [], 0
        try:
            for packet in container.demux(stream):
                if packet.size <= 0:
                    continue
                count += 1
                ts = packet.pts if packet.pts is not None else packet.dts
                stamps.append(ts)
                keyed.append(packet.is_keyframe)
        except av.error.FFmpegError:
            pass  # decord stops there too; the frames before it are the clip
        is_avi = "avi" in (container.format.name or "")
        time_base = stream.time_base
    if any(ts is None for ts in stamps) or len(set(stamps)) != len(stamps):
        return Table(count, (), (0,), time_base, False)
    order = sorted(range(count), key=stamps.__getitem__)
    where = {packet: index for index, packet in enumerate(order)}
    keys = tuple(sorted(where[p] for p in range(count) if keyed[p])) or (0,)
    return Table(count, tuple(stamps[p] for p in order), keys, time_base, not is_avi)


def decode(path: str | os.PathLike, table: Table, wanted: Sequence[int], thumb: tuple[int, int],
           rotation: int = 0, full: int | None = None) -> Decoded:
    """Thumbnails (`thumb` = display width, height) of the `wanted` indices, and the `full`
    index at its display size; `rotation` is the clockwise turn decord applies."""
    import av

    todo = sorted({i for i in wanted if 0 <= i < table.count})
    result = Decoded()
    for seeking in ((True, False) if table.seekable else (False,)):
        result = Decoded()
        try:
            if _decode(av, path, table, todo, thumb, rotation, full, result, seeking):
                break
        except (av.error.FFmpegError, ValueError, MemoryError) as exc:
            result.problem = f"decoding stopped: {exc}"
            if not seeking:
                break
    absent = sorted({i for i in wanted if not 0 <= i < table.count})
    missing = [i for i in todo if i not in result.pictures]
    problems = [result.problem] if result.problem else []
    if absent:  # the trainer indexes past the end: the frame its IndexError is about
        problems.append(f"frame{'s' if len(absent) > 1 else ''} {', '.join(f'#{i}' for i in absent[:3])}"
                        f"{' ..' if len(absent) > 3 else ''} past the clip's last frame (#{table.count - 1})")
    if missing and not result.problem:
        problems.append(f"{len(missing)} frame{'s' if len(missing) > 1 else ''} did not decode (from #{missing[0]})")
    result.problem = "; ".join(problems) or None
    return result


def _decode(av, path, table: Table, todo: list[int], thumb, rotation: int, full: int | None,
            result: Decoded, seeking: bool) -> bool:
    """One pass; False when a seek went wrong and the pass must be made again without."""
    index_of = {ts: i for i, ts in enumerate(table.pts)}
    turns = (rotation // 90) % 4
    coded = (thumb[1], thumb[0]) if turns % 2 else thumb
    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        stream = video_stream(container)
        stream.thread_type = "AUTO"
        frames = container.decode(stream)
        position = 0  # the index the next decoded frame has (or passes)
        k = 0
        while k < len(todo):
            target = todo[k]
            key = table.key_before(target)
            if seeking and key > position and target - position > SEEK_GAP:
                container.seek(table.pts[key], stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
                result.seeks += 1
                position = -1  # unknown until the first frame after the seek
            frame = next(frames, None)
            if frame is None:
                return True
            if seeking:
                index = index_of.get(frame.pts)
                if index is None or (position == -1 and index > target):
                    return False
            else:
                index = position
            position = index + 1
            while k < len(todo) and todo[k] < index:  # a target the stream skipped: left missing
                k += 1
            if k < len(todo) and todo[k] == index:
                result.pictures[index] = _turned(frame.to_ndarray(width=coded[0], height=coded[1], format="rgb24",
                                                                  interpolation="AREA"), turns)
                if index == full and frame.width * frame.height <= MAX_FULL_PIXELS:
                    result.full = _turned(frame.to_ndarray(format="rgb24"), turns)
                k += 1
    return True


def _turned(picture: np.ndarray, turns: int) -> np.ndarray:
    """`turns` quarter turns clockwise (np.rot90 turns counter-clockwise for positive k)."""
    return np.ascontiguousarray(np.rot90(picture, k=-turns)) if turns else picture
