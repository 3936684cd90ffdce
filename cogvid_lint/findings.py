"""The values that flow from checks to reporters and fixers.

A check yields `Finding`s (where, message arguments, an optional `Fix`); the engine
stamps each with its rule's code, name and severity into a `Diagnostic`. Both are
frozen: reporters only format them and fixers only apply their operations.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Union


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Applicability(str, enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Location:
    """Where a finding points. `path` is absolute; line/column are 1-based."""

    path: Path
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class TextEdit:
    """Replace the characters [start, end) of a text file (offsets into the decoded text)."""

    path: Path
    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class DeleteFile:
    """Delete one file; `root` is the folder it must stay inside (never followed out of)."""

    path: Path
    root: Path


@dataclass(frozen=True)
class RewriteMedia:
    """Re-encode a clip in place (crop/resize/rotate/retime); described by `plan`."""

    path: Path
    root: Path
    plan: Mapping[str, Any]


Operation = Union[TextEdit, DeleteFile, RewriteMedia]


@dataclass(frozen=True)
class Fix:
    title: str
    applicability: Applicability
    operations: tuple[Operation, ...] = ()


@dataclass(frozen=True)
class Finding:
    """What a check reports: the location, the message arguments and maybe a fix.

    `anchor` is the manifest line that lists the subject (a clip's `videos.txt` line), so
    CI formats can point at a tracked file. `fingerprint` identifies what the finding is
    about independent of line numbers (used by baselines).
    """

    location: Location
    args: Mapping[str, Any] = field(default_factory=dict)
    fix: Fix | None = None
    anchor: Location | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class Diagnostic:
    """A finding stamped by the engine with its rule's identity and rendered message."""

    code: str
    name: str
    severity: Severity
    message: str
    location: Location
    fix: Fix | None = None
    anchor: Location | None = None
    fingerprint: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict, compare=False)
    hint: str = field(default="", compare=False)  # the rule's hint, with the message's values

    @property
    def sort_key(self) -> tuple:
        loc = self.location
        return (str(loc.path), loc.line or 0, loc.column or 0, self.code, self.message)
