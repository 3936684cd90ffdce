"""The filter stage: per-path-ignores and inline suppressions in Python files.

Inline forms: `# noqa` (bare: every code), `# noqa: CVL401, CVL402`, and
`# cogvid-lint: ignore[CVL401]` on the reported line; `# cogvid-lint: skip-file` anywhere
in a file's comments drops every finding in it.
"""

from __future__ import annotations

import fnmatch
import io
import re
import tokenize
from pathlib import Path
from typing import Iterable, Sequence

from cogvid_lint.findings import Diagnostic
from cogvid_lint.settings import Settings

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*cogvid-lint:\s*ignore\[(?P<codes>[^\]]*)\]")
_SKIP_FILE = re.compile(r"#\s*cogvid-lint:\s*skip-file\b")
ALL = frozenset({"*"})


def apply_filters(diagnostics: Iterable[Diagnostic], settings: Settings) -> list[Diagnostic]:
    kept = []
    rules = settings.per_path_ignores
    comments: dict[str, tuple[bool, dict[int, frozenset[str]]]] = {}  # this pass's reads, by file
    for diagnostic in diagnostics:
        if rules and _path_ignored(diagnostic, rules):
            continue
        path = diagnostic.location.path
        # str(path) first: a re-lint's findings are mostly about clips, and Path.suffix costs more
        if str(path).endswith((".py", ".pyi")) and path.suffix in (".py", ".pyi") and _inline_suppressed(diagnostic, comments):
            continue
        kept.append(diagnostic)
    return kept


def _path_ignored(diagnostic: Diagnostic, rules: Sequence[tuple[str, tuple[str, ...]]]) -> bool:
    paths = [diagnostic.location.path] + ([diagnostic.anchor.path] if diagnostic.anchor else [])
    for pattern, codes in rules:
        if not any(_code_matches(diagnostic, code) for code in codes):
            continue
        if any(fnmatch.fnmatch(str(path), pattern) or fnmatch.fnmatch(str(path), pattern.rstrip("/") + "/*")
               for path in paths):
            return True
    return False


def _code_matches(diagnostic: Diagnostic, selector: str) -> bool:
    return selector in ("ALL", "*", diagnostic.name) or diagnostic.code.startswith(selector.upper())


def _inline_suppressed(diagnostic: Diagnostic, comments: dict) -> bool:
    path = str(diagnostic.location.path)
    if path not in comments:
        comments[path] = file_suppressions(path)
    skip_file, by_line = comments[path]
    if skip_file:
        return True
    codes = by_line.get(diagnostic.location.line or 0)
    return codes is not None and (codes == ALL or diagnostic.code in codes)


def file_suppressions(path: str) -> tuple[bool, dict[int, frozenset[str]]]:
    """(skip-file?, line -> suppressed codes) from the file's real comments (tokenize, so a
    `# noqa` inside a string does not count). Read once per filter pass (apply_filters):
    `--fix` lints again after editing files, and sees the edits."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False, {}
    if b"noqa" not in data and b"cogvid-lint" not in data:
        return False, {}
    by_line: dict[int, frozenset[str]] = {}
    skip = False
    try:
        tokens = list(tokenize.tokenize(io.BytesIO(data).readline))
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        return False, {}
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        if _SKIP_FILE.search(token.string):
            skip = True
        codes: frozenset[str] | None = None
        if (match := _IGNORE.search(token.string)) is not None:
            codes = frozenset(c.strip().upper() for c in match.group("codes").split(",") if c.strip())
        elif (match := _NOQA.search(token.string)) is not None:
            named = match.group("codes")
            codes = ALL if named is None else frozenset(re.split(r"[\s,]+", named.strip().upper()))
        if codes is not None:
            line = token.start[0]
            by_line[line] = ALL if ALL in (codes, by_line.get(line)) else codes | by_line.get(line, frozenset())
    return skip, by_line
