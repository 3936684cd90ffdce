"""`--fix --unsafe-fixes` for media (CVL105 crop-resize, CVL107/CVL108 re-time), backups, `undo`.

Every clip here is real (written with PyAV) and read back with PyAV and decord, the
trainer's reader. Sizes are the issue's real ones where the issue names them; frame counts
are kept small (9) since they do not change what is tested.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import COGVID_LINT
from clips import make_clip  # before decord: see tests/clips.py
from cogvid_lint.cli import main
from cogvid_lint.fix.backup import backup_base, list_runs
from cogvid_lint.fix.transcode import decoded_frames
from cogvid_lint.probe.pyav import probe

decord = pytest.importorskip("decord")

FIX = ["--fix", "--unsafe-fixes"]


def dataset(root: Path, clips: dict[str, dict], config: str | None = None) -> Path:
    """data/ with videos/<name> clips (make_clip kwargs), prompts.txt and videos.txt."""
    data = root / "data"
    (data / "videos").mkdir(parents=True, exist_ok=True)
    for name, kwargs in clips.items():
        make_clip(data / "videos" / name, **kwargs)
    (data / "videos.txt").write_text("".join(f"videos/{name}\n" for name in clips))
    (data / "prompts.txt").write_text("".join(f"caption {name}\n" for name in clips))
    if config is not None:
        (root / "cogvid-lint.yaml").write_text(config)
    return data


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--data-root", "data", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def lint(capsys, *argv: str) -> tuple[int, list[dict]]:
    code, out, _ = run(capsys, *argv, "--output-format", "json")
    return code, json.loads(out)["diagnostics"]


def marker_centre(frame) -> tuple[float, float]:
    ys, xs = (frame.min(axis=-1) > 200).nonzero()
    assert len(xs), "marker not found"
    return float(xs.mean()), float(ys.mean())


def trainer_frames(path: Path) -> list:
    reader = decord.VideoReader(str(path))
    return [reader[0].asnumpy(), reader[len(reader) - 1].asnumpy()], len(reader)


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.startswith(".cogvid-lint-tmp-")]


# A clip narrower than the training size is cropped to its aspect and not upscaled: the
# trainer's resize upscales it undistorted, and CVL106 keeps saying it is small (test_gate_data)
CASES = {
    "landscape-1280x720": ({"width": 1280, "height": 720}, (), (720, 480)),
    "portrait-480x848": ({"width": 480, "height": 848}, (), (480, 320)),
    "square-480x480": ({"width": 480, "height": 480}, (), (480, 320)),
    "rotated-90-1280x720": ({"width": 1280, "height": 720, "rotation": 90}, (), (720, 480)),
    "cogvideox1.5-1024x768": ({"width": 1024, "height": 768},
                              ("--model", "cogvideox1.5-t2v", "--train-resolution", "17x768x1360"), (1024, 578)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_crop_resize_gives_the_training_size_keeps_timing_and_centre(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    kwargs, settings, (width, height) = CASES[case]
    data = dataset(tmp_path, {"a.mp4": {**kwargs, "frames": 9, "fps": 8, "marker": True}})
    clip = data / "videos" / "a.mp4"
    before, original = probe(clip), clip.read_bytes()
    assert lint(capsys, "--select", "CVL105", *settings)[1], "the case must start with an aspect mismatch"

    code, out, err = run(capsys, *FIX, "--select", "CVL105", *settings)
    assert code == 1 and "Fixed 1 finding (0 remaining)" in out and "exiting 1" in out and not err

    after = probe(clip)
    assert (after.width, after.height, after.rotation, after.error) == (width, height, 0, None)
    assert (after.frames, after.fps) == (before.frames, before.fps) == (9, 8.0)
    assert after.min_frame_duration_s == after.max_frame_duration_s == 1 / 8  # timing kept
    assert decoded_frames(clip) == 9
    (first, last), count = trainer_frames(clip)
    assert count == 9 and first.shape == last.shape == (height, width, 3)
    x, y = marker_centre(first)
    assert abs(x - (width - 1) / 2) <= 2 and abs(y - (height - 1) / 2) <= 2  # the centre stays the centre
    assert lint(capsys, "--select", "CVL105", *settings) == (0, [])

    (run_id,) = list_runs(data)
    assert (backup_base(data) / run_id / "videos" / "a.mp4").read_bytes() == original
    assert no_temp_files(data)


def test_rotation_is_baked_as_the_trainer_sees_it(tmp_path, monkeypatch, capsys):
    """An off-centre marker lands where decord showed it, moved by the crop and the scale."""
    monkeypatch.chdir(tmp_path)
    # stored 1280x720 turned 90° clockwise: display 720x1280; stored x=600 is display y=600
    data = dataset(tmp_path, {"r.mp4": {"width": 1280, "height": 720, "rotation": 90, "frames": 5,
                                        "marker": (600, 100, 16)}})
    clip = data / "videos" / "r.mp4"
    (seen, _), _ = trainer_frames(clip)
    x0, y0 = marker_centre(seen)
    assert seen.shape == (1280, 720, 3) and abs(y0 - 607.5) < 1 and abs(x0 - 611.5) < 1
    assert run(capsys, *FIX, "--select", "CVL105")[0] == 1
    (fixed, _), _ = trainer_frames(clip)
    # crop window of 720x1280 for 3:2: 720x480 at y=400; no scaling
    x1, y1 = marker_centre(fixed)
    assert abs(x1 - x0) <= 1 and abs(y1 - (y0 - 400)) <= 1
    assert probe(clip).rotation == 0


def test_undo_restores_byte_identical_and_lists_what_it_restored(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = dataset(tmp_path, {"a.mp4": {"width": 128, "height": 72, "frames": 5, "audio_seconds": 1.0},
                              "b.mkv": {"width": 96, "height": 96, "frames": 5},
                              "c.webm": {"width": 96, "height": 48, "frames": 5},
                              "d.mov": {"width": 96, "height": 128, "frames": 5}})
    small = ("--select", "CVL105", "--train-resolution", "9x48x72")
    originals = {p.name: p.read_bytes() for p in (data / "videos").iterdir()}
    code, out, _ = run(capsys, *FIX, *small)
    assert code == 1 and "Fixed 4 findings (0 remaining)" in out
    (run_id,) = list_runs(data)
    assert f"Rewrote 4 clips: originals moved to data/.cogvid-lint/backup/{run_id}/" in out
    assert "cogvid-lint undo data" in out
    for name, data_bytes in originals.items():
        fixed = probe(data / "videos" / name)
        assert (fixed.width, fixed.height, fixed.frames, fixed.has_audio) == (72, 48, 5, False), name
        assert (backup_base(data) / run_id / "videos" / name).read_bytes() == data_bytes
    containers = {name: probe(data / "videos" / name).container for name in originals}
    assert containers["b.mkv"] == "matroska,webm" and probe(data / "videos" / "c.webm").codec == "vp9"
    assert probe(data / "videos" / "a.mp4").codec == "h264"

    # the installed command, as a user runs it
    proc = subprocess.run([COGVID_LINT, "undo", "data"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == [f"restored data/videos/{name} (from run {run_id})"
                                                for name in sorted(originals)]
    assert {p.name: p.read_bytes() for p in (data / "videos").iterdir()} == originals
    assert list_runs(data) == [] and no_temp_files(data)
    assert main(["undo", "data"]) == 1  # nothing left to undo
    assert "nothing to undo" in capsys.readouterr().err


def test_undo_older_run_by_id_then_the_last(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = dataset(tmp_path, {"a.mp4": {"width": 64, "height": 48, "frames": 5}})
    small = ("--select", "CVL105", "--train-resolution", "9x48x72")
    a = data / "videos" / "a.mp4"
    a_original = a.read_bytes()
    run(capsys, *FIX, *small)
    a_fixed = a.read_bytes()
    make_clip(data / "videos" / "b.mp4", width=48, height=48, frames=5)
    (data / "videos.txt").write_text("videos/a.mp4\nvideos/b.mp4\n")
    (data / "prompts.txt").write_text("a\nb\n")
    b_original = (data / "videos" / "b.mp4").read_bytes()
    run(capsys, *FIX, *small)
    first, second = list_runs(data)
    assert first < second  # run ids sort by start time

    capsys.readouterr()
    assert main(["undo", "data", "--run", first]) == 0
    assert capsys.readouterr().out == f"restored data/videos/a.mp4 (from run {first})\n"
    assert a.read_bytes() == a_original and (data / "videos" / "b.mp4").read_bytes() != b_original
    assert main(["undo", "data"]) == 0
    assert (data / "videos" / "b.mp4").read_bytes() == b_original and a.read_bytes() != a_fixed
    assert main(["undo", "data", "--run", "20000101T000000.000000Z-1"]) == 2


def test_undo_leaves_a_clip_changed_after_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = dataset(tmp_path, {"a.mp4": {"width": 64, "height": 48, "frames": 5}})
    original = (data / "videos" / "a.mp4").read_bytes()
    run(capsys, *FIX, "--select", "CVL105", "--train-resolution", "9x48x72")
    make_clip(data / "videos" / "a.mp4", width=72, height=48, frames=7)  # the user's new edit
    edited = (data / "videos" / "a.mp4").read_bytes()
    capsys.readouterr()
    assert main(["undo", "data"]) == 1
    err = capsys.readouterr().err
    assert "videos/a.mp4: not restored: it changed after the fix" in err and len(err.splitlines()) == 1
    assert (data / "videos" / "a.mp4").read_bytes() == edited
    (run_id,) = list_runs(data)
    assert (backup_base(data) / run_id / "videos" / "a.mp4").read_bytes() == original


def test_fix_alone_and_diff_change_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = dataset(tmp_path, {"a.mp4": {"width": 1280, "height": 720, "frames": 3},
                              "r.mp4": {"width": 1280, "height": 720, "frames": 3, "rotation": 90}})
    before = {p.name: p.read_bytes() for p in (data / "videos").iterdir()}
    code, out, _ = run(capsys, "--fix", "--select", "CVL105")
    assert code == 1 and "Fixed 0 findings (2 remaining)" in out
    assert "2 more fixes available with --fix --unsafe-fixes" in out
    code, out, _ = run(capsys, "--diff", "--unsafe-fixes", "--select", "CVL105")
    assert code == 1 and out.splitlines() == [
        "rewrite data/videos/a.mp4: 1280x720 → crop 1080x720 → resize 720x480",
        "rewrite data/videos/r.mp4: 1280x720 rotated 90° → 720x1280 → crop 720x480 → resize 720x480"]
    assert {p.name: p.read_bytes() for p in (data / "videos").iterdir()} == before
    assert not (data / ".cogvid-lint").exists()


def test_exit_zero_on_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    dataset(tmp_path, {"a.mp4": {"width": 64, "height": 48, "frames": 3}})
    code, out, _ = run(capsys, *FIX, "--exit-zero-on-fix", "--select", "CVL105", "--train-resolution", "9x48x72")
    assert code == 0 and "Fixed 1 finding (0 remaining)" in out and "exiting 1" not in out


def test_fix_crf_sets_the_encoder_quality(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = dataset(tmp_path, {"a.mp4": {"width": 64, "height": 48, "frames": 3}}, config="fix-crf: 40\n")
    run(capsys, *FIX, "--select", "CVL105", "--train-resolution", "9x48x72")
    assert b"crf=40.0" in (data / "videos" / "a.mp4").read_bytes()  # x264 writes its settings in the stream
    (tmp_path / "cogvid-lint.yaml").unlink()
    make_clip(data / "videos" / "a.mp4", width=64, height=48, frames=3)
    run(capsys, *FIX, "--select", "CVL105", "--train-resolution", "9x48x72")
    assert b"crf=18.0" in (data / "videos" / "a.mp4").read_bytes()


# min_frames: 4: these re-times make short clips on purpose (the fix's mechanics are tested
# here); a fix that would make a CVL102 error at the default is not applied (test_gate_data)
SPEED = "fix-speed: true\nfix-crf: 30\nrules: {CVL102: {params: {min_frames: 4}}}\n"


def test_crop_and_speed_fix_combine_in_one_re_encode(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # 60 frames at 30 fps, F = 9: stride 6 shows 5 fps, fast motion for an 8 fps model;
    # resampled to 8 fps it holds 16 frames, sampled at stride 1
    data = dataset(tmp_path, {"a.mp4": {"width": 128, "height": 72, "frames": 60, "fps": 30}}, config=SPEED)
    small = ("--select", "CVL105,CVL107", "--train-resolution", "9x48x72")
    code, found = lint(capsys, *small)
    assert sorted(d["code"] for d in found) == ["CVL105", "CVL107"]
    assert all(d["fix"]["applicability"] == "unsafe" for d in found)
    code, out, _ = run(capsys, "--diff", "--unsafe-fixes", *small)
    assert out == ("rewrite data/videos/a.mp4: 128x72 → crop 108x72 → resize 72x48 → 30 fps → 8 fps "
                   "(16 frames)\n")
    code, out, _ = run(capsys, *FIX, *small)
    assert "Fixed 2 findings (0 remaining)" in out
    fixed = probe(data / "videos" / "a.mp4")
    assert (fixed.width, fixed.height, fixed.frames, fixed.fps, fixed.variable_frame_rate) == (72, 48, 16, 8.0, False)
    (run_id,) = list_runs(data)
    lines = (backup_base(data) / run_id / "journal.jsonl").read_text().splitlines()
    journal = [json.loads(line) for line in lines if line]
    assert [r["state"] for r in journal] == ["start", "verified", "replaced"]  # one encode for both fixes


def test_speed_fix_picks_frames_by_timestamp(tmp_path, monkeypatch, capsys):
    """60 frames at 30 fps → 8 fps: output frame k is source frame floor(k * 30 / 8)."""
    monkeypatch.chdir(tmp_path)
    data = dataset(tmp_path, {"m.mp4": {"width": 72, "height": 48, "frames": 60, "fps": 30}}, config=SPEED)
    reader = decord.VideoReader(str(data / "videos" / "m.mp4"))
    source = [reader[j].asnumpy().astype(int) for j in range(60)]
    run(capsys, *FIX, "--select", "CVL107", "--train-resolution", "9x48x72")
    fixed = decord.VideoReader(str(data / "videos" / "m.mp4"))
    assert len(fixed) == 16
    for k in range(16):  # each frame is closest to the source frame on screen at k / 8 s
        got = fixed[k].asnumpy().astype(int)
        errors = [abs(got - frame).mean() for frame in source]
        assert errors.index(min(errors)) == k * 30 // 8, k


def test_speed_fixes_need_fix_speed_and_a_length_they_can_settle(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    dataset(tmp_path, {"slow.mp4": {"width": 72, "height": 48, "frames": 60, "fps": 30},
                       "fast.mp4": {"width": 72, "height": 48, "frames": 16, "fps": 30},
                       "long.mp4": {"width": 72, "height": 48, "frames": 90, "fps": 30},
                       "vfr.mp4": {"width": 72, "height": 48, "frames": 10, "vfr": True},
                       "vfr-slow.mp4": {"width": 72, "height": 48, "frames": 20, "vfr": True}})
    small = ("--select", "CVL107,CVL108", "--train-resolution", "9x48x72")
    found = {(Path(d["path"]).name, d["code"]): d["fix"] for d in lint(capsys, *small)[1]}
    assert set(found) == {("slow.mp4", "CVL107"), ("fast.mp4", "CVL107"), ("long.mp4", "CVL107"),
                          ("vfr.mp4", "CVL108"), ("vfr-slow.mp4", "CVL107"), ("vfr-slow.mp4", "CVL108")}
    assert all(fix is None for fix in found.values())  # without fix-speed: no fix at all
    (tmp_path / "cogvid-lint.yaml").write_text(SPEED)
    found = {(Path(d["path"]).name, d["code"]): d["fix"] for d in lint(capsys, *small)[1]}
    assert found[("long.mp4", "CVL107")] is None  # 24 frames at 8 fps: sampled at stride 2 again
    assert found[("slow.mp4", "CVL107")]["title"].startswith("Re-time to a constant 8 fps (the model's rate): "
                                                              "60 → 16 frames")
    assert "60 → 16 frames" in found[("slow.mp4", "CVL107")]["title"]
    assert "the trainer pads it to 9 frames): 16 → 4 frames" in found[("fast.mp4", "CVL107")]["title"]
    vfr_rate = round(probe(Path("data/videos/vfr.mp4")).fps)
    assert f"Re-time to a constant {vfr_rate} fps" in found[("vfr.mp4", "CVL108")]["title"]
    code, out, _ = run(capsys, *FIX, *small)
    assert "Fixed 5 findings (1 remaining)" in out
    assert probe(Path("data/videos/fast.mp4")).frames == 4
    both = probe(Path("data/videos/vfr-slow.mp4"))  # one re-time settles both: the model's constant rate
    assert (both.fps, both.variable_frame_rate) == (8.0, False)
    vfr = probe(Path("data/videos/vfr.mp4"))
    assert not vfr.variable_frame_rate and vfr.fps == vfr_rate


def test_symlinked_clip_is_refused_and_nothing_outside_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = dataset(tmp_path, {"real.mp4": {"width": 64, "height": 48, "frames": 3}})
    os.symlink("real.mp4", data / "videos" / "link.mp4")
    outside = tmp_path / "outside"
    outside.mkdir()
    make_clip(outside / "o.mp4", width=64, height=48, frames=3)
    os.symlink(outside, data / "elsewhere")
    (data / "videos.txt").write_text("videos/link.mp4\nelsewhere/o.mp4\n")
    (data / "prompts.txt").write_text("a\nb\n")
    before = {p: p.read_bytes() for p in (data / "videos" / "real.mp4", outside / "o.mp4")}
    code, out, err = run(capsys, *FIX, "--select", "CVL004,CVL105", "--train-resolution", "9x48x72")
    assert code == 1 and "Fixed 0 findings" in out
    assert err.splitlines() == ["cogvid-lint: error: data/videos/link.mp4: not rewritten: a symlink "
                                "(refusing to replace a link or write where it points)"]
    assert all(p.read_bytes() == content for p, content in before.items())
    assert (data / "videos" / "link.mp4").is_symlink() and sorted(os.listdir(outside)) == ["o.mp4"]
    assert not (data / ".cogvid-lint").exists()


def test_not_enough_disk_is_refused_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = dataset(tmp_path, {"a.mp4": {"width": 1280, "height": 720, "frames": 3}})
    before = (data / "videos" / "a.mp4").read_bytes()
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=200_000))
    code, out, err = run(capsys, *FIX, "--select", "CVL105")
    assert code == 1 and "Fixed 0 findings (1 remaining)" in out
    assert len(err.splitlines()) == 1 and "not rewritten: not enough free disk for the re-encoded copy: " \
        "about 1.3 MB needed, 0.2 MB free in" in err
    assert (data / "videos" / "a.mp4").read_bytes() == before and list_runs(data) == []


def test_backups_and_temp_names_are_invisible_to_every_rule(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # SAT layout: every video file in videos/ is a clip, so a temp file there must not look like one
    data = tmp_path / "data"
    (data / "labels").mkdir(parents=True)
    (data / "videos").mkdir()
    for stem in ("1", "2"):
        make_clip(data / "videos" / f"{stem}.mp4", width=64, height=48, frames=3)
        (data / "labels" / f"{stem}.txt").write_text("a caption\n")
    run(capsys, *FIX, "--train-resolution", "9x48x72", "--select", "CVL105")
    (data / "videos" / ".cogvid-lint-tmp-1.mp4.x.part").write_bytes(b"leftover")
    code, found = lint(capsys, "--train-resolution", "9x48x72", "--select", "ALL", ".")
    assert found and not [d for d in found if ".cogvid-lint" in d["path"]]
    assert {Path(d["path"]).name for d in found if d["code"].startswith("CVL1")} <= {"1.mp4", "2.mp4"}


def test_stale_cache_entries_of_a_rewritten_clip_are_deleted_in_the_same_run(tmp_path, monkeypatch, capsys):
    from cache_factory import cached_dataset, latent_path

    monkeypatch.chdir(tmp_path)
    root = cached_dataset(tmp_path / "data", stems=("a",), first_frames=True)  # 64x48 clip, cache newer
    latent, png = latent_path(root, "a", model="cogvideox-t2v"), root / "first_frames" / "a.png"
    assert latent.exists() and png.exists()
    i2v = ("--model", "cogvideox-i2v", "--select", "CVL105,CVL301,CVL307")
    assert [d["code"] for d in lint(capsys, *i2v)[1]] == ["CVL105"]
    code, out, _ = run(capsys, *FIX, *i2v)
    assert code == 1 and "(0 remaining)" in out
    assert not latent.exists() and not png.exists()
    assert (root / "videos" / "a.mp4").stat().st_mtime > (root / "videos.txt").stat().st_mtime - 1


def test_progress_bar_only_on_a_terminal(tmp_path):
    import pty

    dataset(tmp_path, {"a.mp4": {"width": 64, "height": 48, "frames": 3}, "b.mp4": {"width": 64, "height": 48}})
    args = [COGVID_LINT, *FIX, "--data-root", "data", "--select", "CVL105", "--train-resolution", "9x48x72"]
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    proc = subprocess.run(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.returncode == 1 and b"re-encoding clips" in seen and b"2/2" in seen
    shutil.rmtree(tmp_path / "data")
    dataset(tmp_path, {"a.mp4": {"width": 64, "height": 48, "frames": 3}})
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, env=env)
    assert proc.returncode == 1 and b"re-encoding" not in proc.stderr


def test_a_stale_plan_and_a_bad_output_are_refused(tmp_path):
    from cogvid_lint.findings import RewriteMedia
    from cogvid_lint.fix.media import verify
    from cogvid_lint.fix.media_plan import merge

    clip = make_clip(tmp_path / "a.mp4", width=64, height=48, frames=4)
    op = RewriteMedia(clip, tmp_path, {"kind": "crop-resize", "source": [96, 48], "rotation": 0,
                                       "crop": [0, 0, 72, 48], "resize": [72, 48]})
    (rewrite,) = merge([(op, None)])
    assert rewrite.job(probe(clip)) == "it changed since it was checked (run again)"
    op = RewriteMedia(clip, tmp_path, {**op.plan, "source": [64, 48], "crop": [0, 0, 64, 42]})
    job = merge([(op, None)])[0].job(probe(clip))
    assert verify(clip, job, probe(clip)) == "the re-encoded clip is 64x48 rotated 0°, not 72x48"
    assert sys.modules.get("cogvid_lint.fix.media") is not None


def test_journal_survives_a_torn_line(tmp_path):
    from cogvid_lint.fix.backup import Journal

    journal = Journal(tmp_path)
    journal.append("videos/a.mp4", "start", temp="videos/.t.part")
    with open(journal.path, "a") as handle:
        handle.write('\n{"path": "videos/a.mp4", "sta')  # killed mid-append
    journal.append("videos/a.mp4", "abandoned")
    assert journal.entries() == {"videos/a.mp4": {"path": "videos/a.mp4", "state": "abandoned",
                                                  "temp": "videos/.t.part"}}


@pytest.mark.parametrize("kill_at,note", [
    ("encode:1", "Rolled back the interrupted rewrite of videos/a.mp4: the original is in place."),
    ("backed-up:1", "Finished the interrupted rewrite of videos/a.mp4 (original in data/.cogvid-lint/backup/"),
])
def test_the_next_run_settles_a_killed_one(kill_at, note, tmp_path):
    """The fast version of tests/test_media_sigkill.py: one tiny clip, the installed command."""
    data = dataset(tmp_path, {"a.mp4": {"width": 96, "height": 48, "frames": 3}})
    original = (data / "videos" / "a.mp4").read_bytes()
    args = [COGVID_LINT, *FIX, "--data-root", "data", "--select", "CVL105", "--train-resolution", "9x48x72"]
    env = {**os.environ, "COGVID_LINT_TEST_KILL_AT": kill_at}
    killed = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert killed.returncode == -9 and (data / "videos" / "a.mp4").read_bytes() == original
    env.pop("COGVID_LINT_TEST_KILL_AT")
    rerun = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert rerun.returncode == 1 and note in rerun.stdout and "(0 remaining)" in rerun.stdout, rerun.stdout
    assert no_temp_files(data) and probe(data / "videos" / "a.mp4").width == 72
    assert subprocess.run([COGVID_LINT, "undo", "data"], cwd=tmp_path).returncode == 0
    assert (data / "videos" / "a.mp4").read_bytes() == original
