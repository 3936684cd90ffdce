"""Per-file facts of the code rules, remembered across runs (the `python_facts` table).

A row holds a file's `FileFacts` (see facts.py) under its stat key (absolute path, size,
mtime_ns, inode) and the analysis version (a hash of the sources that compute facts, and
of the Python that parses). A warm run stats each file, reads the rows in one query and
opens no unchanged file: the checks then run on the facts, so rule parameters,
selections and suppressions are applied afresh every time. Facts computed later in a run
(a parse for CVL403's walk, import names once some file mentions decord) are written by
`flush()`. `--no-cache` (or no settings, as in unit tests) neither reads nor writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from cogvid_lint.python.facts import (
    FileFacts,
    Parse,
    file_facts,
    from_json,
    import_groups,
    parse_facts,
    to_json,
)

from cogvid_lint.store import StatKey, Store

if TYPE_CHECKING:
    from cogvid_lint.discover.project import Project, PythonFile

TABLE = "python_facts"
_SOURCES = ("facts.py", "fact_cache.py", "model.py", "source.py", "guards.py")


@lru_cache(maxsize=1)
def analysis_version() -> str:
    """Changes whenever facts could come out differently: their code, or the parser."""
    digest = hashlib.sha256(sys.version.encode())
    here = Path(__file__).parent
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


class FactStore:
    """The facts of every Python file of one run (memoised on the project: `facts_of`)."""

    def __init__(self, project: "Project"):
        self.store: Store = project.store if project.store is not None else Store(None)
        self.facts: dict[Path, FileFacts | None] = {}  # None: the file cannot be read
        self._keys: dict[Path, object] = {}
        self._dirty: set[Path] = set()
        self.read: set[Path] = set()  # files whose bytes this run read (tests, bench)
        self._load(project.python_files)

    def _load(self, files: list["PythonFile"]) -> None:
        keys = {}
        for file in files:
            try:
                path = os.fspath(file.path)
                keys[file.path] = StatKey.of(path if os.path.isabs(path) else os.path.abspath(path), os.stat(path))
            except (OSError, ValueError):
                pass  # missing or unreachable: never cached; reading it fails below
        self._keys = keys
        cached = self._lookup(list(keys.values()))
        for file in files:
            key = keys.get(file.path)
            hit = cached.get(key.path) if key is not None else None
            if hit is not None:
                self.facts[file.path] = hit
                continue
            data = self._data(file)
            self.facts[file.path] = None if data is None else file_facts(data)
            if data is not None and key is not None:
                self._dirty.add(file.path)
        self.flush()

    def _lookup(self, keys: list) -> dict[str, FileFacts]:
        found = self.store.lookup(TABLE, analysis_version(), keys)
        if not found:
            return {}
        try:
            rows = json.loads("[" + ",".join(found.values()) + "]")  # one parse, not one per row
            return {path: from_json(row) for path, row in zip(found, rows)}
        except (ValueError, TypeError, IndexError, KeyError, AttributeError):
            # a row this version cannot read: recompute (and overwrite) them all
            self.store.undecodable(TABLE, len(found))
            return {}

    def flush(self) -> None:
        """Write the facts computed since the last flush."""
        dirty, self._dirty = self._dirty, set()
        if dirty:
            self.store.put(TABLE, analysis_version(),
                           [(self._keys[p], json.dumps(to_json(self.facts[p]), separators=(",", ":"))) for p in dirty])

    def _data(self, file: "PythonFile") -> bytes | None:
        try:
            data = file.data
        except OSError:
            return None
        self.read.add(file.path)
        return data

    def groups(self, file: "PythonFile") -> str:
        """The file's import names (computed now if no run stored them yet)."""
        facts = self.facts.get(file.path)
        if facts is None:
            return ""
        if facts.groups is None:
            data = self._data(file)
            facts.groups = import_groups(data) if data is not None else ""
            self._mark(file.path)
        return facts.groups

    def parse(self, file: "PythonFile") -> Parse | None:
        """The file's parse facts (parsed now if no run stored them yet); None: unreadable."""
        facts = self.facts.get(file.path)
        if facts is None:
            return None
        if facts.parse is None:
            data = self._data(file)
            if data is None:
                return None
            facts.parse = parse_facts(data, str(file.path))
            self._mark(file.path)
        return facts.parse

    def _mark(self, path: Path) -> None:
        if path in self._keys:
            self._dirty.add(path)


def facts_of(project: "Project") -> FactStore:
    return project.derive(FactStore)


