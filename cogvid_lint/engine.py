"""The engine: enabled rules → subjects → check functions → stamped, filtered diagnostics.

It names no rule: what runs is decided by the catalogue (targets, check keys, params) and
the selection in settings.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from cogvid_lint.bounded import echo, short
from cogvid_lint.clip_results import CleanClips
from cogvid_lint.catalogue import (RuleSpec, builtin_rules_dir, is_param_type, load_rules, read_rules,
                                   unfilled_placeholders)
from cogvid_lint.discover import discover
from cogvid_lint.discover.project import Clip, Project
from cogvid_lint.errors import ConfigError
from cogvid_lint.findings import Diagnostic, Finding, Severity
from cogvid_lint.gcpause import gc_paused
from cogvid_lint.hashing import DigestJob
from cogvid_lint.pictures import ClipPictures, StripFrame
from cogvid_lint.probe import thumbs
from cogvid_lint.probe.stream import ContentJob, ContentStream, ProbeStream, ThumbJob, ThumbStream
from cogvid_lint.registry import (CheckFn, RuleContext, content_tier, load_checks, message_args, reads_content_features,
                                  reads_probe_facts)
from cogvid_lint.settings import DatasetSettings, Settings
from cogvid_lint.store import StatKey, Store

DATASET_TARGETS = frozenset({"dataset", "video", "training", "cache", "content"})
# The targets whose subject is a clip, checked as its facts land: its probe facts (video),
# then its content features (content: the pixel rules, after the content stage decoded it)
CLIP_TARGETS = frozenset({"video", "content"})
POSIX = os.name == "posix"


@dataclass(frozen=True)
class ActiveRule:
    spec: RuleSpec
    check: CheckFn
    params: Mapping[str, Any]
    severity: Severity


class CheckCrashed(Exception):
    """A check function raised: a bug in cogvid-lint, reported on one line (exit 2)."""


def load_catalogue(settings: Settings | None = None, errors: list[str] | None = None) -> list[RuleSpec]:
    """Built-in rules plus the user's `rules-dir`. Problems in user rules are appended to
    `errors` when given (so every config problem is reported at once), else raised."""
    rules = load_rules(builtin_rules_dir())
    if settings is not None and settings.rules_dir is not None:
        user_rules, problems = read_rules(settings.rules_dir, user=True)
        codes, names = {r.code: r for r in rules}, {r.name: r for r in rules}
        taken = codes.keys() | names.keys()
        for r in user_rules:  # say which of the two is taken, and by which rule
            if r.code in codes:
                problems.append(f"{r.source}: rule {r.code}: key 'code': the code {r.code} is taken by the "
                                f"built-in rule {codes[r.code].name}")
            if r.name in names:
                problems.append(f"{r.source}: rule {r.code}: key 'name': the name {r.name!r} is taken by the "
                                f"built-in rule {names[r.name].code}")
        if problems and errors is None:
            raise ConfigError(problems)
        if errors is not None:
            errors.extend(problems)
        rules += [r for r in user_rules if r.code not in taken and r.name not in taken]
    return rules


def matches(selector: str, rule: RuleSpec) -> bool:
    """Whether `selector` names `rule`: ALL, its name, or a prefix of its code. An opt-in rule
    (RuleSpec.opt_in) only by its name or a prefix reaching its family digit (CVL5, CVL50,
    CVL501): neither ALL nor a bare `CVL` turns on a rule that decodes every clip."""
    selector = selector.strip()
    if selector == rule.name:
        return True
    if rule.opt_in:
        upper = selector.upper()
        return rule.code.startswith(upper) and upper[-1:].isdigit()
    return selector == "ALL" or rule.code.startswith(selector.upper())


def select_rules(rules: Sequence[RuleSpec], settings: Settings, errors: list[str] | None = None) -> list[RuleSpec]:
    """ruff's selection: `select` (default ALL) plus `extend-select`, minus `ignore`."""
    selectors = list(settings.select) if settings.select is not None else ["ALL"]
    selectors += settings.extend_select
    problems = []
    cli = settings.cli
    config = settings.config
    # each unknown selector blamed where it is written: the command line's flag or the config's key
    for key, given, written in (("select", cli.select or (), config.select or ()),
                                ("extend-select", cli.extend_select, config.extend_select or ()),
                                ("ignore", cli.ignore, config.ignore or ())):
        for label, there in ((f"command line: --{key}", given), (f"{settings.config_file}: key '{key}'", written)):
            problems += [f"{label}: unknown rule selector {s!r}{_close_rule(s, rules)}"
                         for s in there if not any(matches(s, r) for r in rules)]
    problems = list(dict.fromkeys(problems))
    if problems and errors is None:
        raise ConfigError(problems)
    if errors is not None:
        errors.extend(problems)
    chosen = [r for r in rules if any(matches(s, r) for s in selectors)]
    return [r for r in chosen if not any(matches(s, r) for s in settings.ignore)]


