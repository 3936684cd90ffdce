"""The bad-input corpus: the worst data a team has. Every case must complete with exit 0/1
(or 2 with a one-line error for configuration), name the file and the problem, print no
traceback, and change no file outside the temporary project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clips import (cut_tail_bytes, make_audio_only, make_clip, make_forged_size_avi, make_png, make_text,
                   make_zero_byte, truncate_clip)

LISTS = {"data/prompts.txt": "a caption\n", "data/videos.txt": "videos/clip.mp4\n"}


def _run(root: Path, *args: str, timeout: float = 120) -> tuple[int, dict | None, str]:
    proc = subprocess.run([sys.executable, "-m", "cogvid_lint", *args, "--output-format", "json"], cwd=root,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1"})
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, report, proc.stderr


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, files in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d != ".cogvid_lint_cache"]  # the tool's own probe cache
        for name in files:
            p = Path(dirpath) / name
            try:
                st = p.lstat()
                out[str(p)] = (st.st_size, st.st_mtime_ns)
            except OSError:
                continue
    return out


MEDIA = {
    "zero-bytes": (lambda p: make_zero_byte(p), "CVL101", "zero bytes"),
    "one-byte": (lambda p: p.write_bytes(b"\x00"), "CVL101", ""),
    "text-named-mp4": (lambda p: make_text(p), "CVL101", ""),
    "png-named-mp4": (lambda p: make_png(p), "CVL101", "not a video"),
    "audio-only": (lambda p: make_audio_only(p), "CVL101", "no video stream"),
    "truncated-1pct": (lambda p: truncate_clip(make_clip(p, frames=30), 0.01), "CVL101", "truncated"),
    "truncated-50pct": (lambda p: truncate_clip(make_clip(p, frames=30), 0.5), "CVL101", "truncated"),
    "truncated-99pct": (lambda p: cut_tail_bytes(make_clip(p, frames=30, faststart=True), 40), "CVL101", ""),
    "moov-missing": (lambda p: p.write_bytes(_without_moov(make_clip(p, frames=10))), "CVL101", ""),
    "one-frame": (lambda p: make_clip(p, frames=1), "CVL102", "1 frames"),
    "huge-declared-size": (lambda p: make_forged_size_avi(p.with_suffix(".avi"), 16384, 16384), None, None),
    "fps-nonsense": (lambda p: make_clip(p, frames=5, fps=5000), "CVL109", ""),
    "variable-frame-rate": (lambda p: make_clip(p, frames=12, vfr=True), "CVL108", ""),
    "directory-named-clip": (lambda p: p.mkdir(), "CVL101", "not a regular file"),
    "fifo-named-clip": (lambda p: os.mkfifo(p), "CVL101", "not a regular file"),
    "dangling-symlink": (lambda p: p.symlink_to(p.parent / "gone.mp4"), "CVL003", ""),
    "symlink-loop": (lambda p: p.symlink_to(p), "CVL003", ""),
    "symlink-outside-root": (lambda p: p.symlink_to(make_clip(p.parents[2] / "outside.mp4", frames=3)),
                             "CVL004", ""),
}


def _without_moov(path: Path) -> bytes:
    data = path.read_bytes()
    i = data.find(b"moov")
    return data[: i - 4] if i > 4 else data


@pytest.mark.parametrize("name", sorted(MEDIA))
def test_media_case(name, tmp_path):
    make, code, words = MEDIA[name]
    videos = tmp_path / "data" / "videos"
    videos.mkdir(parents=True)
    clip = videos / "clip.mp4"  # make_clip writes into existing folders only
    make(clip)
    listed = "videos/clip.avi" if name == "huge-declared-size" else "videos/clip.mp4"
    (tmp_path / "data" / "prompts.txt").write_text("a caption\n")
    (tmp_path / "data" / "videos.txt").write_text(listed + "\n")
    before = _snapshot(tmp_path)
    exit_code, report, _ = _run(tmp_path, "--data-root", "data", timeout=60)
    assert exit_code in (0, 1)
    assert _snapshot(tmp_path) == before, "the linter changed files"
    if name == "huge-declared-size":
        found = [d for d in report["diagnostics"] if d["path"].endswith("clip.avi")]
        assert found, report  # reported somehow (upscaled/aspect/unreadable), and it returned quickly
        return
    found = [d for d in report["diagnostics"] if d["code"] == code]
    assert found, report["diagnostics"]
    assert any("clip.mp4" in d["path"] or "videos.txt" in d["path"] for d in found)
    assert any(words in d["message"] for d in found)


def test_unreadable_file_chmod_000(tmp_path):
    """chmod 000 clip. Root reads anything, so as root the linter runs without the
    capabilities that let root bypass file permissions (setpriv from util-linux)."""
    import shutil
    import tempfile

    from unprivileged import permission_prefix

    root = Path(tempfile.mkdtemp(prefix="cvl-perm-"))
    try:
        os.chmod(root, 0o755)
        videos = root / "data" / "videos"
        videos.mkdir(parents=True)
        clip = make_clip(videos / "clip.mp4", frames=5)
        for rel, text in LISTS.items():
            (root / rel).write_text(text)
        for folder in (root / "data", videos):
            os.chmod(folder, 0o755)
        clip.chmod(0)
        proc = subprocess.run([*permission_prefix(), sys.executable, "-m", "cogvid_lint", "--data-root", "data",
                               "--output-format", "json"], cwd=root, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "NO_COLOR": "1", "HOME": str(root)})
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode in (0, 1), proc.stderr
        report = json.loads(proc.stdout)
        errors = [d for d in report["diagnostics"] if d["code"] == "CVL101"]
        assert errors and errors[0]["path"].endswith("clip.mp4"), report
    finally:
        shutil.rmtree(root, ignore_errors=True)


MANIFESTS = {
    "crlf": (b"videos/a.mp4\r\nvideos/b.mp4\r\n", b"a\r\nb\r\n", None),
    "utf8-bom": ("\ufeffvideos/a.mp4\n".encode(), b"a\n", "CVL003"),
    "latin1-bytes": (b"videos/caf\xe9.mp4\n", b"a\n", "CVL001"),
    "nul-byte": (b"videos/a.mp4\x00\n", b"a\n", "CVL001"),
    "10mb-line": (b"v" * 10_000_000 + b"\n", b"a\n", "CVL003"),
    "spaces-unicode-dash": ("videos/a clip é.mp4\n-videos.mp4\n".encode(), b"a\nb\n", "CVL003"),
    "absolute-path": (b"/nonexistent/abs.mp4\n", b"a\n", "CVL004"),
    "dotdot-escape": (b"../../../../etc/hostname\n", b"a\n", "CVL004"),
    "empty": (b"", b"", "CVL008"),
    "100k-lines": (b"".join(b"videos/c%d.mp4\n" % i for i in range(100_000)),
                   b"".join(b"caption %d\n" % i for i in range(100_000)), "CVL003"),
}


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_manifest_case(name, tmp_path):
    videos, prompts, code = MANIFESTS[name]
    data = tmp_path / "data"
    data.mkdir()
    (data / "videos.txt").write_bytes(videos)
    (data / "prompts.txt").write_bytes(prompts)
    if name == "crlf":
        (data / "videos").mkdir()
        make_clip(data / "videos" / "a.mp4", frames=3)
        make_clip(data / "videos" / "b.mp4", frames=4)
    before = _snapshot(tmp_path)
    exit_code, report, _ = _run(tmp_path, "--data-root", "data", "--select", "CVL0", timeout=180)
    assert exit_code in (0, 1)
    assert _snapshot(tmp_path) == before
    codes = {d["code"] for d in report["diagnostics"]}
    if code is None:
        assert not codes & {"CVL001", "CVL002", "CVL003"}, report["diagnostics"]
    else:
        assert code in codes, sorted(codes)


CONFIGS = {
    "malformed-toml": ("pyproject.toml", "[tool.cogvid-lint\ndata-root = 'x'\n", "invalid TOML"),
    "malformed-yaml": ("cogvid-lint.yaml", "data-root: [unclosed\n", "invalid YAML"),
    "python-tag": ("cogvid-lint.yaml", "data-root: !!python/object/apply:os.getcwd []\n", "invalid YAML"),
    "unknown-key": ("cogvid-lint.yaml", "data-rot: data\n", "did you mean 'data-root'"),
    "wrong-type": ("cogvid-lint.yaml", "purpose: 3\n", "'purpose'"),
    "resolution-two-parts": ("cogvid-lint.yaml", "data-root: data\ntrain-resolution: 49x480\n", "49x480"),
    "resolution-letters": ("cogvid-lint.yaml", "data-root: data\ntrain-resolution: axbxc\n", "axbxc"),
    "not-a-mapping": ("cogvid-lint.yaml", "- just\n- a list\n", "mapping"),
    "rules-dir-missing": ("cogvid-lint.yaml", "rules-dir: nowhere\n", "nowhere"),
    "negative-jobs": ("cogvid-lint.yaml", "jobs: -1\n", "'jobs'"),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_case(name, tmp_path):
    filename, text, words = CONFIGS[name]
    (tmp_path / filename).write_text(text)
    (tmp_path / "data").mkdir()
    proc = subprocess.run([sys.executable, "-m", "cogvid_lint"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and all(line.startswith("cogvid-lint: error: ") for line in lines)
    assert any(filename in line and words in line for line in lines), lines


CODE = {
    "non-utf8": b"# caf\xe9\nimport decord\nimport torch\n",
    "nul-byte": b"import torch\x00\nimport decord\n",
    "generated-50k": b"import torch\nimport decord\n" + b"x = 1\n" * 50_000,
    "deep-nesting": b"import decord\nx = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n",
    "syntax-error": b"import decord\ndef broken(:\n",
}


@pytest.mark.parametrize("name", sorted(CODE))
def test_code_case(name, tmp_path):
    (tmp_path / "mod.py").write_bytes(CODE[name])
    exit_code, report, _ = _run(tmp_path, "mod.py", "--select", "CVL4", timeout=120)
    assert exit_code in (0, 1)
    for d in report["diagnostics"]:
        assert d["path"] == "mod.py" and d["message"]
    if name in ("syntax-error", "nul-byte", "non-utf8", "deep-nesting"):
        assert report["diagnostics"], name


def test_entries_outside_the_root_are_reported_not_opened(tmp_path):
    """A FIFO outside the root blocks whoever opens it: the run finishing proves it was not opened."""
    os.mkfifo(tmp_path / "outside.mp4")
    data = tmp_path / "project" / "data"
    (data / "videos").mkdir(parents=True)
    (data / "videos" / "link.mp4").symlink_to(tmp_path / "outside.mp4")
    (data / "videos.txt").write_text("../../outside.mp4\nvideos/link.mp4\n")
    (data / "prompts.txt").write_text("a\nb\n")
    exit_code, report, _ = _run(tmp_path / "project", "--data-root", "data", timeout=60)
    escapes = sorted(d["line"] for d in report["diagnostics"] if d["code"] == "CVL004")
    assert exit_code == 1 and escapes == [1, 2]
