"""`--engine ray`: the probe and content stages as Ray tasks, each running the project's
crash-isolated pool; the same JSON report as the local engine, byte for byte.

The tests marked `ray` share one local Ray instance (conftest's module fixture
`ray_cluster`, two CPUs); the others need no cluster.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import footage
from clips import make_clip
from conftest import COGVID_LINT
from cogvid_lint.cli import main
from cogvid_lint.probe import cache
from cogvid_lint.probe.stream import PROBE_VERSION_FN, ProbeStream
from cogvid_lint.store import StatKey, Store

TESTS = Path(__file__).parent
PACKAGE = TESTS.parent / "cogvid_lint"

# Probe stand-in: crashes on ABORT / SEGV, hangs on HANG. Content stand-in: crashes on
# DECODE_CRASH, hangs on DECODE_STUCK (names the probe stand-in lets through).
STANDINS = {"COGVID_LINT_PROBE_FN": "probe_standins:misbehaving",
            "COGVID_LINT_CONTENT_FN": "content_standins:decode_misbehaving"}
CLIPS = {"cut.mp4": ("cut", {"at": 41}), "still.mp4": ("still", {}), "pan.mp4": ("pan", {}),
         "ABORT.mp4": ("pan", {"seed": 2}), "SEGV.mp4": ("pan", {"seed": 3}), "HANG.mp4": ("pan", {"seed": 4}),
         "DECODE_CRASH.mp4": ("pan", {"seed": 5}), "DECODE_STUCK.mp4": ("pan", {"seed": 6})}
ARGS = ["--data-root", "data", "--output-format", "json", "--no-cache", "--probe-timeout", "2",
        "--train-resolution", "17x480x720", "--extend-select", "CVL5"]


def _dataset(root: Path, clips: dict) -> None:
    for rel, (recipe, params) in clips.items():
        footage.make(root, f"data/v/{rel}", recipe, **params)
    (root / "data/videos.txt").write_text("".join(f"v/{rel}\n" for rel in clips))
    (root / "data/prompts.txt").write_text("".join(f"a caption for clip {i}\n" for i in range(len(clips))))


def _one_clip(root: Path) -> None:
    (root / "data/videos").mkdir(parents=True)
    make_clip(root / "data/videos/a.mp4", frames=9)
    (root / "data/videos.txt").write_text("videos/a.mp4\n")
    (root / "data/prompts.txt").write_text("a caption\n")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.ray
def test_ray_and_local_engines_print_the_same_json_with_crashing_and_hanging_clips(ray_cluster, tmp_path,
                                                                                  monkeypatch, capsys):
    _dataset(tmp_path, CLIPS)
    env = {**os.environ, **STANDINS, "PYTHONPATH": str(TESTS)}
    local = subprocess.run([COGVID_LINT, *ARGS, "--engine", "local"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert local.returncode == 1, local.stderr
    # The Ray run in this process, on the test run's one Ray instance (already connected: used as is)
    monkeypatch.chdir(tmp_path)
    for key, value in STANDINS.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    code = main([*ARGS, "--engine", "ray"])
    ray_out, ray_err = capsys.readouterr()
    assert code == 1
    assert ray_out == local.stdout  # byte for byte
    found = {(d["path"], d["code"]): d["message"] for d in json.loads(ray_out)["diagnostics"]}
    assert "decoder crashed (SIGABRT)" in found["data/v/ABORT.mp4", "CVL101"]
    assert "decoder crashed (SIGSEGV)" in found["data/v/SEGV.mp4", "CVL101"]
    assert "timed out after 2 s" in found["data/v/HANG.mp4", "CVL101"]
    assert ("data/v/cut.mp4", "CVL501") in found and ("data/v/still.mp4", "CVL503") in found
    for err in (ray_err, local.stderr):  # the content stage's crash and hang: one warning line each
        lines = [line for line in err.splitlines() if "DECODE_" in line]
        assert len(lines) == 2, err
        assert "decoder crashed (SIGSEGV)" in lines[0] and "DECODE_CRASH" in lines[0]
        assert "timed out after 8 s" in lines[1] and "DECODE_STUCK" in lines[1]
        assert "Traceback" not in err
    assert ray_cluster.is_initialized()  # a Ray instance the run did not start is left running


@pytest.mark.ray
def test_answers_from_other_code_are_reported_once_and_not_stored(ray_cluster, tmp_path):
    from cogvid_lint.probe.ray_engine import RayRunner

    paths = []
    for i in range(5):
        make_clip(tmp_path / f"c{i}.mp4", frames=5 + i)
        paths.append(str(tmp_path / f"c{i}.mp4"))
    keys = [StatKey.of(p, os.stat(p)) for p in paths]
    store = Store(tmp_path / "cache")
    runner = RayRunner()
    # a version function that differs in every process: each Ray worker "runs other code"
    pool = runner.pool(0, 30, "cogvid_lint.probe.pyav:probe", version="probe_standins:pid_version")
    with ProbeStream(keys, store, pool=pool) as stream:
        answers = dict(stream)
        assert stream.unstored == set(paths)
    assert {p: answers[p].frames for p in paths} == {p: 5 + i for i, p in enumerate(paths)}  # reported
    assert len(runner.warnings) == 1 and "other probe code" in runner.warnings[0]  # said once
    assert cache.lookup(store, cache.probe_version("cogvid_lint.probe.pyav:probe"), keys) == {}  # not stored
    runner.close()
    assert ray_cluster.is_initialized()


@pytest.mark.ray
def test_a_task_lost_with_its_worker_is_its_clips_answer_and_the_rest_stands(ray_cluster, tmp_path):
    from cogvid_lint.probe.ray_engine import RayRunner

    names = [f"c{i}.mp4" for i in range(7)] + ["KILLHOST.mp4"]
    for name in names:
        make_clip(tmp_path / name, frames=9)
    runner = RayRunner(retries=0)  # the Ray worker is killed: no retry, the task is lost
    pool = runner.pool(0, 30, "probe_standins:kills_its_host", version=PROBE_VERSION_FN)
    pool.submit([str(tmp_path / n) for n in names])
    answers = {}
    while not pool.finished:
        answers.update(pool.take())
    lost = names.index("KILLHOST.mp4")
    assert answers[lost].error.startswith("lost on the Ray cluster (") and "after 0 retries" in answers[lost].error
    assert all(answers[i].error is None and answers[i].frames == 9 for i in range(len(names)) if i != lost)
    assert lost in pool.unstored
    assert len(runner.warnings) == 1 and "lost" in runner.warnings[0]


def test_an_unreachable_cluster_is_one_line_and_exit_2(tmp_path):
    pytest.importorskip("ray")
    _one_clip(tmp_path)
    address = f"127.0.0.1:{_closed_port()}"
    proc = subprocess.run([COGVID_LINT, "--data-root", "data", "--no-cache", "--engine", "ray", "--ray-address",
                           address], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"cogvid-lint: error: --engine ray: cannot reach the Ray cluster at "
                                        f"{address}: Connection refused"]


_WITHOUT_RAY = """
import sys
sys.modules["ray"] = None  # as if the extra were not installed: `import ray` raises ImportError
from cogvid_lint.cli import main
args = ["--data-root", "data", "--output-format", "json"]
print("local", main(args), "ray imported:", "cogvid_lint.probe.ray_engine" in sys.modules, file=sys.stderr)
print("cold ray", main([*args, "--engine", "ray", "--no-cache"]), file=sys.stderr)
print("warm ray", main([*args, "--engine", "ray"]), file=sys.stderr)
"""


def test_ray_is_imported_only_for_the_ray_engine_and_only_when_clips_need_probing(tmp_path):
    _one_clip(tmp_path)
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_RAY], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.stderr.splitlines() == [
        "local 1 ray imported: False",  # the local engine never loads the Ray engine
        "cogvid-lint: error: --engine ray needs Ray, which is not installed: pip install 'cogvid-lint[ray]'",
        "cold ray 2",
        "warm ray 1",  # every probe stored: the Ray engine has nothing to run, and needs no Ray
    ], proc.stderr
    # and no module but the Ray engine's imports ray
    importers = [p for p in PACKAGE.rglob("*.py") if "import ray" in p.read_text(encoding="utf-8")]
    assert importers == [PACKAGE / "probe/ray_engine.py"]


def test_engine_and_ray_address_come_from_the_config_or_the_command_line(tmp_path):
    from cogvid_lint.errors import ConfigError
    from cogvid_lint.settings import CliOptions, resolve_settings

    (tmp_path / "cogvid-lint.yaml").write_text("engine: ray\nray-address: head:6379\nray-retries: 1\n")
    settings = resolve_settings(CliOptions(paths=(str(tmp_path),)), cwd=tmp_path)
    assert (settings.options.engine, settings.options.ray_address, settings.options.ray_retries) == ("ray", "head:6379", 1)
    assert settings.sources["engine"].file == tmp_path / "cogvid-lint.yaml"
    settings = resolve_settings(CliOptions(paths=(str(tmp_path),), extra={"engine": "local"}), cwd=tmp_path)
    assert settings.options.engine == "local" and str(settings.sources["engine"]) == "command line"
    (tmp_path / "cogvid-lint.yaml").write_text("engine: spark\n")
    with pytest.raises(ConfigError) as err:
        resolve_settings(CliOptions(paths=(str(tmp_path),)), cwd=tmp_path)
    assert len(err.value.lines) == 1 and "engine" in err.value.lines[0] and "cogvid-lint.yaml" in err.value.lines[0]


@pytest.mark.ray
def test_ray_and_local_engines_print_the_same_json_on_a_data_root_in_object_storage(ray_cluster, tmp_path,
                                                                                   monkeypatch, capsys):
    """The Ray tasks probe the objects themselves (range reads from the workers, the endpoint
    from the config), and the report is the local engine's, byte for byte."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto")
    from clips import truncate_clip
    from s3server import ACCESS, S3Server

    _dataset(tmp_path, {name: CLIPS[name] for name in ("cut.mp4", "still.mp4", "pan.mp4")})
    truncate_clip(make_clip(tmp_path / "data/v/cut_short.mp4", frames=49), 0.6)
    with (tmp_path / "data/videos.txt").open("a") as handle:
        handle.write("v/cut_short.mp4\n")
    with (tmp_path / "data/prompts.txt").open("a") as handle:
        handle.write("a caption for the short clip\n")
    server = S3Server().start()
    try:
        server.upload("clips", tmp_path / "data", "ray")
        work = tmp_path / "work"
        work.mkdir()
        (work / "cogvid-lint.yaml").write_text(f"remote-endpoint: {server.url}\n")
        for key, value in ACCESS.items():
            monkeypatch.setenv(key, value)
        args = ["s3://clips/ray", "--output-format", "json", "--no-cache", "--train-resolution", "17x480x720"]
        server.clear()
        local = subprocess.run([COGVID_LINT, *args, "--engine", "local"], cwd=work, env=dict(os.environ),
                               capture_output=True, text=True, timeout=300)
        assert local.returncode == 1, local.stderr
        local_gets = [r.path for r in server.object_requests("clips", "ray/v/") if r.method == "GET"]
        monkeypatch.chdir(work)
        capsys.readouterr()
        server.clear()
        code = main([*args, "--engine", "ray"])
        ray_out, ray_err = capsys.readouterr()
        ray_gets = [r.path for r in server.object_requests("clips", "ray/v/") if r.method == "GET"]
    finally:
        server.stop()
    assert code == 1, ray_err
    assert ray_out == local.stdout  # byte for byte
    found = {(d["path"], d["code"]) for d in json.loads(ray_out)["diagnostics"]}
    assert ("s3://clips/ray/v/cut_short.mp4", "CVL101") in found
    # every clip was read by the Ray tasks as by the local workers: the same objects
    assert sorted(set(ray_gets)) == sorted(set(local_gets)) and len(set(ray_gets)) == 4
