"""Remembered runs (cogvid_lint.run_memo): a replay prints exactly what a fresh run prints,
and any change to any input — clip, list, caption, symlink, config, code, latent cache,
environment — makes the next run a fresh one."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import cogvid_lint.commands.check as check_command
from cogvid_lint import run_memo
from cogvid_lint.cli import main
from cogvid_lint.remembered import user_cache_dir
from clips import make_clip

ARGS = ("--data-root", "data", "--train-resolution", "49x64x96", "--output-format", "json")


@pytest.fixture
def memo_project(project, monkeypatch, tmp_path):
    """A small project, this test's own user cache, and the run memo used as a user's would be
    (not in check mode, where a match is run afresh anyway)."""
    monkeypatch.delenv(run_memo.CHECK_ENV, raising=False)
    monkeypatch.setenv("COGVID_LINT_CACHE_HOME", str(tmp_path / "user-cache"))
    root = project(files={"data/videos.txt": "videos/a.mp4\nvideos/b.mp4\n",
                          "data/prompts.txt": "a cat\na dog\n"},
                   clips={"data/videos/a.mp4": {"width": 96, "height": 64, "frames": 9},
                          "data/videos/b.mp4": {"width": 64, "height": 64, "frames": 9}})
    return root


@pytest.fixture
def fresh_runs(monkeypatch):
    """Counts the runs that were really done (not replayed)."""
    calls = []
    real = check_command.run_check

    def counted(args):
        calls.append(args)
        return real(args)

    monkeypatch.setattr(check_command, "run_check", counted)
    return calls


def lint(capsys, *extra: str, remember: bool = True) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*ARGS, *extra], remember=remember)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def records() -> list[Path]:
    folder = user_cache_dir() / "runs"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def settle(capsys, *extra: str) -> tuple[int, str, str]:
    """Run until a run is replayed: the first run creates the probe cache folder it then
    finds, so the second one is recorded against that and the third replays."""
    for _ in range(3):
        result = lint(capsys, *extra)
    return result


def test_a_replay_prints_what_the_fresh_run_printed_without_running(memo_project, capsys, fresh_runs):
    first = lint(capsys)
    settle(capsys)
    done = len(fresh_runs)
    again = lint(capsys)
    assert len(fresh_runs) == done, "nothing changed: the run is replayed, not done"
    assert again == first and first[0] == 1 and json.loads(first[1])["diagnostics"]
    # the record is plain JSON (never a pickle: no code in the user's cache) in runs/
    [record] = records()
    memo = json.loads(record.read_text())
    assert memo["stdout"] == first[1] and memo["exit"] == 1


def _write_clip(root: Path, rel: str, **kwargs) -> None:
    make_clip(root / rel, **{"width": 96, "height": 64, "frames": 9, **kwargs})


def _retarget_link(root: Path) -> None:
    link = root / "data/videos/b.mp4"
    _write_clip(root, "data/videos/wide.mp4", width=128, height=64)
    link.unlink()
    link.symlink_to("wide.mp4")


def _latent(root: Path) -> None:
    from safetensors.numpy import save_file
    import numpy as np

    folder = root / "data/cache/video_latent/cogvideox-t2v/49x64x96"
    folder.mkdir(parents=True)
    save_file({"latent": np.zeros((16, 13, 8, 12), dtype=np.float16)}, str(folder / "ghost.safetensors"))


CHANGES = {
    "a clip rewritten": lambda root: _write_clip(root, "data/videos/a.mp4", width=64, height=96),
    "a clip deleted": lambda root: (root / "data/videos/a.mp4").unlink(),
    "a clip listed and added": lambda root: (_write_clip(root, "data/videos/c.mp4", frames=5),
                                             (root / "data/videos.txt").write_text("videos/a.mp4\nvideos/b.mp4\nvideos/c.mp4\n")),
    "a caption edited": lambda root: (root / "data/prompts.txt").write_text("a cat\n\na dog\n"),
    "a symlinked clip retargeted": _retarget_link,
    "a config file added": lambda root: (root / "cogvid-lint.yaml").write_text("rules:\n  CVL102: {params: {min_frames: 17}}\n"),
    "a Python file added": lambda root: (root / "train.py").write_text("import decord\nimport torch\n"),
    "a latent cache file added": _latent,
    "a clip's mode changed": lambda root: os.chmod(root / "data/videos/a.mp4", 0o600),
}


@pytest.mark.parametrize("change", CHANGES)
def test_any_change_to_an_input_makes_the_run_fresh(memo_project, capsys, fresh_runs, change):
    if change == "a symlinked clip retargeted":
        _write_clip(memo_project, "data/videos/plain.mp4")
        (memo_project / "data/videos/b.mp4").unlink()
        (memo_project / "data/videos/b.mp4").symlink_to("plain.mp4")
    settle(capsys)
    done = len(fresh_runs)
    CHANGES[change](memo_project)
    fresh = lint(capsys, remember=False)
    remembered = lint(capsys)
    assert len(fresh_runs) == done + 2, "the change was noticed: no replay"
    assert remembered == fresh
    before = lint(capsys)  # and the new state is remembered in turn
    assert before == fresh


def test_the_environment_and_the_command_line_are_part_of_the_record(memo_project, capsys, fresh_runs, monkeypatch):
    settle(capsys)
    done = len(fresh_runs)
    monkeypatch.setenv("COGVID_LINT_SOMETHING", "else")
    lint(capsys)
    lint(capsys, "--select", "CVL1")
    assert len(fresh_runs) == done + 2


@pytest.mark.parametrize("extra", [("--no-cache",), ("--diff",), ("--fix",), ("--write-baseline", "base.json")])
def test_runs_that_change_files_or_skip_caches_are_never_remembered(memo_project, capsys, extra):
    for _ in range(2):
        lint(capsys, *extra)
    assert records() == []


def test_a_run_that_warned_is_not_remembered(memo_project):
    (memo_project / "not-a-folder").write_text("")
    for _ in range(2):  # a warning is true of this run, not of the next: each run warns again
        proc = installed(memo_project, "--cache-dir", "not-a-folder/cache")
        assert proc.returncode == 1 and "warning: cannot create the probe cache" in proc.stderr
    assert records() == []


def test_a_replay_writes_the_report_file_again(memo_project, capsys):
    settle(capsys, "-o", "report.json")
    written = (memo_project / "report.json").read_text()
    (memo_project / "report.json").unlink()
    code, out, _ = lint(capsys, "-o", "report.json")
    assert code == 1 and out == ""
    assert (memo_project / "report.json").read_text() == written


def test_check_mode_fails_a_stale_record(memo_project, capsys, monkeypatch):
    settle(capsys)
    [record] = records()
    memo = json.loads(record.read_text())
    memo["stdout"] = memo["stdout"].replace("CVL", "XYZ")  # as if an input had been missed
    record.write_text(json.dumps(memo))
    monkeypatch.setenv(run_memo.CHECK_ENV, "1")
    code, _, err = lint(capsys)
    assert code == 2 and "remembered run is stale (stdout differ)" in err
    assert records() == [], "a disproved record is dropped: no unchecked run replays it"


def test_a_record_keeps_no_environment(memo_project, capsys, monkeypatch):
    monkeypatch.setenv("SOME_TOKEN", "s3cr3t-value")  # CI secrets live in the environment
    settle(capsys)
    [record] = records()
    assert "s3cr3t-value" not in record.read_text() and "SOME_TOKEN" not in record.read_text()


def test_a_module_installed_since_makes_the_run_fresh(memo_project, capsys, fresh_runs, monkeypatch, tmp_path):
    """Imports search sys.path without our os functions; a package that appears there can
    change what a run imports (torch for the legacy-cache rule), so the folders are listed."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    settle(capsys)
    done = len(fresh_runs)
    (site / "newly_installed.py").write_text("")
    lint(capsys)
    assert len(fresh_runs) == done + 1


def test_a_folder_listed_as_bytes_is_recorded_as_text(tmp_path):
    from cogvid_lint.run_memo.observe import Observations, listing, observing

    (tmp_path / "a.mp4").write_bytes(b"")
    obs = Observations()
    with observing(obs):
        assert os.listdir(os.fsencode(tmp_path)) == [b"a.mp4"]
    assert obs.listing == {str(tmp_path): [("a.mp4", "f")]} == {str(tmp_path): listing(os.fsencode(tmp_path))}


def test_only_the_newest_records_are_kept(memo_project, capsys, monkeypatch):
    monkeypatch.setattr(run_memo, "RECORDS_KEPT", 2)
    for codes in ("CVL1", "CVL0", "CVL2"):
        lint(capsys, "--select", codes)
    assert len(records()) == 2


def installed(root: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != run_memo.CHECK_ENV}
    return subprocess.run(["cogvid-lint", *ARGS, *extra], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_installed_command_replays_identically(memo_project):
    outputs = [installed(memo_project) for _ in range(3)]
    assert {(p.returncode, p.stdout, p.stderr) for p in outputs} == {(1, outputs[0].stdout, "")}
    assert len(records()) == 1
