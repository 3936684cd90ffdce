"""User rules: declarative comparisons over the facts the probe already has. No eval, no code.

A rule's `when:` is a list of conditions that must all hold, e.g.
`[{field: duration_s, op: ">", param: max_seconds}]`; its message and hint may name the
fields its conditions compare and its parameters. Regular expressions (`matches`) are
refused when they could backtrack catastrophically, and run on bounded input.
"""

from __future__ import annotations

import operator
import re
from dataclasses import fields
from typing import Any, Callable, Iterator

from cogvid_lint.catalogue import Condition, RuleSpec
from cogvid_lint.checks.common import clip_finding
from cogvid_lint.discover.project import Clip
from cogvid_lint.findings import Finding
from cogvid_lint.probe.info import VideoInfo
from cogvid_lint.registry import RuleContext, declare_args

DERIVED = {
    "aspect": lambda info: (info.width / info.height) if info.height else None,
    "pixels": lambda info: info.width * info.height,
}
FIELDS = sorted({f.name for f in fields(VideoInfo)} | set(DERIVED))

_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}
MAX_PATTERN = 200
MAX_SUBJECT = 4096
# A quantified group that itself contains a quantifier — `(a+)+`, `(\w*)*`, `(a|aa)+` —
# is the shape of catastrophic backtracking; such patterns are refused.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,?\d*\}|\|)(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,\d*\})")


def compile_pattern(pattern: Any) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ValueError(f"'matches' needs a string pattern, got {pattern!r}")
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"pattern longer than {MAX_PATTERN} characters")
    if _NESTED_QUANTIFIER.search(pattern):
        raise ValueError(f"pattern {pattern!r} nests quantifiers and could backtrack catastrophically")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


def condition_check(rule: RuleSpec) -> Callable[[Clip, RuleContext], Iterator[Finding]]:
    """Build the check function for a user rule (validated now, so errors surface as config errors)."""
    if rule.target != "video":
        raise ValueError("user rules with conditions must have target: video")
    for cond in rule.when:
        if cond.field not in FIELDS:
            import difflib

            close = difflib.get_close_matches(cond.field, FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown field {cond.field!r}{hint}; known: {', '.join(FIELDS)}")
        if cond.op == "matches" and cond.value is not None:
            compile_pattern(cond.value)
        if cond.op == "matches" and cond.param is not None:
            compile_pattern(rule.params[cond.param].default)

    def run(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
        info = clip.info
        if info is None or info.error is not None:
            return
        values = {}
        for cond in rule.when:
            value = DERIVED[cond.field](info) if cond.field in DERIVED else getattr(info, cond.field)
            expected = ctx.params[cond.param] if cond.param is not None else cond.value
            if value is None or not _holds(cond, value, expected):
                return
            values[cond.field] = round(value, 3) if isinstance(value, float) else value
        yield clip_finding(clip, values)

    # a finding exists only when every condition held, so each condition's field is filled
    return declare_args(run, filled_fields(rule))


def filled_fields(rule: RuleSpec) -> frozenset[str]:
    """The message arguments of a rule with conditions: the value of each field it compares."""
    return frozenset(cond.field for cond in rule.when)


def _holds(cond: Condition, value: Any, expected: Any) -> bool:
    try:
        if cond.op in _ORDERING:
            return bool(_ORDERING[cond.op](value, expected))
        if cond.op == "in":
            return value in expected
        if cond.op == "not-in":
            return value not in expected
        return compile_pattern(expected).search(str(value)[:MAX_SUBJECT]) is not None
    except (TypeError, ValueError):
        return False
