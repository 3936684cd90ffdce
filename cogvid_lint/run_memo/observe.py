"""What a run looked at on disk, recorded as it looks: the inputs of a remembered run.

A run of cogvid-lint is a function of its command line, its environment and what it reads
from the file system. Rather than list those files by hand (and miss one, which would
make a remembered report silently stale), every look is recorded where it happens: while
an `Observations` is active, `os.stat`, `os.lstat`, `os.readlink`, `os.listdir` and
`os.scandir` (and through them `os.path`, `pathlib` and `os.walk`) note what they
answered, and an audit hook notes every file opened for reading. A replay asks the same
questions again (replay.py); one different answer and the run is done afresh.

Readers in C (PyAV on clips, SQLite on our own caches, safetensors on latents) are covered
the same way the probe cache covers them: the files they read were found and stat'ed in
Python first, and a file whose (mode, device, inode, size, mtime, ctime) is unchanged is
taken as unchanged. Forked probe workers record nothing (their clips were stat'ed here).
"""

from __future__ import annotations

import os
import stat as stat_mod
import sys
from contextlib import contextmanager
from typing import Any, Iterator

# Kinds of directory entries in a recorded listing: what d_type tells without a stat.
_LINK, _DIR, _FILE, _OTHER = "l", "d", "f", "o"
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_stat, _lstat, _readlink, _listdir, _scandir = os.stat, os.lstat, os.readlink, os.listdir, os.scandir


def fingerprint(st: os.stat_result) -> tuple[int, ...]:
    """What must not change: a folder's identity (its entries are listed separately when
    they matter), a file's identity, size and both times (ctime: a rewrite that restores
    the mtime, a chmod)."""
    mode = st.st_mode
    if stat_mod.S_ISDIR(mode):
        return (mode, st.st_dev, st.st_ino)
    return (mode, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def answer(look, path: str) -> tuple[int, ...] | int:
    """look(path)'s fingerprint, or the errno it failed with (-1: not a valid path)."""
    try:
        return fingerprint(look(path))
    except OSError as exc:
        return exc.errno or 0
    except ValueError:
        return -1


def entry_kind(entry: os.DirEntry) -> str:
    if entry.is_symlink():
        return _LINK
    if entry.is_dir(follow_symlinks=False):
        return _DIR
    return _FILE if entry.is_file(follow_symlinks=False) else _OTHER


def listing(path: str) -> list[tuple[str, str]] | int:
    """A folder's entries as (name, kind), sorted; or the errno listing it failed with."""
    try:
        with _scandir(path) as entries:  # names as text: a folder given as bytes lists bytes
            return sorted((os.fsdecode(e.name), entry_kind(e)) for e in entries)
    except OSError as exc:
        return exc.errno or 0


class Observations:
    """Every question a run asked of the file system, with the first answer it got."""

    def __init__(self, ignored: tuple[str, ...] = ()):
        self.stat: dict[str, Any] = {}  # path -> answer(os.stat)   (also: files opened for reading)
        self.lstat: dict[str, Any] = {}  # path -> answer(os.lstat)
        self.readlink: dict[str, str | int] = {}  # path -> target or errno
        self.listing: dict[str, Any] = {}  # folder -> listing()
        self.outputs: list[tuple[str, str]] = []  # (path, text) of each -o report written
        self.spoiled: str | None = None  # why this run must not be remembered
        self._ignored = ignored  # our own caches: derived data, never an input

    def spoil(self, reason: str) -> None:
        self.spoiled = self.spoiled or reason

    def _path(self, path: Any, dir_fd: Any = None) -> str | None:
        """The path as a string to ask again later; None for what needs no record (an
        open file descriptor, our own caches)."""
        if isinstance(path, int):
            return None  # fstat and friends: the file was found by a path recorded then
        if dir_fd is not None:
            self.spoil("a look relative to a folder descriptor")
            return None
        try:
            text = os.fsdecode(os.fspath(path))
        except TypeError:
            return None
        if self._ignored and text.startswith(self._ignored):
            return None
        return text

    def note(self, table: dict, path: Any, value: Any, dir_fd: Any = None) -> None:
        key = self._path(path, dir_fd)
        if key is not None and key not in table:
            table[key] = value


_active: Observations | None = None
_installed = False


@contextmanager
def observing(observations: Observations) -> Iterator[Observations]:
    """Record into `observations` meanwhile (one recording at a time, this process only)."""
    global _active
    _install()
    previous, _active = _active, observations
    try:
        yield observations
    finally:
        _active = previous


@contextmanager
def unobserved() -> Iterator[None]:
    """Our own writes (the -o report file): what they stat is an output, not an input."""
    global _active
    previous, _active = _active, None
    try:
        yield
    finally:
        _active = previous


def active() -> Observations | None:
    return _active


def _install() -> None:
    """Wrap the os functions once per process; they only record while a recording is on."""
    global _installed
    if _installed:
        return
    _installed = True

    def stat(path, *, dir_fd=None, follow_symlinks=True):
        obs = _active
        if obs is None:
            return _stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)
        table = obs.stat if follow_symlinks else obs.lstat
        try:
            st = _stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)
        except (OSError, ValueError) as exc:
            obs.note(table, path, getattr(exc, "errno", None) or (0 if isinstance(exc, OSError) else -1), dir_fd)
            raise
        obs.note(table, path, fingerprint(st), dir_fd)
        return st

    def lstat(path, *, dir_fd=None):
        return stat(path, dir_fd=dir_fd, follow_symlinks=False)

    def readlink(path, *, dir_fd=None):
        obs = _active
        if obs is None:
            return _readlink(path, dir_fd=dir_fd)
        try:
            target = _readlink(path, dir_fd=dir_fd)
        except OSError as exc:
            obs.note(obs.readlink, path, exc.errno or 0, dir_fd)
            raise
        obs.note(obs.readlink, path, os.fsdecode(target), dir_fd)
        return target

    def listdir(path="."):
        obs = _active
        if obs is not None and not isinstance(path, int):
            obs.note(obs.listing, path, listing(path))
        return _listdir(path)

    def scandir(path="."):
        obs = _active
        if obs is None or isinstance(path, int):
            return _scandir(path)
        obs.note(obs.listing, path, listing(path))
        return _Scandir(_scandir(path), obs)

    os.stat, os.lstat, os.readlink, os.listdir, os.scandir = stat, lstat, readlink, listdir, scandir
    sys.addaudithook(_on_audit)
    if hasattr(os, "register_at_fork"):  # a forked probe worker's looks are not this run's record
        os.register_at_fork(after_in_child=_forget_in_child)


