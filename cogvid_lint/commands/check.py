"""`cogvid-lint check`: settings → rules → discover → probe → check → filter → report."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from cogvid_lint.clip_results import CleanClips
from cogvid_lint.commands.progress import ProgressBar
from cogvid_lint.engine import (DATASET_TARGETS, ActiveRule, activate, build_project, check_clip, content_jobs,
                                decode_tier, finish, load_catalogue, matches, needs_content, needs_probes, probe_keys,
                                run_checks, run_content_checks, select_rules)
from cogvid_lint.probe.pool import ProbePool, available_cpus
from cogvid_lint.probe.runner import LocalRunner, Runner
from cogvid_lint.probe.stream import ContentStream, ProbeStream
from cogvid_lint.store import Store
from cogvid_lint.errors import ConfigError, UsageError, missing_path
from cogvid_lint.findings import Diagnostic, Severity
from cogvid_lint.report import NEEDS_FINGERPRINTS, get_reporter
from cogvid_lint.report.result import RunResult
from cogvid_lint.config_files import DATASET_KEYS
from cogvid_lint.discover.datasets import NOT_DETECTED, resolve_datasets
from cogvid_lint.discover.project import Project
from cogvid_lint.settings import CliOptions, DatasetSettings, Options, Settings, resolve_settings
from cogvid_lint.remote.urls import is_remote, is_url, to_path, to_url
from cogvid_lint.suppress import apply_filters



def cli_options(args: argparse.Namespace) -> CliOptions:
    # a URL given as PATH (s3://bucket/data) is a data root, linted with the project here;
    # one naming a clip or a list file is that file, as a local PATH is (its dataset found
    # above it), in the form the rest of the run spells remote paths
    urls: list[str] = []
    files: list[str] = []
    paths: list[str] = []
    for path in args.paths:
        if not is_url(path):
            if not os.path.lexists(path):  # a mistyped PATH must not lint nothing and pass
                raise UsageError(missing_path(path))
            paths.append(path)
        elif _names_a_file(path):
            files.append(os.fspath(to_path(path)))
        else:
            urls.append(path)
    paths += files
    return CliOptions(
        paths=tuple(paths) or (".",),
        config=args.config,
        data_roots=(*args.data_root, *urls),
        dataset={key: getattr(args, key) for key in DATASET_KEYS if getattr(args, key) is not None},
        select=args.select,
        ignore=args.ignore,
        extend_select=args.extend_select,
        fail_on=Severity(args.fail_on) if args.fail_on else None,
        extra={key: getattr(args, key, None) for key in ("jobs", "cache_dir", "probe_timeout", "no_cache", "engine",
                                                         "ray_address")
               if getattr(args, key, None) is not None},
    )


def _names_a_file(url: str) -> bool:
    from cogvid_lint.discover.dataset import VIDEO_SUFFIXES

    return url.rstrip("/").lower().endswith((*VIDEO_SUFFIXES, ".txt"))


@dataclass
class Lint:
    """One lint pass over a project, re-runnable after fixes."""

    settings: Settings
    active: Sequence[ActiveRule]
    progress: bool = False  # output is for people: long probes may draw a bar on stderr
    datasets: Sequence[DatasetSettings] = ()  # resolved only when a rule reads datasets (not the code hook)
    project: Project | None = None  # what the last pass discovered (read by the notes, the baseline)
    pictures: bool = False  # an HTML report is written: the content stage also makes thumbnail strips
    keys: Sequence = ()  # the last pass's probed files (StatKeys) and the clips naming each
    clips_of: dict | None = None

    runner: Runner | None = None  # where clips are probed and decoded; made on the first pass

    def run(self) -> list[Diagnostic]:
        """settings → discovery → probe stream → checks → filters: the findings of one pass.
        The store's and the engine's warnings (said once each) go to stderr."""
        settings, active = self.settings, self.active
        store = Store.for_settings(settings)
        try:
            return self._run(store)
        finally:
            engine_warnings = self.runner.warnings if self.runner is not None else []
            for warning in [*store.warnings, *engine_warnings]:
                print(f"cogvid-lint: warning: {warning}", file=sys.stderr)
            engine_warnings.clear()

    def close(self) -> None:
        """Let go of the engine (a Ray instance this run started is shut down)."""
        if self.runner is not None:
            self.runner.close()
            self.runner = None

    def _shown(self, path: str) -> str:
        return _relative(path, self.settings.display_root)

    def _runner(self) -> Runner:
        if self.runner is None:
            self.runner = make_runner(self.settings.options)
        return self.runner

    def _run(self, store: Store) -> list[Diagnostic]:
        settings, active = self.settings, self.active
        options = settings.options
        jobs = options.jobs or available_cpus()
        found: list[Diagnostic] = []
        if not needs_probes(active):
            project = self.project = build_project(active, settings, self.datasets, store)
            for unit in run_checks(active, project, store, jobs=jobs):
                found.extend(unit)
            return apply_filters(finish(found), settings, store)
        runner = self._runner()
        local = runner.name == "local"
        early = ProbePool(jobs, options.probe_timeout, start=True) if local and probe_early(jobs, store) else None
        content = needs_content(active)
        try:
            project = self.project = build_project(active, settings, self.datasets, store)
            keys, clips_of = self.keys, self.clips_of = probe_keys(project)
            with ProbeStream(keys, store, jobs=jobs, timeout=options.probe_timeout, pool=early,
                             remote=options.remote_spec(), runner=runner) as probes:
                early = None  # the stream owns it now
                clean = clean_clips(active, project, store, keys, clips_of, probes.version)
                # elsewhere than here, the workers leave this process's CPU to the checks meanwhile
                overlap = jobs > 1 or not local
                with ProgressBar.maybe(probes, jobs, self.progress) as bar:
                    for unit in run_checks(active, project, store, probes, clips_of, overlap=overlap, jobs=jobs,
                                           content_next=content, clean=clean):
                        found.extend(unit)
                        bar.show(probes.answered)
                if clean is not None:
                    clean.forget(probes.unstored)  # answered by other code: no verdict on them is kept
                    clean.close()
        finally:
            if early is not None:
                early.close()
        if content:  # the pixel rules (opt-in): the frames each clip's trainer takes, decoded once
            todo, served = content_jobs(keys, clips_of, decode_tier(active), strips=self.pictures)
            remote = [n for n, job in enumerate(todo) if is_remote(job.key.path)]
            if remote:  # the decode reads local files: said once, not once per clip
                print(f"cogvid-lint: warning: the pixel rules read local clips only: {len(remote)} clip"
                      f"{'s' if len(remote) != 1 else ''} in object storage skipped", file=sys.stderr)
                skip = set(remote)
                todo = [job for n, job in enumerate(todo) if n not in skip]
                served = [clips for n, clips in enumerate(served) if n not in skip]
            timeout = options.probe_timeout * CONTENT_TIMEOUT_FACTOR if options.probe_timeout else None
            with ContentStream(todo, store, workers=jobs, timeout=timeout, runner=runner) as stream:
                with ProgressBar.decoding(stream, self.progress) as bar:
                    for unit in run_content_checks(active, project, store, stream, served, jobs):
                        found.extend(unit)
                        bar.show(stream.answered)
            for path, why in stream.failures:  # one line each: the pixel rules could not look at it
                print(f"cogvid-lint: warning: {self._shown(path)}: the frames the trainer takes could not be decoded "
                      f"({why}); pixel rules skipped", file=sys.stderr)
        return apply_filters(finish(found), settings, store)


def make_runner(options: Options) -> Runner:
    """This machine's worker pool, or (`--engine ray`) Ray tasks; Ray is imported only then."""
    if options.engine != "ray":
        return LocalRunner()
    from cogvid_lint.probe.ray_engine import RayRunner

    return RayRunner(options.ray_address, cpus=options.jobs, retries=options.ray_retries)


