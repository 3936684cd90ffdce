"""Range reads of one remote object, each one request, counted; what was read is kept.

`SparseView` is a file object over such an object for PyAV: the ranges read so far are
real, the `holes` (the payloads of an mp4's mdat boxes) read as zeros without a request,
and anything else is fetched when first read. It has its own position: the box walk
gets another view (sharing one position with the demuxer miscounts frames). Its base,
`ObjectView`, serves the block cache's views too (remote.blocks).
"""

from __future__ import annotations

import bisect
import io
from typing import Any, Sequence

from cogvid_lint.remote import urls


class ObjectChanged(Exception):
    """The object is not the size it was listed with (rewritten or cut since the listing)."""


class ObjectReader:
    """Range reads of the object at remote path `path`, listed with `size` bytes."""

    def __init__(self, fs: Any, path: str, size: int):
        self.fs, self.key, self.size = fs, urls.key_of(path), size
        self.requests = 0
        self.bytes = 0
        self._starts: list[int] = []  # kept spans, sorted and disjoint: start -> bytes
        self._spans: dict[int, bytes] = {}

    def fetch(self, start: int, end: int, keep: bool = True) -> bytes:
        """Bytes [start, end) in one request (end clipped to the listed size), kept unless
        `keep` is false (a block cache holds its own, bounded)."""
        end = min(end, self.size)
        if end <= start:
            return b""
        self.requests += 1
        try:
            data = self.fs.cat_file(self.key, start=start, end=end)
        except OSError as exc:
            if "not satisfiable" in str(exc).lower():  # HTTP 416 (s3fs, gcsfs): a range past the object's end
                raise ObjectChanged(f"bytes {start}-{end} are past the end of an object listed with "
                                    f"{self.size}") from None
            raise
        self.bytes += len(data)
        if len(data) != end - start:
            raise ObjectChanged(f"read {len(data)} of bytes {start}-{end} of an object listed with {self.size}")
        if keep:
            self._keep(start, data)
        return data

    def keep(self, start: int, data: bytes) -> None:
        """Hold bytes read elsewhere (a batch of range requests: read_ranges) as [start, start+len)."""
        self._keep(start, data)

    def _keep(self, start: int, data: bytes) -> None:
        if start in self._spans and len(self._spans[start]) >= len(data):
            return
        if start not in self._spans:
            bisect.insort(self._starts, start)
        self._spans[start] = data

    def cached(self, pos: int) -> tuple[int, bytes] | None:
        """The kept span holding byte `pos`: (its start, its bytes), or None."""
        i = bisect.bisect_right(self._starts, pos) - 1
        if i < 0:
            return None
        start = self._starts[i]
        data = self._spans[start]
        return (start, data) if start + len(data) > pos else None

    def ensure(self, start: int, end: int) -> None:
        """Have [start, end) kept: each gap fetched in one request (rarely more than one)."""
        pos, end = start, min(end, self.size)
        while pos < end:
            span = self.cached(pos)
            if span is not None:
                pos = span[0] + len(span[1])
                continue
            stop = min(end, self.next_start(pos))
            self.fetch(pos, stop)
            pos = stop

    def next_start(self, pos: int) -> int:
        """Where the first kept span after `pos` starts (the size when none)."""
        i = bisect.bisect_right(self._starts, pos)
        return self._starts[i] if i < len(self._starts) else self.size

    def read(self, pos: int, n: int, holes: Sequence[tuple[int, int]] = ()) -> bytes:
        """Bytes [pos, pos+n): kept ones as they are, `holes` as zeros, the rest fetched."""
        end = min(pos + n, self.size)
        out = bytearray()
        while pos < end:
            span = self.cached(pos)
            if span is not None:
                start, data = span
                piece = data[pos - start:end - start]
            else:
                hole = next(((a, b) for a, b in holes if a <= pos < b), None)
                if hole is not None:
                    piece = bytes(min(hole[1], end, self.next_start(pos)) - pos)
                else:
                    stop = min(end, self.next_start(pos), *(a for a, _ in holes if a > pos))
                    piece = self.fetch(pos, stop)
            out += piece
            pos += len(piece)
        return bytes(out)


# Ranges of many objects are asked for together (fsspec's cat_ranges: concurrent requests on
# the filesystem's own event loop); each batch is bounded by the probe timeout on its own.
RANGE_BATCH = 256


def read_ranges(fs: Any, wanted: Sequence[tuple[str, int, int]], timeout: float | None = None
                ) -> list[bytes | Exception]:
    """Bytes [start, end) of each (remote path, start, end): one request each, made
    concurrently; a failed request (gone, denied, no answer in `timeout`) is its exception,
    never raised."""
    from cogvid_lint.remote.access import bounded

    out: list[bytes | Exception] = []
    for i in range(0, len(wanted), RANGE_BATCH):
        chunk = wanted[i:i + RANGE_BATCH]
        try:
            got = fs.cat_ranges([urls.key_of(p) for p, _, _ in chunk], [s for _, s, _ in chunk],
                                [e for _, _, e in chunk], on_error="return", **bounded(fs, timeout))
        except Exception as exc:  # noqa: BLE001 - the whole batch timed out or the store failed
            got = [exc] * len(chunk)
        out += [g if isinstance(g, (bytes, Exception)) else Exception(repr(g)) for g in got]
    return out


class ObjectView(io.RawIOBase):
    """A read-only, seekable file object over an object of `size` bytes, with a position of
    its own; `_read(pos, n)` gives the bytes (short only at the end)."""

    size: int

    def __init__(self):
        super().__init__()
        self.pos = 0

    def _read(self, pos: int, n: int) -> bytes:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(base + offset, 0)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer) -> int:
        data = self._read(self.pos, len(buffer))
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)


class SparseView(ObjectView):
    """A view of an ObjectReader whose `holes` read as zeros (see the module's docstring)."""

    def __init__(self, reader: ObjectReader, holes: Sequence[tuple[int, int]] = ()):
        super().__init__()
        self.reader, self.holes, self.size = reader, tuple(holes), reader.size

    def _read(self, pos: int, n: int) -> bytes:
        return self.reader.read(pos, n, self.holes)
