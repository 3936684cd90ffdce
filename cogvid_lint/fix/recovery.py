"""Settle what a killed fix run left, and put originals back (`cogvid-lint undo`).

A clip whose journal stops before `replaced` still has its original at its path (see
`backup`). The next `--fix` run *finishes* such a clip when its verified temp file is intact
(`finish=True`); `undo` *rolls it back* instead. Either way the temp file goes, and a backup
that is only a second name of the clip at its path is dropped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cogvid_lint.fix.backup import (Journal, backup_base, file_digest, list_runs, place_backup, put_back, same_content,
                                    shown)
from cogvid_lint.fsutil import fsync_dir

DONE = ("replaced", "abandoned", "restored")


def inside_relpath(rel: str) -> bool:
    """A journal's path must stay inside the data root (the journal is a file anyone can edit)."""
    norm = os.path.normpath(rel)
    return not os.path.isabs(norm) and norm != ".." and not norm.startswith(".." + os.sep)


def recover(data_roots, finish: bool) -> list[str]:
    """Settle every interrupted run under `data_roots`; return one note per settled clip."""
    notes: list[str] = []
    for root in data_roots:
        for run_id in list_runs(Path(root)):
            journal = Journal(backup_base(Path(root)) / run_id)
            if not journal.try_hold():
                continue  # a live run is writing it
            try:
                notes += settle_run(Path(root), journal, finish)
            finally:
                journal.release()
            prune_run(journal)
    return notes


def settle_run(root: Path, journal: Journal, finish: bool) -> list[str]:
    notes = []
    for rel, entry in sorted(journal.entries().items()):
        if entry.get("state") in DONE or not inside_relpath(rel):
            continue
        note = settle_clip(root, journal, rel, finish, entry)
        if note:
            notes.append(note)
    return notes


def settle_clip(root: Path, journal: Journal, rel: str, finish: bool, entry: dict | None = None) -> str | None:
    """Finish or roll back one clip whose journal stops before `replaced`."""
    entry = entry if entry is not None else journal.entries().get(rel, {})
    clip, backup = root / rel, journal.backup_of(rel)
    temp = root / entry["temp"] if isinstance(entry.get("temp"), str) and inside_relpath(entry["temp"]) else None
    original, output = entry.get("original"), entry.get("output")
    verified = entry.get("state") == "verified"
    if verified and (temp is None or not temp.exists()) and same_content(clip, output):
        # killed between the rename and its journal line: the fix is in place, the original backed up
        journal.append(rel, "replaced")
        return f"Found the interrupted rewrite of {rel} complete (original in {shown(backup)})."
    if finish and verified and temp is not None and same_content(clip, original) and same_content(temp, output):
        place_backup(clip, backup)
        os.replace(temp, clip)
        fsync_dir(clip.parent)
        journal.append(rel, "replaced")
        return f"Finished the interrupted rewrite of {rel} (original in {shown(backup)})."
    if temp is not None and temp.exists():
        os.unlink(temp)
        fsync_dir(temp.parent)
    if backup.is_file() and not backup.is_symlink() and _redundant(backup, clip):
        os.unlink(backup)
    journal.append(rel, "abandoned")
    return f"Rolled back the interrupted rewrite of {rel}: the original is in place."


def _redundant(backup: Path, clip: Path) -> bool:
    """The backup is another name of the file at the clip's path, or the same bytes."""
    try:
        if os.path.samefile(backup, clip):
            return True
        return file_digest(backup) == file_digest(clip)
    except OSError:
        return False  # the clip is gone: the backup may be the only copy left


def prune_run(journal: Journal) -> None:
    """Remove a run folder that backs up nothing (every clip abandoned or restored)."""
    if not journal.try_hold():
        return
    try:
        entries = journal.entries()
        if any(entry.get("state") not in ("abandoned", "restored") for entry in entries.values()):
            return
        files = [Path(folder) / name for folder, _, names in os.walk(journal.folder) for name in names]
        if any(path != journal.path for path in files):
            return  # a file we did not account for: keep it
        shutil.rmtree(journal.folder)
        fsync_dir(journal.folder.parent)
    finally:
        journal.release()


def undo_run(root: Path, run_id: str) -> tuple[list[str], list[str]]:
    """Put back the originals of one run in one data root: (restored lines, problem lines).

    A clip is restored only when its backup still holds the recorded original and its path
    holds the recorded fix (or nothing): a clip edited since the fix is left alone, and its
    backup kept. The restored clip's mtime is set to now: a latent cached from the fixed clip
    must look older than the clip, so the cache rules see it is stale.
    """
    journal = Journal(backup_base(root) / run_id)
    if not journal.try_hold():
        return [], [f"{journal.folder}: another cogvid-lint run is using this backup"]
    restored, problems = [], []
    try:
        settle_run(root, journal, finish=False)
        for rel, entry in sorted(journal.entries().items()):
            if entry.get("state") != "replaced":
                continue
            problem = _restore(root, journal, rel, entry) if inside_relpath(rel) else "path outside the data root"
            if problem:
                problems.append(f"{rel}: not restored: {problem}")
            else:
                restored.append(rel)
    finally:
        journal.release()
    prune_run(journal)
    return restored, problems


def _restore(root: Path, journal: Journal, rel: str, entry: dict) -> str | None:
    clip, backup = root / rel, journal.backup_of(rel)
    if not backup.is_file() or backup.is_symlink():
        if not clip.is_symlink() and same_content(clip, entry.get("original")):
            journal.append(rel, "restored")  # an undo killed after the move: the original is back
            return None
        return f"its backup {backup} is missing"
    if not same_content(backup, entry.get("original")):
        return f"its backup {backup} is not the recorded original (left as it is)"
    if clip.is_symlink() or not _within(clip.parent, root):
        return "its path is a symlink or leads outside the data root"
    if os.path.lexists(clip) and not same_content(clip, entry.get("output")):
        return f"it changed after the fix (the original stays in {backup})"
    clip.parent.mkdir(parents=True, exist_ok=True)
    put_back(backup, clip)
    os.utime(clip)
    journal.append(rel, "restored")
    return None


def _within(folder: Path, root: Path) -> bool:
    try:
        Path(os.path.realpath(folder)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False
