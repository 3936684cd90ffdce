"""The probe cache: `.cogvid_lint_cache/probes.sqlite`, one row per clip path.

A row answers for a clip while the file's (size, mtime_ns, inode) and the probe version
are those it was stored under, so a warm run stats each clip and reads nothing else.
Failures are cached too: an unreadable clip stays unreadable until it changes.

SQLite in WAL mode with a busy timeout lets two runs (a pre-commit hook and an editor,
say) share the file. The cache is an optimisation, never a reason to fail: a corrupt
database is discarded and rebuilt with a one-line warning; a cache that cannot be opened
or written (read-only folder, lock held too long) is skipped with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import sys
import time
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, NamedTuple, Sequence

from cogvid_lint.probe.info import VideoInfo

if TYPE_CHECKING:
    from cogvid_lint.settings import Settings

CACHE_DIR_NAME = ".cogvid_lint_cache"
DB_NAME = "probes.sqlite"
LOCK_NAME = "lock"
SCHEMA = 2
TABLES = ("probes", "digests")
BUSY_TIMEOUT_MS = 15_000
# Below SQLite's default limit of host parameters (32766 since 3.32; 999 before).
_IN_CHUNK = 900
CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by cogvid-lint.\n"
                "# For information about cache directory tags see https://bford.info/cachedir/\n")
# Every file `cache clean` may delete: nothing else in a user-chosen --cache-dir is touched.
OWN_FILES = (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", LOCK_NAME, "CACHEDIR.TAG", ".gitignore")
_FIELDS = tuple(f.name for f in fields(VideoInfo))


class StatKey(NamedTuple):
    """What must be unchanged for a cached probe to stand: the file's identity and age."""

    path: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: str, st: os.stat_result) -> StatKey:
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino)


def warn(message: str) -> None:
    print(f"cogvid-lint: warning: {message}", file=sys.stderr)


def cache_dir(settings: Settings) -> Path:
    """`--cache-dir` / config `cache-dir`, else `.cogvid_lint_cache/` at the project root."""
    chosen = settings.option("cache_dir")
    return Path(chosen).expanduser().resolve() if chosen else settings.root / CACHE_DIR_NAME


def probe_version(probe_fn_spec: str) -> str:
    """Changes whenever a probe could answer differently: the probe's sources, the
    VideoInfo layout, PyAV's version, or a different probe function (tests' stand-ins)."""
    import importlib.util

    digest = hashlib.sha256(f"{SCHEMA}:{probe_fn_spec}:{_FIELDS}".encode())
    here = Path(__file__).parent
    sources = [here / "pyav.py", here / "mp4box.py", here / "info.py"]
    spec = importlib.util.find_spec("av")  # locates PyAV without importing it (~0.1 s)
    if spec is not None and spec.origin:
        sources.append(Path(spec.origin).parent / "about.py")
    for source in sources:
        try:
            digest.update(source.read_bytes())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()[:16]


class ProbeCache:
    """One open cache database. Use `open_cache()`; every method degrades to a miss.

    Two tables of one shape, (path, size, mtime_ns, inode, version) -> text: `probes`
    (VideoInfo as a JSON list) and `digests` (content hashes, for the duplicate-clip rule).
    """

    def __init__(self, folder: Path, version: str):
        self.folder = folder
        self.db_path = folder / DB_NAME
        self.version = version
        self.conn: sqlite3.Connection | None = None

    def lookup(self, keys: Sequence[StatKey]) -> dict[str, VideoInfo]:
        """Cached probes of the clips whose key still matches, by path; one read transaction."""
        found = self.lookup_text("probes", self.version, keys)
        try:
            values = json.loads("[" + ",".join(found.values()) + "]")  # one parse: 10x faster than one per row
            return {path: _info(row) for path, row in zip(found, values)}
        except (ValueError, TypeError) as exc:
            self._failed(exc, "read")
            return {}

    def store(self, entries: Iterable[tuple[StatKey, VideoInfo]]) -> None:
        self.store_text("probes", self.version, ((key, json.dumps([getattr(info, name) for name in _FIELDS],
                                                                  separators=(",", ":"))) for key, info in entries))

    def lookup_text(self, table: str, version: str, keys: Sequence[StatKey]) -> dict[str, str]:
        if self.conn is None or not keys:
            return {}
        wanted = {os.fsencode(k.path): k for k in keys}
        found: dict[str, str] = {}
        try:
            with _transaction(self.conn, "BEGIN"):
                for rows in self._rows_for(table, version, list(wanted)):
                    for path, size, mtime_ns, inode, text in rows:
                        key = wanted.get(path)
                        if key is not None and (key.size, key.mtime_ns, key.inode) == (size, mtime_ns, inode):
                            found[key.path] = text
        except sqlite3.Error as exc:
            self._failed(exc, "read")
            return {}
        return found

    def store_text(self, table: str, version: str, entries: Iterable[tuple[StatKey, str]]) -> None:
        if self.conn is None:
            return
        rows = [(os.fsencode(key.path), key.size, key.mtime_ns, key.inode, version, text) for key, text in entries]
        if not rows:
            return
        try:
            with _transaction(self.conn, "BEGIN IMMEDIATE"):
                self.conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            self._failed(exc, "write")

    def _rows_for(self, table: str, version: str, paths: list[bytes]) -> Iterator[Iterable[tuple]]:
        assert self.conn is not None
        columns = f"SELECT path, size, mtime_ns, inode, value FROM {table} WHERE version = ?"
        total = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if total <= 4 * len(paths):  # most rows are wanted: one scan is 10x faster than index probes
            yield self.conn.execute(columns, (version,))
            return
        for chunk in _chunks(paths, _IN_CHUNK):
            yield self.conn.execute(f"{columns} AND path IN ({','.join('?' * len(chunk))})", (version, *chunk))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _failed(self, exc: sqlite3.Error | ValueError | TypeError, doing: str) -> None:
        """Corruption found mid-run: rebuild for the next run; anything else: skip the cache."""
        self.close()
        if _is_corrupt(exc) or not isinstance(exc, sqlite3.Error):
            _discard_and_warn(self, exc, recheck=isinstance(exc, sqlite3.Error))
            return
        warn(f"probe cache {self.db_path}: cannot {doing} ({exc}); continuing without it")