def _close_rule(selector: str, rules: Sequence[RuleSpec]) -> str:
    import difflib

    close = difflib.get_close_matches(selector, [r.code for r in rules] + [r.name for r in rules], n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def activate(rules: Sequence[RuleSpec], settings: Settings, errors: list[str] | None = None,
             catalogue: Sequence[RuleSpec] | None = None) -> list[ActiveRule]:
    """Attach check functions and merge per-rule overrides; raise every config problem
    (those found earlier and passed in `errors`, and these) as one ConfigError. Overrides
    are checked against the whole `catalogue`: a config that tunes CVL008 stays valid in a
    `--select CVL4` run (the pre-commit code hook)."""
    checks = load_checks({rule.target for rule in rules})

    errors = list(errors or [])
    where = settings.config_file or "config"
    known = {ident for rule in (catalogue or rules) for ident in (rule.code, rule.name)}
    for ident in settings.rule_overrides:
        if ident not in known:
            errors.append(f"{where}: key 'rules.{ident}': no rule has this code or name")
    active = []
    for rule in rules:
        override = settings.rule_overrides.get(rule.code) or settings.rule_overrides.get(rule.name)
        params = rule.default_params()
        severity = rule.severity
        if override is not None:
            severity = override.severity or severity
            for key, value in override.params.items():
                spec = rule.params.get(key)
                if spec is None:
                    known = ", ".join(rule.params) or "none"
                    errors.append(f"{where}: rule {rule.code}: key 'params.{key}': unknown parameter (known: {known})")
                elif not is_param_type(value, spec.type):
                    errors.append(f"{where}: rule {rule.code}: key 'params.{key}': expected {spec.type}, got {short(value)}")
                else:
                    params[key] = value
        if rule.check is not None:
            fn = checks.get(rule.check)
            if fn is None:
                errors.append(f"{rule.source}: rule {rule.code}: key 'check': no check registered as {rule.check!r}")
                continue
        else:
            from cogvid_lint.checks.conditions import condition_check

            try:
                fn = condition_check(rule, params)
            except ValueError as exc:
                param = getattr(exc, "param", None)  # an override is reported where it is written
                if override is not None and param in override.params:
                    errors.append(f"{where}: rule {rule.code}: key 'params.{param}': {exc}")
                else:
                    errors.append(f"{rule.source}: rule {rule.code}: key 'when': {exc}")
                continue
        # known only now that the check is: what it fills is declared with it (registry.check)
        errors += unfilled_placeholders(rule, message_args(fn))
        active.append(ActiveRule(rule, fn, params, severity))
    if errors:
        raise ConfigError(errors)
    return active


def build_project(active: Sequence[ActiveRule], settings: Settings, datasets: Sequence[DatasetSettings] = (),
                  store: Store | None = None) -> Project:
    """The Python files when a code rule runs, the `datasets` when a dataset rule does."""
    targets = {rule.spec.target for rule in active}
    return discover(settings, python="python" in targets,
                    datasets=datasets if targets & DATASET_TARGETS else (), store=store)


def needs_probes(active: Sequence[ActiveRule]) -> bool:
    """A clip rule runs, or a dataset rule whose check reads the clips' probe facts."""
    return any(rule.spec.target in CLIP_TARGETS or reads_probe_facts(rule.check) for rule in active)


def needs_content(active: Sequence[ActiveRule]) -> bool:
    """A pixel rule runs (target content), or a dataset rule whose check reads the clips'
    content features: the content stage decodes the frames each clip's trainer takes."""
    return any(rule.spec.target == "content" or reads_content_features(rule.check) for rule in active)


def decode_tier(active: Sequence[ActiveRule]) -> str:
    """The least of each clip's sampled frames the content stage decodes for the active
    rules: the fullest tier any rule reading content features declared (probe/content.py
    TIERS; a dataset check reading them reads the full decode)."""
    from cogvid_lint.probe.content import TIERS

    need = [content_tier(rule.check) if rule.spec.target == "content" else "full"
            for rule in active if rule.spec.target == "content" or reads_content_features(rule.check)]
    return max(need, key=TIERS.index, default="full")


def content_jobs(keys: Sequence[StatKey], clips_of: Mapping[str, list[Clip]], tier: str = "full",
                 strips: bool = False) -> tuple[list[ContentJob], list[list[Clip]]]:
    """One decode per probed file and set of frames its trainers take (the clips' datasets'
    profiles), and the clips each serves; `tier`: how much of those frames (decode_tier).
    A clip that is unreadable, has no training size or stops its trainer (a Sample's crash)
    is not decoded: other rules say why. With `strips` (an HTML report), each decode also
    makes the clip's thumbnail strip (probe/thumbs.py) of the sampled frames, so it is the
    full one whatever `tier` says (the report then decodes nothing a second time)."""
    if strips:
        tier = "full"
    jobs: dict[tuple[str, tuple[int, ...]], int] = {}
    found: list[ContentJob] = []
    served: list[list[Clip]] = []
    for key in keys:
        for clip in clips_of.get(key.path, ()):
            info = clip.info
            if info is None or info.error is not None or info.frames <= 0:
                continue
            dataset = clip.dataset
            if dataset.profile is None or dataset.profile.target_frames(dataset.settings) is None:
                continue
            sample = dataset.sample(info.frames, info.fps)
            if sample.crash is not None or not sample.indices:
                continue
            indices = tuple(sorted(set(sample.indices)))
            at = jobs.get((key.path, indices))
            if at is None:
                at = jobs[key.path, indices] = len(found)
                strip = None
                if strips:
                    chosen = thumbs.choose(sample.indices, sample.padded)
                    strip = (chosen, *thumbs.tile_size(info.width, info.height))
                found.append(ContentJob(key, indices, info.rotation, strip, tier))
                served.append([])
            served[at].append(clip)
    return found, served


def _strip_sample(clip: Clip):
    """The trainer's sample of a probed clip, when a strip can show it (else None)."""
    info = clip.info
    if info is None or info.error is not None or info.frames <= 0:
        return None
    dataset = clip.dataset
    if dataset.profile is None or dataset.profile.target_frames(dataset.settings) is None:
        return None
    sample = dataset.sample(info.frames, info.fps)
    return sample if sample.crash is None and sample.indices else None


def clip_pictures(paths: Iterable[str], keys: Sequence[StatKey], clips_of: Mapping[str, list[Clip]],
                  store: Store, workers: int = 0, timeout: float | None = None) -> tuple[dict[str, ClipPictures], int]:
    """The thumbnail strips of the clips at `paths` (the clips a report shows findings on),
    by the path a finding names: from the store (an earlier run's, or this run's content
    stage's), else decoded now, those frames only, in the pool's workers. Also how many
    clips were decoded (0 on a warm run)."""
    wanted = {os.path.abspath(p): p for p in paths}
    jobs: list[ThumbJob] = []
    about: dict[str, tuple[str, Clip, Any]] = {}
    for key in keys:
        shown = wanted.get(key.path) or wanted.get(os.path.abspath(key.path))
        if shown is None:
            continue
        for clip in clips_of.get(key.path, ()):
            sample = _strip_sample(clip)
            if sample is None:
                continue
            info = clip.info
            chosen = thumbs.choose(sample.indices, sample.padded)
            jobs.append(ThumbJob(key, chosen, info.rotation, thumbs.tile_size(info.width, info.height)))
            about[key.path] = (shown, clip, sample)
            break
    found: dict[str, ClipPictures] = {}
    with ThumbStream(jobs, store, workers=workers, timeout=timeout) as stream:
        for job, strip in stream:
            shown, clip, sample = about[job.key.path]
            found[shown] = _pictures(job, strip, clip, sample)
        decoded = stream.decoded
    return found, decoded


def _pictures(job: ThumbJob, strip: Any, clip: Clip, sample: Any) -> ClipPictures:
    fps = clip.info.fps
    positions: dict[int, int] = {}
    for position, index in enumerate(sample.indices):
        positions.setdefault(index, position)
    frames = tuple(StripFrame(positions.get(i, 0), i, i / fps if fps else None) for i in job.chosen)
    words = _sample_words(sample, clip.info.frames)
    if not isinstance(strip, thumbs.ThumbStrip):  # a stand-in's answer for a crashed worker: its error
        return ClipPictures(b"", job.tile, frames, words, getattr(strip, "error", None) or "not decoded")
    return ClipPictures(strip.jpeg, strip.tile if strip.jpeg else job.tile, frames, words, strip.error)


def _sample_words(sample: Any, frames: int) -> str:
    """`49 of 60 frames: 0..48; the last 11 never shown` (what the strip is chosen from)."""
    taken = list(sample.indices[:len(sample.indices) - sample.padded] if sample.padded else sample.indices)
    steps = {b - a for a, b in zip(taken, taken[1:])}
    if len(taken) > 1 and len(steps) == 1:
        step = steps.pop()
        run = f"{taken[0]}..{taken[-1]}" + (f" every {step}" if step > 1 else "")
    else:
        run = ", ".join(str(i) for i in taken[:3]) + (f" .. {taken[-1]}" if len(taken) > 3 else "")
    parts = [f"{len(taken)} of {frames} frames: {run}"]
    if sample.padded:
        parts.append(f"then #{taken[-1]} repeated {sample.padded} times" if taken else "padded")
    if sample.unseen_tail:
        parts.append(f"the last {sample.unseen_tail} never shown")
    return "; ".join(parts)


@gc_paused()  # a StatKey per clip
def probe_keys(project: Project) -> tuple[list[StatKey], dict[str, list[Clip]]]:
    """The files to probe — listed, inside their data root, and present (missing ones get
    CVL003) — each once, and the clips that name each (a file listed twice is probed once)."""
    clips_of: dict[str, list[Clip]] = {}
    keys: list[StatKey] = []
    isabs, abspath = os.path.isabs, os.path.abspath
    for ds in project.datasets:
        for clip in ds.clips:
            if clip.escapes_root:
                continue
            st = clip.stat  # taken by discovery: no second stat
            if st is None:  # missing, dangling link, NUL in the name
                continue
            path = clip.fspath  # normpath'd or pathlib's: abspath() would change it only by a ".."
            if ".." in path or not (path[:1] == "/" if POSIX else isabs(path)):
                path = abspath(path)
            same = clips_of.get(path)
            if same is None:
                clips_of[path] = [clip]
                keys.append(StatKey(path, st.st_size, st.st_mtime_ns, st.st_ino))
            else:
                same.append(clip)
    return keys, clips_of


def run_checks(active: Sequence[ActiveRule], project: Project, store: Store, probes: ProbeStream | None = None,
               clips_of: Mapping[str, list[Clip]] | None = None, *, overlap: bool = False,
               jobs: int = 1, content_next: bool = False, clean: CleanClips | None = None) -> Iterator[list[Diagnostic]]:
    """Every active rule's stamped findings, a unit of work at a time (a unit may be empty:
    the caller may look at `probes` between two, to draw progress).

    `probes`: the stream of the clips' facts (`clips_of`: the clips naming each path); the
    video rules check each clip as its facts come in. With `overlap` (two probe workers or
    more), the rules that read no probe run between two pulls while workers probe, so this
    process's work overlaps theirs; without it, this process waits for the workers and does
    its own work after, one CPU's worth at a time (`-j 1`).

    The dataset rules whose checks read probe facts (registry.check's `probe_facts`) run
    last, once the stream is finished and every probed clip has its `info`; with
    `content_next`, not here: after the content stage (run_content_checks). `clean`: the clips
    the video rules found nothing on in an earlier run, whose verdict still stands."""
    units = check_units(active, project, store, probes, jobs)
    if probes is None:
        yield from units
        yield from check_units(active, project, store, None, jobs, after_probes=True)
        return
    clips = ClipChecks(active, project, clean=clean)
    if clean is not None:
        clean.look_up(clip for same in clips_of.values() for clip in same)  # type: ignore[union-attr]
    later: list[Diagnostic] | None = None  # a unit computed, not handed over yet
    while not probes.finished:
        if overlap and later is None:
            later = next(units, None)
        wait = not overlap or (later is None and not clips.has_unit())
        for path, info in probes.take(wait):
            same = clips_of[path]  # type: ignore[index]
            for clip in same:
                clip.info = info
            clips.answered(same)
        unit = None
        if overlap:
            if later is not None:
                unit, later = later, None
            else:
                unit = clips.unit()
        yield unit or []
    if later is not None:
        yield later
    yield from units
    yield clips.rest()
    if not content_next:
        yield from check_units(active, project, store, None, jobs, after_probes=True)


def run_content_checks(active: Sequence[ActiveRule], project: Project, store: Store, stream: ContentStream,
                       served: Sequence[list[Clip]], jobs: int = 1) -> Iterator[list[Diagnostic]]:
    """After run_checks(content_next=True): the pixel rules on each clip as its features
    land (`served`: the clips of each of the stream's jobs), then the dataset rules that read
    probe facts or content features, once every clip has both. A unit may be empty: the
    caller may look at `stream` between two, to draw progress."""
    clips = ClipChecks(active, project, target="content")
    index = {id(job): n for n, job in enumerate(stream.jobs)}
    while not stream.finished:
        for job, item in stream.take():
            same = served[index[id(job)]]
            for clip in same:
                clip.content = item
            clips.answered(c for c in same if item.error is None)
        yield clips.unit() or []
    yield clips.rest()
    yield from check_units(active, project, store, None, jobs, after_probes=True)


# Hashing time between two looks at the probe workers (a worker holds ~10 ms of clips)
DIGEST_STEP_S = 0.002


def check_units(active: Sequence[ActiveRule], project: Project, store: Store, probes: ProbeStream | None = None,
                jobs: int = 1, *, after_probes: bool = False) -> Iterator[list[Diagnostic]]:
    """The stamped findings of each rule that reads no probe on each dataset (or on all
    Python files), one list at a time: a unit of work short enough to run between two looks
    at the probe workers (run_checks). A check that reads content digests gets them first,
    from the store or hashed in steps as short (empty units between them).
    `after_probes`: instead, the rules whose checks read probe facts (run_checks runs them
    once the probe stream is finished)."""
    for rule in active:
        if rule.spec.target in CLIP_TARGETS or reads_probe_facts(rule.check) != after_probes:
            continue
        select = getattr(rule.check, "content_digests", None)
        for dataset, subjects in _subjects(rule.spec.target, project):
            digests: Mapping[str, str | None] = {}
            if select is not None and dataset is not None:
                job = DigestJob(store, select(dataset))
                while not job.done:
                    if probes is not None and probes.probing:
                        job.step(DIGEST_STEP_S)
                        yield []
                    else:
                        job.run(jobs)
                job.close()
                digests = job.result
            ctx = RuleContext(params=rule.params, project=project, dataset=dataset, settings=project.settings,
                              digests=digests)
            # Not paused across the yield: workers forked meanwhile would inherit a disabled GC.
            with gc_paused():
                found = _run_rule(rule, ctx, subjects)
            yield found


class ClipChecks:
    """The video rules, run on each clip once its facts are in. `answered(clips)` as they
    land; `unit()`, a batch of them to check while workers probe the rest (run_checks);
    `rest()` after the last answer: only the clips answered since the last unit are left."""

    # A unit: ~1 ms of checks (the built-in video rules: 6-8 us a clip), short beside the
    # two chunks a worker holds (~10 ms), and few enough units that their overhead (the
    # batch, a look at the workers between two) stays small.
    CLIPS_PER_UNIT = 128

    def __init__(self, active: Sequence[ActiveRule], project: Project, target: str = "video",
                 clean: CleanClips | None = None):
        self.rules = [rule for rule in active if rule.spec.target == target]
        self.clean = clean  # clips whose clean verdict stands: not checked again
        # a check's context is made once per rule and dataset, not once per batch
        self._contexts = {(n, id(dataset)): RuleContext(params=rule.params, project=project, dataset=dataset,
                                                        settings=project.settings)
                          for n, rule in enumerate(self.rules) for dataset in project.datasets}
        self._pending: deque[Clip] = deque()  # answered, not checked yet

    def answered(self, clips: Iterable[Clip]) -> None:
        self._pending.extend(clips)

    def has_unit(self) -> bool:
        return len(self._pending) >= self.CLIPS_PER_UNIT

    def unit(self) -> list[Diagnostic] | None:
        """The findings on the next CLIPS_PER_UNIT answered clips; None while fewer wait
        (rest() takes what is left at the end)."""
        pending = self._pending
        if len(pending) < self.CLIPS_PER_UNIT:
            return None
        return self._run([pending.popleft() for _ in range(self.CLIPS_PER_UNIT)])

    def rest(self) -> list[Diagnostic]:
        found = self._run(self._pending)
        self._pending.clear()
        return found

    def _run(self, clips: Iterable[Clip]) -> list[Diagnostic]:
        """Every video rule's stamped findings on `clips`. Checked in the order answered,
        per rule: two list lines naming one file (answered together, in list order) yield
        findings that differ only by their anchor, which finish's sort leaves as they come."""
        clean = self.clean
        by_dataset: dict[int, list[Clip]] = {}
        checked = []
        for clip in clips:
            if clean is not None and clean.is_clean(clip):
                continue
            by_dataset.setdefault(id(clip.dataset), []).append(clip)
            checked.append(clip)
        found: list[Diagnostic] = []
        with gc_paused():
            for n, rule in enumerate(self.rules):
                for dataset_id, subjects in by_dataset.items():
                    found += _run_rule(rule, self._contexts[n, dataset_id], subjects)
        if clean is not None:
            reported = {str(d.location.path) for d in found}
            for clip in checked:
                if str(clip.path) not in reported:
                    clean.found_clean(clip)
        return found


def check_clip(active: Sequence[ActiveRule], project: Project, clip: Clip, info: Any) -> list[Diagnostic]:
    """The video rules' stamped findings on `clip` were its probe facts `info` (a media fix's
    plan: what the rewritten clip would be). The clip itself is left as it is."""
    checks = ClipChecks(active, project)
    checks.answered([Clip(clip.dataset, clip.index, clip.fspath, clip.entry, clip.escapes_root, info, clip.stat,
                          clip.caption)])
    return finish(checks.rest())


def _run_rule(rule: ActiveRule, ctx: RuleContext, subjects: Iterable[Any]) -> list[Diagnostic]:
    """The rule's stamped findings on the subjects. Callers pause the GC around it: a re-lint of
    10,000 clips makes as many findings, nothing for the collector."""
    check = rule.check
    found: list[Diagnostic] = []
    append = found.append
    for subject in subjects:
        try:
            for finding in check(subject, ctx):
                append(stamp(rule, finding))
        except Exception as exc:  # a bug in a check must not hide the others' findings silently
            where = getattr(subject, "path", None) or getattr(subject, "root", "")
            raise CheckCrashed(f"rule {rule.spec.code} crashed on {where}: "
                               f"{exc.__class__.__name__}: {exc}") from exc
    return found


def finish(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Each finding once, in report order."""
    unique = {(d.code, d.location, d.message, d.anchor): d for d in diagnostics}
    return sorted(unique.values(), key=lambda d: d.sort_key)


def _subjects(target: str, project: Project) -> Iterator[tuple[Any, Sequence[Any]]]:
    """(dataset, the rule's subjects in it): a check's context is made once per dataset."""
    if target == "python":
        yield None, project.python_files
    else:
        for dataset in project.datasets:
            if dataset.settings.clips_only:  # clips given as PATHs: the video rules on them alone
                continue
            yield dataset, (dataset,)


class _KeepUnknown(dict):
    """Format values where a placeholder nobody filled stays as written, `{name}`.
    (str.format_map: the same answers as a string.Formatter subclass, 3x faster;
    a re-lint of 100,000 clips renders as many messages.)"""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, values: Mapping[str, Any]) -> str:
    # each value shortened first: a list parameter of a billion leaves must not be printed
    bounded = _KeepUnknown({key: echo(value) for key, value in values.items()})
    try:
        return template.format_map(bounded)
    except (ValueError, IndexError, AttributeError, TypeError, KeyError):
        return template


def stamp(rule: ActiveRule, finding: Finding) -> Diagnostic:
    values = {**rule.params, **finding.args}
    hint = rule.spec.hint
    return Diagnostic(
        code=rule.spec.code,
        name=rule.spec.name,
        severity=rule.severity,
        message=render(rule.spec.message, values),
        location=finding.location,
        fix=finding.fix,
        anchor=finding.anchor,
        fingerprint=finding.fingerprint,
        args=dict(finding.args),
        hint=render(hint, values) if "{" in hint else hint,
    )
