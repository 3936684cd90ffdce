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


class RemoteFiles:
    """The objects under the remote data root `root` (a urls.to_path path), listed once.
    Raises RemoteError (one line) when the store cannot be listed."""

    remote = True

    def __init__(self, root: Path, spec: Any):
        from cogvid_lint.remote.access import filesystem, list_objects

        self.root = os.fspath(root)
        self.scheme = urls.scheme(self.root)
        self.fs = filesystem(self.scheme, spec)
        self.listing = list_objects(self.fs, self.scheme, self.root)
        self.folders = {self.root}
        for name in self.listing:
            folder = os.path.dirname(name)
            while folder not in self.folders and len(folder) > len(self.root):
                self.folders.add(folder)
                folder = os.path.dirname(folder)
        self.requests = 0  # GETs of list files (the listing's own requests are the store's)

    def is_file(self, path: Path) -> bool:
        return os.fspath(path) in self.listing

    def is_dir(self, path: Path) -> bool:
        return os.fspath(path) in self.folders

    def read_manifest(self, path: Path, keep_blank: bool = False) -> Manifest:
        from cogvid_lint.remote.access import describe, read_object

        entry = self.listing.get(os.fspath(path))
        if entry is not None and entry.st_size > MAX_MANIFEST_BYTES:
            return Manifest(path, error=f"larger than {MAX_MANIFEST_BYTES // 2**20} MiB")
        try:
            self.requests += 1
            data = read_object(self.fs, os.fspath(path))
        except Exception as exc:  # noqa: BLE001 - gone since the listing, denied, unreachable: one line
            return Manifest(path, error=f"cannot read: {describe(exc)}")
        return parse_manifest_bytes(path, data, keep_blank)

    def place(self, path: str, root: str, lexically_inside: bool = False) -> tuple[bool, Any]:
        """As RealPaths.place: object stores have no links, so only the lexical test."""
        if not lexically_inside and not is_inside(path, root):
            return True, UNKNOWN
        return False, self.listing.get(path)
