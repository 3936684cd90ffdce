"""`inspect --show`: the contact sheet shows the frames the trainer takes, in its order.

Clips are made with `pattern=True`, so every frame carries its own index; the tests read the
index back out of each thumbnail of the written PNG and compare it with the sampler's
`training.indices`. The geometry (thumbnails, labels, crop windows) is checked on what the
layout placed, as `inspect --show --json` reports it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clips import make_clip, make_text, read_pattern
from conftest import COGVID_LINT

from cogvid_lint.fix.media_plan import crop_resize_plan
from cogvid_lint.fsutil import atomic_write_bytes
from cogvid_lint.sheet import frames, layout
from cogvid_lint.sheet.draw import dim

MAX_BYTES = 1_500_000  # a 49-frame PNG sheet; the JPEG ones are a fraction of it
# snapshots of the sheets' geometry; regenerate them with UPDATE_SNAPSHOTS=1
SNAPSHOTS = Path(__file__).parent / "snapshots" / "sheet"


def _inspect(cwd: Path, *args: str) -> tuple[int, str, str]:
    proc = subprocess.run([COGVID_LINT, "inspect", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def _sheet(cwd: Path, clip: str, out: str, *args: str) -> tuple[dict, dict, np.ndarray]:
    code, stdout, stderr = _inspect(cwd, clip, "--show", out, "--json", *args)
    assert code in (0, 1), stderr
    record = json.loads(stdout)[0]
    sheet = record["sheet"]
    assert "error" not in sheet, sheet
    assert sheet["path"] == out
    with Image.open(cwd / out) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[:2] == (sheet["height"], sheet["width"])
    return record, sheet, pixels


def _shown(pixels: np.ndarray, box: dict, turns: int = 0) -> int:
    """The frame index a thumbnail shows (turned back when the clip is displayed rotated)."""
    picture = pixels[box["y"]:box["y"] + box["h"], box["x"]:box["x"] + box["w"]]
    return read_pattern(np.rot90(picture, k=turns) if turns else picture)


def _check_thumbnails(record: dict, sheet: dict, pixels: np.ndarray, turns: int = 0) -> None:
    training = record["training"]
    indices, padded = training["indices"], training["padded_frames"]
    thumbs = sheet["thumbs"]
    assert [t["index"] for t in thumbs] == indices
    assert [t["position"] for t in thumbs] == list(range(len(indices)))
    assert [t["padded"] for t in thumbs] == [False] * (len(indices) - padded) + [True] * padded
    fps = record["fps"]
    for thumb in thumbs:
        expected = f"#{thumb['index']} pad" if thumb["padded"] else f"#{thumb['index']} {thumb['index'] / fps:.2f}s"
        assert thumb["label"] == expected
        assert _shown(pixels, thumb["box"], turns) == thumb["index"], thumb
    # thumbnails keep the display aspect
    width, height = record["width"], record["height"]
    tw, th = sheet["thumb_size"]
    assert abs(tw / th - width / height) < 0.05
    # in training order: left to right, then down
    boxes = [(t["box"]["y"], t["box"]["x"]) for t in thumbs]
    assert boxes == sorted(boxes)
    assert sheet["width"] <= layout.MAX_WIDTH
    assert sheet["bytes"] <= MAX_BYTES


def _geometry(sheet: dict) -> str:
    """The sheet's geometry as text: every line, thumbnail and panel with its place."""
    def box(b: dict | None) -> str:
        return f"{b['x']},{b['y']} {b['w']}x{b['h']}" if b else "-"

    out = [f"sheet {sheet['width']}x{sheet['height']}, thumbnails {sheet['thumb_size'][0]}x{sheet['thumb_size'][1]} "
           f"in {sheet['columns']} columns"]
    out += [f"line {line['tone']} at {box(line['box'])}: {line['text']}" for line in sheet["lines"]]
    out += [f"thumb {t['position']}: {t['label']}{' (dimmed)' if t['padded'] else ''} at {box(t['box'])}"
            for t in sheet["thumbs"]]
    out += [f"panel {p['kind']} {p['size'][0]}x{p['size'][1]} at {box(p['box'])}, window {box(p['window'])}, "
            f"fix window {box(p['fix_window'])}: {p['title']}" for p in sheet["panels"]]
    return "\n".join(out) + "\n"