def clean_clips(active, project, store: Store, keys, clips_of, probe_version: str | None) -> CleanClips | None:
    """The clean-clip verdicts of earlier runs (clip_results), for a run that stores facts."""
    if probe_version is None or not store.usable:
        return None
    ids = {id(clip): key for key in keys for clip in clips_of[key.path]}
    rules = [(r.spec.code, r.severity.value, r.params) for r in active if r.spec.target == "video"]
    return CleanClips(store, ids, project.datasets, rules, probe_version)


# A decode of a clip's sampled frames takes up to ~10x a probe (content.md §3.1): its
# timeout is the probe's, this many times over.
CONTENT_TIMEOUT_FACTOR = 4


def _local_fixes_only(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """The findings with the fixes that would change a remote object taken off."""
    import dataclasses

    def remote(fix) -> bool:
        return any(is_remote(op.path) for op in fix.operations)

    return [dataclasses.replace(d, fix=None) if d.fix is not None and remote(d.fix) else d for d in diagnostics]


def _relative(path: str, root: Path) -> str:
    if is_remote(path):
        return to_url(path)
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return path


def probe_early(jobs: int, store: Store) -> bool:
    """Whether probe workers start before discovery, so that their start-up overlaps it: when
    the clips will surely be probed (nothing stored to answer) by two workers or more. One
    job keeps to one CPU's worth of work at a time."""
    return jobs > 1 and not store.exists()


def prepare(args: argparse.Namespace) -> Lint:
    settings = resolve_settings(cli_options(args))
    errors: list[str] = []
    catalogue = load_catalogue(settings, errors)
    rules = select_rules(catalogue, settings, errors)
    datasets: tuple[DatasetSettings, ...] = ()
    warnings: list[str] = []
    if any(rule.target in DATASET_TARGETS for rule in rules):
        try:  # resolved now so that their problems are reported with all the others
            datasets = resolve_datasets(settings, warnings)
        except ConfigError as exc:
            errors += exc.lines
    progress = (args.output_format or default_format()) in ("full", "concise") and not args.quiet
    for warning in warnings:  # a file a launch script names that cannot be read: the rest still lints
        print(f"cogvid-lint: warning: {warning}", file=sys.stderr)
    lint = Lint(settings, activate(rules, settings, errors, catalogue), progress, datasets)
    lint.pictures = wants_html(args)
    return lint


def wants_html(args: argparse.Namespace) -> bool:
    return args.output_format == "html" or bool(getattr(args, "html_report", None))


def run_check(args: argparse.Namespace) -> int:
    lint = prepare(args)
    try:
        return _run_check(lint, args)
    finally:
        lint.close()


def _run_check(lint: Lint, args: argparse.Namespace) -> int:
    known = None
    if args.baseline:  # read it before the (possibly long) run: a bad path fails at once
        from cogvid_lint.baseline import load_baseline

        known = load_baseline(Path(args.baseline))
    if args.diff:
        return _show_diff(lint, args)
    notes: list[str] = []
    human = (args.output_format or default_format()) == "full" and not args.quiet
    if human and any(ds.sources.get("trainer") == NOT_DETECTED for ds in lint.datasets):  # said to people only
        notes.append("No launch script names a trainer: datasets are judged as CogVideo finetune/ trains "
                     "(set `trainer:` in the config or --trainer to choose another).")
    exit_after_fix = 0
    if args.fix:
        from cogvid_lint.fix.driver import run_fixes
        from cogvid_lint.fix.recovery import recover

        remote = sorted({to_url(ds.data_root) for ds in lint.datasets if is_remote(ds.data_root)})
        if remote:  # said once: their findings are reported, nothing in a store is changed
            print(f"cogvid-lint: warning: {', '.join(remote)}: fixes need a local data root; "
                  "nothing in object storage is changed (lint a local copy to fix it)", file=sys.stderr)
        local = [ds.data_root for ds in lint.datasets if not is_remote(ds.data_root)]
        # a media fix run killed earlier: finish its verified clips, drop its temp files
        recovered = recover(local, finish=True) if local else []
        notes += recovered
        lint_once = (lambda: _local_fixes_only(lint.run())) if remote else lint.run
        outcome = run_fixes(lint_once, args.unsafe_fixes, judge=rewrite_judge(lint) if args.unsafe_fixes else None)
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
    notes += unseen_notes(lint.project)
    fmt = args.output_format or default_format()
    diagnostics = _baseline_step(args, fmt, lint, diagnostics, known, notes)
    if diagnostics is None:
        return 0
    result = RunResult(
        notes=notes if fmt in ("full", "concise", "html") or args.html_report else (),
        diagnostics=diagnostics,
        rules=[rule.spec for rule in lint.active],
        settings=lint.settings,
        datasets=lint.datasets,
        color=_use_color(args),
        statistics=args.statistics,
        show_settings=not args.quiet,
        quiet=args.quiet,
        cwd=lint.settings.display_root,
        width=terminal_width(),
    )
    if lint.pictures:
        result = with_pictures(lint, result, args)
    if args.statistics and fmt in ("full", "concise"):
        # as ruff: the counts per rule instead of the report, not after it
        emit(_statistics(diagnostics), args.output_file)
    else:
        emit(get_reporter(fmt)(result), args.output_file)
    if args.html_report:
        emit(get_reporter("html")(result), args.html_report)
    if fmt in ("github", "html") and os.environ.get("GITHUB_STEP_SUMMARY"):
        _append_step_summary(result, os.environ["GITHUB_STEP_SUMMARY"])
    if fmt not in ("full", "concise"):
        for note in notes:
            print(note, file=sys.stderr)
    return max(exit_code(diagnostics, lint.settings.fail_on, args.exit_zero), exit_after_fix)


def with_pictures(lint: Lint, result: RunResult, args: argparse.Namespace) -> RunResult:
    """What the HTML report shows beside the findings: each clip finding's thumbnail strip
    (stored, else decoded now for those clips only: engine.clip_pictures) and each line
    finding's source lines; and, in GitHub Actions, where the report is."""
    import dataclasses

    from cogvid_lint.engine import CLIP_TARGETS, clip_pictures

    clip_codes = frozenset(r.spec.code for r in lint.active if r.spec.target in CLIP_TARGETS)
    paths = {os.fspath(d.location.path) for d in result.diagnostics if d.code in clip_codes}
    pictures: dict = {}
    if paths and lint.clips_of is not None:
        options = lint.settings.options
        store = Store.for_settings(lint.settings)
        try:
            pictures, _ = clip_pictures(paths, lint.keys, lint.clips_of, store,
                                        workers=options.jobs or available_cpus(), timeout=options.probe_timeout)
        finally:
            for warning in store.warnings:
                print(f"cogvid-lint: warning: {warning}", file=sys.stderr)
    written = args.output_file if args.output_format == "html" else args.html_report
    return dataclasses.replace(result, pictures=pictures, clip_codes=clip_codes,
                               excerpts=source_excerpts(d for d in result.diagnostics if d.code not in clip_codes),
                               html_report=written, run_url=_actions_run_url())


EXCERPT_CONTEXT = 2  # lines shown above and below a finding's line
EXCERPT_MAX_BYTES = 4 << 20  # a bigger file is no source file: its lines are not shown


def source_excerpts(diagnostics) -> dict[tuple[str, int], tuple[tuple[int, str], ...]]:
    """The lines around each finding's line, each text file read once; a file that cannot be
    read (or is no text) shows none."""
    wanted: dict[str, set[int]] = {}
    for d in diagnostics:
        if d.location.line is not None:
            wanted.setdefault(os.fspath(d.location.path), set()).add(d.location.line)
    found = {}
    for path, lines in wanted.items():
        try:
            if os.path.getsize(path) > EXCERPT_MAX_BYTES:
                continue
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read().splitlines()
        except (OSError, ValueError):
            continue
        for line in lines:
            low, high = max(1, line - EXCERPT_CONTEXT), min(len(text), line + EXCERPT_CONTEXT)
            found[path, line] = tuple((n, text[n - 1][:400]) for n in range(low, high + 1))
    return found


def _actions_run_url() -> str | None:
    """The GitHub Actions run's page (its artifacts are listed there), when run in one."""
    server, repo, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def rewrite_judge(lint: Lint):
    """The judge of media fixes (fix.judge): every video rule the configuration enables, not
    only those this run selected — `--select CVL107 --fix --unsafe-fixes` must not make a
    CVL102 error the next full run reports — with the configured severities and params."""
    from cogvid_lint.fix.judge import RewriteJudge

    settings = lint.settings
    try:
        catalogue = load_catalogue(settings)
        rules = [r for r in catalogue if r.target == "video" and not any(matches(s, r) for s in settings.ignore)]
        judges = activate(rules, settings, catalogue=catalogue)
    except ConfigError:  # a problem in a rule this run did not select: judge by the selected ones
        judges = [rule for rule in lint.active if rule.spec.target == "video"]

    def findings(clip, info) -> list[Diagnostic]:
        return apply_filters(check_clip(judges, lint.project, clip, info), settings)

    return RewriteJudge(lambda: lint.project, findings)


def unseen_paths(project: Project | None) -> list[str]:
    """The listed files the last pass could not look at: absent and git-ignored (discovery)."""
    return [path for ds in (project.datasets if project is not None else ()) for path in sorted(ds.git_ignored)]


def unseen_notes(project: Project | None) -> list[str]:
    """One line for the listed media a checkout does not have because git ignores it."""
    if project is None:
        return []
    clips = sum(len({c.fspath for c in ds.clips if c.fspath in ds.git_ignored}) for ds in project.datasets)
    others = sum(len(ds.git_ignored) for ds in project.datasets) - clips
    if not clips and not others:
        return []
    what = " and ".join(part for part in (_count(clips, "listed clip"), _count(others, "listed image")) if part)
    verb = "is" if clips + others == 1 else "are"
    return [f"{what} {verb} git-ignored and not present: clip rules skipped."]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}" if n else ""


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
        scopes = [*lint.settings.paths, *(ds.data_root for ds in lint.datasets)]
        outcome = baseline.apply_baseline(diagnostics, known, root, [r.spec.code for r in lint.active], scopes,
                                          unseen=unseen_paths(lint.project))
        fixed = outcome.fixed
        notes.append(f"Baseline {args.baseline}: {outcome.matched} known finding{'s' if outcome.matched != 1 else ''}"
                     f" hidden; {fixed} entr{'y' if fixed == 1 else 'ies'} no longer match (fixed)"
                     + (": rewrite it with --write-baseline to drop them." if fixed else "."))
        diagnostics = outcome.new
    return diagnostics


