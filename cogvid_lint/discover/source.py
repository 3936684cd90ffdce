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
from functools import cached_property
from pathlib import Path
from typing import Any

from cogvid_lint.discover.manifest import MAX_MANIFEST_BYTES, parse_manifest_bytes
from cogvid_lint.discover.project import UNKNOWN, Manifest
from cogvid_lint.fsutil import is_inside
from cogvid_lint.remote import urls


LISTS_KIND = "remote_lists"
LISTS_VERSION = "bytes-b64-1"
# what was read of the latent-cache files of a remote root (safetensors headers, torch.save
# archives' tensor lists): JSON by the object's stat key, so a warm run reads none again
FACTS_KIND = "remote_facts"


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
        self._beside: dict[str, tuple[dict[str, Any], set[str]]] = {}  # listings of folders outside the root

    def _under_root(self, name: str) -> bool:
        return name == self.root or name.startswith(self.root + "/")

    def is_file(self, path: Path) -> bool:
        return self.stat(path) is not None

    def is_dir(self, path: Path) -> bool:
        name = os.fspath(path)
        if self._under_root(name):
            return name in self.folders
        return name in self._outside(os.path.dirname(name))[1]

    def stat(self, path: Path):
        """The listing's entry (a RemoteStat) of the object `path`, None when there is none.
        A path outside the data root (a cache beside it) is answered from one listing of its
        folder, made when first asked."""
        name = os.fspath(path)
        if self._under_root(name):
            return self.listing.get(name)
        return self._outside(os.path.dirname(name))[0].get(name)

    @cached_property
    def _by_folder(self) -> dict[str, list[tuple[str, Any]]]:
        by_folder: dict[str, list[tuple[str, Any]]] = {}
        for name, st in self.listing.items():
            by_folder.setdefault(os.path.dirname(name), []).append((name, st))
        return by_folder

    def files_in(self, folder: Path) -> list[tuple[str, Any]]:
        """(remote path, RemoteStat) of each object just below `folder`, sorted."""
        base = os.fspath(folder)
        found = self._by_folder.get(base, []) if self._under_root(base) else list(self._outside(base)[0].items())
        return sorted(found)

    def subfolders(self, folder: Path) -> list[str]:
        """The prefixes just below `folder` that hold objects, as remote paths, sorted."""
        base = os.fspath(folder)
        if not self._under_root(base):
            return sorted(self._outside(base)[1])
        return sorted(name for name in self.folders if os.path.dirname(name) == base and name != base)

    def _outside(self, folder: str) -> tuple[dict[str, Any], set[str]]:
        """One listing (not recursive) of a folder outside the data root: its objects and
        prefixes; nothing when it cannot be listed or lies in another store."""
        found = self._beside.get(folder)
        if found is not None:
            return found
        from cogvid_lint.remote.access import bounded, entry_stat

        files: dict[str, Any] = {}
        dirs: set[str] = set()
        if urls.is_remote(folder) and urls.scheme(folder) == self.scheme and urls.key_of(folder):
            try:
                entries = self.fs.ls(urls.key_of(folder), detail=True, **bounded(self.fs, self.timeout))
            except Exception:  # noqa: BLE001 - absent, denied, unreachable: nothing there, as for a local folder
                entries = []
            for info in entries:
                name = urls.from_key(self.scheme, info.get("name", ""))
                if info.get("type") == "directory":
                    dirs.add(name)
                elif info.get("type", "file") == "file":
                    files[name] = entry_stat(info)
        self._beside[folder] = (files, dirs)
        return files, dirs

    def read_bytes(self, path: Path) -> bytes:
        """A small object whole (one GET; none while the store holds it as listed). OSError,
        one line, when it is gone, denied or unreachable."""
        from cogvid_lint.remote.access import describe, read_object

        name = os.fspath(path)
        entry = self.stat(path)
        data = self._stored(name, entry)
        if data is None:
            try:
                data = read_object(self.fs, name, self.timeout)
            except Exception as exc:  # noqa: BLE001 - one line
                raise OSError(describe(exc)) from None
            if entry is not None and len(data) == entry.st_size and self._usable():
                self.store.put(LISTS_KIND, LISTS_VERSION, [(self._key(name, entry), _b64(data))])
        return data

    def digest(self, path: Path, algorithm: str) -> str:
        """The hex digest of the object's content, read in blocks (OSError, one line, when it
        cannot be read): a cache stamp's hash of a clip that may have changed."""
        from cogvid_lint.hashing import BLOCK, digest_stream
        from cogvid_lint.remote.access import describe

        try:
            with self.fs.open(urls.key_of(os.fspath(path)), "rb", block_size=BLOCK) as handle:
                return digest_stream(handle, algorithm).hexdigest
        except Exception as exc:  # noqa: BLE001 - gone, denied, unreachable: one line
            raise OSError(describe(exc)) from None

    def ranges(self, wanted: list[tuple[str, int, int]]) -> list:
        """Bytes of each (remote path, start, end), requested together (remote.reader.read_ranges)."""
        from cogvid_lint.remote.reader import read_ranges

        return read_ranges(self.fs, wanted, self.timeout)

    def reader(self, path: Path, size: int):
        """Range reads of the object `path`, listed with `size` bytes (counted, kept)."""
        from cogvid_lint.remote.reader import ObjectReader

        return ObjectReader(self.fs, os.fspath(path), size)

    def stored_facts(self, version: str, paths: list[str]) -> dict[str, str]:
        """The facts an earlier run kept of each object (FACTS_KIND), while its listing entry is
        the same; by path."""
        keys = [self._key(name, st) for name in paths if (st := self.stat(Path(name))) is not None]
        return self.store.lookup(FACTS_KIND, version, keys) if keys and self._usable() else {}

    def keep_facts(self, version: str, facts: dict[str, str]) -> None:
        if not facts or not self._usable():
            return
        self.store.put(FACTS_KIND, version, [(self._key(name, st), text) for name, text in facts.items()
                                             if (st := self.stat(Path(name))) is not None])

    def listdir(self, folder: Path) -> list[str]:
        """The names of the objects and prefixes just below `folder`."""
        base = os.fspath(folder)
        if base not in self.folders:
            raise FileNotFoundError(base)
        below = {name[len(base) + 1:].partition("/")[0] for name in (*self.listing, *self.folders)
                 if name.startswith(base + "/")}
        return sorted(below)

    def read_manifest(self, path: Path, keep_blank: bool = False) -> Manifest:
        entry = self.stat(path)
        if entry is not None and entry.st_size > MAX_MANIFEST_BYTES:
            return Manifest(path, error=f"larger than {MAX_MANIFEST_BYTES // 2**20} MiB")
        try:
            data = self.read_bytes(path)
        except OSError as exc:  # gone since the listing, denied, unreachable: one line
            return Manifest(path, error=f"cannot read: {exc}")
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