def _assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its snapshot (UPDATE_SNAPSHOTS=1)"


def _assert_box_near(box: dict, expected: tuple[float, float, float, float]) -> None:
    got = (box["x"], box["y"], box["w"], box["h"])
    assert all(abs(a - b) <= 1 for a, b in zip(got, expected)), (got, expected)


def _window(panel: dict, crop, frame_w: float, frame_h: float) -> tuple[float, float, float, float]:
    """`crop` (in a frame_w x frame_h picture) where the source panel draws it."""
    fx, fy = panel["box"]["w"] / frame_w, panel["box"]["h"] / frame_h
    x, y, w, h = crop
    return panel["box"]["x"] + x * fx, panel["box"]["y"] + y * fy, w * fx, h * fy


def test_sat_pads_and_crops_and_the_sheet_shows_it(tmp_path):
    make_clip(tmp_path / "a.mp4", width=128, height=64, frames=30, fps=8, pattern=True)
    record, sheet, pixels = _sheet(tmp_path, "a.mp4", "a.png", "--trainer", "sat", "--train-resolution", "49x64x96")
    training = record["training"]
    assert training["indices"] == list(range(3, 24)) + [23] * 28  # SAT: skip 3, 4k+1 frames, pad to 49
    _check_thumbnails(record, sheet, pixels)
    assert os.path.getsize(tmp_path / "a.png") <= MAX_BYTES
    texts = [line["text"] for line in sheet["lines"]]
    assert "frame 23 is repeated 28 times to reach 49 frames (dimmed, 'pad')" in texts
    assert "the last 3 frames (0.38 s) are never shown" in texts
    # the padding copies are drawn dimmed: the pattern's white is under half brightness
    pad = next(t for t in sheet["thumbs"] if t["padded"])["box"]
    assert pixels[pad["y"]:pad["y"] + pad["h"], pad["x"]:pad["x"] + pad["w"]].max() < 160
    # beside it: the source with SAT's crop window, then the cropped frame; no fix (SAT crops)
    panels = {p["kind"]: p for p in sheet["panels"]}
    assert set(panels) == {"source", "trained"}
    assert training["resize"] == "cover-crop" and training["crop"] == [16, 0, 96, 64]
    scaled_w, scaled_h = training["scaled_to"]
    _assert_box_near(panels["source"]["window"], _window(panels["source"], training["crop"], scaled_w, scaled_h))
    assert panels["source"]["fix_window"] is None
    assert panels["trained"]["size"] == [96, 64] and panels["trained"]["title"].endswith("cropped to 96x64")
    # the trained panel is the crop: of frame 3 (0000000011) the right cells, white, reach the
    # right edge, and the left ones are black
    trained = panels["trained"]["box"]
    picture = pixels[trained["y"]:trained["y"] + trained["h"], trained["x"]:trained["x"] + trained["w"]]
    row = picture[picture.shape[0] // 2, :, :].mean(axis=-1)
    assert row[-picture.shape[1] // 8:].mean() > 200
    assert row[: picture.shape[1] // 3].mean() < 40
    _assert_snapshot("sat-pad-crop.txt", _geometry(sheet))


def test_a_stretching_trainer_shows_the_planned_fix(tmp_path):
    make_clip(tmp_path / "wide.mp4", width=256, height=144, frames=60, fps=8, pattern=True)
    record, sheet, pixels = _sheet(tmp_path, "wide.mp4", "wide.png", "--train-resolution", "49x64x96")
    training = record["training"]
    assert training["trainer"] == "finetune" and training["resize"] == "stretch"
    assert training["indices"] == list(range(49)) and training["unseen_tail_frames"] == 11
    _check_thumbnails(record, sheet, pixels)
    texts = [line["text"] for line in sheet["lines"]]
    assert "the last 11 frames (1.38 s) are never shown" in texts
    assert "stretched 256x144 -> 96x64" in texts
    panels = {p["kind"]: p for p in sheet["panels"]}
    assert [p["kind"] for p in sheet["panels"]] == ["source", "trained", "fixed"]
    assert panels["source"]["window"] is None  # the trainer crops nothing
    crop, size, upscale = crop_resize_plan(256, 144, 96, 64)
    assert (crop, size, upscale) == ((20, 0, 216, 144), (96, 64), False)
    _assert_box_near(panels["source"]["fix_window"], _window(panels["source"], crop, 256, 144))
    assert panels["fixed"]["title"] == "after --fix --unsafe-fixes (CVL105): crop 216x144, resize 96x64"
    assert panels["trained"]["title"] == "as the trainer sees it: stretched to 96x64"
    _assert_snapshot("finetune-stretch-fix.txt", _geometry(sheet))


def test_no_fix_where_the_aspect_already_matches(tmp_path):
    make_clip(tmp_path / "a.mp4", width=96, height=64, frames=12, fps=8, pattern=True)
    _, sheet, _ = _sheet(tmp_path, "a.mp4", "a.png", "--train-resolution", "9x64x96")
    assert [p["kind"] for p in sheet["panels"]] == ["source", "trained"]


def test_rotated_clip_thumbnails_keep_the_display_aspect(tmp_path):
    # stored 128x72, displayed turned 90° clockwise: 72x128, the pattern's cells run downwards
    make_clip(tmp_path / "p.mp4", width=128, height=72, frames=20, fps=8, pattern=True, rotation=90)
    record, sheet, pixels = _sheet(tmp_path, "p.mp4", "p.png", "--trainer", "diffusers",
                                   "--train-resolution", "17x64x96")
    assert (record["width"], record["height"]) == (72, 128)
    tw, th = sheet["thumb_size"]
    assert th > tw
    _check_thumbnails(record, sheet, pixels, turns=1)  # turned back counter-clockwise, it reads as stored
    panels = {p["kind"]: p for p in sheet["panels"]}
    training = record["training"]
    _assert_box_near(panels["source"]["window"], _window(panels["source"], training["crop"], *training["scaled_to"]))


def test_far_apart_frames_are_sought_and_avi_is_decoded_in_order(tmp_path):
    """A 24 fps clip of 1000 frames, keyframes every 10: finetrainers takes 49 frames spread
    over all of it (np.linspace), each found by a seek to its keyframe; in AVI the same
    frames by decoding straight through."""
    for name in ("long.mp4", "long.avi"):
        make_clip(tmp_path / name, width=64, height=48, frames=1000, fps=24, pattern=True, gop=10)
        record, sheet, pixels = _sheet(tmp_path, name, name + ".png", "--trainer", "finetrainers",
                                       "--train-resolution", "49x48x64")
        indices = record["training"]["indices"]
        assert indices[0] == 0 and indices[-1] == 999 and len(set(indices)) == 49
        _check_thumbnails(record, sheet, pixels)
        assert (sheet["seeks"] > 0) == name.endswith(".mp4")


def test_decode_gets_each_wanted_frame_once(tmp_path):
    for name in ("g.mp4", "g.webm", "g.avi"):
        clip = make_clip(tmp_path / name, width=64, height=48, frames=80, fps=8, pattern=True, gop=8)
        table = frames.scan(clip)
        assert table.count == 80 and table.keys == tuple(range(0, 80, 8))
        assert table.seekable == (name != "g.avi")
        wanted = [70, 3, 3, 40, 41, 79, 0]  # any order, repeats: each decoded once
        decoded = frames.decode(clip, table, wanted, (32, 24), full=40)
        assert {i: read_pattern(p) for i, p in decoded.pictures.items()} == {i: i for i in wanted}
        assert decoded.full.shape == (48, 64, 3) and read_pattern(decoded.full) == 40
        assert decoded.problem is None
        assert (decoded.seeks > 0) == table.seekable
        past = frames.decode(clip, table, [5, 80, 81], (32, 24))
        assert set(past.pictures) == {5} and past.problem == "frames #80, #81 past the clip's last frame (#79)"


def test_a_trainer_crash_is_said_and_the_missing_frames_shown(tmp_path):
    make_clip(tmp_path / "c.mp4", width=96, height=64, frames=50, fps=8, pattern=True)
    code, stdout, _ = _inspect(tmp_path, "c.mp4", "--trainer", "sat", "--train-resolution", "49x64x96",
                               "--show", "c.png", "--json")
    assert code == 1  # the clip stops the trainer, as inspect says without --show
    sheet = json.loads(stdout)[0]["sheet"]
    texts = [line["text"] for line in sheet["lines"]]
    assert any(t.startswith("the trainer would stop on this clip: IndexError") for t in texts)
    assert "frames #50, #51 past the clip's last frame (#49)" in texts
    assert [t["index"] for t in sheet["thumbs"]][-2:] == [50, 51]
    assert sheet["panels"] == []


def test_several_clips_go_to_a_folder_and_bad_ones_are_one_line(tmp_path):
    make_clip(tmp_path / "a.mp4", width=96, height=64, frames=12, fps=8, pattern=True)
    (tmp_path / "sub").mkdir()
    make_clip(tmp_path / "sub" / "a.mp4", width=96, height=64, frames=12, fps=8, pattern=True)
    make_text(tmp_path / "bad.mp4")
    code, stdout, stderr = _inspect(tmp_path, "a.mp4", "sub/a.mp4", "bad.mp4", "--show", "sheets",
                                    "--train-resolution", "9x64x96")
    assert code == 1, stderr  # bad.mp4 is unreadable
    assert sorted(p.name for p in (tmp_path / "sheets").iterdir()) == ["a.mp4-2.jpg", "a.mp4.jpg"]
    for name in ("a.mp4.jpg", "a.mp4-2.jpg"):
        with Image.open(tmp_path / "sheets" / name) as image:
            assert image.format == "JPEG" and image.width <= layout.MAX_WIDTH
    assert "  sheet: sheets/a.mp4.jpg (9 frames" in stdout
    assert "  sheet sheets/bad.mp4.jpg: no sheet: the clip is unreadable" in stdout
    # a file name for several clips is a usage error, before anything is decoded
    code, _, stderr = _inspect(tmp_path, "a.mp4", "sub/a.mp4", "--show", "x.png")
    assert code == 2 and stderr.count("\n") == 1 and "need a folder" in stderr
    code, _, stderr = _inspect(tmp_path, "a.mp4", "--show", "nowhere/x.png")
    assert code == 2 and "no such folder" in stderr


def test_jpeg_by_suffix_and_the_default_trainer(tmp_path):
    make_clip(tmp_path / "a.mp4", width=96, height=64, frames=12, fps=8, pattern=True)
    code, stdout, stderr = _inspect(tmp_path, "a.mp4", "--show", "a.jpg")  # no --trainer: finetune, the model's size
    assert code == 0, stderr
    assert (tmp_path / "a.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert "finetune at 49x480x720" in stdout and "sheet: a.jpg (49 frames (37 padding), " in stdout
    # a new sheet gets the mode any new file gets (0666 less the umask), not mkstemp's 0600
    umask = _umask()
    if umask is not None:
        assert (tmp_path / "a.jpg").stat().st_mode & 0o777 == 0o666 & ~umask


def _umask() -> int | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    line = next((line for line in status.splitlines() if line.startswith("Umask:")), None)
    return int(line.split()[1], 8) if line else None


def test_layout_bounds_and_wraps():
    training = {"indices": list(range(81)), "padded_frames": 0, "resize": "stretch", "resized_to": [1360, 768],
                "crop": None, "crash": None}
    times = {i: i / 16 for i in range(81)}
    long_note = " ".join(["word"] * 400)
    sheet = layout.layout(width=3840, height=2160, training=training, times=times, notes=[(long_note, "text")],
                          measure=lambda text: 7 * len(text))
    assert sheet.width <= layout.MAX_WIDTH
    assert len(sheet.lines) > 1 and all(7 * len(line.text) <= sheet.width - 2 * layout.MARGIN for line in sheet.lines)
    assert all(t.box.x + t.box.w <= sheet.panels[0].box.x for t in sheet.thumbs)  # the grid stays left of the side
    assert all(p.box.x + p.box.w <= sheet.width - layout.MARGIN for p in sheet.panels)
    assert sheet.thumbs[80].label == "#80 5.00s"
    # a 100:1 strip still gets visible thumbnails; a tall one is bounded by its height
    strip = layout.layout(width=5000, height=50, training={**training, "resized_to": None}, times={},
                          notes=[], measure=len)
    assert strip.thumb_size[1] >= layout.THUMB_MIN and not strip.panels and strip.thumbs[0].label == "#0"
    tall = layout.layout(width=50, height=5000, training=training, times=times, notes=[], measure=len)
    assert tall.thumb_size[1] == layout.THUMB_MAX_H and tall.width <= layout.MAX_WIDTH


def test_dimmed_pattern_still_reads():
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[12:36, :6] = 255  # the first cell: the top bit of 10, 512
    assert read_pattern(picture) == 512 and read_pattern(dim(picture)) == 512


def test_atomic_write_checks_before_replacing(tmp_path):
    target = tmp_path / "sheet.png"
    target.write_bytes(b"old")

    def refuse(path: Path) -> None:
        assert path != target and path.read_bytes() == b"new"
        raise ValueError("not an image")

    with pytest.raises(ValueError):
        atomic_write_bytes(target, b"new", check=refuse)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["sheet.png"]


@pytest.mark.parametrize("trainer", ["diffusers", "diffusers-i2v", "finetrainers", "finetrainers-v0",
                                     "cogvideox-factory"])
def test_each_trainers_sheet_matches_its_sampler(tmp_path, trainer):
    """One clip of known content (90 frames at 12 fps, 160x64, each frame drawing its index)
    as each of the other trainers takes it at 25x64x96: the sheet's frames are the indices
    the trainer's own sampler (its profile, called here) gives, in its order, each labelled
    with its index and time and showing that frame; the crop window is the trainer's crop
    (scaled to the panel), or, for a stretching trainer, the planned fix's. The geometry is
    kept as a snapshot."""
    from cogvid_lint import trainers
    from cogvid_lint.commands.inspect import _settings
    from cogvid_lint.models import parse_resolution

    make_clip(tmp_path / "w.mp4", width=160, height=64, frames=90, fps=12, pattern=True, gop=10)
    record, sheet, pixels = _sheet(tmp_path, "w.mp4", "w.png", "--trainer", trainer, "--train-resolution", "25x64x96")
    profile = trainers.get(trainer)
    sample = profile.sample(90, 12.0, _settings(tmp_path, profile.name, parse_resolution("25x64x96")))
    assert record["training"]["indices"] == list(sample.indices)
    assert len(sheet["thumbs"]) == len(sample.indices)
    _check_thumbnails(record, sheet, pixels)
    training = record["training"]
    panels = {p["kind"]: p for p in sheet["panels"]}
    if training["resize"] == "cover-crop":
        _assert_box_near(panels["source"]["window"], _window(panels["source"], training["crop"],
                                                             *training["scaled_to"]))
        assert "fixed" not in panels
    else:
        assert training["resize"] == "stretch" and panels["source"]["window"] is None
        crop, _, _ = crop_resize_plan(160, 64, *training["resized_to"])
        _assert_box_near(panels["source"]["fix_window"], _window(panels["source"], crop, 160, 64))
    _assert_snapshot(f"{trainer}-25x64x96.txt", _geometry(sheet))
