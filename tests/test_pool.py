"""Parallel, crash-isolated probing; and probing (and importing) nothing when no rule needs it.

Real clips and real worker processes; the misbehaving probes are stand-ins (probe_standins)
that hang, abort or segfault on marked files, because no real clip reliably crashes FFmpeg.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import COGVID_LINT
from clips import make_clip, make_text, truncate_clip

from cogvid_lint.probe.pool import CHUNK, ProbePool, probe_many
from cogvid_lint.probe.worker import PROBE_FN_ENV
from cogvid_lint.probe.pyav import probe
from cogvid_lint.store import DB_NAME

TESTS = Path(__file__).resolve().parent
KINDS = [{"container": None, "suffix": ".mp4"}, {"suffix": ".webm"}, {"suffix": ".mkv", "rotation": 90},
         {"suffix": ".mov", "codec": "mpeg4"}, {"suffix": ".avi"}]


def _corpus(folder: Path, count: int) -> list[str]:
    """`count` files: mostly real clips of mixed containers and sizes, some broken ones."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        path = folder / f"clip{i:03d}{kind['suffix']}"
        if i % 11 == 7:
            make_text(path)
        else:
            make_clip(path, frames=5 + i % 13, width=64 if i % 2 else 96, height=32 if kind.get("rotation") else 48,
                      **{k: v for k, v in kind.items() if k in ("codec", "rotation")})
            if i % 13 == 5:
                truncate_clip(path, 0.6)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[str]:
    return _corpus(tmp_path_factory.mktemp("corpus"), 60)


def test_parallel_results_are_identical_to_serial(corpus):
    serial = [probe(p) for p in corpus]
    assert any(info.error for info in serial) and sum(info.error is None for info in serial) > 40
    for jobs in (1, 2, 3):
        assert probe_many(corpus, jobs=jobs) == serial


def test_the_pool_is_pulled_and_never_blocks_when_told_not_to(corpus):
    """take(wait=False) hands over what is in and returns at once, so its caller can do
    work of its own between two looks; every answer comes out once, and the results are
    those of a serial run."""
    serial = [probe(p) for p in corpus]
    for jobs in (2, 1):
        got: dict[int, object] = {}
        empty_looks = 0
        with ProbePool(jobs) as workers:
            workers.submit(corpus)
            while not workers.finished:
                batch = workers.take(wait=False)
                empty_looks += not batch
                for index, info in batch:
                    assert index not in got
                    got[index] = info
        assert [got[i] for i in range(len(corpus))] == serial
        assert empty_looks  # the first look comes before any worker has answered


def test_workers_started_early_are_the_ones_that_probe_and_leftovers_are_stopped(tmp_path):
    names = [str(tmp_path / f"{i}.mp4") for i in range(20)]  # two chunks of 16 at most: two workers
    with ProbePool(3, spec="probe_standins:whoami", start=True) as workers:
        early = [w.proc for w in workers.slots]
        assert len(early) == 3
        workers.submit(names)
        answers = []
        while not workers.finished:
            answers += [info for _, info in workers.take()]
        assert {info.codec for info in answers} <= {str(p.pid) for p in early}  # no fresh fork
        assert sum(p.is_alive() for p in early) == 2  # the third: stopped
    assert not any(p.is_alive() for p in early)


def test_workers_start_before_discovery_only_for_a_cold_run_on_two_jobs(tmp_path):
    from cogvid_lint.commands.check import probe_early
    from cogvid_lint.store import DB_NAME, Store

    (tmp_path / "cache").mkdir()
    store = Store(tmp_path / "cache")
    assert probe_early(2, store)  # nothing stored yet
    assert not probe_early(1, Store(None))  # one job: one CPU's worth of work at a time
    assert probe_early(2, Store(None))  # --no-cache
    (tmp_path / "cache" / DB_NAME).write_bytes(b"")
    assert not probe_early(2, store)  # the store may answer


def test_every_clip_is_probed_in_a_worker_however_few(tmp_path):
    """Isolation never depends on how many clips are left: one clip still goes to a worker
    (a segfault or a hang must not take the run with it)."""
    names = [str(tmp_path / f"{i}.mp4") for i in range(40)]
    few = probe_many(names[:1], jobs=2, spec="probe_standins:whoami")
    assert str(os.getpid()) not in {info.codec for info in few}
    many = probe_many(names, jobs=2, spec="probe_standins:whoami")
    pids = {info.codec for info in many}
    assert len(pids) == 2 and str(os.getpid()) not in pids
    assert [info.path for info in many] == names  # input order, whoever answered
    crash = tmp_path / "SEGV.mp4"
    make_clip(crash)
    assert probe_many([str(crash)], jobs=1, spec="probe_standins:misbehaving")[0].error == "decoder crashed (SIGSEGV)"


