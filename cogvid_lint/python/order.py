"""Verdicts on one module: decord imported before torch (CVL401), or after torch but in
reach of an import sorter that would move it first (CVL402). They read the module's
facts (facts.py), never its text, so a warm run decides without opening the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cogvid_lint.python.classify import is_decord_import, is_torch_import
from cogvid_lint.python.facts import ImportFact, ModuleFacts
from cogvid_lint.python.guards import Comments
from cogvid_lint.python.sorter import Sorter

LATER = "later"  # torch is imported at module level, after the decord import
FUNCTION = "function"  # torch is only imported inside a function
NEVER = "never"  # an entry script that imports decord with no torch import before it
LATER_IN_SCOPE = "later-in-scope"  # inside one function: decord, then torch


@dataclass(frozen=True)
class Violation:
    event: ImportFact
    reason: str
    torch_event: ImportFact | None


@dataclass(frozen=True)
class Unguarded:
    event: ImportFact
    sorter: Sorter
    torch_event: ImportFact


def split_events(model: ModuleFacts, torch_modules: Sequence[str], package: str):
    torch = [e for e in model.events if is_torch_import(e, torch_modules, package)]
    decord = [e for e in model.events if is_decord_import(e) and e not in torch]
    return torch, decord


def _first_per_node(events: Sequence[ImportFact]) -> list[ImportFact]:
    seen: set[tuple[int, int]] = set()
    out = []
    for e in events:
        if e.stmt not in seen:
            seen.add(e.stmt)
            out.append(e)
    return out


def decord_violations(model: ModuleFacts, torch_modules: Sequence[str] = (), package: str = "",
                      is_entry: bool = False) -> list[Violation]:
    """Each decord import statement that runs while torch is not yet imported (CVL401).

    A module that never imports torch is left to CVL403 unless it is an entry script.
    A function-level decord import is fine when torch is imported at module level; when
    torch is only imported in other functions the call order is unknown and it is not
    reported (except in an entry script that imports no torch at all).
    """
    torch, decord = split_events(model, torch_modules, package)
    module_torch = [t for t in torch if t.scope == 0]
    out: list[Violation] = []
    for d in _first_per_node(decord):
        if d.scope == 0:
            if any(t.order < d.order for t in module_torch):
                continue
            if module_torch:
                out.append(Violation(d, LATER, module_torch[0]))
            elif torch:
                out.append(Violation(d, FUNCTION, torch[0]))
            elif is_entry:
                out.append(Violation(d, NEVER, None))
            continue
        if module_torch:
            continue
        same = [t for t in torch if t.scope == d.scope]
        if any(t.order < d.order for t in same):
            continue
        if same:
            out.append(Violation(d, LATER_IN_SCOPE, same[0]))
        elif is_entry and not torch:
            out.append(Violation(d, NEVER, None))
    return out


def unguarded_decord(model: ModuleFacts, sorters: Sequence[Sorter], comments: Comments,
                     torch_modules: Sequence[str] = (), package: str = "") -> list[Unguarded]:
    """Decord imports that follow torch in one import block that a sorter would reorder
    so that decord comes first, with no guard that the sorter honours (CVL402)."""
    if not sorters or not comments.ok:
        return []
    torch, decord = split_events(model, torch_modules, package)
    out: list[Unguarded] = []
    for d in _first_per_node(decord):
        before = [t for t in torch if t.order < d.order and (t.scope == 0 or t.scope == d.scope)]
        if not before:
            continue  # CVL401's business (or no torch at all)
        first, last = model.import_block(d.body, d.index)
        if any(t.body != d.body or not first <= t.index <= last for t in before):
            continue  # torch already ran before this block: no sorter can undo that
        for sorter in sorters:
            hit = _sorter_moves_first(model, d, sorter, comments, torch, first, last)
            if hit is not None:
                out.append(Unguarded(d, sorter, hit))
                break
    return out


def _sorter_moves_first(model: ModuleFacts, d: ImportFact, sorter: Sorter, comments: Comments,
                        torch: Sequence[ImportFact], first: int, last: int) -> ImportFact | None:
    if comments.skip_file or (sorter.tool == "ruff" and comments.ruff_noqa_file):
        return None
    line = d.line
    if comments.skipped(line) or comments.switched_off(line):
        return None

    def lineno(i: int) -> int:
        return model.line_of(d.body, i)

    def barrier(i: int) -> bool:
        n = lineno(i)
        return comments.skipped(n) or comments.switched_off(n)

    def split_between(i: int, j: int) -> bool:
        return any(lineno(i) <= s < lineno(j) for s in comments.split_lines)

    lo = d.index
    while lo > first and not barrier(lo - 1) and not split_between(lo - 1, lo):
        lo -= 1
    hi = d.index
    while hi < last and not barrier(hi + 1) and not split_between(hi, hi + 1):
        hi += 1
    if sorter.tool == "ruff" and comments.noqa_i001(lineno(lo)):
        return None
    mates = [t for t in torch if t.body == d.body and lo <= t.index <= hi]
    if not any(t.order < d.order for t in mates):
        return None  # torch ran in an earlier run of the block
    key = sorter.sort_key(d.module, d.level, d.is_from)
    if any(sorter.sort_key(t.module, t.level, t.is_from) < key for t in mates):
        return None
    return next(t for t in mates if t.order < d.order)
