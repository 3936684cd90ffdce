"""Probe facts in the project's store (the `probes` kind): how a VideoInfo is written, read
back and checked, and the version that says which probe wrote it.

A row answers for a clip while the file's stat key and the probe version are those it was
stored under, so a warm run stats each clip and reads nothing else. Failures are stored
too: an unreadable clip stays unreadable until it changes. A row is checked on read, field
by field (types and signs): one that fails is a miss, probed again, and said once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import fields
from operator import itemgetter
from pathlib import Path

from cogvid_lint.gcpause import gc_paused
from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.store import StatKey, Store

KIND = "probes"
_FIELDS = tuple(f.name for f in fields(VideoInfo))
_COUNTS = frozenset({"frames", "header_frames", "width", "height", "coded_width", "coded_height", "size_bytes"})
_COUNT_INDEX = tuple(i for i, name in enumerate(_FIELDS) if name in _COUNTS)


def _field_types() -> dict[str, tuple[tuple[type, ...], bool]]:
    """Per field: the types a stored value may have, and whether it may be None."""
    types = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}
    found = {}
    for f in fields(VideoInfo):
        text = str(f.type).replace(" ", "")
        found[f.name] = (types[text.removesuffix("|None")], text.endswith("|None"))
    return found


_TYPES = _field_types()


def probe_version(probe_fn_spec: str) -> str:
    """Changes whenever a probe could answer differently: the probe's sources, the
    VideoInfo layout, PyAV's version, or a different probe function (tests' stand-ins)."""
    here = Path(__file__).parent
    # a remote clip's answer comes through its readers too (index ranges, blocks)
    remote = here.parent / "remote"
    return sources_version(f"{probe_fn_spec}:{_FIELDS}", [*(here / name for name in (
        "pyav.py", "mp4box.py", "ebml.py", "pixfmt.py", "info.py", "cache.py", "remote.py")),
        remote / "reader.py", remote / "blocks.py"])


def sources_version(salt: str, sources: list[Path]) -> str:
    """A version for facts derived by code: a hash of `salt`, of each source file (a missing
    one counts too) and of PyAV's version, which decides what FFmpeg answers."""
    import importlib.util

    digest = hashlib.sha256(salt.encode())
    spec = importlib.util.find_spec("av")  # locates PyAV without importing it (~0.1 s)
    if spec is not None and spec.origin:
        sources = [*sources, Path(spec.origin).parent / "about.py"]
    for source in sources:
        try:
            digest.update(source.read_bytes())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()[:16]


def encode(info: VideoInfo) -> str:
    return json.dumps([getattr(info, name) for name in _FIELDS], separators=(",", ":"))


def decode(values: object) -> VideoInfo | None:
    """The VideoInfo a stored row holds, None when it is not one this version wrote."""
    if type(values) is not list or len(values) != len(_FIELDS):
        return None
    for name, value in zip(_FIELDS, values):
        types, optional = _TYPES[name]
        if value is None:
            if not optional:
                return None
        elif type(value) not in types or (name in _COUNTS and value < 0):
            return None
    # The dataclass __init__ sets 19 frozen fields one object.__setattr__ at a time: filling
    # __dict__ directly halves the cost of a warm run's 10,000 VideoInfos.
    info = object.__new__(VideoInfo)
    info.__dict__.update(zip(_FIELDS, values))
    return info


@gc_paused()  # a VideoInfo per clip, kept for the whole run
def lookup(store: Store, version: str, keys: Sequence[StatKey]) -> dict[str, VideoInfo]:
    """Stored probe facts of the clips whose key still matches, by path; one read."""
    found = store.lookup(KIND, version, keys)
    if not found:
        return {}
    try:
        rows = json.loads("[" + ",".join(found.values()) + "]")  # one parse: 10x faster than one per row
    except ValueError:  # checksummed, so written so: a store from another build
        rows = [_loads(text) for text in found.values()]
    answers = {}
    # Rows of one run share a handful of shapes (which fields are None, ints or floats):
    # each shape is checked once, then each row only for its shape and its counts' signs.
    good: set[tuple] = set()
    counts = itemgetter(*_COUNT_INDEX)
    new, fill = object.__new__, _FIELDS
    for path, row in zip(found, rows):
        if type(row) is not list:
            continue
        shape = tuple(map(type, row))
        if shape not in good:
            if decode(row) is None:
                continue
            good.add(shape)
        if min(counts(row)) < 0 or row[0] != path:
            continue
        info = new(VideoInfo)
        info.__dict__.update(zip(fill, row))
        answers[path] = info
    store.undecodable(KIND, len(found) - len(answers))
    return answers


def put(store: Store, version: str, entries: Iterable[tuple[StatKey, VideoInfo]]) -> None:
    store.put(KIND, version, ((key, encode(info)) for key, info in entries))


def _loads(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None
