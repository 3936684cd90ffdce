"""A dataset's files in an object store (the local file system's counterpart is
dataset.LocalFiles).

Discovery asks a data source four things — is this a file, is this a folder, read this list
file, and where is this clip (does it escape the root, and its stat) — so loading a dataset
is the same code wherever it lies. `LocalFiles` is RealPaths (one lstat per clip, folders'
real paths memoized) with pathlib's answers; `RemoteFiles` answers from one recursive
listing of the data root (every object's size, ETag and last-modified: no request per clip)
and reads a list file as one small GET.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cogvid_lint.discover.manifest import MAX_MANIFEST_BYTES, parse_manifest_bytes
from cogvid_lint.discover.project import UNKNOWN, Manifest
from cogvid_lint.fsutil import is_inside
from cogvid_lint.remote import urls


LISTS_KIND = "remote_lists"
LISTS_VERSION = "bytes-b64-1"


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


class RemoteFiles:
    """The objects under the remote data root `root` (a urls.to_path path), listed once.
    Raises RemoteError (one line) when the store cannot be listed."""

    remote = True

    def __init__(self, root: Path, spec: Any, store: Any = None):
        from cogvid_lint.remote.access import filesystem, list_objects

        self.root = os.fspath(root)
        self.scheme = urls.scheme(self.root)
        self.fs = filesystem(self.scheme, spec)
        self.timeout = spec.timeout
        self.listing = list_objects(self.fs, self.scheme, self.root, self.timeout)
        self.folders: set[str] = set()  # every prefix that holds an object (the root, when any does)
        for name in self.listing:
            folder = os.path.dirname(name)
            while folder not in self.folders and len(folder) >= len(self.root):
                self.folders.add(folder)
                folder = os.path.dirname(folder)
        self.store = store  # list files already read, by stat key (kind remote_lists)

    def is_file(self, path: Path) -> bool:
        return os.fspath(path) in self.listing

    def is_dir(self, path: Path) -> bool:
        return os.fspath(path) in self.folders

    def listdir(self, folder: Path) -> list[str]:
        """The names of the objects and prefixes just below `folder`."""
        base = os.fspath(folder)
        if base not in self.folders:
            raise FileNotFoundError(base)
        below = {name[len(base) + 1:].partition("/")[0] for name in (*self.listing, *self.folders)
                 if name.startswith(base + "/")}
        return sorted(below)

    def read_manifest(self, path: Path, keep_blank: bool = False) -> Manifest:
        from cogvid_lint.remote.access import describe, read_object

        name = os.fspath(path)
        entry = self.listing.get(name)
        if entry is not None and entry.st_size > MAX_MANIFEST_BYTES:
            return Manifest(path, error=f"larger than {MAX_MANIFEST_BYTES // 2**20} MiB")
        data = self._stored(name, entry)
        if data is None:
            try:
                data = read_object(self.fs, name, self.timeout)
            except Exception as exc:  # noqa: BLE001 - gone since the listing, denied, unreachable: one line
                return Manifest(path, error=f"cannot read: {describe(exc)}")
            if entry is not None and len(data) == entry.st_size and self._usable():
                self.store.put(LISTS_KIND, LISTS_VERSION, [(self._key(name, entry), _b64(data))])
        return parse_manifest_bytes(path, data, keep_blank)

    def _usable(self) -> bool:
        return self.store is not None and self.store.usable

    def _key(self, name: str, entry: Any):
        from cogvid_lint.store import StatKey

        return StatKey(name, entry.st_size, entry.st_mtime_ns, entry.st_ino)

    def _stored(self, name: str, entry: Any) -> bytes | None:
        """The list file's bytes as read by an earlier run, while its listing entry is the same."""
        if entry is None or not self._usable():
            return None
        text = self.store.lookup(LISTS_KIND, LISTS_VERSION, [self._key(name, entry)]).get(name)
        if text is None:
            return None
        import base64
        import binascii

        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            self.store.undecodable(LISTS_KIND, 1)
            return None
        return data if len(data) == entry.st_size else None

    def place(self, path: str, root: str, lexically_inside: bool = False) -> tuple[bool, Any]:
        """As RealPaths.place: object stores have no links, so only the lexical test."""
        if not lexically_inside and not is_inside(path, root):
            return True, UNKNOWN
        return False, self.listing.get(path)