@pytest.mark.parametrize("marker,reason", [("ABORT", "decoder crashed (SIGABRT)"),
                                           ("SEGV", "decoder crashed (SIGSEGV)")])
def test_a_crashing_clip_is_reported_and_the_pool_carries_on(corpus, tmp_path, marker, reason):
    bad = tmp_path / f"{marker}.mp4"
    make_clip(bad)
    paths = corpus[:30] + [str(bad)] + corpus[30:]
    results = probe_many(paths, jobs=2, spec="probe_standins:misbehaving")
    assert results[30].error == reason and results[30].path == str(bad)
    assert results[:30] + results[31:] == [probe(p) for p in corpus]


def test_a_hanging_clip_is_abandoned_after_the_timeout(corpus, tmp_path):
    hang = tmp_path / "HANG.mkv"
    make_clip(hang)
    paths = corpus[:5] + [str(hang)] + corpus[5:25]
    start = time.monotonic()
    results = probe_many(paths, jobs=2, timeout=1.5, spec="probe_standins:misbehaving")
    elapsed = time.monotonic() - start
    assert results[5].error == "probe timed out after 1.5 s"
    assert results[:5] + results[6:] == [probe(p) for p in corpus[:25]]
    assert elapsed < 20


def test_a_worker_that_died_on_its_chunk_while_the_parent_was_busy_loses_no_clip(tmp_path):
    """Each worker holds two chunks; it dies on the first clip of its second while the
    parent is busy meanwhile, so the parent's next send to it fails: the clips it held are
    still answered (the crash on the one it died on, the others probed again)."""
    size = 5  # 40 clips: chunks of 5, worker 0 gets chunks 0 and 1, worker 1 chunks 2 and 3
    doomed = {size, 3 * size}
    paths = [str(tmp_path / (f"{i}-ABORT.mp4" if i in doomed else f"{i}.mp4")) for i in range(8 * size)]
    results: list = [None] * len(paths)
    with ProbePool(2, spec="probe_standins:misbehaving") as workers:
        workers.submit(paths)
        time.sleep(1.0)  # busy: the workers answer their first chunk and die on the next
        while not workers.finished:
            for index, info in workers.take():
                results[index] = info
    assert None not in results
    assert {i for i, info in enumerate(results) if (info.error or "").startswith("decoder crashed")} == doomed


def test_a_raising_probe_is_a_finding_not_a_crash(tmp_path):
    paths = [str(tmp_path / f"{i}.mp4") for i in range(CHUNK * 2)]
    results = probe_many(paths, jobs=2, spec="probe_standins:raising")
    assert all(r.error == "probe failed: RuntimeError: stand-in bug" for r in results)


def _dataset(root: Path, names: list[str]) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data/videos.txt").write_text("".join(f"videos/{n}\n" for n in names))
    (root / "data/prompts.txt").write_text("".join(f"a caption for clip {i}\n" for i in range(len(names))))


