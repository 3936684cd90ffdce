"""Code rules on Python files: CVL400-CVL403 (see rules/CVL40*.yaml).

The checks decide on each file's facts (python/facts.py), which a warm run takes from the
cache without opening the file (python/fact_cache.py): a file that does not contain
`decord` cannot break CVL401/CVL402, and CVL400 only reports files the code rules have
to read (see `may_reach_decord`). Only a finding's fix needs the file's text and tree:
`_source` reads and parses it then, once per run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from cogvid_lint.findings import Finding, Fix, Location
from cogvid_lint.python.classify import matches_entry_point, module_package
from cogvid_lint.python.fact_cache import facts_of
from cogvid_lint.python.facts import ImportFact, ModuleFacts
from cogvid_lint.python.fixes import add_torch_fix, guard_fix, move_fix
from cogvid_lint.python.graph import import_graph, walk_entries
from cogvid_lint.python.guards import Comments, scan_comments
from cogvid_lint.python.model import ImportEvent, build_model
from cogvid_lint.python.order import (
    FUNCTION,
    LATER,
    LATER_IN_SCOPE,
    decord_violations,
    unguarded_decord,
)
from cogvid_lint.python.sorters import detect_sorters
from cogvid_lint.python.source import Module, SyntaxProblem, parse_source
from cogvid_lint.registry import RuleContext, check


def _list_param(params: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = params.get(name) or ()
    if isinstance(value, str):
        value = [value]
    return tuple(str(v) for v in value)


def _decord_model(file, ctx: RuleContext) -> ModuleFacts | None:
    """The facts of a file CVL401/CVL402 must look at: one that mentions decord and
    parses (not a stub, which never runs; not an unreadable file)."""
    store = facts_of(ctx.project)
    facts = store.facts.get(file.path)
    if facts is None or not facts.decord or _is_stub(file):
        return None
    parse = store.parse(file)
    return parse if isinstance(parse, ModuleFacts) else None


def _is_stub(file) -> bool:
    """A `.pyi` stub never runs (cheaper than Path.suffix, asked of every file)."""
    return os.fspath(file.path).endswith(".pyi")


@dataclass
class _Source:
    """What a fix edits: the file's text, tree, import events (by order) and comments."""

    module: Module
    events: tuple[ImportEvent, ...]
    comments: Comments

    def event(self, fact: ImportFact | None) -> ImportEvent | None:
        """The real event behind a fact; None when the file changed since the facts."""
        if fact is None or fact.order >= len(self.events):
            return None
        real = self.events[fact.order]
        return real if (real.module, real.line, real.scope) == (fact.module, fact.line, fact.scope) else None


def _source(project, file) -> _Source | None:
    """Read and parse a file for its fixes (once per run: only files with findings get here)."""
    cache: dict[Path, _Source | None] = project.derive(_parsed_sources)
    if file.path not in cache:
        cache[file.path] = None
        try:
            module = parse_source(file.data, str(file.path))
            if isinstance(module, Module) and module.text is not None:
                comments = scan_comments(module.text)
                cache[file.path] = _Source(module, build_model(module.tree).events, comments)
        except (OSError, RecursionError):
            pass
    return cache[file.path]


def _events(source: _Source | None, *facts: ImportFact) -> list[ImportEvent] | None:
    """The real events behind facts, None when there is no source or the file changed."""
    if source is None:
        return None
    events = [source.event(f) for f in facts]
    return None if any(e is None for e in events) else events  # type: ignore[return-value]


def _add_torch(source: _Source | None, file, fact: ImportFact, when: str) -> Fix | None:
    events = _events(source, fact)
    return add_torch_fix(file.path, source.module, events[0], source.comments, when=when) if events else None


def _move(source: _Source | None, file, stmt: str, torch_fact: ImportFact, decord: list[ImportFact]) -> Fix | None:
    events = _events(source, torch_fact, *decord)
    return move_fix(file.path, source.module, events[1:], events[0], source.comments, stmt) if events else None


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _parsed_sources(project) -> dict:
    return {}


def _walked(ctx: RuleContext) -> frozenset[Path]:
    """The files CVL403's walk reads, with CVL403's configured parameters (the walk itself is
    derived once per run and parameters)."""
    overrides = getattr(ctx.settings, "rule_overrides", None) or {}
    override = overrides.get("CVL403") or overrides.get("transitive-decord-before-torch")
    params = dict(getattr(override, "params", None)
                  or (override.get("params", {}) if isinstance(override, dict) else {}))
    return walk_entries(ctx.project, _list_param(params, "torch_modules"), _list_param(params, "entry_points")).read


