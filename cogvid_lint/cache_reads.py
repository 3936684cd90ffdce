"""What the cache rules read of a dataset's latent-cache files, read once per run.

On the local file system: safetensors headers (cache_layout.read_header) and torch.save
archives (torch_file.read_torch_file), by path. For a data root in an object store
(discover.source.RemoteFiles) the same verdicts come from range requests, many objects'
requests at a time (fsspec's cat_ranges: concurrent on the filesystem's own loop):

* a safetensors file: its first HEAD bytes (the 8-byte length and, for a cache entry's one
  or two tensors, the whole JSON header), and the rest of a longer header in a second
  request — 2 requests at most. safetensors' own `safe_open` then reads a sparse temporary
  copy (the header's bytes, the data a hole of the object's size): its verdict is the
  trainer's, as on a local file.
* a torch.save file (a zip archive): its first and last TORCH_END bytes — the local header
  and data.pkl at the start, the central directory at the end — in one batch (the whole
  object when that is about as much); zipfile reads a SparseView over them, and anything
  else it asks for is one more request (a data.pkl past the first bytes).

What was read is kept in the store by the object's stat key (URL, size, last-modified,
ETag; kind remote_facts), so a warm run reads none of them again. A failed request (the
object gone, denied, cut since the listing) is that file's problem, said as a finding and
never kept.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cogvid_lint.cache_layout import (CacheFile, Header, header_problem, header_span, read_header, remote_files,
                                      safe_open_header)
from cogvid_lint.discover.project import Dataset
from cogvid_lint.torch_file import TorchFile, from_json, read_torch_file, read_torch_handle, to_json

HEAD = 16 << 10  # a cache entry's safetensors header is ~150 bytes; a few hundred tensors' fit too
TORCH_END = 16 << 10  # data.pkl of a latent or an embedding dict starts ~100 bytes in; the central
# directory of torch.save's ~7 records is ~1 KiB


class _ReadFailed(Exception):
    """A range request of a cache file failed: the object's problem, never kept."""


def _safetensors_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("safetensors")
    except PackageNotFoundError:
        return "absent"


def dataset_reads(project, dataset: Dataset) -> "CacheReads":
    """The dataset's CacheReads, one a run (Project.derive(dataset_reads, dataset)): the rules
    of every trainer share what was read."""
    return CacheReads(remote_files(dataset))


