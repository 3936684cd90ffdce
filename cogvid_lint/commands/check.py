"""`cogvid-lint check`: settings → rules → discover → probe → check → filter → report."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from cogvid_lint import run_memo
from cogvid_lint.catalogue import RuleSpec
from cogvid_lint.engine import (DATASET_TARGETS, ActiveRule, activate, build_project, check_units, finish,
                                load_catalogue, select_rules)
from cogvid_lint.errors import ConfigError
from cogvid_lint.findings import Diagnostic, Severity
from cogvid_lint.report import NEEDS_FINGERPRINTS, get_reporter
from cogvid_lint.report.result import RunResult
from cogvid_lint.settings import CliOptions, Settings, resolve_settings
from cogvid_lint.suppress import apply_filters

DATASET_FLAGS = ("layout", "caption_column", "video_column", "image_column", "model", "train_resolution",
                 "purpose", "id_token")


def cli_options(args: argparse.Namespace) -> CliOptions:
    return CliOptions(
        paths=tuple(args.paths) or (".",),
        config=args.config,
        data_roots=tuple(args.data_root),
        dataset={key: getattr(args, key) for key in DATASET_FLAGS if getattr(args, key) is not None},
        select=args.select,
        ignore=args.ignore,
        extend_select=args.extend_select,
        fail_on=Severity(args.fail_on) if args.fail_on else None,
        extra={key: getattr(args, key, None) for key in ("jobs", "cache_dir", "probe_timeout", "no_cache")
               if getattr(args, key, None) is not None},
    )


@dataclass
class Lint:
    """One lint pass over a project, re-runnable after fixes."""

    settings: Settings
    active: Sequence[ActiveRule]
    progress: bool = False  # output is for people: long probes may draw a bar on stderr

    @property
    def has_datasets(self) -> bool:
        """Whether a rule reads datasets (else they are never resolved: the code hook)."""
        return any(rule.spec.target in DATASET_TARGETS for rule in self.active)

    def run(self) -> list[Diagnostic]:
        if not any(rule.spec.target == "video" for rule in self.active):
            return self._run(None)
        from cogvid_lint.probe import pool, runner

        try:
            runner.expect_probes(self.settings)  # probe workers may start now, beside discovery
            return self._run(runner.probe_project)
        finally:
            pool.stop_spares()  # those no probing took (every clip cached, or too few)

    def _run(self, probe_project) -> list[Diagnostic]:
        from cogvid_lint.engine import ClipChecks

        project = build_project(self.active, self.settings)
        units = check_units(self.active, project)  # the rules that read no probe
        clips = ClipChecks(self.active, project)  # the video rules
        found: list[Diagnostic] = []

        def meanwhile() -> bool:
            """While workers probe (two jobs or more): a rule that reads no probe, else the
            video rules on the clips answered so far."""
            unit = next(units, None)
            if unit is None:
                unit = clips.unit()
            if unit is None:
                return False
            found.extend(unit)
            return True

        if probe_project is not None:
            probe_project(project, self.settings, progress=self.progress, meanwhile=meanwhile,
                          on_probed=clips.answered)
        for unit in units:
            found.extend(unit)
        found.extend(clips.rest())
        return apply_filters(finish(found), self.settings)


def remembered_run(args: argparse.Namespace) -> bool:
    """Whether a run may be replayed from a record (cogvid_lint.run_memo): not one that
    changes or may change files, nor one told to use no cache."""
    return not (args.fix or args.diff or args.write_baseline or args.no_cache)


def prepare(args: argparse.Namespace) -> Lint:
    settings = resolve_settings(cli_options(args))
    errors: list[str] = []
    catalogue = load_catalogue(settings, errors)
    rules = select_rules(catalogue, settings, errors)
    if any(rule.target in DATASET_TARGETS for rule in rules):
        try:  # resolved now so that their problems are reported with all the others
            settings.datasets
        except ConfigError as exc:
            errors += exc.lines
    progress = (args.output_format or default_format()) in ("full", "concise") and not args.quiet
    return Lint(settings, activate(rules, settings, errors, catalogue), progress)


def run_check(args: argparse.Namespace) -> int:
    lint = prepare(args)
    known = None
    if args.baseline:  # read it before the (possibly long) run: a bad path fails at once
        from cogvid_lint.baseline import load_baseline

        known = load_baseline(Path(args.baseline))
    if args.diff:
        return _show_diff(lint, args)
    notes: list[str] = []
    exit_after_fix = 0
    if args.fix:
        from cogvid_lint.fix.driver import run_fixes
        from cogvid_lint.fix.recovery import recover

        # a media fix run killed earlier: finish its verified clips, drop its temp files
        recovered = recover([ds.data_root for ds in lint.settings.datasets], finish=True) if lint.has_datasets else []
        notes += recovered
        outcome = run_fixes(lint.run, args.unsafe_fixes)
        diagnostics = outcome.remaining
        notes.append(f"Fixed {outcome.fixed} finding{'s' if outcome.fixed != 1 else ''} "
                     f"({len(diagnostics)} remaining).")
        notes += outcome.notes
        if outcome.unsafe_available:
            notes.append(f"{outcome.unsafe_available} more fix{'es' if outcome.unsafe_available != 1 else ''} "
                         "available with --fix --unsafe-fixes (they rewrite media).")
        if (outcome.touched_data or recovered) and not args.exit_zero_on_fix:
            notes.append("Media or cache files were changed: exiting 1 so that CI and pre-commit notice "
                         "(--exit-zero-on-fix turns this off).")
            exit_after_fix = 1
    else:
        diagnostics = lint.run()
    fmt = args.output_format or default_format()
    diagnostics = _baseline_step(args, fmt, lint, diagnostics, known, notes)
    if diagnostics is None:
        return 0
    result = RunResult(
        notes=notes if fmt in ("full", "concise") else (),
        diagnostics=diagnostics,
        rules=[rule.spec for rule in lint.active],
        settings=lint.settings,
        color=_use_color(args),
        statistics=args.statistics,
        show_settings=not args.quiet,
    )
    emit(get_reporter(fmt)(result), args.output_file)
    if fmt == "github" and os.environ.get("GITHUB_STEP_SUMMARY"):
        _append_step_summary(result, os.environ["GITHUB_STEP_SUMMARY"])
    if args.statistics and fmt in ("full", "concise"):
        emit(_statistics(diagnostics, [r.spec for r in lint.active]), None)
    if fmt not in ("full", "concise"):
        for note in notes:
            print(note, file=sys.stderr)
    return max(exit_code(diagnostics, lint.settings.fail_on, args.exit_zero), exit_after_fix)


def default_format() -> str:
    """`github` (annotations) inside GitHub Actions, else the rich report."""
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "full"


def _baseline_step(args, fmt, lint: Lint, diagnostics: list[Diagnostic], known, notes: list[str]):
    """Fingerprint when a format or a baseline needs it; --write-baseline (returns None:
    nothing left to report) and --baseline (keeps only the findings it does not know)."""
    from cogvid_lint import baseline

    if fmt not in NEEDS_FINGERPRINTS and not args.baseline and not args.write_baseline:
        return diagnostics
    diagnostics = baseline.with_fingerprints(diagnostics)
    root = lint.settings.root
    if args.write_baseline:
        count = baseline.write_baseline(Path(args.write_baseline), diagnostics, root)
        print(f"Wrote {count} finding{'s' if count != 1 else ''} to the baseline {args.write_baseline}.",
              file=sys.stderr)
        return None
    if known is not None:
        scopes = [*lint.settings.paths, *(ds.data_root for ds in lint.settings.datasets)]
        outcome = baseline.apply_baseline(diagnostics, known, root, [r.spec.code for r in lint.active], scopes)
        fixed = outcome.fixed
        notes.append(f"Baseline {args.baseline}: {outcome.matched} known finding{'s' if outcome.matched != 1 else ''}"
                     f" hidden; {fixed} entr{'y' if fixed == 1 else 'ies'} no longer match (fixed)"
                     + (": rewrite it with --write-baseline to drop them." if fixed else "."))
        diagnostics = outcome.new
    return diagnostics


def _append_step_summary(result: RunResult, summary_file: str) -> None:
    """GitHub shows ten annotations per severity per step; the job summary shows all."""
    from cogvid_lint.report.github import summary_markdown

    run_memo.spoil("a GitHub step summary")  # a file of the job's, appended to: not replayed
    try:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(result))
    except OSError as exc:
        print(f"cogvid-lint: warning: cannot append to GITHUB_STEP_SUMMARY {summary_file}: {exc}", file=sys.stderr)


def _show_diff(lint: Lint, args: argparse.Namespace) -> int:
    from cogvid_lint.fix.driver import chosen, plan_fixes

    diagnostics = lint.run()
    relpath = RunResult(diagnostics=(), rules=()).relpath
    lines = plan_fixes(diagnostics, args.unsafe_fixes, relpath)
    emit("".join(line + "\n" for line in lines), args.output_file)
    pending = chosen(diagnostics, args.unsafe_fixes)
    unsafe_left = sum(1 for d in diagnostics if d.fix is not None and d not in pending)
    if unsafe_left:
        print(f"{unsafe_left} more fixes available with --unsafe-fixes.", file=sys.stderr)
    return 1 if lines else 0


def exit_code(diagnostics: Sequence[Diagnostic], fail_on: Severity, exit_zero: bool) -> int:
    if exit_zero:
        return 0
    return 1 if any(d.severity.rank >= fail_on.rank for d in diagnostics) else 0


def emit(text: str, output_file: str | None) -> None:
    if output_file:
        from cogvid_lint.fsutil import atomic_write_text

        with run_memo.unobserved():  # what the writer stats is our output, not an input
            atomic_write_text(Path(output_file), text)
        run_memo.wrote_output(output_file, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _use_color(args: argparse.Namespace) -> bool:
    if args.color != "auto":
        return args.color == "always"
    if args.output_file or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR"))


def _statistics(diagnostics: Sequence[Diagnostic], rules: Sequence[RuleSpec]) -> str:
    from collections import Counter

    counts = Counter((d.code, d.name) for d in diagnostics)
    fixable = Counter(d.code for d in diagnostics if d.fix is not None)
    lines = [f"{count:>5}\t{code}\t[{'*' if fixable[code] else ' '}] {name}"
             for (code, name), count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(lines) + ("\n" if lines else "")
