"""A URL of an object store and the path that stands for it inside a run.

The rest of cogvid-lint works on absolute `Path`s (a data root, a clip, a finding's
location). A remote object gets one too, under a mount point no local file system has:
`s3://bucket/data/a.mp4` is `/@s3/bucket/data/a.mp4`. Being absolute and already
normalised, it goes through the discovery code (joins, `normpath`, the inside-the-root
tests, the store's keys) unchanged; `to_url` turns it back wherever it is shown (reporters)
or fetched (the remote probe). `file://` URLs are plain local paths.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# fsspec protocol names of object stores (and their aliases) we accept as data roots.
REMOTE_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.S)
MOUNT = "/@"  # a remote path is /@<scheme>/<bucket>/<key>


def scheme_of(text: str) -> str | None:
    """The URL's scheme (lower case), or None when `text` is not a URL."""
    m = _URL.match(text)
    return m.group(1).lower() if m else None


def is_url(text: str) -> bool:
    return scheme_of(os.fspath(text)) is not None


def to_path(url: str) -> Path:
    """The path that stands for `url` in a run. `file://` URLs are local paths; an unknown
    scheme raises ValueError (one line the caller reports)."""
    m = _URL.match(url)
    if m is None:
        raise ValueError(f"{url}: not a URL")
    scheme, rest = m.group(1).lower(), m.group(2)
    if scheme == "file":
        return Path(os.path.normpath(rest or "/"))
    if scheme not in REMOTE_SCHEMES:
        raise ValueError(f"{url}: unsupported URL scheme {scheme!r} (known: file, {', '.join(sorted(REMOTE_SCHEMES))})")
    rest = rest.strip("/")
    if not rest:
        raise ValueError(f"{url}: no bucket in the URL")
    return Path(os.path.normpath(f"{MOUNT}{scheme}/{rest}"))


def is_remote(path: str | os.PathLike) -> bool:
    """Whether `path` stands for a remote object (to_path's form)."""
    text = os.fspath(path)
    if not text.startswith(MOUNT):
        return False
    scheme = text[len(MOUNT):].partition("/")[0]
    return scheme in REMOTE_SCHEMES


def to_url(path: str | os.PathLike) -> str:
    """The URL a remote path stands for; any other path as it is."""
    text = os.fspath(path)
    if not is_remote(text):
        return text
    scheme, _, rest = text[len(MOUNT):].partition("/")
    return f"{scheme}://{rest}"


def scheme(path: str | os.PathLike) -> str:
    return os.fspath(path)[len(MOUNT):].partition("/")[0]


def key_of(path: str | os.PathLike) -> str:
    """`bucket/key` of a remote path: what fsspec's filesystems take."""
    return os.fspath(path)[len(MOUNT):].partition("/")[2]


def from_key(scheme_name: str, key: str) -> str:
    """The remote path of `bucket/key` in the store of `scheme_name`."""
    return f"{MOUNT}{scheme_name}/{key.strip('/')}"