def _append_step_summary(result: RunResult, summary_file: str) -> None:
    """GitHub shows ten annotations per severity per step; the job summary shows all."""
    from cogvid_lint.report.github import summary_markdown

    try:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(result))
    except OSError as exc:
        print(f"cogvid-lint: warning: cannot append to GITHUB_STEP_SUMMARY {summary_file}: {exc}", file=sys.stderr)


def _show_diff(lint: Lint, args: argparse.Namespace) -> int:
    from cogvid_lint.fix.driver import chosen, plan_fixes

    diagnostics = lint.run()
    relpath = RunResult(diagnostics=(), rules=()).relpath
    lines = plan_fixes(diagnostics, args.unsafe_fixes, relpath, judge=rewrite_judge(lint) if args.unsafe_fixes else None)
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

        atomic_write_text(Path(output_file), text)
    else:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # the reader took what it wanted (`| head`): the exit code still says what was
            # found (cli.main sends the rest of stdout to the null device)
            pass


def terminal_width() -> int | None:
    """The width the full report wraps to: the terminal's, or COLUMNS when set; None when
    neither is known (output to a file or a pipe: lines are not wrapped)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns or None
    except (OSError, ValueError, AttributeError):
        pass
    return None


def _use_color(args: argparse.Namespace) -> bool:
    if args.color != "auto":
        return args.color == "always"
    if args.output_file or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR"))


def _statistics(diagnostics: Sequence[Diagnostic]) -> str:
    """ruff's `--statistics`: count, code, `[*]` when `--fix` (without --unsafe-fixes) fixes
    some of them, name."""
    from collections import Counter

    from cogvid_lint.findings import Applicability

    counts = Counter((d.code, d.name) for d in diagnostics)
    fixable = Counter(d.code for d in diagnostics if d.fix is not None and d.fix.applicability is Applicability.SAFE)
    lines = [f"{count:>5}\t{code}\t[{'*' if fixable[code] else ' '}] {name}"
             for (code, name), count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(lines) + ("\n" if lines else "")