def open_cache(folder: Path, version: str) -> ProbeCache | None:
    """The cache in `folder` (created if need be), or None when it cannot be used."""
    cache = ProbeCache(folder, version)
    try:
        _prepare_folder(folder)
    except OSError as exc:
        warn(f"cannot create the probe cache in {folder} ({exc.strerror or exc}); continuing without it")
        return None
    for attempt in ("open", "open after rebuilding"):
        try:
            cache.conn = _connect(cache.db_path)
            return cache
        except sqlite3.Error as exc:
            cache.close()
            if attempt != "open" or not _is_corrupt(exc):
                warn(f"probe cache {cache.db_path}: cannot {attempt} ({exc}); continuing without it")
                return None
            if not _discard_and_warn(cache, exc, recheck=True):
                return None
    return None


def cached_digests(settings: "Settings", paths: Sequence[str], digest: Callable[[str], str | None],
                   kind: str) -> dict[str, str | None]:
    """`digest(path)` for each path, remembered under the file's stat key and `kind` (the
    name of what `digest` computes): the duplicate-clip rule hashes every clip whose size
    another clip shares, which on a warm run must not mean reading them again."""
    keys = []
    for path in paths:
        try:
            keys.append(StatKey.of(path, os.stat(path)))
        except (OSError, ValueError):
            continue
    cache = None if settings.option("no_cache") else open_cache(cache_dir(settings), "")
    try:
        known: dict[str, str | None] = dict(cache.lookup_text("digests", kind, keys)) if cache else {}
        fresh = [(key, digest(key.path)) for key in keys if key.path not in known]
        if cache:
            cache.store_text("digests", kind, [(key, value) for key, value in fresh if value is not None])
    finally:
        if cache:
            cache.close()
    known.update((key.path, value) for key, value in fresh)
    return known


def clean(folder: Path) -> list[Path]:
    """Delete the cache's own files in `folder`, then the folder if that leaves it empty."""
    removed = []
    for name in OWN_FILES:
        try:
            (folder / name).unlink()
            removed.append(folder / name)
        except FileNotFoundError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass  # absent, or holds files that are not ours
    return removed


def _connect(db_path: Path) -> sqlite3.Connection:
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return _connect_once(db_path)
        except sqlite3.OperationalError as exc:
            # While another run creates the file or switches it to WAL, SQLite can answer
            # "locked" at once instead of waiting out the busy timeout: wait here instead.
            code = getattr(exc, "sqlite_errorcode", None)
            busy = code is not None and code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
            if not (busy or "locked" in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.02 + random.random() * 0.05)


def _connect_once(db_path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (one per lookup/store batch).
    conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # switching needs a lock; asking does not
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable enough for a cache
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] != str(SCHEMA):
            _create_tables(conn)
        return conn
    except BaseException:
        conn.close()
        raise


def _create_tables(conn: sqlite3.Connection) -> None:
    """A new file, or one an older cogvid-lint wrote: (re)create the tables."""
    with _transaction(conn, "BEGIN IMMEDIATE"):
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is not None and row[0] == str(SCHEMA):
            return  # another run made them while we waited for the write lock
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} (path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                         " inode INTEGER, version TEXT, value TEXT) WITHOUT ROWID")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[None]:
    conn.execute(begin)
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def _healthy(db_path: Path) -> bool:
    try:
        conn = _connect(db_path)
    except sqlite3.Error:
        return False
    try:
        return conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _is_corrupt(exc: BaseException) -> bool:
    # SQLITE_CORRUPT / SQLITE_NOTADB surface as DatabaseError; "locked", "readonly",
    # "unable to open" and I/O errors are its subclass OperationalError: not corruption.
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)


def _discard_and_warn(cache: ProbeCache, exc: BaseException, recheck: bool) -> bool:
    """Delete a corrupt database (under the folder's lock, once even when two runs find it)."""
    with _folder_lock(cache.folder):
        if recheck and _healthy(cache.db_path):
            return True  # another run rebuilt it while we waited for the lock
        try:
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(f"{cache.db_path}{suffix}")
                except FileNotFoundError:
                    pass
        except OSError as err:
            warn(f"probe cache {cache.db_path} is corrupt ({exc}) and cannot be removed "
                 f"({err.strerror or err}); continuing without it")
            return False
    warn(f"probe cache {cache.db_path} was corrupt ({exc}); discarded, it will be rebuilt")
    return True


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: SQLite's own locking is all we get
        yield
        return
    try:
        handle = open(folder / LOCK_NAME, "a+b")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _prepare_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("CACHEDIR.TAG", CACHEDIR_TAG), (".gitignore", "*\n")):
        try:
            with open(folder / name, "x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            pass


def _info(values: list) -> VideoInfo:
    # The dataclass __init__ sets 19 frozen fields one object.__setattr__ at a time: filling
    # __dict__ directly halves the cost of a warm run's 10,000 VideoInfos (same objects:
    # _FIELDS is part of the probe version, so a row always has every field, in order).
    info = object.__new__(VideoInfo)
    info.__dict__.update(zip(_FIELDS, values))
    return info


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
