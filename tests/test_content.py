"""The content stage (issue 18): one decode of the frames each clip's trainer takes, the
features stored and re-read, the opt-in CVL5xx selection, crash isolation, and the frames
each decode mode gives against a plain sequential decode and decord.

Clips are footage-like (tests/footage.py): textures, pans, figures, cuts; no real footage
can be fetched here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import footage
from conftest import COGVID_LINT
from cogvid_lint.probe import content as content_stage

TESTS = Path(__file__).parent


def _reference(path: Path, indices, rotation: int = 0):
    """Every frame decoded in order (the definition of decord's index), reduced as the
    content stage reduces them."""
    import av
    from av.video.reformatter import VideoReformatter

    wanted = set(indices)
    out = {}
    with av.open(str(path)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n in wanted:
                w, h = content_stage._reduced(frame.width, frame.height, rotation)
                out[n] = content_stage.reduce_frame(VideoReformatter(), frame, w, h)
    return [out[i] for i in sorted(wanted)]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """300 frames, a keyframe every 12 (B-frames): seeking pays at a stride of 25."""
    folder = tmp_path_factory.mktemp("long")
    return footage.clip(folder / "long.mp4", footage.cut(footage.pan(1, 3.0), footage.figures(2), 150),
                        frames=300, gop=12)


@pytest.mark.parametrize("mode, stride", [("seek", 25), ("nonref", 2), ("seq", 3), (None, 25), (None, 2)])
def test_every_decode_mode_gives_the_frames_a_sequential_decode_gives(long_clip, mode, stride):
    indices = list(range(0, 300, stride))[:49]
    frames, got, used = content_stage.sampled_frames(str(long_clip), indices, mode=mode)
    assert got == sorted(indices)
    if mode is None:
        assert used == ("seek" if stride > 12 else "nonref")  # the stride against the GOP
    else:
        assert used == mode
    for ours, ref in zip(frames, _reference(long_clip, indices)):
        assert np.array_equal(ours, ref)


def test_avi_is_decoded_sequentially_and_exactly(tmp_path):
    clip = footage.clip(tmp_path / "a.avi", footage.pan(3, 4.0), frames=60)
    indices = list(range(0, 60, 7))
    frames, got, used = content_stage.sampled_frames(str(clip), indices)
    assert used == "seq" and got == indices
    for ours, ref in zip(frames, _reference(clip, indices)):
        assert np.array_equal(ours, ref)


def test_indices_are_decords(long_clip):
    """The frame at each index is the one decord's get_batch returns there (mean luma of
    each, at the same reduced size: the pan changes them from frame to frame)."""
    decord = pytest.importorskip("decord")
    indices = list(range(0, 300, 25))
    frames, got, _ = content_stage.sampled_frames(str(long_clip), indices)
    reader = decord.VideoReader(str(long_clip), width=frames[0].shape[1], height=frames[0].shape[0])
    batch = reader.get_batch(indices).asnumpy().astype(np.float64)
    luma = batch @ np.array([0.299, 0.587, 0.114])
    ours = np.array([f.mean() for f in frames])
    theirs = luma.mean(axis=(1, 2))
    assert np.abs(ours - theirs).max() < 3  # the same frames (neighbours differ by far more)


def test_rotation_turns_the_frames_as_decord_does(tmp_path):
    from clips import make_clip

    clip = make_clip(tmp_path / "r.mp4", width=64, height=32, frames=6, rotation=90, marker=(4, 4, 8))
    item = content_stage.content(str(clip), [0, 1, 2], rotation=90)
    assert item.error is None and (item.width, item.height) == (32, 64)


def test_features_round_trip_through_the_store_encoding_and_bad_rows_are_misses(long_clip):
    item = content_stage.content(str(long_clip), range(0, 300, 25))
    assert item.error is None and len(item.diffs) == len(item.indices) - 1
    row = json.loads(content_stage.encode(item))
    assert content_stage.decode(row) == item
    fields = [f for f in content_stage._FIELDS]
    for name, bad in (("diffs", [1.0]), ("phash", "xyz"), ("row_max", [-1] * item.height), ("width", "w"),
                      ("indices", [])):
        broken = list(row)
        broken[fields.index(name)] = bad
        assert content_stage.decode(broken) is None, name
    assert content_stage.decode(row[:-1]) is None
    assert content_stage.decode("nonsense") is None


def test_phash_matches_copies_and_tells_shots_apart(tmp_path):
    a = footage.clip(tmp_path / "a.mp4", footage.moving_shapes(4))
    copy = footage.copy_of(a, tmp_path / "b.mp4", 200, 112, crf=34)
    shot1 = footage.clip(tmp_path / "s1.mp4", footage.scene("shot", 7, shot=0))
    shot2 = footage.clip(tmp_path / "s2.mp4", footage.scene("shot", 7, shot=1))
    idx = range(0, 96, 5)
    h = {p.name: content_stage.content(str(p), idx).phash for p in (a, copy, shot1, shot2)}
    assert content_stage.hamming(h["a.mp4"], h["b.mp4"]) <= 4
    assert content_stage.hamming(h["s1.mp4"], h["s2.mp4"]) >= 8


def _project(root: Path, clips: dict) -> None:
    for rel, (recipe, params) in clips.items():
        footage.make(root, f"data/v/{rel}", recipe, **params)
    (root / "data" / "videos.txt").write_text("".join(f"v/{rel}\n" for rel in clips))
    (root / "data" / "prompts.txt").write_text("".join("a caption\n" for _ in clips))


def _run(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(TESTS), **(env or {})}
    return subprocess.run([COGVID_LINT, "--data-root", "data", "--output-format", "json", *args],
                          cwd=root, env=full, capture_output=True, text=True, timeout=300)


def _codes(result) -> list[tuple[str, str]]:
    return sorted((d["code"], d["path"]) for d in json.loads(result.stdout)["diagnostics"])


def test_pixel_rules_are_opt_in(tmp_path):
    _project(tmp_path, {"cut.mp4": ("cut", {"at": 41})})
    base = ["--train-resolution", "17x480x720"]
    for selection in ([], ["--select", "ALL"], ["--select", "CVL"]):
        assert not [c for c, _ in _codes(_run(tmp_path, *base, *selection)) if c.startswith("CVL5")], selection
    for selection in (["--extend-select", "CVL5"], ["--select", "CVL501"], ["--select", "scene-cut"]):
        assert ("CVL501", "data/v/cut.mp4") in _codes(_run(tmp_path, *base, *selection)), selection
    (tmp_path / "cogvid-lint.yaml").write_text("extend-select: [CVL5]\n")
    assert ("CVL501", "data/v/cut.mp4") in _codes(_run(tmp_path, *base))
    listing = subprocess.run([COGVID_LINT, "rules"], capture_output=True, text=True, cwd=tmp_path).stdout
    assert "CVL501  scene-cut" in listing and "(opt-in)" in listing.split("CVL501")[1].splitlines()[0]
    assert "(opt-in)" not in listing.split("CVL105")[1].splitlines()[0]
    as_json = json.loads(subprocess.run([COGVID_LINT, "rules", "--output-format", "json"], capture_output=True,
                                        text=True, cwd=tmp_path).stdout)
    assert {r["code"]: r["opt_in"] for r in as_json}["CVL503"] is True


def test_a_rerun_decodes_nothing_a_threshold_change_neither_another_resolution_does(tmp_path):
    _project(tmp_path, {"a.mp4": ("cut", {"at": 41}), "b.mp4": ("still", {})})
    log = tmp_path / "decoded.log"
    env = {"COGVID_LINT_CONTENT_FN": "content_standins:logged_misbehaving", "CONTENT_LOG": str(log)}
    args = ["--train-resolution", "17x480x720", "--select", "CVL5"]
    first = _codes(_run(tmp_path, *args, env=env))
    assert first == [("CVL501", "data/v/a.mp4"), ("CVL503", "data/v/b.mp4")]
    assert sorted(log.read_text().split()) == ["a.mp4", "b.mp4"]
    log.write_text("")
    assert _codes(_run(tmp_path, *args, env=env)) == first
    (tmp_path / "cogvid-lint.yaml").write_text("rules:\n  CVL501: {params: {min_diff: 40.0, min_hist: 0.9}}\n")
    assert _codes(_run(tmp_path, *args, env=env)) == [("CVL503", "data/v/b.mp4")]  # tuned, not decoded
    assert log.read_text() == ""
    _run(tmp_path, "--train-resolution", "33x480x720", "--select", "CVL5", env=env)  # other frames: a miss
    assert sorted(log.read_text().split()) == ["a.mp4", "b.mp4"]


def test_a_decoder_crash_is_that_clips_warning_and_the_rest_lints(tmp_path):
    _project(tmp_path, {"SEGV.mp4": ("pan", {}), "still.mp4": ("still", {})})
    env = {"COGVID_LINT_CONTENT_FN": "content_standins:logged_misbehaving"}
    result = _run(tmp_path, "--train-resolution", "17x480x720", "--select", "CVL5", "-j", "2", env=env)
    assert result.returncode == 1
    assert _codes(result) == [("CVL503", "data/v/still.mp4")]
    lines = [line for line in result.stderr.splitlines() if "SEGV.mp4" in line]
    assert len(lines) == 1 and "decoder crashed (SIGSEGV)" in lines[0] and "pixel rules skipped" in lines[0]
    assert "Traceback" not in result.stderr


def test_near_duplicates_count_once_toward_dataset_too_small(tmp_path):
    _project(tmp_path, {"a.mp4": ("shapes", {"seed": 4}), "c.mp4": ("pan", {"seed": 5})})
    footage.copy_of(tmp_path / "data/v/a.mp4", tmp_path / "data/v/b.mp4", 256, 144)
    (tmp_path / "data" / "videos.txt").write_text("v/a.mp4\nv/b.mp4\nv/c.mp4\n")
    (tmp_path / "data" / "prompts.txt").write_text("a\nb\nc\n")
    args = ["--train-resolution", "17x480x720", "--select", "CVL008", "--purpose", "style", "--output-format", "json"]
    plain = json.loads(_run(tmp_path, *args).stdout)["diagnostics"]
    assert plain[0]["message"].startswith("3 unique clips")
    with_content = json.loads(_run(tmp_path, *args, "--extend-select", "CVL504").stdout)["diagnostics"]
    messages = {d["code"]: d["message"] for d in with_content}
    assert messages["CVL008"].startswith("2 unique clips")
    assert messages["CVL504"].startswith("looks like v/a.mp4")
