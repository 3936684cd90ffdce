"""The cache's storage: one SQLite file of (path, size, mtime_ns, inode, version) -> text tables.

SQLite in WAL mode with a busy timeout lets two runs (a pre-commit hook and an editor,
say) share the file. The cache is an optimisation, never a reason to fail: a corrupt
database is discarded and rebuilt with a one-line warning; a cache that cannot be opened
or written (read-only folder, lock held too long) is skipped with a warning.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

DB_NAME = "probes.sqlite"
LOCK_NAME = "lock"
SCHEMA = 3
TABLES = ("probes", "digests", "python_facts")  # python_facts: the code rules' (python/fact_cache.py)
BUSY_TIMEOUT_MS = 15_000
# Below SQLite's default limit of host parameters (32766 since 3.32; 999 before).
_IN_CHUNK = 900
CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by cogvid-lint.\n"
                "# For information about cache directory tags see https://bford.info/cachedir/\n")
# Every file `cache clean` may delete: nothing else in a user-chosen --cache-dir is touched.
OWN_FILES = (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", LOCK_NAME, "CACHEDIR.TAG", ".gitignore")


class StatKey(NamedTuple):
    """What must be unchanged for a cached answer to stand: the file's identity and age."""

    path: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: str, st: os.stat_result) -> StatKey:
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino)


def warn(message: str) -> None:
    from cogvid_lint.run_memo import spoil

    spoil("a cache warning")  # true of this run, not of the next: not replayed
    print(f"cogvid-lint: warning: {message}", file=sys.stderr)


# Cache folders this process found unusable (warned once): later opens give up quietly.
_UNUSABLE: set[Path] = set()


class CacheDB:
    """One cache database; `open()` it first. Every method degrades to a miss."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.db_path = folder / DB_NAME
        self.conn: sqlite3.Connection | None = None

    def open(self) -> bool:
        """Create or open the database; False when it cannot be used: with a warning the
        first time, silently after that (one run opens it for probes, digests and code facts)."""
        folder = self.folder
        if folder in _UNUSABLE:
            return False
        try:
            _prepare_folder(folder)
        except OSError as exc:
            warn(f"cannot create the probe cache in {folder} ({exc.strerror or exc}); continuing without it")
            _UNUSABLE.add(folder)
            return False
        for attempt in ("open", "open after rebuilding"):
            try:
                self.conn = _connect(self.db_path)
                return True
            except sqlite3.Error as exc:
                self.close()
                if attempt != "open" or not _is_corrupt(exc):
                    warn(f"probe cache {self.db_path}: cannot {attempt} ({exc}); continuing without it")
                    _UNUSABLE.add(folder)
                    return False
                if not _discard_and_warn(self, exc, recheck=True):
                    return False
        return False

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
        """Corruption found mid-run: discard the file (the next open builds a new one);
        anything else (locked too long, disk full): do without the cache."""
        self.close()
        if _is_corrupt(exc) or not isinstance(exc, sqlite3.Error):
            _discard_and_warn(self, exc, recheck=isinstance(exc, sqlite3.Error))
            return
        warn(f"probe cache {self.db_path}: cannot {doing} ({exc}); continuing without it")


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


def _discard_and_warn(cache: CacheDB, exc: BaseException, recheck: bool) -> bool:
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


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
