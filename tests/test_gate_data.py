"""Issue 16, items 2, 3, 7, 8: a gate that cannot be fooled — through the installed command.

2. a CI checkout without the (git-ignored) media: the README's GitHub Actions command on a
   real `git clone`, green when only ignored media is absent, red when a listed clip is
   missing and not ignored; the baseline keeps the entries of the clips it cannot see;
3. a media fix never makes a clip worse, and never upscales (CVL106 stays);
7. CVL008 counts unique, readable clips; a missing data root is said once;
8. `.cogvid-lint/` (backups, journals) stays out of git.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from clips import make_clip
from conftest import COGVID_LINT

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

# Neither the user's nor the machine's git configuration (a global excludes file would
# change what is ignored); the same environment for git and for cogvid-lint, which asks git.
GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}

# The README's GitHub Actions step, as written there
CI_COMMAND = ["--output-format", "sarif", "-o", "cogvid-lint.sarif"]
CLIPS = [f"c{n:02d}.mp4" for n in range(12)]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout


def lint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COGVID_LINT, *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True)


def sarif_results(cwd: Path) -> list[tuple[str, str]]:
    report = json.loads((cwd / "cogvid-lint.sarif").read_text(encoding="utf-8"))
    return sorted((r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
                  for run in report["runs"] for r in run["results"])


def style_repo(root: Path, extra_lines: str = "") -> Path:
    """A fine-tuning repository: lists and captions committed, clips (short, 4:3: every clip
    has findings) present in the work tree but git-ignored."""
    data = root / "data"
    (data / "videos").mkdir(parents=True)
    for n, name in enumerate(CLIPS):
        make_clip(data / "videos" / name, width=64, height=48, frames=3 + n)
    (data / "videos.txt").write_text("".join(f"videos/{name}\n" for name in CLIPS) + extra_lines)
    count = len(CLIPS) + extra_lines.count("\n")
    (data / "prompts.txt").write_text("".join(f"a short clip of a scene, take {n}\n" for n in range(count)))
    (root / "cogvid-lint.yaml").write_text("data-root: data\n")
    (root / ".gitignore").write_text("data/videos/\n*.sarif\n")
    git(root, "init", "-q", ".")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "lists and captions")
    return root


def checkout(repo: Path, where: Path) -> Path:
    """What actions/checkout gives the job: a clone, without the ignored media."""
    git(repo.parent, "clone", "-q", str(repo), str(where))
    assert not (where / "data" / "videos").exists()
    return where


# -- item 2: CI checkouts without the media ----------------------------------------------------

@needs_git
def test_readme_ci_step_is_green_on_a_checkout_without_the_ignored_media(tmp_path):
    repo = style_repo(tmp_path / "repo")
    local = lint(repo, *CI_COMMAND)
    assert local.returncode == 1 and ("CVL102", "data/videos.txt") in sarif_results(repo)  # the clips are linted
    ci = checkout(repo, tmp_path / "ci")
    done = lint(ci, *CI_COMMAND)
    assert done.returncode == 0, (done.stdout, done.stderr, sarif_results(ci))
    assert sarif_results(ci) == []
    assert done.stderr == "12 listed clips are git-ignored and not present: clip rules skipped.\n"
    full = lint(ci)  # the report for people says it once too
    assert full.returncode == 0 and full.stdout.count("git-ignored") == 1
    assert "12 listed clips are git-ignored and not present: clip rules skipped." in full.stdout


@needs_git
def test_readme_ci_step_is_red_when_a_listed_clip_is_missing_and_not_ignored(tmp_path):
    repo = style_repo(tmp_path / "repo", extra_lines="extra/new.mp4\n")
    ci = checkout(repo, tmp_path / "ci")
    done = lint(ci, *CI_COMMAND)
    assert done.returncode == 1
    assert sarif_results(ci) == [("CVL003", "data/videos.txt")]  # shown on the list line (README)
    report = json.loads((ci / "cogvid-lint.sarif").read_text(encoding="utf-8"))
    (result,) = report["runs"][0]["results"]
    assert result["message"]["text"].startswith("data/extra/new.mp4")
    assert "12 listed clips are git-ignored" in done.stderr


@needs_git
def test_a_tracked_clip_deleted_from_the_work_tree_is_still_missing(tmp_path):
    repo = style_repo(tmp_path / "repo")
    (repo / "data" / "kept").mkdir()
    make_clip(repo / "data" / "kept" / "k.mp4", width=72, height=48, frames=3)
    git(repo, "add", "data/kept/k.mp4")
    git(repo, "commit", "-qm", "one committed clip")
    (repo / "data" / "kept" / "k.mp4").unlink()
    with (repo / "data" / "videos.txt").open("a") as handle:
        handle.write("kept/k.mp4\n")
    with (repo / "data" / "prompts.txt").open("a") as handle:
        handle.write("a kept clip\n")
    done = lint(repo, "--select", "CVL003", "--output-format", "json")
    found = [(d["code"], d["path"]) for d in json.loads(done.stdout)["diagnostics"]]
    assert found == [("CVL003", "data/kept/k.mp4")]


def test_without_a_work_tree_every_absent_clip_is_missing(tmp_path):
    """No git repository: as before, the README's step fails on every absent clip."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "videos.txt").write_text("".join(f"videos/{name}\n" for name in CLIPS))
    (tmp_path / "data" / "prompts.txt").write_text("".join(f"take {n}\n" for n in range(len(CLIPS))))
    (tmp_path / ".gitignore").write_text("data/videos/\n")  # not a work tree: git is not asked
    done = lint(tmp_path, "--data-root", "data", *CI_COMMAND)
    assert done.returncode == 1 and "git-ignored" not in done.stderr
    assert [code for code, _ in sarif_results(tmp_path)].count("CVL003") == len(CLIPS)


