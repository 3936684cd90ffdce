"""`--fix --unsafe-fixes --extend-select CVL5`: the pixel rules' media fixes (issue 18, deliverable 3).

CVL502 crops the picture out of its bars (then CVL105's aspect crop-resize inside it, in the
same re-encode); CVL503 and CVL505 trim a frozen or black tail; CVL501 trims to the longest
shot — each only when the trainer still gets a whole sample, each through the judge, each
undone byte for byte. Clips are footage-like (tests/footage.py), made in the test; every run
is the installed command.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import COGVID_LINT
import footage
from cogvid_lint.fix.media_plan import content_box
from cogvid_lint.probe.pyav import probe

TESTS = Path(__file__).resolve().parent
BASE = ["--data-root", "data", "--train-resolution", "17x480x720", "--extend-select", "CVL5"]
FIX = ["--fix", "--unsafe-fixes", "--exit-zero-on-fix", "--exit-zero"]


def _project(root: Path, clips: dict) -> dict[str, bytes]:
    """data/v/<rel> clips from footage recipes (rel: (recipe, params)); returns their bytes."""
    for rel, (recipe, params) in clips.items():
        footage.make(root, f"data/v/{rel}", recipe, **params)
    (root / "data" / "videos.txt").write_text("".join(f"v/{rel}\n" for rel in clips))
    (root / "data" / "prompts.txt").write_text("".join(f"a clip of a moving scene, number {n}\n"
                                                       for n in range(len(clips))))
    return {rel: (root / "data" / "v" / rel).read_bytes() for rel in clips}


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COGVID_LINT, *BASE, *args], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(TESTS)})


def _lint(root: Path) -> dict[str, list[dict]]:
    """path → its findings (the JSON report)."""
    out: dict[str, list[dict]] = {}
    for d in json.loads(_run(root, "--output-format", "json").stdout)["diagnostics"]:
        out.setdefault(d["path"], []).append(d)
    return out


def _codes(found: dict[str, list[dict]], rel: str) -> set[str]:
    return {d["code"] for d in found.get(f"data/v/{rel}", [])}


def _fix_and_check(root: Path, originals: dict[str, bytes], fixed: dict[str, str]
                   ) -> tuple[dict[str, list[dict]], dict[str, tuple[int, int, int]]]:
    """Lint, fix, lint again: each clip of `fixed` (rel → code) loses that finding through an
    unsafe fix and gains no other; then `undo` gives every original byte back. Returns the
    second lint's findings and each fixed clip's (width, height, frames) as rewritten."""
    before = _lint(root)
    for rel, code in fixed.items():
        finding = next((d for d in before.get(f"data/v/{rel}", []) if d["code"] == code), None)
        assert finding is not None, (rel, before.get(f"data/v/{rel}"))
        assert finding["fix"]["applicability"] == "unsafe"
    run = _run(root, *FIX)
    assert run.returncode == 0, run.stderr
    assert f"Rewrote {len(fixed)} clip" in run.stderr + run.stdout
    sizes = {}
    for rel in fixed:
        info = probe(root / "data" / "v" / rel)
        sizes[rel] = (info.width, info.height, info.frames)
    after = _lint(root)
    for rel, code in fixed.items():
        assert code not in _codes(after, rel), after.get(f"data/v/{rel}")
        assert _codes(after, rel) <= _codes(before, rel), (rel, _codes(after, rel) - _codes(before, rel))
    undo = subprocess.run([COGVID_LINT, "undo", "data"], cwd=root, capture_output=True, text=True)
    assert undo.returncode == 0, undo.stderr
    for rel, data in originals.items():
        assert (root / "data" / "v" / rel).read_bytes() == data, rel
    return after, sizes


def test_content_box_scales_the_bars_and_rounds_inward_to_even():
    # 22 px bars on a 320x180 clip are 11 rows of its 160x90 analysis frame
    assert content_box((11, 11, 0, 0), (160, 90), (320, 180)) == (0, 22, 320, 136)
    # 1 row/column at 160x90 is 1.9 px of 300x170: rounded inward, to even pixels
    assert content_box((1, 0, 1, 0), (160, 90), (300, 170)) == (2, 2, 298, 168)
    assert content_box((0, 0, 0, 0), (160, 90), (320, 180)) is None  # nothing to cut
    assert content_box((45, 45, 0, 0), (160, 90), (320, 180)) is None  # nothing left


def test_bars_are_cropped_before_the_aspect_crop_resize_in_one_re_encode(tmp_path):
    originals = _project(tmp_path, {"lb.mp4": ("letterbox", {"bar": 22, "seed": 4}),
                                    "pb.mp4": ("pillarbox", {"bar": 40, "seed": 5})})
    diff = _run(tmp_path, "--diff", "--unsafe-fixes").stdout
    # one rewrite a clip: the bars' box, then the training aspect inside it (not upscaled)
    assert "rewrite data/v/lb.mp4: 320x180 → crop the bars 320x136 → crop 204x136 (not upscaled to 720x480)" in diff
    assert "rewrite data/v/pb.mp4: 320x180 → crop the bars 240x180 → crop 240x160 (not upscaled to 720x480)" in diff
    assert diff.count("rewrite ") == 2
    after, sizes = _fix_and_check(tmp_path, originals, {"lb.mp4": "CVL502", "pb.mp4": "CVL502"})
    # CVL105 (the stretch to 3:2) went in the same re-encode
    assert "CVL105" not in _codes(after, "lb.mp4") and "CVL105" not in _codes(after, "pb.mp4")
    assert sizes == {"lb.mp4": (204, 136, 96), "pb.mp4": (240, 160, 96)}


def test_frozen_and_black_tails_are_trimmed_to_what_the_trainer_needs(tmp_path):
    originals = _project(tmp_path, {"fz.mp4": ("frozen_tail", {"frame": 30, "seed": 6}),
                                    "bt.mp4": ("black_tail", {"frame": 30, "seed": 7})})
    diff = _run(tmp_path, "--diff", "--unsafe-fixes").stdout
    # the trainer takes every 5th frame: the tail is cut at the first frozen taken frame (30),
    # and at the last lit one before the black (25)
    assert "rewrite data/v/fz.mp4: 320x180 → frames 0-30 (31 of 96) → crop 270x180" in diff
    assert "rewrite data/v/bt.mp4: 320x180 → frames 0-25 (26 of 96) → crop 270x180" in diff
    _, sizes = _fix_and_check(tmp_path, originals, {"fz.mp4": "CVL503", "bt.mp4": "CVL505"})
    assert sizes == {"fz.mp4": (270, 180, 31), "bt.mp4": (270, 180, 26)}


def test_a_tail_trim_that_would_leave_too_few_frames_is_no_fix(tmp_path):
    # 40 frames at 8 fps, frozen from frame 10: 11 frames would remain of the 17 the trainer takes
    _project(tmp_path, {"short.mp4": ("frozen_tail", {"frame": 10, "seed": 8, "frames": 40, "fps": 8})})
    found = _lint(tmp_path)["data/v/short.mp4"]
    frozen = next(d for d in found if d["code"] == "CVL503")
    assert "frozen tail" in frozen["message"] and frozen["fix"] is None
    assert "frames 0-" not in _run(tmp_path, "--diff", "--unsafe-fixes").stdout  # its crop is still offered


def test_a_scene_cut_is_trimmed_to_the_longest_shot(tmp_path):
    originals = _project(tmp_path, {"cut.mp4": ("cut", {"at": 41, "seed": 9})})
    diff = _run(tmp_path, "--diff", "--unsafe-fixes").stdout
    # taken frames 0, 5, ..., 80: the shots are 0-40 and 45-80; the first is longer
    assert "rewrite data/v/cut.mp4: 320x180 → frames 0-40 (41 of 96) → crop 270x180" in diff
    _, sizes = _fix_and_check(tmp_path, originals, {"cut.mp4": "CVL501"})
    assert sizes == {"cut.mp4": (270, 180, 41)}


def test_a_later_longer_shot_is_kept_and_starts_at_time_zero(tmp_path):
    """Cut at frame 30 of 120: the second shot is the longer; the clip is trimmed at its start
    and the kept frames are re-timed from 0 (a player or decord would else hold a frame)."""
    originals = _project(tmp_path, {"cut.mp4": ("cut", {"at": 30, "seed": 10, "frames": 120})})
    diff = _run(tmp_path, "--diff", "--unsafe-fixes").stdout
    line = next(line for line in diff.splitlines() if line.startswith("rewrite data/v/cut.mp4"))
    first = int(line.split("→ frames ")[1].split("-")[0])
    assert 30 <= first <= 40, line
    _, sizes = _fix_and_check(tmp_path, originals, {"cut.mp4": "CVL501"})
    assert sizes["cut.mp4"][2] >= 17


def test_a_start_trim_rebases_the_timestamps(tmp_path):
    import av

    _project(tmp_path, {"cut.mp4": ("cut", {"at": 30, "seed": 10, "frames": 120})})
    assert _run(tmp_path, *FIX).returncode == 0
    with av.open(str(tmp_path / "data" / "v" / "cut.mp4")) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        assert float(frame.pts * stream.time_base) < 0.05


def test_a_trim_that_would_make_the_clip_worse_with_a_re_time_is_left_out(tmp_path):
    """fix-speed re-times the 96 frames to 32 at 8 fps; with the frozen tail trimmed too the
    clip would keep 10 frames (CVL102, an error): the judge keeps the crop and the re-time,
    and leaves the trim out, saying why."""
    _project(tmp_path, {"fz.mp4": ("frozen_tail", {"frame": 30, "seed": 3})})
    (tmp_path / "cogvid-lint.yaml").write_text("fix-speed: true\n")
    diff = _run(tmp_path, "--diff", "--unsafe-fixes").stdout
    assert "# will not trim data/v/fz.mp4: it would add CVL102 too-few-frames" in diff
    assert "rewrite data/v/fz.mp4: 320x180 → crop 270x180 (not upscaled to 720x480) → 24 fps → 8 fps (32 frames)" in diff
    run = _run(tmp_path, *FIX, "--output-format", "concise")
    assert "Not applied: the trim of data/v/fz.mp4" in run.stdout + run.stderr
    info = probe(tmp_path / "data" / "v" / "fz.mp4")
    assert (info.width, info.height, info.frames) == (270, 180, 32)
    assert "CVL102" not in _codes(_lint(tmp_path), "fz.mp4")
