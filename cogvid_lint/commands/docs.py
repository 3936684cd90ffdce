"""`cogvid-lint rule CODE|NAME` and `cogvid-lint rules`: the catalogue, for people and tools."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from cogvid_lint.catalogue import RuleSpec, rule_text
from cogvid_lint.engine import load_catalogue
from cogvid_lint.errors import UsageError

def catalogue(config: str | None = None) -> list[RuleSpec]:
    """The built-in rules and the user's own (`rules-dir` of the config found from the
    current folder, or of `config`), as `check` would run them."""
    from cogvid_lint.settings import CliOptions, resolve_settings

    return load_catalogue(resolve_settings(CliOptions(config=config)))


def find_rule(ident: str, config: str | None = None) -> RuleSpec:
    rules = catalogue(config)
    for rule in rules:
        if ident.upper() == rule.code or ident == rule.name:
            return rule
    import difflib

    close = difflib.get_close_matches(ident, [r.name for r in rules] + [r.code for r in rules], n=1)
    raise UsageError(f"no rule {ident!r}" + (f" (did you mean {close[0]}?)" if close else ""))


def show_rule(ident: str, fmt: str, config: str | None = None) -> int:
    rule = find_rule(ident, config)
    if fmt == "json":
        data = asdict(rule)  # Severity is a str enum: JSON writes its value
        del data["source"]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(rule_text(rule))
    return 0


def list_rules(fmt: str, config: str | None = None) -> int:
    rules = sorted(catalogue(config), key=lambda r: r.code)
    if fmt == "json":
        payload = [{"code": r.code, "name": r.name, "target": r.target, "severity": r.severity.value,
                    "fix": r.fix, "opt_in": r.opt_in, "summary": r.summary} for r in rules]
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    width = max(len(r.name) for r in rules)
    for r in rules:
        # opt-in rules run only when a selector names them (--extend-select CVL5), never with ALL
        summary = f"(opt-in) {r.summary}" if r.opt_in else r.summary
        sys.stdout.write(f"{r.code}  {r.name:<{width}}  {r.severity.value:<7}  {r.target:<8}  "
                         f"fix:{r.fix:<6}  {summary}\n")
    if any(r.opt_in for r in rules):
        sys.stdout.write("\n(opt-in): off unless selected by code, prefix or name, e.g. --extend-select CVL5 "
                         "(they decode every clip)\n")
    return 0
