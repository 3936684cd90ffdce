"""The filter stage: per-path-ignores and inline suppressions in Python files.

Inline forms: `# noqa` (bare: every code), `# noqa: CVL401, CVL402`, and
`# cogvid-lint: ignore[CVL401]` on the reported line; `# cogvid-lint: skip-file` anywhere
in a file's comments drops every finding in it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import re
import tokenize
from pathlib import Path
from typing import Iterable, Sequence

from cogvid_lint.findings import Diagnostic
from cogvid_lint.settings import Settings
from cogvid_lint.store import StatKey, Store

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*cogvid-lint:\s*ignore\[(?P<codes>[^\]]*)\]")
_SKIP_FILE = re.compile(r"#\s*cogvid-lint:\s*skip-file\b")
ALL = frozenset({"*"})


def apply_filters(diagnostics: Iterable[Diagnostic], settings: Settings, store: Store | None = None) -> list[Diagnostic]:
    """The findings no per-path ignore or inline suppression drops. Each Python file's
    suppressions are a fact derived from it: from `store` while the file is unchanged."""
    rules = settings.per_path_ignores
    candidates = []
    for diagnostic in diagnostics:
        if rules and _path_ignored(diagnostic, rules):
            continue
        candidates.append(diagnostic)
    # str(path) first: a re-lint's findings are mostly about clips, and Path.suffix costs more
    python = {str(d.location.path) for d in candidates
              if str(d.location.path).endswith((".py", ".pyi")) and d.location.path.suffix in (".py", ".pyi")}
    if not python:
        return candidates
    comments = _suppressions_of(sorted(python), store or Store(None))
    return [d for d in candidates if not _inline_suppressed(d, comments)]


KIND = "suppressions"
# Changes when what a file's comments are read as changes.
VERSION = hashlib.sha256("\0".join(p.pattern for p in (_NOQA, _IGNORE, _SKIP_FILE)).encode()).hexdigest()[:16]


def _suppressions_of(paths: list[str], store: Store) -> dict[str, tuple[bool, dict[int, frozenset[str]]]]:
    keys = {}
    for path in paths:
        try:
            keys[path] = StatKey.of(os.path.abspath(path), os.stat(path))
        except (OSError, ValueError):
            pass
    stored = store.lookup(KIND, VERSION, list(keys.values()))
    found: dict[str, tuple[bool, dict[int, frozenset[str]]]] = {}
    fresh = []
    for path in paths:
        key = keys.get(path)
        text = stored.get(key.path) if key is not None else None
        if text is not None:
            skip, lines = json.loads(text)
            found[path] = (skip, {int(line): frozenset(codes) for line, codes in lines.items()})
            continue
        found[path] = file_suppressions(path)
        if key is not None:
            skip, lines = found[path]
            fresh.append((key, json.dumps([skip, {line: sorted(codes) for line, codes in lines.items()}])))
    store.put(KIND, VERSION, fresh)
    return found


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
    found = comments.get(str(diagnostic.location.path))
    if found is None:
        return False
    skip_file, by_line = found
    if skip_file:
        return True
    codes = by_line.get(diagnostic.location.line or 0)
    return codes is not None and (codes == ALL or diagnostic.code in codes)


def file_suppressions(path: str) -> tuple[bool, dict[int, frozenset[str]]]:
    """(skip-file?, line -> suppressed codes) from the file's real comments (tokenize, so a
    `# noqa` inside a string does not count)."""
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
