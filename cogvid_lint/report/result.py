"""What a run hands to a reporter."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from cogvid_lint.catalogue import RuleSpec
from cogvid_lint.findings import Diagnostic, Location, Severity
from cogvid_lint.fsutil import plain_path
from cogvid_lint.pictures import ClipPictures
from cogvid_lint.remote.urls import is_remote, to_url
from cogvid_lint.settings import DatasetSettings, Settings


@dataclass(frozen=True)
class RunResult:
    diagnostics: Sequence[Diagnostic]
    rules: Sequence[RuleSpec]  # the enabled rules (reporters take docs and summaries from them)
    settings: Settings | None = None
    datasets: Sequence[DatasetSettings] = ()  # resolved for this run (none: the code rules alone)
    cwd: Path = field(default_factory=Path.cwd)  # paths are shown relative to it (settings.display_root)
    fixed: int = 0
    notes: Sequence[str] = ()  # lines for the human formats: fixes applied, unsafe fixes available, ...
    color: bool = False
    width: int | None = None
    show_settings: bool = True
    statistics: bool = False
    quiet: bool = False  # the findings only: no tables, no summary line, no notes
    # For the HTML report (made upstream; reporters only format them): each clip finding's
    # thumbnail strip, by the finding's path (os.fspath), and each line finding's source
    # lines, by (path, line): ((line number, text), ...).
    pictures: Mapping[str, ClipPictures] = field(default_factory=dict)
    excerpts: Mapping[tuple[str, int], tuple[tuple[int, str], ...]] = field(default_factory=dict)
    clip_codes: frozenset[str] = frozenset()  # the rules whose findings are about a clip
    html_report: str | None = None  # where this run wrote its HTML report (the step summary names it)
    run_url: str | None = None  # the CI run's page, whose artifacts hold the report

    def rule(self, code: str) -> RuleSpec | None:
        for rule in self.rules:
            if rule.code == code:
                return rule
        return None

    def relpath(self, path: Path) -> str:
        """Relative to `cwd` when under it, always with `/` separators; a path elsewhere in
        the project (a data root the config names from a subfolder) is `../`-relative, and
        only a path outside the project (a dataset on another disk) stays absolute, and an
        object in a store is its URL."""
        if is_remote(path):
            return to_url(path)
        shown = _relpath(os.fspath(path), os.fspath(self.cwd))
        if self.settings is not None and os.path.isabs(shown):
            return _within_project(shown, os.fspath(self.cwd), os.fspath(self.settings.root))
        return shown

    def where(self, location: Location) -> str:
        text = self.relpath(location.path)
        if location.line is not None:
            text += f":{location.line}"
            if location.column is not None:
                text += f":{location.column}"
        return text

    def setting_rows(self) -> list[tuple[str, str, str, str]]:
        """(data root shown, setting, value, where it came from) of each dataset's settings."""
        from cogvid_lint.settings import DEFAULT

        out = []
        for ds in self.datasets:
            name = self.relpath(ds.data_root)
            rows = [("data_root", name), ("trainer", ds.trainer or "-"), ("layout", ds.layout),
                    ("model", ds.model), ("train_resolution", str(ds.resolution) if ds.resolution else "-"),
                    ("purpose", ds.purpose)]
            for column in ("caption_column", "video_column", "image_column", "id_token"):
                if getattr(ds, column):
                    rows.append((column, getattr(ds, column)))
            for key, value in rows:
                source = ds.sources.get(key, DEFAULT).shown(self.relpath)
                if key == "train_resolution" and ds.train_resolution is None:
                    source = f"default for {ds.model}"
                out.append((name, key, str(value), source))
        return out

    def counts(self) -> dict[str, int]:
        counts = {severity.value: 0 for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO)}
        for diagnostic in self.diagnostics:
            counts[diagnostic.severity.value] += 1
        return counts


@lru_cache(maxsize=1 << 16)  # a clip with findings from several rules is asked about each time
def _relpath(path: str, cwd: str) -> str:
    plain, plain_cwd = plain_path(path), plain_path(cwd)
    if plain is not None and plain_cwd is not None:
        # pathlib's answer (below) without building Paths: a re-lint's every finding asks
        path, cwd = plain, plain_cwd
        if path == cwd:
            return "."
        if cwd == "/":
            return path[1:]
        if path.startswith(cwd) and path[len(cwd)] == "/":
            return path[len(cwd) + 1:]
        return path
    try:
        rel = Path(path).relative_to(cwd)
        return rel.as_posix() if str(rel) != "." else "."
    except ValueError:
        return Path(os.path.normpath(path)).as_posix()


@lru_cache(maxsize=1 << 12)
def _within_project(path: str, cwd: str, root: str) -> str:
    try:
        inside = os.path.isabs(root) and all(os.path.commonpath([p, root]) == root for p in (path, cwd))
    except ValueError:  # another drive
        inside = False
    if inside:
        return Path(os.path.relpath(path, cwd)).as_posix()
    return path


# C0 and C1 controls and DEL (ESC starts a terminal's colour, title and cursor sequences),
# and the bidirectional overrides that make text read other than it runs.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` safe to show a person: every control character written as an escape (\\x1b,
    \\u202e), so a file name cannot drive the terminal or the log viewer it is shown in."""
    if _UNPRINTABLE.search(text) is None:
        return text
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)
