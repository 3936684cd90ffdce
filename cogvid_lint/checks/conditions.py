"""User rules: declarative comparisons over the facts the probe already has. No eval, no code.

A rule's `when:` is a list of conditions that must all hold, e.g.
`[{field: duration_s, op: ">", param: max_seconds}]`; its message and hint may name the
fields its conditions compare and its parameters. Regular expressions (`matches`) run
on RE2, which never backtracks: a match costs time linear in its (bounded) input whatever
the pattern, so no pattern has to be guessed dangerous. RE2 has no backreferences nor
lookaround; such a pattern is a config error.
"""

from __future__ import annotations

import operator
from dataclasses import fields
from typing import Any, Callable, Iterator

from cogvid_lint.bounded import short
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
_MAX_PROGRAM_BYTES = 1 << 20  # RE2's memory for one compiled pattern: `x{1000}` nests are refused


class ParamError(ValueError):
    """A condition's value, or the parameter `param` it reads, cannot be used."""

    def __init__(self, param: str | None, message: str):
        super().__init__(message if param is None else f"parameter {param!r}: {message}")
        self.param = param


def compile_pattern(pattern: Any):
    """The RE2 program for `pattern`; ValueError (a config error) when RE2 refuses it."""
    if not isinstance(pattern, str):
        raise ValueError(f"'matches' needs a string pattern, got {short(pattern)}")
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"pattern longer than {MAX_PATTERN} characters")
    import re2  # google-re2: linear-time matching, see the module docstring

    options = re2.Options()
    options.log_errors = False  # the refusal is ours to report, once, as a config error
    options.max_mem = _MAX_PROGRAM_BYTES
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"invalid regular expression {short(pattern)} (RE2 syntax): {why}") from None


def condition_check(rule: RuleSpec, params: dict[str, Any] | None = None) -> Callable[[Clip, RuleContext], Iterator[Finding]]:
    """Build the check function for a user rule (validated now, so errors surface as config
    errors). `params`: the rule's parameters with the config's overrides, validated the
    same as the defaults (an override the rule cannot use must not make it silently never fire)."""
    params = rule.default_params() if params is None else params
    if rule.target != "video":
        raise ValueError("user rules with conditions must have target: video")
    patterns: dict[int, Any] = {}
    for n, cond in enumerate(rule.when):
        if cond.field not in FIELDS:
            import difflib

            close = difflib.get_close_matches(cond.field, FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown field {cond.field!r}{hint}; known: {', '.join(FIELDS)}")
        if cond.op == "matches":  # compiled once per run, not once per clip
            try:
                patterns[n] = compile_pattern(cond.value if cond.param is None else params[cond.param])
            except ValueError as exc:
                raise ParamError(cond.param, str(exc)) from None

    def run(clip: Clip, ctx: RuleContext) -> Iterator[Finding]:
        info = clip.info
        if info is None or info.error is not None:
            return
        values = {}
        for n, cond in enumerate(rule.when):
            value = DERIVED[cond.field](info) if cond.field in DERIVED else getattr(info, cond.field)
            if n in patterns:
                expected = patterns[n]
            else:
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
        return expected.search(str(value)[:MAX_SUBJECT]) is not None  # compiled by condition_check
    except (TypeError, ValueError):
        return False
