"""A remote object read through a bounded cache of large blocks: how the probe reads an
object above the fetch limit, which it may not hold whole (probe.remote).

The object is cut into fixed blocks, each fetched in one range request when first read;
the most recently used `held` are kept, so a demuxer streaming the object from start to
end (and back to an index at either end) holds a few blocks, never the object. Reads are
exact: the object's own bytes, short only at its end. A request that fails or reads short
(the object changed since it was listed: ObjectChanged) is kept as `failure` and every
read from then on is an end of file: the demuxer stops there without raising through
PyAV (which would print a traceback for a second exception it was handed), and the
caller, seeing the failure, discards whatever answer was made of the short reads.
"""

from __future__ import annotations

from collections import OrderedDict

from cogvid_lint.remote.reader import ObjectReader, ObjectView

# One range request per block: large, so that streaming an object costs its bandwidth and
# not round trips (a request's first byte takes tens of ms at S3, 8 MiB take ~80 ms at 100
# MB/s) and a GiB costs 128 requests (stores bill by the request), yet a few of them are a
# small part of a probe worker's memory.
BLOCK_BYTES = 8 << 20
# Blocks kept: a demuxer reads at one place per stream of a badly interleaved file (video,
# audio) and at its index (AVI's idx1 and Matroska's Cues at the end); more would only
# hold memory.
HELD_BLOCKS = 4
# The smallest block, whatever the limit: the probe's head (mp4box.HEAD_BYTES) in one.
MIN_BLOCK = 64 << 10


def block_size(fetch_limit: int) -> int:
    """The block for an object above `fetch_limit` bytes: BLOCK_BYTES, smaller when
    HELD_BLOCKS of those would hold more than the limit (the memory the user gives one
    probe for an object, whole or in blocks)."""
    return min(BLOCK_BYTES, max(fetch_limit // HELD_BLOCKS, MIN_BLOCK))


class BlockCache:
    """Bytes of `reader`'s object in blocks of `block` bytes, `held` kept (least recently
    used dropped first)."""

    def __init__(self, reader: ObjectReader, block: int = BLOCK_BYTES, held: int = HELD_BLOCKS):
        self.reader, self.size, self.block, self.held = reader, reader.size, block, max(held, 1)
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self.failure: Exception | None = None

    def read(self, pos: int, n: int) -> bytes:
        """Bytes [pos, pos+n) of the object: short at its end, and from the first failed
        request on (`failure`)."""
        end = min(pos + n, self.size)
        out = bytearray()
        while pos < end and self.failure is None:
            index = pos // self.block
            data = self._get(index)
            if data is None:
                break
            start = index * self.block
            out += data[pos - start:end - start]
            pos = start + len(data)
        return bytes(out)

    def _get(self, index: int) -> bytes | None:
        data = self._blocks.get(index)
        if data is not None:
            self._blocks.move_to_end(index)
            return data
        while len(self._blocks) >= self.held:  # dropped before the fetch: at most `held` at once
            self._blocks.popitem(last=False)
        start = index * self.block
        try:
            data = self.reader.fetch(start, start + self.block, keep=False)
        except Exception as exc:  # noqa: BLE001 - the caller reports it (changed, gone, denied, no answer)
            self.failure = exc
            return None
        self._blocks[index] = data
        return data

    def view(self, name: str = "") -> BlockView:
        """A fresh file object over the cache, with its own position."""
        return BlockView(self, name)


class BlockView(ObjectView):
    """A file object over a BlockCache. `name`: what FFmpeg is told the file is called (it
    weighs the extension when it guesses a format, as it does for a local file's path)."""

    def __init__(self, cache: BlockCache, name: str = ""):
        super().__init__()
        self.cache, self.size, self.name = cache, cache.size, name

    def _read(self, pos: int, n: int) -> bytes:
        return self.cache.read(pos, n)