def test_installed_command_reports_crash_and_hang_as_unreadable(tmp_path):
    names = [f"c{i}.mp4" for i in range(14)] + ["ABORT.mp4", "HANG.mp4", "SEGV.mp4"]
    (tmp_path / "data/videos").mkdir(parents=True)
    for name in names:
        make_clip(tmp_path / "data/videos" / name, frames=9)
    _dataset(tmp_path, names)
    env = {**os.environ, PROBE_FN_ENV: "probe_standins:misbehaving", "PYTHONFAULTHANDLER": "1",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([COGVID_LINT, "--data-root", "data", "--output-format", "json", "-j", "2",
                           "--probe-timeout", "2", "--select", "CVL101,CVL102"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr  # no crash dump, no traceback
    found = {(d["path"], d["code"]): d["message"] for d in json.loads(proc.stdout)["diagnostics"]}
    unreadable = {path for path, code in found if code == "CVL101"}
    assert unreadable == {f"data/videos/{n}.mp4" for n in ("ABORT", "HANG", "SEGV")}
    # every other clip was probed (9 frames are too few for the default 49): the pool carried on
    assert {path for path, code in found if code == "CVL102"} == {f"data/videos/c{i}.mp4" for i in range(14)}
    assert "decoder crashed (SIGABRT)" in found["data/videos/ABORT.mp4", "CVL101"]
    assert "decoder crashed (SIGSEGV)" in found["data/videos/SEGV.mp4", "CVL101"]
    assert "timed out after 2 s" in found["data/videos/HANG.mp4", "CVL101"]


_IMPORTS_AFTER_MAIN = """
import json, sys
from cogvid_lint.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps(sorted(m for m in ("av", "decord", "torch", "rich", "numpy") if m in sys.modules)), file=sys.stderr)
"""


def _imports_after(cwd: Path, *argv: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", _IMPORTS_AFTER_MAIN, *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1])


def _probed_rows(root: Path) -> int:
    import sqlite3

    db = root / ".cogvid_lint_cache" / DB_NAME
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM probes").fetchone()[0]


def test_code_rules_import_no_video_library(tmp_path):
    (tmp_path / "train.py").write_text("import decord\nimport torch\n\nprint(decord, torch)\n")
    (tmp_path / "data/videos").mkdir(parents=True)
    make_clip(tmp_path / "data/videos/a.mp4")
    _dataset(tmp_path, ["a.mp4"])
    assert _imports_after(tmp_path, "--select", "CVL4", "train.py", "--output-format", "json") == []
    assert _probed_rows(tmp_path) == 0  # nothing probed (the code facts are cached, no clip)
    # the same project with the video rules on does probe, in a worker: av stays out of the parent
    assert "av" not in _imports_after(tmp_path, "--select", "CVL1", "--data-root", "data", "--output-format", "json")
    assert _probed_rows(tmp_path) == 1


def test_importtime_of_the_code_hook(tmp_path):
    (tmp_path / "one_file.py").write_text("import os\n")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "cogvid_lint", "--select", "CVL4",
                           "one_file.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "cogvid_lint.cli" in imported
    assert not imported & {"av", "decord", "torch"}


def _run_on_pty(cwd: Path, env: dict, *argv: str) -> str:
    """Run the installed command with stderr on a terminal; return what the terminal got."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([COGVID_LINT, *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_progress_bar_only_for_long_probes_on_a_terminal_and_never_in_json(tmp_path):
    names = [f"{i}.mp4" for i in range(1200)]  # 1200 x 4 ms on 1 job: expected > 2 s
    (tmp_path / "data/videos").mkdir(parents=True)
    for name in names:
        (tmp_path / "data/videos" / name).write_bytes(b"x")
    _dataset(tmp_path, names)
    env = {**os.environ, PROBE_FN_ENV: "probe_standins:whoami",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    env.pop("NO_COLOR", None)
    common = ["--data-root", "data", "--select", "CVL101", "--no-cache", "-j", "1"]
    assert "probing clips" in _run_on_pty(tmp_path, env, *common, "--output-format", "concise")
    assert "probing clips" not in _run_on_pty(tmp_path, env, *common, "--output-format", "json")
    small = tmp_path / "small"
    small.mkdir()
    _dataset(small, names[:20])
    (small / "data/videos").symlink_to(tmp_path / "data/videos")
    assert "probing clips" not in _run_on_pty(small, env, *common, "--output-format", "concise")
    piped = subprocess.run([COGVID_LINT, *common, "--output-format", "concise"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert "probing" not in piped.stderr


@pytest.mark.parametrize("argv", [["-j", "-1"], ["--jobs", "two"], ["--probe-timeout", "0"], ["--probe-timeout", "x"]])
def test_bad_speed_flags_are_one_line_usage_errors(tmp_path, monkeypatch, capsys, argv):
    from cogvid_lint.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cogvid-lint: error: ") and argv[1] in err[0]


_HANGING_PARENT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from cogvid_lint.probe.pool import ProbePool
pool = ProbePool(2, timeout=None, spec="probe_standins:misbehaving", start=True)
pool.submit([f"{i}-HANG.mp4" for i in range(40)])  # two workers, each hanging on its first clip
print(" ".join(str(w.proc.pid) for w in pool.slots if w is not None), flush=True)
time.sleep(3600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"  # a zombie has died
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_workers_die_with_their_parent(signal_name):
    """Workers busy on clips that hang: killing the run (however) must not leave them running."""
    import signal

    parent = subprocess.Popen([sys.executable, "-c", _HANGING_PARENT, str(TESTS)], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        parent.send_signal(getattr(signal, signal_name))
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers)
    finally:
        parent.kill()