def _forget_in_child() -> None:
    global _active
    _active = None


def _on_audit(event: str, args: tuple) -> None:
    if event != "open":
        return
    obs = _active
    if obs is None:
        return
    path, mode, flags = args
    if path is None or isinstance(path, int):
        return
    writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
    if not writing:  # writes are outputs (caches, -o); what is read is an input
        key = obs._path(path)
        if key is not None and key not in obs.stat:
            obs.stat[key] = answer(_stat, key)


class _Scandir:
    """os.scandir's iterator, handing out entries that record the looks that can tell more
    than the listing did (a stat, or where a symlink leads)."""

    def __init__(self, it, obs: Observations):
        self._it, self._obs = it, obs

    def __iter__(self):
        return self

    def __next__(self):
        return _Entry(next(self._it), self._obs)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._it.close()

    def close(self) -> None:
        self._it.close()


class _Entry:
    __slots__ = ("_entry", "_obs", "name", "path")

    def __init__(self, entry: os.DirEntry, obs: Observations):
        self._entry, self._obs, self.name, self.path = entry, obs, entry.name, entry.path

    def __fspath__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"<DirEntry {self.name!r}>"

    def is_symlink(self) -> bool:
        return self._entry.is_symlink()  # in the listing

    def is_junction(self) -> bool:  # Python 3.12's DirEntry has it (always False off Windows)
        return getattr(self._entry, "is_junction", lambda: False)()

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        self._follows(follow_symlinks)
        return self._entry.is_dir(follow_symlinks=follow_symlinks)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        self._follows(follow_symlinks)
        return self._entry.is_file(follow_symlinks=follow_symlinks)

    def inode(self) -> int:
        self._obs.note(self._obs.lstat, self.path, answer(_lstat, self.path))
        return self._entry.inode()

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        table = self._obs.stat if follow_symlinks else self._obs.lstat
        look = _stat if follow_symlinks else _lstat
        self._obs.note(table, self.path, answer(look, self.path))
        return self._entry.stat(follow_symlinks=follow_symlinks)

    def _follows(self, follow_symlinks: bool) -> None:
        # Past a symlink the listing's kind says nothing: where it leads is a look of its own.
        if follow_symlinks and self._entry.is_symlink():
            self._obs.note(self._obs.stat, self.path, answer(_stat, self.path))
