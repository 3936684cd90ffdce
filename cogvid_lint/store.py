"""The project's store: one SQLite file of facts derived from files, by the file's stat key.

`.cogvid_lint_cache/store.sqlite` holds a table per kind of fact (probe facts of clips, content
digests, the code rules' per-file facts). Every row has one key scheme — the file's
(path, size, mtime_ns, inode) — one version scheme — a string naming how the value was
derived (a probe version, a digest algorithm, an analysis version) — and a checksum of its
value: a row whose key, version or checksum does not match is a miss, and a caller that
finds a row it cannot decode treats it as a miss too (re-derived and overwritten).

Named apart from the *latent cache* (what a trainer writes under its data root): this is
cogvid-lint's own. The store is an optimisation, never a reason to fail: SQLite in WAL mode
with a busy timeout lets two runs (a pre-commit hook and an editor) share the file; a
corrupt database is discarded and rebuilt; a store that cannot be opened or written
(read-only folder, lock held too long) is skipped. Each problem is said once, as a
warning the command prints (`Store.warnings`).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from cogvid_lint.settings import Settings

DIR_NAME = ".cogvid_lint_cache"
DB_NAME = "store.sqlite"
LOCK_NAME = "lock"
SCHEMA = 11  # 8: rows checksummed with CRC-32; 9: thumbnail strips; 10: remote list files; 11: remote_facts
# remote_lists: the list files of data roots in object storage, keyed by (URL, size,
# last-modified, ETag), so a warm run over a remote root makes no GET at all; remote_facts:
# what the cache rules read of a remote root's latent-cache files (headers), keyed alike
KINDS = ("probes", "digests", "python_facts", "suppressions", "content", "clean_clips", "thumbs", "remote_lists",
         "remote_facts")
BUSY_TIMEOUT_MS = 15_000
# Below SQLite's default limit of host parameters (32766 since 3.32; 999 before).
_IN_CHUNK = 900
CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by cogvid-lint.\n"
                "# For information about cache directory tags see https://bford.info/cachedir/\n")
# Every file `cache clean` may delete: nothing else in a user-chosen --cache-dir is touched.
# (probes.sqlite: the same store as written by cogvid-lint 0.x before it held every kind.)
_DB_FILES = tuple(name + suffix for name in (DB_NAME, "probes.sqlite") for suffix in ("", "-wal", "-shm"))
OWN_FILES = (*_DB_FILES, LOCK_NAME, "CACHEDIR.TAG", ".gitignore")


class StatKey(NamedTuple):
    """What must be unchanged for a stored fact to stand: the file's identity and age."""

    path: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: str, st: os.stat_result) -> StatKey:
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino)


def store_folder(settings: Settings) -> Path:
    """`--cache-dir` / config `cache-dir`, else `.cogvid_lint_cache/` at the project root."""
    chosen = settings.options.cache_dir
    return Path(chosen).expanduser().resolve() if chosen else settings.root / DIR_NAME


def checksum(version: str, value: str) -> int:
    """Of what a row says: a flipped bit in its value or version is a miss, not a wrong answer.
    CRC-32 is made for exactly that (it is not a guard against anyone forging a row, which
    a local file needs no more than the files it describes do), at a twentieth of a
    cryptographic hash's cost: a warm run checks a row per clip and kind."""
    return _value_checksum(_version_crc(version), value)


def _version_crc(version: str) -> int:
    return zlib.crc32(version.encode("utf-8", "surrogatepass") + b"\0")


def _value_checksum(version_crc: int, value: str) -> int:
    return zlib.crc32(value.encode("utf-8", "surrogatepass"), version_crc)


