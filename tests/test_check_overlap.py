"""With two jobs or more, Lint.run checks while the workers probe: the rules that read no
probe, then the video rules on each clip as soon as its answer (probed or cached) is in.
The report must be the one of a one-job run, where every check waits for the last answer.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from conftest import COGVID_LINT
from clips import make_clip

from cogvid_lint.cli import build_parser
from cogvid_lint.commands.check import prepare
from cogvid_lint.engine import ClipChecks, build_project, probe_keys, run_checks
from cogvid_lint.probe.stream import ProbeStream
from cogvid_lint.probe.worker import PROBE_FN_ENV
from cogvid_lint.store import Store

TESTS = Path(__file__).resolve().parent
# More clips cached, and more probed, than ClipChecks takes a unit at a time: with two jobs
# both kinds are checked while the workers probe.
CLIPS = 2 * ClipChecks.CLIPS_PER_UNIT + 50
PRIMED = ClipChecks.CLIPS_PER_UNIT + 10  # clips whose answers the probe cache holds before the compared runs
TWICE = "videos/c3.mp4"  # listed on two lines: probed once, findings on both
FLAGS = ["--data-root", "data", "--output-format", "json", "--train-resolution", "49x64x96"]


def _cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, PROBE_FN_ENV: "probe_standins:misbehaving",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([COGVID_LINT, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """A project whose data/ lists a file twice, two files alike (CVL007), one that crashes
    its worker (the `misbehaving` stand-in aborts on ABORT), a missing one (CVL003), one
    caption short (CVL002); and primed-cache/, a probe cache that knows the first PRIMED
    clips. Tests copy the cache (each run starts from the same) and leave the rest as is."""
    root = tmp_path_factory.mktemp("mixed")
    (root / "data/videos").mkdir(parents=True)
    names = []
    for i in range(CLIPS):
        make_clip(root / f"data/videos/c{i}.mp4", frames=9 + i % 3, width=96 if i % 4 else 64, height=64)
        names.append(f"videos/c{i}.mp4")
    shutil.copy(root / "data/videos/c5.mp4", root / "data/videos/c5-copy.mp4")
    make_clip(root / "data/videos/c-ABORT.mp4", frames=9)
    names += [TWICE, "videos/c5-copy.mp4", "videos/c-ABORT.mp4", "videos/missing.mp4"]
    (root / "data/videos.txt").write_text("\n".join(names) + "\n")
    (root / "data/prompts.txt").write_text("a caption\n" * (len(names) - 1))
    (root / "data/primed.txt").write_text("\n".join(names[:PRIMED]) + "\n")
    primed = _cli(root, *FLAGS, "--video-column", "primed.txt", "--cache-dir", "primed-cache", "-j", "1")
    assert primed.returncode == 1, primed.stderr
    return root


def test_the_cli_answers_alike_on_one_job_and_two(mixed, tmp_path):
    reports = []
    for jobs in ("1", "2"):
        shutil.copytree(mixed / "primed-cache", tmp_path / f"cache-{jobs}")
        proc = _cli(mixed, *FLAGS, "--cache-dir", str(tmp_path / f"cache-{jobs}"), "-j", jobs)
        assert proc.returncode == 1, proc.stderr
        reports.append(json.loads(proc.stdout)["diagnostics"])
    codes = {d["code"] for d in reports[0]}
    assert {"CVL002", "CVL003", "CVL007", "CVL101", "CVL102", "CVL105"} <= codes, codes
    assert any(d["code"] == "CVL101" and "c-ABORT" in d["path"] and "crashed" in d["message"] for d in reports[0])
    twice = Counter(d["code"] for d in reports[0] if d["path"].endswith(TWICE) and d["code"].startswith("CVL1"))
    assert twice and all(count == 2 for count in twice.values()), twice  # one finding per list line
    assert reports[0] == reports[1]


def test_each_clip_is_checked_once_by_each_video_rule(mixed, tmp_path, monkeypatch):
    """Cached, probed, crashed and twice-listed clips alike: each Clip once per video rule;
    with two jobs some of them while the workers still probe, with one job none. The probe
    stream is passed to the engine, so the test reads it as the checks run."""
    monkeypatch.setenv(PROBE_FN_ENV, "probe_standins:misbehaving")
    monkeypatch.chdir(mixed)  # the project root: the code rules would read this repository's Python files
    for jobs in (1, 2):
        shutil.copytree(mixed / "primed-cache", tmp_path / f"cache-{jobs}")
        args = build_parser().parse_args(["check", "--data-root", "data", "--train-resolution", "49x64x96",
                                          "--cache-dir", str(tmp_path / f"cache-{jobs}"), "-j", str(jobs)])
        lint = prepare(args)
        checked: Counter = Counter()
        while_probing = []
        running: list[ProbeStream] = []

        def counting(rule):
            def check(clip, ctx):
                checked[rule.spec.code, id(clip)] += 1
                while_probing.append(running[0].probing)
                return rule.check(clip, ctx)

            return dataclasses.replace(rule, check=check)

        video = [counting(r) for r in lint.active if r.spec.target == "video"]
        active = [r for r in lint.active if r.spec.target != "video"] + video
        store = Store.for_settings(lint.settings)
        project = build_project(active, lint.settings, lint.datasets, store)
        keys, clips_of = probe_keys(project)
        with ProbeStream(keys, store, jobs=jobs) as probes:
            running.append(probes)
            assert probes.stored and probes.todo  # some answers come from the store, some from workers
            for _ in run_checks(active, project, store, probes, clips_of, overlap=jobs > 1, jobs=jobs):
                pass
        listed = len((mixed / "data/videos.txt").read_text().splitlines()) - 1  # all but the missing one
        assert len(checked) == listed * len(video) and set(checked.values()) == {1}, jobs
        assert any(while_probing) == (jobs == 2), jobs
