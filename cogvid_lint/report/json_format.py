"""`--output-format json`: exactly one JSON object (the shape is a contract)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any

from cogvid_lint.findings import Diagnostic
from cogvid_lint.gcpause import gc_paused
from cogvid_lint.report.result import RunResult


def diagnostic_dict(diagnostic: Diagnostic, result: RunResult) -> dict[str, Any]:
    loc = diagnostic.location
    fix = diagnostic.fix
    anchor = diagnostic.anchor
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "severity": diagnostic.severity.value,
        "path": result.relpath(loc.path),
        "line": loc.line,
        "column": loc.column,
        "message": diagnostic.message,
        "fix": None if fix is None else {"applicability": fix.applicability.value, "title": fix.title},
        # the list line that names a clip (its `videos.txt` line), as the full and CI formats show it
        "listed_at": None if anchor is None or anchor.path == loc.path
        else {"path": result.relpath(anchor.path), "line": anchor.line},
    }


@gc_paused()  # a dict per finding
def render(result: RunResult) -> str:
    payload = {
        "version": 1,
        "diagnostics": [diagnostic_dict(d, result) for d in result.diagnostics],
        "summary": result.counts(),
    }
    return dumps_indented(payload) + "\n"


def dumps_indented(value: Any, indent: str = "") -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`, the same text: with an indent the
    standard library encodes in pure Python (a re-lint with 10,000 findings: 0.1 s); this
    keeps its C string encoder for each value and builds the layout with joins."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = indent + "  "
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                return _slow(value, indent)  # json's key coercions (ints, floats, None): let it decide
            kind = type(item)  # the common leaves inline: eight a diagnostic, one call saved each
            text = (encode_basestring(item) if kind is str else "null" if item is None
                    else int.__repr__(item) if kind is int else dumps_indented(item, inner))
            items.append(f"{inner}{encode_basestring(key)}: {text}")
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + dumps_indented(item, inner) for item in value) + "\n" + indent + "]"
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    return _slow(value, indent)  # floats (nan, inf), tuples, subclasses: json's own rules


def _slow(value: Any, indent: str) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + indent)
