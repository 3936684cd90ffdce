"""Where rewritten clips' originals go, and the journal that makes a killed run recoverable.

Each fix run that rewrites media gets `<data_root>/.cogvid-lint/backup/<run-id>/`, holding
the originals at their relative paths and `journal.jsonl`, one JSON object per line and per
step of each clip (appended and fsynced before the step's effect):

  start     {temp, original: {size, sha256}}  before the temp file is created
  verified  {output: {size, sha256}}          the temp file is complete, fsynced, re-probed
  replaced                                     the original is in the backup, the fix at its path
  abandoned / restored                         the temp was removed / `undo` put the original back

The original is hard-linked into the backup before the temp file is renamed over it, so at
every moment the clip's path holds either the original or the verified fix (never nothing),
and the backup is a second name of the original's bytes, not a copy.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

from cogvid_lint.discover.dataset import BACKUP_DIR
from cogvid_lint.hashing import digest_file
from cogvid_lint.fsutil import TEMP_PREFIX, fsync_dir
from cogvid_lint.store import write_folder_tags

JOURNAL = "journal.jsonl"
TEMP_SUFFIX = ".part"  # not a video suffix: no layout ever lists a temp file as a clip


def backup_base(data_root: Path) -> Path:
    return data_root / BACKUP_DIR / "backup"


def new_run_id() -> str:
    """UTC time to the microsecond, then the pid: sorts by start time, unique per process."""
    now = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z-{os.getpid()}"


def temp_path(clip: Path, run_id: str) -> Path:
    return clip.parent / f"{TEMP_PREFIX}{clip.name}.{run_id}{TEMP_SUFFIX}"


def list_runs(data_root: Path) -> list[str]:
    base = backup_base(data_root)
    try:
        return sorted(entry.name for entry in os.scandir(base)
                      if entry.is_dir(follow_symlinks=False) and (Path(entry.path) / JOURNAL).is_file())
    except OSError:
        return []


def file_digest(path: Path) -> dict:
    """What a journal records of a file (sha256: journals written before keep meaning it)."""
    size, hexdigest = digest_file(path, "sha256")
    return {"size": size, "sha256": hexdigest}


def same_content(path: Path, recorded: dict | None) -> bool:
    if not recorded:
        return False
    try:
        if path.stat().st_size != recorded["size"]:
            return False
        return file_digest(path)["sha256"] == recorded["sha256"]
    except OSError:
        return False


class Journal:
    """The journal of one run in one data root; `append` is durable when it returns."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / JOURNAL
        self._handle = None

    def hold(self) -> None:
        """Open for appending and keep an exclusive lock while this run lives: another run's
        recovery leaves a journal in use alone. The kernel drops the lock when the process
        dies, even by SIGKILL."""
        import fcntl

        self._handle = open(self.path, "a", encoding="utf-8")
        fcntl.flock(self._handle, fcntl.LOCK_EX)
        fsync_dir(self.folder)

    def try_hold(self) -> bool:
        """`hold` unless another live process holds the journal."""
        import fcntl

        handle = open(self.path, "a", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the lock
            self._handle = None

    def append(self, rel: str, state: str, **data) -> None:
        # led by a newline: a line torn by a kill mid-append stays alone on its line (skipped)
        line = "\n" + json.dumps({"path": rel, "state": state, **data}, sort_keys=True)
        handle = self._handle or open(self.path, "a", encoding="utf-8")
        try:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            if handle is not self._handle:
                handle.close()

    def entries(self) -> dict[str, dict]:
        """The latest state of each clip, with the data of every earlier step merged in.

        A torn last line (killed while appending) is skipped: its step had not happened yet."""
        merged: dict[str, dict] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return merged
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("path"), str):
                merged.setdefault(record["path"], {}).update(record)
        return merged

    def backup_of(self, rel: str) -> Path:
        return self.folder / rel


def make_run_folder(data_root: Path, run_id: str) -> Path:
    """Create the run's folder; refuse a `.cogvid-lint` or `backup` that is a symlink (it could
    lead the originals out of the data root). `.cogvid-lint/` gets its own `.gitignore` and
    `CACHEDIR.TAG`, as the store's folder does: a data root inside a repository must not put
    megabytes of originals and journals into `git status` (data roots are often committed in
    part: the lists, the captions)."""
    here = data_root
    for part in (BACKUP_DIR, "backup", run_id):
        here = here / part
        if here.is_symlink():
            raise OSError(errno.ELOOP, f"{here} is a symlink (refusing to write through it)")
        here.mkdir(exist_ok=True)
        if part == BACKUP_DIR:
            write_folder_tags(here)
    return here


def place_backup(original: Path, backup: Path) -> None:
    """Give the original a second name in the backup (hard link), or copy it where links are
    impossible (another filesystem, a filesystem without links); durable when it returns."""
    backup.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(backup):
        os.unlink(backup)  # a link or a partial copy from a killed attempt at this same clip
    try:
        os.link(original, backup, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EACCES):
            raise
        part = backup.with_name(backup.name + TEMP_SUFFIX)
        shutil.copy2(original, part)
        with open(part, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(part, backup)
    fsync_dir(backup.parent)


def put_back(backup: Path, target: Path) -> None:
    """Move a backed-up original to `target`, atomically: `target` holds a whole file throughout."""
    try:
        os.replace(backup, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        part = target.with_name(f"{TEMP_PREFIX}{target.name}.restore{TEMP_SUFFIX}")
        shutil.copy2(backup, part)
        with open(part, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(part, target)
        os.unlink(backup)
        fsync_dir(backup.parent)
    fsync_dir(target.parent)


def space_problem(clip: Path, backup_folder: Path, temp_bytes: int) -> str | None:
    """Why the disk cannot take the temp file plus the backup, or None.

    The backup is a hard link (no bytes) when it is on the clip's filesystem, else a copy."""
    try:
        copies = os.stat(clip.parent).st_dev != os.stat(backup_folder).st_dev
        need_here = temp_bytes
        free_here = shutil.disk_usage(clip.parent).free
        if copies:
            need_there, free_there = clip.stat().st_size, shutil.disk_usage(backup_folder).free
            if free_there < need_there:
                return (f"not enough free disk for the backup: {_mb(need_there)} needed, "
                        f"{_mb(free_there)} free in {shown(backup_folder)}")
    except OSError as exc:
        return f"cannot check free disk: {exc.strerror or exc}"
    if free_here < need_here:
        return (f"not enough free disk for the re-encoded copy: about {_mb(need_here)} needed, "
                f"{_mb(free_here)} free in {shown(clip.parent)}")
    return None


def shown(path: Path) -> str:
    """`path` as a note shows it: relative to the current folder when under it."""
    rel = os.path.relpath(path)
    return Path(path if rel.startswith("..") else rel).as_posix()


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
