"""`--fix` / `--diff`: apply (or show) the fixes of diagnostics, then lint again.

Each operation type has an applier (text edits, file deletions, media rewrites) that knows
how to describe it for `--diff` and how to apply a batch of it. The driver picks fixes by
applicability, applies them, re-lints, and repeats at most `MAX_ROUNDS` times (edits that
overlapped in one round get their turn in the next).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from cogvid_lint.findings import Applicability, DeleteFile, Diagnostic, Operation, RewriteMedia, TextEdit

MAX_ROUNDS = 3


class Applier(Protocol):
    def describe(self, ops: Sequence[tuple[Operation, Diagnostic]], relpath: Callable) -> list[str]: ...

    def apply(self, ops: Sequence[tuple[Operation, Diagnostic]]) -> set[int]:
        """Apply what can be applied; return the ids (`id(op)`) of the operations applied."""


def _appliers(judge: Callable | None = None) -> dict[type, Applier]:
    # Imported on use: the media applier pulls in av only when a rewrite is applied.
    from cogvid_lint.fix.files import DeleteApplier
    from cogvid_lint.fix.text_applier import TextApplier

    appliers: dict[type, Applier] = {TextEdit: TextApplier(), DeleteFile: DeleteApplier()}
    try:
        from cogvid_lint.fix.media import MediaApplier
    except ImportError:  # the media fixer is optional until it lands
        pass
    else:
        appliers[RewriteMedia] = MediaApplier(judge)
    return appliers


@dataclass
class FixOutcome:
    remaining: list[Diagnostic]
    fixed: int = 0
    rounds: int = 0
    unsafe_available: int = 0
    touched: set = field(default_factory=set)  # paths changed or deleted
    touched_data: bool = False  # media or cache files changed (datasets are usually git-ignored)
    plan: list[str] = field(default_factory=list)  # --diff output
    notes: list[str] = field(default_factory=list)  # from appliers: e.g. where media backups went


def chosen(diagnostics: Sequence[Diagnostic], unsafe: bool) -> list[Diagnostic]:
    return [d for d in diagnostics if d.fix is not None
            and (d.fix.applicability is Applicability.SAFE or unsafe)]


def _grouped(diagnostics: Sequence[Diagnostic]) -> dict[type, list[tuple[Operation, Diagnostic]]]:
    groups: dict[type, list] = defaultdict(list)
    for diagnostic in diagnostics:
        for op in diagnostic.fix.operations:
            groups[type(op)].append((op, diagnostic))
    return groups


def plan_fixes(diagnostics: Sequence[Diagnostic], unsafe: bool, relpath: Callable,
               judge: Callable | None = None) -> list[str]:
    """The --diff lines. `judge`: see run_fixes."""
    appliers = _appliers(judge)
    lines: list[str] = []
    for kind, ops in _grouped(chosen(diagnostics, unsafe)).items():
        applier = appliers.get(kind)
        if applier is None:
            lines += [f"# cannot apply {kind.__name__} fixes in this installation ({d.code})" for _, d in ops]
            continue
        lines += applier.describe(ops, relpath)
    return lines


def run_fixes(lint_once: Callable[[], list[Diagnostic]], unsafe: bool,
              judge: Callable | None = None) -> FixOutcome:
    """`judge(rewrite)`: why a media rewrite would leave its clip worse than it finds it, or
    None (fix.judge.RewriteJudge); a rewrite it turns down is not applied, and said so."""
    diagnostics = lint_once()
    outcome = FixOutcome(remaining=diagnostics)
    appliers = _appliers(judge)
    try:
        diagnostics = _rounds(lint_once, diagnostics, unsafe, appliers, outcome)
    finally:
        for applier in appliers.values():  # an applier may hold a lock or a journal open
            if hasattr(applier, "close"):
                applier.close()
    outcome.notes = [note for applier in appliers.values() for note in getattr(applier, "notes", ())]
    outcome.remaining = diagnostics
    outcome.unsafe_available = sum(1 for d in diagnostics if d.fix is not None
                                   and d.fix.applicability is Applicability.UNSAFE and not unsafe)
    return outcome


def _rounds(lint_once, diagnostics, unsafe: bool, appliers, outcome: FixOutcome) -> list[Diagnostic]:
    for _ in range(MAX_ROUNDS):
        todo = chosen(diagnostics, unsafe)
        if not todo:
            break
        applied: set[int] = set()
        for kind, ops in _grouped(todo).items():
            applier = appliers.get(kind)
            if applier is not None:
                applied |= applier.apply(ops)
                for op, _ in ops:
                    if id(op) in applied:
                        outcome.touched.add(op.path)
                        outcome.touched_data |= not isinstance(op, TextEdit)
        done = [d for d in todo if all(id(op) in applied for op in d.fix.operations)]
        if not done:
            break
        outcome.fixed += len(done)
        outcome.rounds += 1
        diagnostics = lint_once()
    return diagnostics