@needs_git
def test_the_baseline_keeps_the_entries_of_clips_the_checkout_does_not_have(tmp_path):
    repo = style_repo(tmp_path / "repo")
    wrote = lint(repo, "--write-baseline", ".cogvid-lint-baseline.json")
    assert wrote.returncode == 0
    entries = json.loads((repo / ".cogvid-lint-baseline.json").read_text())["findings"]
    on_clips = [e for e in entries if e["path"].startswith("data/videos/")]
    assert len(on_clips) >= len(CLIPS)  # CVL102, CVL103, CVL105, CVL106 on the clips
    git(repo, "add", ".cogvid-lint-baseline.json")
    git(repo, "commit", "-qm", "baseline")
    ci = checkout(repo, tmp_path / "ci")
    done = lint(ci, "--baseline", ".cogvid-lint-baseline.json")
    assert done.returncode == 0, done.stdout
    assert "0 entries no longer match (fixed)." in done.stdout
    # and where the clips are, a clip really fixed still counts as fixed
    (repo / "data" / "videos" / "c00.mp4").unlink()
    (repo / "data" / "videos.txt").write_text("".join(f"videos/{name}\n" for name in CLIPS[1:]))
    (repo / "data" / "prompts.txt").write_text("".join(f"a short clip of a scene, take {n}\n" for n in range(1, len(CLIPS))))
    done = lint(repo, "--baseline", ".cogvid-lint-baseline.json")
    assert "no longer match (fixed)" in done.stdout and "0 entries no longer match" not in done.stdout


def _datasets(*roots: Path):
    from cogvid_lint.discover.project import Clip, Dataset

    found = []
    for root in roots:
        dataset = Dataset(root=root, settings=None, layout="cogvideo")  # type: ignore[arg-type]
        dataset.clips = [Clip(dataset, n, str(root / "videos" / name), None, False, None, None)
                         for n, name in enumerate(("a.mp4", "b.mp4"))]
        found.append(dataset)
    return found


@needs_git
def test_git_is_asked_once_for_every_absent_clip_of_a_work_tree(tmp_path):
    from cogvid_lint.discover.gitignored import mark_git_ignored

    git(tmp_path, "init", "-q", ".")
    (tmp_path / ".gitignore").write_text("one/videos/a.mp4\ntwo/videos/\n")
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        return subprocess.run(argv, env=GIT_ENV, **kwargs)

    one, two = _datasets(tmp_path / "one", tmp_path / "two")
    mark_git_ignored([one, two], run=run)
    assert len(calls) == 1 and calls[0][-3:] == ["check-ignore", "--stdin", "-z"]
    assert one.git_ignored == {str(tmp_path / "one" / "videos" / "a.mp4")}
    assert two.git_ignored == {str(tmp_path / "two" / "videos" / name) for name in ("a.mp4", "b.mp4")}