class CacheReads:
    """The headers of one dataset's cache files, each read once per run. `files`: the
    dataset's remote data source (cache_layout.remote_files), None for a local root."""

    def __init__(self, files: Any = None):
        self.files = files
        self._headers: dict[str, Header] = {}
        self._torch: dict[str, TorchFile] = {}

    # ------------------------------------------------------------------ safetensors

    def header(self, entry: CacheFile, batch: list[CacheFile] = ()) -> Header:
        """The header of `entry`; for a remote one, every entry of `batch` not read yet is read
        with it (the rules ask of each latent and prompt embedding in turn)."""
        name = os.fspath(entry.path)
        if name not in self._headers:
            if self.files is None:
                self._headers[name] = read_header(entry.path)
            else:
                wanted = {os.fspath(e.path): e for e in (entry, *batch) if os.fspath(e.path) not in self._headers}
                self._headers.update(self._remote_headers(list(wanted.values())))
        return self._headers[name]

    def _remote_headers(self, entries: list[CacheFile]) -> dict[str, Header]:
        version = f"safetensors-header-1 safetensors={_safetensors_version()}"
        found: dict[str, Header] = {}
        for name, text in self.files.stored_facts(version, [os.fspath(e.path) for e in entries]).items():
            try:
                value = json.loads(text)
                found[name] = Header({k: tuple(v) for k, v in value["shapes"].items()}, dict(value["dtypes"]),
                                     value["problem"])
            except (ValueError, KeyError, TypeError, AttributeError):
                self.files.store.undecodable("remote_facts", 1)
        todo = [e for e in entries if os.fspath(e.path) not in found]
        heads: dict[str, bytes] = {}
        failed: dict[str, str] = {}
        first = [(os.fspath(e.path), 0, min(e.size, HEAD)) for e in todo if e.size > 0]
        rest = []
        for (name, start, end), got in zip(first, self.files.ranges(first)):
            problem = _problem(got, end - start)
            if problem is not None:
                failed[name] = problem
                continue
            heads[name] = got
        for e in todo:
            name = os.fspath(e.path)
            span = header_span(heads.get(name, b""), e.size)
            if span is not None and span > len(heads[name]):
                rest.append((name, len(heads[name]), span))
        for (name, start, end), got in zip(rest, self.files.ranges(rest)):
            problem = _problem(got, end - start)
            if problem is not None:
                failed[name] = problem
                heads.pop(name, None)
                continue
            heads[name] += got
        fresh = {}
        for e in todo:
            name = os.fspath(e.path)
            if name in failed:
                found[name] = Header(problem=f"cannot read it: {failed[name]}")
                continue
            found[name] = header = _judge(e.size, heads.get(name, b""))
            fresh[name] = json.dumps({"shapes": {k: list(v) for k, v in header.shapes.items()},
                                      "dtypes": header.dtypes, "problem": header.problem})
        self.files.keep_facts(version, fresh)
        return found

    # ------------------------------------------------------------------ torch.save

    def torch_file(self, path: Path, batch: list[Path] = ()) -> TorchFile:
        """What the torch.save file `path` holds; a remote one is read with every file of
        `batch` not read yet."""
        name = os.fspath(path)
        if name not in self._torch:
            if self.files is None:
                self._torch[name] = read_torch_file(path)
            else:
                wanted = list(dict.fromkeys(os.fspath(p) for p in (path, *batch) if os.fspath(p) not in self._torch))
                self._torch.update(self._remote_torch(wanted))
        return self._torch[name]

    def _remote_torch(self, names: list[str]) -> dict[str, TorchFile]:
        from cogvid_lint.remote.reader import SparseView

        version = "torch-file-1"
        found: dict[str, TorchFile] = {}
        for name, text in self.files.stored_facts(version, names).items():
            try:
                found[name] = from_json(json.loads(text))
            except (ValueError, KeyError, TypeError, AttributeError):
                self.files.store.undecodable("remote_facts", 1)
        sizes = {}
        for name in names:
            st = self.files.stat(Path(name))
            if name in found:
                continue
            if st is None:  # asked of a file not listed: as open() of a missing file
                found[name] = TorchFile(problem="cannot read it: No such file or directory")
            else:
                sizes[name] = st.st_size
        wanted = []
        for name, size in sizes.items():
            if 0 < size <= 2 * TORCH_END + HEAD:  # about as much as its two ends: whole, in one request
                wanted.append((name, 0, size))
            elif size:
                wanted += [(name, 0, TORCH_END), (name, size - TORCH_END, size)]
        readers = {name: self.files.reader(Path(name), size) for name, size in sizes.items()}
        failed: dict[str, str] = {}
        for (name, start, end), got in zip(wanted, self.files.ranges(wanted)):
            problem = _problem(got, end - start)
            if problem is not None:
                failed.setdefault(name, problem)
            else:
                readers[name].keep(start, got)
        fresh = {}
        for name, reader in readers.items():
            if name in failed:
                found[name] = TorchFile(problem=f"cannot read it: {failed[name]}")
                continue
            try:
                found[name] = read_torch_handle(_Fetching(SparseView(reader)))
            except _ReadFailed as exc:
                found[name] = TorchFile(problem=f"cannot read it: {exc}")
                continue
            fresh[name] = json.dumps(to_json(found[name]))
        self.files.keep_facts(version, fresh)
        return found

    def whole(self, path: Path) -> bytes:
        """A remote cache file's bytes (the legacy .pt files torch itself reads): one request;
        OSError, one line, when it cannot be read."""
        st = self.files.stat(path)
        size = st.st_size if st is not None else 0
        got = self.files.ranges([(os.fspath(path), 0, size)])[0] if size else b""
        problem = _problem(got, size)
        if problem is not None:
            raise OSError(problem)
        return got


def _problem(got: Any, length: int) -> str | None:
    """Why a range request's answer is not the `length` bytes asked for, or None."""
    from cogvid_lint.remote.access import describe

    if isinstance(got, Exception):
        return describe(got)
    if len(got) != length:
        return f"changed since it was listed (read {len(got)} of {length} bytes)"
    return None


def _judge(size: int, head: bytes) -> Header:
    """The verdict on a safetensors object from its first bytes: header_problem's, then
    safe_open's on a sparse copy (the header's bytes, a hole for the data)."""
    problem = header_problem(size, head)
    if problem is not None:
        return Header(problem=problem)
    with tempfile.NamedTemporaryFile(prefix="cogvid-lint-", suffix=".safetensors") as tmp:
        tmp.write(head[:header_span(head, size)])
        tmp.truncate(size)
        tmp.flush()
        return safe_open_header(tmp.name)


class _Fetching:
    """A SparseView whose on-demand requests fail as _ReadFailed (zipfile would take a store's
    OSError for a damaged archive)."""

    def __init__(self, view):
        self.view = view

    def read(self, n: int = -1) -> bytes:
        from cogvid_lint.remote.access import describe
        from cogvid_lint.remote.reader import ObjectChanged

        try:
            if n is None or n < 0:
                n = max(self.view.reader.size - self.view.pos, 0)
            return self.view.read(n)
        except ObjectChanged as exc:
            raise _ReadFailed(f"changed since it was listed ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - gone, denied, unreachable
            raise _ReadFailed(describe(exc)) from None

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.view.seek(offset, whence)

    def tell(self) -> int:
        return self.view.tell()

    def seekable(self) -> bool:
        return True
