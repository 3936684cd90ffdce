"""What the CI formats (sarif, github, gitlab, junit) share: where a finding is shown.

CI systems annotate files of the repository. A clip is often git-ignored (datasets live
outside git or in LFS), so a finding about a listed clip is shown at its `anchor`, the
`videos.txt` line that lists it, and the clip's path moves into the message. Paths are
relative to the project root (settings.root), with `/` separators.
"""

from __future__ import annotations

from pathlib import Path

from cogvid_lint.baseline import relative_to_root, stable_ids
from cogvid_lint.findings import Diagnostic, Location
from cogvid_lint.report.result import RunResult


def root_of(result: RunResult) -> Path:
    return result.settings.root if result.settings is not None else result.cwd


def project_path(result: RunResult, path: Path) -> str:
    return relative_to_root(path, root_of(result))


def primary(diagnostic: Diagnostic) -> Location:
    """The tracked file a CI system should annotate: the listing line, else the finding's own place."""
    return diagnostic.anchor if diagnostic.anchor is not None else diagnostic.location


def message(result: RunResult, diagnostic: Diagnostic) -> str:
    """The message, prefixed with the finding's own path when it is shown somewhere else."""
    if diagnostic.anchor is not None and diagnostic.anchor.path != diagnostic.location.path:
        return f"{project_path(result, diagnostic.location.path)}: {diagnostic.message}"
    return diagnostic.message


def finding_ids(result: RunResult) -> list[str]:
    """Unique, line-independent ids (see cogvid_lint.baseline)."""
    return stable_ids(result.diagnostics, root_of(result))