@pytest.mark.parametrize("git_says", ["not installed", "fatal"])
def test_without_an_answer_from_git_nothing_is_excused(git_says, tmp_path):
    from cogvid_lint.discover.gitignored import mark_git_ignored

    (tmp_path / ".git").mkdir()  # looks like a work tree; git cannot tell

    def run(argv, **kwargs):
        if git_says == "not installed":
            raise FileNotFoundError("git")
        return subprocess.CompletedProcess(argv, 128, b"", b"")

    (dataset,) = _datasets(tmp_path / "data")
    mark_git_ignored([dataset], run=run)
    assert dataset.git_ignored == frozenset()


# -- item 3: a fix never makes things worse ----------------------------------------------------

def speed_dataset(root: Path, width: int = 72, height: int = 48) -> Path:
    """The issue's clip: 2 s at 30 fps; CVL107 (fast motion) at 49 frames, with fix-speed."""
    data = root / "data"
    (data / "videos").mkdir(parents=True)
    make_clip(data / "videos" / "a.mp4", width=width, height=height, frames=60, fps=30)
    (data / "videos.txt").write_text("videos/a.mp4\n")
    (data / "prompts.txt").write_text("a clip\n")
    (root / "cogvid-lint.yaml").write_text("fix-speed: true\ntrain-resolution: 49x48x72\n")
    return data


def codes(cwd: Path, *args: str) -> list[str]:
    done = lint(cwd, "--data-root", "data", "--output-format", "json", *args)
    return sorted(d["code"] for d in json.loads(done.stdout)["diagnostics"] if d["code"].startswith("CVL1"))


@pytest.mark.parametrize("select", [(), ("--select", "CVL107")], ids=["all-rules", "select-CVL107"])
def test_a_re_time_that_would_make_an_error_of_a_warning_is_not_applied(select, tmp_path):
    data = speed_dataset(tmp_path)
    clip = data / "videos" / "a.mp4"
    original = clip.read_bytes()
    before = codes(tmp_path)
    assert "CVL107" in before and "CVL102" not in before

    diff = lint(tmp_path, "--data-root", "data", "--diff", "--unsafe-fixes", *select)
    assert diff.stdout == ("# will not re-time data/videos/a.mp4: it would add CVL102 too-few-frames (error: "
                           "16 frames, fewer than the minimum of 25), worse than the CVL107 speed-mismatch "
                           "(warning) it fixes\n")
    done = lint(tmp_path, "--data-root", "data", "--fix", "--unsafe-fixes", *select)
    assert "Fixed 0 findings" in done.stdout
    assert ("Not applied: the re-time of data/videos/a.mp4: it would add CVL102 too-few-frames" in done.stdout)
    assert "exiting 1 so that CI" not in done.stdout  # nothing was changed
    assert clip.read_bytes() == original and not (data / ".cogvid-lint").exists()
    assert codes(tmp_path) == before


def test_the_crop_is_applied_alone_when_the_re_time_would_make_things_worse(tmp_path):
    data = speed_dataset(tmp_path, width=128, height=72)
    assert {"CVL105", "CVL107"} <= set(codes(tmp_path))
    diff = lint(tmp_path, "--data-root", "data", "--diff", "--unsafe-fixes")
    assert diff.stdout.splitlines() == [
        "# will not re-time data/videos/a.mp4: it would add CVL102 too-few-frames (error: 16 frames, fewer than "
        "the minimum of 25), worse than the CVL107 speed-mismatch (warning) it fixes",
        "rewrite data/videos/a.mp4: 128x72 → crop 108x72 → resize 72x48"]
    done = lint(tmp_path, "--data-root", "data", "--fix", "--unsafe-fixes")
    assert "Fixed 1 finding " in done.stdout and "Not applied: the re-time of data/videos/a.mp4" in done.stdout
    after = codes(tmp_path)
    assert "CVL105" not in after and "CVL107" in after and "CVL102" not in after