@check("python.syntax_error", args=("error",))
def syntax_error(file, ctx: RuleContext) -> Iterator[Finding]:
    store = facts_of(ctx.project)
    facts = store.facts.get(file.path)
    if facts is None or (not facts.decord and file.path not in _walked(ctx)) or _is_stub(file):
        return
    result = store.parse(file)
    if isinstance(result, SyntaxProblem):
        yield Finding(Location(file.path, result.line, result.column), args={"error": result.message})


@check("python.decord_before_torch", args=("statement", "detail", "torch_line"))
def decord_before_torch(file, ctx: RuleContext) -> Iterator[Finding]:
    model = _decord_model(file, ctx)
    if model is None:
        return
    root = ctx.project.root
    torch_modules = _list_param(ctx.params, "torch_modules")
    entry_points = _list_param(ctx.params, "entry_points")
    is_entry = model.has_main_guard or (
        bool(entry_points) and matches_entry_point(file.path, root, entry_points)
    )
    violations = decord_violations(model, torch_modules, module_package(file.path, root), is_entry)
    if not violations:
        return
    source = _source(ctx.project, file)
    later = [v for v in violations if v.reason == LATER]
    for v in violations:
        stmt = v.event.statement
        t = v.torch_event
        if v.reason == LATER:
            detail = f"torch is first imported on line {t.line}"
            others = [w.event for w in later if w is not v]
            fix = _move(source, file, stmt, t, [v.event, *others]) or _add_torch(
                source, file, v.event, "earlier than before")
        elif v.reason == FUNCTION:
            detail = f"torch is only imported inside a function (line {t.line})"
            fix = _add_torch(source, file, v.event, "at import time")
        elif v.reason == LATER_IN_SCOPE:
            detail = f"in this function torch is first imported on line {t.line}"
            fix = _add_torch(source, file, v.event, "earlier in this function")
        else:
            detail = "this entry script imports no torch before it"
            when = "when the function is called" if v.event.scope else "at import time"
            fix = _add_torch(source, file, v.event, when)
        yield Finding(
            Location(file.path, v.event.line, v.event.column),
            args={"statement": stmt, "detail": detail, "torch_line": t.line if t else None},
            fix=fix,
            fingerprint=f"CVL401:{stmt}",
        )


@check("python.unguarded_decord_import",
       args=("statement", "sorter", "origin", "torch_statement", "torch_line"))
def unguarded_decord_import(file, ctx: RuleContext) -> Iterator[Finding]:
    model = _decord_model(file, ctx)
    if model is None or not model.utf8 or model.comments is None:
        return
    project = ctx.project
    sorters = project.derive(_sorters)
    rel = _rel(file.path, project.root)
    active = [s for s in sorters if s.applies_to(rel)]
    if not active:
        return
    torch_modules = _list_param(ctx.params, "torch_modules")
    found = unguarded_decord(model, active, model.comments, torch_modules, module_package(file.path, project.root))
    source = _source(project, file) if found else None
    for u in found:
        stmt = u.event.statement
        events = _events(source, u.event)
        yield Finding(
            Location(file.path, u.event.line, u.event.column),
            args={
                "statement": stmt,
                "sorter": u.sorter.tool,
                "origin": u.sorter.origin,
                "torch_statement": u.torch_event.statement,
                "torch_line": u.torch_event.line,
            },
            fix=guard_fix(file.path, source.module, events[0], source.comments) if events else None,
            fingerprint=f"CVL402:{stmt}",
        )


@check("python.transitive_decord_before_torch", args=("entry", "chain", "statement"))
def transitive_decord_before_torch(file, ctx: RuleContext) -> Iterator[Finding]:
    project = ctx.project
    torch_modules = _list_param(ctx.params, "torch_modules")
    entry_points = _list_param(ctx.params, "entry_points")
    chains = import_graph(project, torch_modules, entry_points)
    if not chains:
        return
    path = Path(os.path.abspath(file.path))
    for chain in chains:
        if Path(os.path.abspath(chain.entry.path)) != path:
            continue
        yield Finding(
            Location(file.path, chain.event.line, chain.event.column),
            args={"entry": _rel(file.path, project.root), "chain": chain.render(project.root),
                  "statement": chain.decord},
            fingerprint=f"CVL403:{_rel(chain.steps[-1][0], project.root)}:{chain.decord}",
        )


def _sorters(project) -> tuple:
    return detect_sorters(Path(os.path.abspath(project.root)))