class Store:
    """The store of one run. `folder` None: no store (`--no-cache`): every lookup misses and
    nothing is written. The database is open only inside `lookup`/`put` (a forked probe
    worker must never inherit an SQLite connection)."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.db_path = folder / DB_NAME if folder is not None else None
        self.conn: sqlite3.Connection | None = None
        self.usable = folder is not None  # False once it failed (said once, in warnings)
        self.warnings: list[str] = []
        self.bad_rows: dict[str, int] = {}  # kind -> rows found undecodable (said once per kind)

    @classmethod
    def for_settings(cls, settings: Settings) -> Store:
        return cls(None if settings.options.no_cache else store_folder(settings))

    def exists(self) -> bool:
        return self.db_path is not None and self.db_path.exists()

    def lookup(self, kind: str, version: str | Mapping[str, str | tuple[str, ...]],
               keys: Sequence[StatKey]) -> dict[str, str]:
        """The stored value of each key whose stat key, version and checksum match, by path.
        `version`: one for every key, or per path one or a tuple of those that answer (content
        features: the frames a clip's trainer takes are part of what derived them, and a row
        of a fuller decode answers a job needing less)."""
        if not keys or not self._open():
            return {}
        try:
            return self._lookup(kind, version, keys)
        finally:
            self.close()

    def put(self, kind: str, version: str | Mapping[str, str], entries: Iterable[tuple[StatKey, str]]) -> None:
        versions = version if not isinstance(version, str) else None
        crcs: dict[str, int] = {}
        rows = []
        for key, text in entries:
            v = versions[key.path] if versions is not None else version
            crc = crcs.get(v)
            if crc is None:
                crc = crcs[v] = _version_crc(v)
            rows.append((os.fsencode(key.path), key.size, key.mtime_ns, key.inode, v, _value_checksum(crc, text), text))
        if not rows or not self._open():
            return
        try:
            with _transaction(self.conn, "BEGIN IMMEDIATE"):
                self.conn.executemany(f"INSERT OR REPLACE INTO {kind} VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            self._failed(exc, "write")
        finally:
            self.close()

    def undecodable(self, kind: str, count: int) -> None:
        """A caller found `count` rows of `kind` whose checksum held but whose value it cannot
        use (another build's layout, a hand edit): they were misses; said once per kind."""
        if not count:
            return
        if kind not in self.bad_rows:
            self.warn(f"probe cache {self.db_path}: {count} {kind} row{'s' if count != 1 else ''} could not be "
                      "read; derived again")
        self.bad_rows[kind] = self.bad_rows.get(kind, 0) + count

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def _open(self) -> bool:
        """Create or open the database; False when it cannot be used (warned the first time)."""
        if not self.usable:
            return False
        folder = self.folder
        assert folder is not None and self.db_path is not None
        try:
            _prepare_folder(folder)
        except OSError as exc:
            self.warn(f"cannot create the probe cache in {folder} ({exc.strerror or exc}); continuing without it")
            self.usable = False
            return False
        for attempt in ("open", "open after rebuilding"):
            try:
                self.conn = _connect(self.db_path)
                return True
            except sqlite3.Error as exc:
                self.close()
                if attempt != "open" or not _is_corrupt(exc):
                    self.warn(f"probe cache {self.db_path}: cannot {attempt} ({exc}); continuing without it")
                    self.usable = False
                    return False
                if not _discard_and_warn(self, exc, recheck=True):
                    self.usable = False
                    return False
        return False

    def _lookup(self, kind: str, version: str | Mapping[str, str | tuple[str, ...]],
                keys: Sequence[StatKey]) -> dict[str, str]:
        wanted = {os.fsencode(k.path): k for k in keys}
        found: dict[str, str] = {}
        damaged = 0
        versions = version if not isinstance(version, str) else None
        crcs: dict[str, int] = {}  # each version's part of the checksum, worked out once
        try:
            with _transaction(self.conn, "BEGIN"):
                for rows in self._rows_for(kind, version if versions is None else None, list(wanted)):
                    for path, size, mtime_ns, inode, check, text, stored in rows:
                        key = wanted.get(path)
                        if key is None or (key.size, key.mtime_ns, key.inode) != (size, mtime_ns, inode):
                            continue
                        want = version if versions is None else versions.get(key.path)
                        if stored != want and (type(want) is not tuple or stored not in want):
                            continue
                        crc = crcs.get(stored)
                        if crc is None:
                            crc = crcs[stored] = _version_crc(stored)
                        if type(text) is not str or check != _value_checksum(crc, text):
                            damaged += 1
                            continue
                        found[key.path] = text
        except sqlite3.Error as exc:
            self._failed(exc, "read")
            return {}
        self.undecodable(kind, damaged)
        return found

    def _rows_for(self, table: str, version: str | None, paths: list[bytes]) -> Iterator[Iterable[tuple]]:
        """The rows of `paths` (of `version`; any version when None), maybe more."""
        assert self.conn is not None
        columns = f"SELECT path, size, mtime_ns, inode, checksum, value, version FROM {table} WHERE "
        given: tuple = (version,) if version is not None else ()
        columns += "version = ?" if version is not None else "1"
        total = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if total <= 4 * len(paths):  # most rows are wanted: one scan is 10x faster than index probes
            yield self.conn.execute(columns, given)
            return
        for chunk in _chunks(paths, _IN_CHUNK):
            yield self.conn.execute(f"{columns} AND path IN ({','.join('?' * len(chunk))})", (*given, *chunk))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _failed(self, exc: sqlite3.Error, doing: str) -> None:
        """Corruption found mid-run: discard the file (the next open builds a new one);
        anything else (locked too long, disk full): do without the store."""
        self.close()
        if _is_corrupt(exc):
            _discard_and_warn(self, exc, recheck=True)
            return
        self.warn(f"probe cache {self.db_path}: cannot {doing} ({exc}); continuing without it")
        self.usable = False


def clean(folder: Path) -> list[Path]:
    """Delete the store's own files in `folder`, then the folder if that leaves it empty."""
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
        for kind in KINDS:
            conn.execute(f"DROP TABLE IF EXISTS {kind}")
            conn.execute(f"CREATE TABLE {kind} (path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                         " inode INTEGER, version TEXT, checksum INTEGER, value TEXT) WITHOUT ROWID")
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


def _discard_and_warn(store: Store, exc: BaseException, recheck: bool) -> bool:
    """Delete a corrupt database (under the folder's lock, once even when two runs find it)."""
    with _folder_lock(store.folder):
        if recheck and _healthy(store.db_path):
            return True  # another run rebuilt it while we waited for the lock
        try:
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(f"{store.db_path}{suffix}")
                except FileNotFoundError:
                    pass
        except OSError as err:
            store.warn(f"probe cache {store.db_path} is corrupt ({exc}) and cannot be removed "
                       f"({err.strerror or err}); continuing without it")
            return False
    store.warn(f"probe cache {store.db_path} was corrupt ({exc}); discarded, it will be rebuilt")
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
    write_folder_tags(folder)


def write_folder_tags(folder: Path) -> None:
    """Mark a folder cogvid-lint writes as its own: `.gitignore` (`*`: nothing in it is ever
    committed, the tag and the ignore file included) and `CACHEDIR.TAG` (backup and archive
    tools that honour the tag skip it). Written once; a user's edit of either is kept."""
    for name, text in (("CACHEDIR.TAG", CACHEDIR_TAG), (".gitignore", "*\n")):
        try:
            with open(folder / name, "x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            pass


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