def test_a_small_clip_is_cropped_not_upscaled_and_stays_upscaled_video(tmp_path):
    from cogvid_lint.probe.pyav import probe

    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    make_clip(data / "videos" / "s.mp4", width=320, height=240, frames=9)
    (data / "videos.txt").write_text("videos/s.mp4\n")
    (data / "prompts.txt").write_text("a small clip\n")
    small = ("--select", "CVL105,CVL106", "--train-resolution", "9x480x720")
    assert codes(tmp_path, *small) == ["CVL105", "CVL106"]
    diff = lint(tmp_path, "--data-root", "data", "--diff", "--unsafe-fixes", *small)
    assert diff.stdout == "rewrite data/videos/s.mp4: 320x240 → crop 320x214 (not upscaled to 720x480)\n"
    done = lint(tmp_path, "--data-root", "data", "--fix", "--unsafe-fixes", *small)
    assert "Fixed 1 finding (1 remaining)" in done.stdout
    fixed = probe(data / "videos" / "s.mp4")
    assert (fixed.width, fixed.height, fixed.frames) == (320, 214, 9)
    assert codes(tmp_path, *small) == ["CVL106"]  # the next runs still say it is upscaled
    assert codes(tmp_path, *small, "--no-cache") == ["CVL106"]


# -- item 7: the dataset size counts what trains -----------------------------------------------

def test_dataset_size_counts_unique_readable_clips(tmp_path):
    data = tmp_path / "data"
    (data / "v").mkdir(parents=True)
    names = [f"{n}.mp4" for n in "abcdefghij"]
    for n, name in enumerate(names[:8]):
        make_clip(data / "v" / name, frames=2 + n)
    shutil.copyfile(data / "v" / "a.mp4", data / "v" / "i.mp4")  # a byte-identical copy
    (data / "v" / "j.mp4").write_bytes(b"not a video")  # unreadable
    (data / "videos.txt").write_text("".join(f"v/{name}\n" for name in names))
    (data / "prompts.txt").write_text("".join(f"{name}\n" for name in names))
    for select in ("CVL008", "CVL0,CVL1"):  # alone, its clips are probed for it all the same
        done = lint(tmp_path, "--data-root", "data", "--select", select, "--output-format", "json")
        (found,) = [d for d in json.loads(done.stdout)["diagnostics"] if d["code"] == "CVL008"]
        assert found["message"] == "8 unique clips; a general fine-tune wants at least 10", select


def test_a_missing_data_root_is_said_once(tmp_path):
    done = lint(tmp_path, "--data-root", "nowhere", "--select", "CVL0", "--output-format", "json")
    found = [(d["code"], d["path"], d["message"]) for d in json.loads(done.stdout)["diagnostics"]]
    assert found == [("CVL001", "nowhere/videos.txt",
                      "video_column list not found (the data root itself is missing)")]


# -- item 8: backups stay out of git -----------------------------------------------------------

@needs_git
def test_media_fix_backups_stay_out_of_git(tmp_path):
    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    make_clip(data / "videos" / "a.mp4", width=96, height=48, frames=3)
    (data / "videos.txt").write_text("videos/a.mp4\n")
    (data / "prompts.txt").write_text("a clip\n")
    (tmp_path / ".gitignore").write_text(".cogvid_lint_cache/\n")  # the clips are committed here
    git(tmp_path, "init", "-q", ".")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "data")
    done = lint(tmp_path, "--data-root", "data", "--fix", "--unsafe-fixes", "--select", "CVL105",
                "--train-resolution", "9x48x72")
    assert "Rewrote 1 clip" in done.stdout
    folder = data / ".cogvid-lint"
    assert (folder / ".gitignore").read_text() == "*\n"
    assert (folder / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert list((folder / "backup").glob("*/videos/a.mp4"))  # the original is there
    # only the rewritten clip shows as changed: nothing under .cogvid-lint/ is untracked
    assert git(tmp_path, "status", "--porcelain", "--untracked-files=all").splitlines() == [" M data/videos/a.mp4"]
