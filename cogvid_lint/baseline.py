"""Baselines: record today's findings, then report only the new ones.

A finding is keyed on (code, path relative to the project root, fingerprint) and never on
a line number, so inserting lines above a finding does not revive it. The fingerprint is
what the finding is about:

* the one a check gave (e.g. the import statement of CVL401);
* the stripped text of the reported line, for a text file (captions, Python code);
* `size + blake2b` of the content, for a clip or any other binary file (a re-encoded clip is
  a different clip, so its old entry stops matching);
* the message, otherwise (a missing file, a count over a whole list).

Keys form a multiset: three identical blank caption lines in the baseline excuse three, and
a fourth is new. The same keys feed the stable ids of the CI formats (SARIF
`partialFingerprints`, GitLab `fingerprint`): a clip or a cache file is binary or
git-ignored, so the uploaders cannot compute them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

from cogvid_lint.errors import ConfigError
from cogvid_lint.findings import Diagnostic
from cogvid_lint.fsutil import atomic_write_text
from cogvid_lint.hashing import CONTENT, digest_file
from cogvid_lint.remote.urls import is_remote, to_url

BASELINE_VERSION = 1
MEDIA_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".png", ".jpg", ".jpeg", ".webp",
                            ".safetensors", ".pt", ".pth", ".npy", ".npz"})
_SNIFF = 64 * 1024

Key = tuple[str, str, str]  # (code, project-relative path, fingerprint)


def relative_to_root(path: Path, root: Path) -> str:
    """`path` relative to the project root with `/` separators; absolute when outside it; an
    object in a store, its URL."""
    if is_remote(path):
        return to_url(path)
    path = Path(os.path.normpath(path))
    try:
        rel = path.relative_to(root)
    except ValueError:
        return path.as_posix()
    return rel.as_posix() if rel.parts else "."


def _digest(data: bytes, size: int = 8) -> str:
    return hashlib.blake2b(data, digest_size=size).hexdigest()


class _Files:
    """Reads each file at most once per run (many findings point into one caption file)."""

    def __init__(self) -> None:
        self._lines: dict[Path, list[str] | None] = {}
        self._content: dict[Path, str | None] = {}

    def lines(self, path: Path) -> list[str] | None:
        """The file's lines when it is text, None when it is binary or unreadable."""
        if path not in self._lines:
            self._lines[path] = None
            try:
                data = path.read_bytes()
                if path.suffix.lower() not in MEDIA_SUFFIXES and b"\0" not in data[:_SNIFF]:
                    self._lines[path] = data.decode("utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                pass
        return self._lines[path]

    def content(self, path: Path) -> str | None:
        """`file:<size>:<blake2b>` of a regular file, read in chunks (clips can be large)."""
        if path not in self._content:
            self._content[path] = None
            try:
                size, hexdigest = digest_file(path, CONTENT)
                self._content[path] = f"file:{size}:{hexdigest}"
            except OSError:
                pass
        return self._content[path]

    def is_binary(self, path: Path) -> bool:
        if path.suffix.lower() in MEDIA_SUFFIXES:
            return path.is_file()
        return path.is_file() and self.lines(path) is None


def fingerprint(diagnostic: Diagnostic, files: _Files | None = None) -> str:
    """What the finding is about, independent of line numbers (reads the file it names)."""
    if diagnostic.fingerprint:
        return diagnostic.fingerprint
    files = files or _Files()
    loc = diagnostic.location
    if loc.line is not None:
        lines = files.lines(loc.path)
        if lines is not None and 0 < loc.line <= len(lines):
            return "line:" + _digest(lines[loc.line - 1].strip().encode("utf-8"))
    if files.is_binary(loc.path):
        content = files.content(loc.path)
        if content is not None:
            return content
    return "message:" + _digest(diagnostic.message.encode("utf-8"))


def with_fingerprints(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics with `fingerprint` filled in (the only step here that reads files)."""
    files = _Files()
    return [d if d.fingerprint else replace(d, fingerprint=fingerprint(d, files)) for d in diagnostics]


def key(diagnostic: Diagnostic, root: Path) -> Key:
    fp = diagnostic.fingerprint or "message:" + _digest(diagnostic.message.encode("utf-8"))
    return diagnostic.code, relative_to_root(diagnostic.location.path, root), fp


def stable_ids(diagnostics: Sequence[Diagnostic], root: Path) -> list[str]:
    """One id per diagnostic, unique within the run and stable across line moves: the key
    plus how many earlier diagnostics share it."""
    seen: Counter[Key] = Counter()
    ids = []
    for diagnostic in diagnostics:
        k = key(diagnostic, root)
        ids.append(_digest("\0".join((*k, str(seen[k]))).encode("utf-8"), 16))
        seen[k] += 1
    return ids


@dataclass(frozen=True)
class BaselineOutcome:
    new: list[Diagnostic]  # findings the baseline does not excuse: reported, and they fail
    matched: int  # findings the baseline excused
    fixed: int  # baseline entries (of the rules and paths linted) that matched nothing


def write_baseline(path: Path, diagnostics: Sequence[Diagnostic], root: Path) -> int:
    """Record every diagnostic's key (plus its message, for the reader); atomic write."""
    rows = sorted(({"code": code, "path": rel, "fingerprint": fp, "message": d.message}
                   for d in diagnostics for code, rel, fp in [key(d, root)]),
                  key=lambda row: (row["path"], row["code"], row["fingerprint"], row["message"]))
    payload = {"version": BASELINE_VERSION, "tool": "cogvid-lint", "findings": rows}
    atomic_write_text(Path(path), json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return len(rows)


def load_baseline(path: Path) -> Counter[Key]:
    """The baseline's keys; ConfigError (exit 2, one line naming the file) when unusable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: baseline file not found (create it with --write-baseline)"]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read baseline: {exc.__class__.__name__}: {exc}"]) from None
    rows = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(rows, list) or data.get("version") != BASELINE_VERSION:
        raise ConfigError([f"{path}: not a cogvid-lint baseline (version {BASELINE_VERSION} with a 'findings' list)"])
    keys: Counter[Key] = Counter()
    for index, row in enumerate(rows):
        try:
            keys[(str(row["code"]), str(row["path"]), str(row["fingerprint"]))] += 1
        except (TypeError, KeyError) as exc:
            raise ConfigError([f"{path}: key 'findings.{index}': missing {exc}"]) from None
    return keys


def apply_baseline(diagnostics: Sequence[Diagnostic], baseline: Counter[Key], root: Path,
                   codes: Iterable[str] | None = None, scopes: Iterable[Path] = (),
                   unseen: Iterable[Path | str] = ()) -> BaselineOutcome:
    """Drop the findings the baseline excuses. An entry counts as fixed only when this run
    could have found it again: its rule ran (`codes`), its path lies under a linted path
    or dataset (`scopes`), and it is not a file this run could not look at (`unseen`: the
    git-ignored clips a CI checkout does not have); a run of one rule or one file does not
    call the rest fixed."""
    left = Counter(baseline)
    new = []
    for diagnostic in diagnostics:
        k = key(diagnostic, root)
        if left[k] > 0:
            left[k] -= 1
        else:
            new.append(diagnostic)
    active = set(codes) if codes is not None else None
    prefixes = [relative_to_root(scope, root) for scope in scopes]
    skipped = {relative_to_root(Path(path), root) for path in unseen}

    def in_scope(entry: Key) -> bool:
        code, rel, _ = entry
        if (active is not None and code not in active) or rel in skipped:
            return False
        return not prefixes or any(p == "." or rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes)

    fixed = sum(count for entry, count in left.items() if count > 0 and in_scope(entry))
    return BaselineOutcome(new=new, matched=len(diagnostics) - len(new), fixed=fixed)
