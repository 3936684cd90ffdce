"""Latent-cache rules CVL301-CVL308, `cache stamp`, and the delete-fix contract, on real caches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cache_factory import (CACHE_TIME, CLIP_TIME, NOW, SHAPE, cached_dataset, embedding_path, latent_path,
                           set_mtime, tree, write_embedding, write_first_frame, write_latent, write_safetensors)
from conftest import COGVID_LINT
from clips import make_clip
from cogvid_lint import cache_stamp
from cogvid_lint.cli import main
from cogvid_lint.fix.files import delete_refusal

CACHE_RULES = {f"CVL30{n}" for n in range(1, 9)}


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return cached_dataset(tmp_path / "data")


@pytest.fixture
def cache_lint(lint_json):
    """Run the cache rules over ./data; return (exit code, [(code, path)], report)."""
    def run(*extra: str):
        code, report = lint_json("--data-root", "data", "--select", "CVL3", *extra)
        return code, sorted((d["code"], d["path"]) for d in report["diagnostics"]), report
    return run


def rel(path: Path) -> str:
    return path.relative_to(Path.cwd()).as_posix()


def stamp(capsys, *extra: str) -> str:
    capsys.readouterr()
    assert main(["cache", "stamp", "data", *extra]) == 0
    return capsys.readouterr().out


# ---------------------------------------------------------------- each rule: pass and fail


def test_a_correct_fresh_cache_passes(data, cache_lint):
    code, found, _ = cache_lint()
    assert (code, found) == (0, [])


def test_stale_latent_fires_on_the_entry_older_than_its_clip(data, cache_lint):
    set_mtime(data / "videos" / "a.mp4", NOW)  # edited after the precompute
    code, found, report = cache_lint()
    assert code == 1
    assert found == [("CVL301", rel(latent_path(data, "a")))]
    diag = report["diagnostics"][0]
    assert diag["fix"] == {"applicability": "safe", "title": "Delete the stale latent"}
    assert "videos/a.mp4" in diag["message"] and "cogvideox-t2v/49x480x720" in diag["message"]


def test_stale_latent_is_judged_in_every_model_and_resolution_folder(data, cache_lint):
    old = write_latent(data, "a", res="81x768x1360", model="cogvideox1.5-t2v", when=CLIP_TIME - 60)
    _, found, _ = cache_lint()
    assert found == [("CVL301", rel(old))]


def test_orphan_latent_only_in_the_configured_model_folder(data, cache_lint):
    orphan = write_latent(data, "gone")
    write_latent(data, "gone", res="81x768x1360")  # same model, other resolution: also judged
    write_latent(data, "gone", res="81x768x1360", model="cogvideox1.5-t2v")  # another model: not judged
    _, found, report = cache_lint()
    assert found == [("CVL302", rel(orphan)), ("CVL302", rel(latent_path(data, "gone", "81x768x1360")))]
    assert all(d["severity"] == "info" for d in report["diagnostics"])
    _, found, _ = cache_lint("--model", "cogvideox1.5-t2v")
    assert found == [("CVL302", rel(latent_path(data, "gone", "81x768x1360", "cogvideox1.5-t2v")))]


def test_orphan_latent_is_silent_when_the_video_list_is_unreadable(data, cache_lint):
    write_latent(data, "gone")
    (data / "videos.txt").unlink()
    _, found, _ = cache_lint()
    assert not [f for f in found if f[0] == "CVL302"]


@pytest.mark.parametrize("damage, says", [
    (lambda b: b[: len(b) // 2], "truncated"),
    (lambda b: b[:5], "too short"),
    (lambda b: b"", "empty file"),
    (lambda b: b + b"\0" * 10, "unexpected bytes"),
    (lambda b: b[:8] + b"{not json" + b[17:], "not JSON"),
])
def test_corrupt_cache_entry(data, cache_lint, damage, says):
    path = latent_path(data, "a")
    path.write_bytes(damage(path.read_bytes()))
    set_mtime(path, CACHE_TIME)
    code, found, report = cache_lint()
    assert code == 1 and found == [("CVL303", rel(path))]
    assert says in report["diagnostics"][0]["message"] and report["diagnostics"][0]["severity"] == "error"


def test_corrupt_cache_entry_wrong_tensor_name_and_prompt_embedding(data, cache_lint):
    latent = write_safetensors(latent_path(data, "a"), "latents", SHAPE["49x480x720"])
    emb = embedding_path(data, "caption b")
    emb.write_bytes(emb.read_bytes()[:-3])
    _, found, report = cache_lint()
    assert found == sorted([("CVL303", rel(latent)), ("CVL303", rel(emb))])
    assert any("no tensor 'encoded_video'" in d["message"] for d in report["diagnostics"])


def test_truncation_is_caught_by_the_header_lengths_not_only_by_safetensors(tmp_path):
    from cogvid_lint.cache_layout import read_header

    path = write_safetensors(tmp_path / "x.safetensors", "encoded_video", (16, 13, 60, 90))
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-1])
    header = read_header(path)
    assert header.problem == f"truncated: {size - 1} bytes, but its header needs {size} (an interrupted write)"


def test_shape_is_judged_against_each_resolution_folder(data, cache_lint):
    write_latent(data, "a", res="81x768x1360")  # correct [16, 21, 96, 170] beside the 49x480x720 one
    code, found, _ = cache_lint()
    assert (code, found) == (0, [])
    wrong_49 = write_latent(data, "b", shape=SHAPE["81x768x1360"])
    wrong_81 = write_latent(data, "b", res="81x768x1360", shape=SHAPE["49x480x720"])
    code, found, report = cache_lint()
    assert code == 1 and found == sorted([("CVL304", rel(wrong_49)), ("CVL304", rel(wrong_81))])
    messages = {d["path"]: d["message"] for d in report["diagnostics"]}
    assert "[16, 21, 96, 170]" in messages[rel(wrong_49)] and "differs from [16, 13, 60, 90]" in messages[rel(wrong_49)]
    assert "differs from [16, 21, 96, 170]" in messages[rel(wrong_81)]


def test_orphan_prompt_embedding(data, cache_lint):
    old = write_embedding(data, "caption a with a typo")
    _, found, _ = cache_lint()
    assert found == [("CVL305", rel(old))]


def test_prompt_hash_is_the_trainers_stripped_utf8_line_bom_included(data, cache_lint):
    (data / "prompts.txt").write_text("\ufeff  café a \n\ncaption b\n", encoding="utf-8")
    # the trainer opens it as utf-8 (not utf-8-sig): the BOM stays, so strip() keeps the spaces after it
    write_embedding(data, "\ufeff  café a")
    os.unlink(embedding_path(data, "caption a"))
    _, found, _ = cache_lint()
    assert found == []


def test_legacy_pt_cache(data, cache_lint):
    legacy = data / "videos" / "latent" / "a.pt"
    legacy.parent.mkdir()
    try:
        import torch
    except ImportError:
        torch = None
        legacy.write_bytes(b"PK\x03\x04 a torch zip archive would start like this")
    else:
        torch.save(torch.zeros(16, 13, 60, 90), legacy)
    code, found, report = cache_lint()
    assert code == 1 and found == [("CVL306", rel(legacy))]
    message = report["diagnostics"][0]["message"]
    if torch is None:
        assert "torch is not installed" in message
    else:
        assert "[16, 13, 60, 90]" in message


def test_legacy_pt_beside_the_clips_folder(tmp_path, monkeypatch, cache_lint):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data"
    (root / "clips").mkdir(parents=True)
    make_clip(root / "clips" / "a.mp4", frames=6)
    (root / "videos.txt").write_text("clips/a.mp4\n")
    (root / "prompts.txt").write_text("caption a\n")
    legacy = root / "clips" / "latent" / "a.pt"
    legacy.parent.mkdir()
    legacy.write_bytes(b"not read without torch")
    _, found, _ = cache_lint()
    assert found == [("CVL306", rel(legacy))]


def test_stale_first_frame(tmp_path, monkeypatch, cache_lint):
    monkeypatch.chdir(tmp_path)
    root = cached_dataset(tmp_path / "data", first_frames=True)
    code, found, _ = cache_lint("--model", "cogvideox-i2v")
    assert (code, found) == (0, [])
    set_mtime(root / "videos" / "b.mp4", NOW)
    code, found, _ = cache_lint("--model", "cogvideox-i2v")
    assert found == [("CVL301", rel(latent_path(root, "b", model="cogvideox-t2v"))),
                     ("CVL307", rel(root / "first_frames" / "b.png"))]


def test_first_frames_outside_the_data_root_are_reported_but_never_deleted(tmp_path, monkeypatch, cache_lint):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data"
    root.mkdir()
    set_mtime(make_clip(root / "a.mp4", frames=6), NOW)  # bare names: first_frames/ lands beside data/
    (root / "videos.txt").write_text("a.mp4\n")
    (root / "prompts.txt").write_text("caption a\n")
    png = write_first_frame(tmp_path, "a", when=CLIP_TIME)
    _, _, report = cache_lint("--model", "cogvideox-i2v")
    (diag,) = report["diagnostics"]
    assert diag["code"] == "CVL307" and diag["fix"] is None and "outside the data root" in diag["message"]
    cache_lint("--model", "cogvideox-i2v", "--fix")
    assert png.exists()


# ---------------------------------------------------------------- beyond timestamps: the stamp


def test_cp_p_replaced_clip_is_caught_only_with_a_stamp(data, cache_lint, capsys):
    out = stamp(capsys)
    assert "Stamped 2 clips (2 cache entries) for cogvideox-t2v 49x480x720" in out
    stamp_file = data / "cache" / "cogvid-lint-stamp.json"
    recorded = json.loads(stamp_file.read_text())
    assert set(recorded["clips"]) == {"videos/a.mp4", "videos/b.mp4"}
    assert (recorded["model"], recorded["resolution"]) == ("cogvideox-t2v", "49x480x720")
    # `cp -p other.mp4 videos/a.mp4`: new content, and an mtime older than the cache
    other = set_mtime(make_clip(data.parent / "other.mp4", frames=9, marker=(30, 20)), CLIP_TIME - 7200)
    shutil.copy2(other, data / "videos" / "a.mp4")
    assert os.stat(data / "videos" / "a.mp4").st_mtime_ns < latent_path(data, "a").stat().st_mtime_ns

    shutil.move(stamp_file, data.parent / "stamp.json")
    code, found, _ = cache_lint()
    assert (code, found) == (0, [])  # timestamps alone: falsely fresh

    shutil.move(data.parent / "stamp.json", stamp_file)
    code, found, report = cache_lint()
    assert code == 1 and found == [("CVL308", rel(latent_path(data, "a")))]
    assert "mtime is older than the entry" in report["diagnostics"][0]["message"]


def test_touched_but_identical_clip_is_not_stale_with_a_stamp(data, cache_lint, capsys):
    stamp(capsys)
    set_mtime(data / "videos" / "a.mp4", NOW)  # git checkout / touch: same bytes, new mtime
    code, found, _ = cache_lint()
    assert (code, found) == (0, [])
    os.unlink(data / "cache" / "cogvid-lint-stamp.json")
    _, found, _ = cache_lint()
    assert found == [("CVL301", rel(latent_path(data, "a")))]  # without the stamp: timestamps


def test_clips_are_hashed_only_when_size_or_mtime_differ(data, cache_lint, capsys, monkeypatch):
    stamp(capsys)
    hashed = []
    real = cache_stamp.file_digest
    monkeypatch.setattr(cache_stamp, "file_digest", lambda path: hashed.append(Path(path).name) or real(path))
    cache_lint()
    assert hashed == []
    set_mtime(data / "videos" / "b.mp4", NOW)
    cache_lint()
    assert hashed == ["b.mp4"]


def test_stamp_does_not_vouch_for_an_entry_already_stale(data, cache_lint, capsys):
    set_mtime(data / "videos" / "a.mp4", NOW)
    capsys.readouterr()
    assert main(["cache", "stamp", "data"]) == 0
    err = capsys.readouterr().err
    assert "1 entry is older than its clip and not stamped" in err
    _, found, _ = cache_lint()
    assert found == [("CVL301", rel(latent_path(data, "a")))]


def test_an_entry_rewritten_after_the_stamp_falls_back_to_timestamps(data, cache_lint, capsys):
    stamp(capsys)
    set_mtime(make_clip(data / "videos" / "a.mp4", frames=8, marker=(40, 30)), CLIP_TIME)
    write_latent(data, "a", when=NOW)  # the trainer re-encoded it after the change
    code, found, _ = cache_lint()
    assert (code, found) == (0, [])


def test_content_changed_covers_the_first_frame(tmp_path, monkeypatch, cache_lint, capsys):
    monkeypatch.chdir(tmp_path)
    root = cached_dataset(tmp_path / "data", first_frames=True)
    stamp(capsys, "--model", "cogvideox-i2v")
    recorded = json.loads((root / "cache" / "cogvid-lint-stamp.json").read_text())["clips"]["videos/b.mp4"]
    # the i2v folder holds no latents here: the stamp vouches for the first frame only
    assert recorded["entries"] == {"first_frames/b.png": (root / "first_frames" / "b.png").stat().st_mtime_ns}
    set_mtime(make_clip(root / "videos" / "b.mp4", frames=8, marker=(40, 30)), CLIP_TIME)
    _, found, _ = cache_lint("--model", "cogvideox-i2v")
    assert found == [("CVL308", rel(root / "first_frames" / "b.png"))]


def test_unreadable_stamp_is_a_corrupt_cache_file_and_timestamps_take_over(data, cache_lint):
    stamp_file = data / "cache" / "cogvid-lint-stamp.json"
    stamp_file.write_text('{"version": 1, "clips": [')
    set_mtime(data / "videos" / "a.mp4", NOW)
    code, found, report = cache_lint()
    assert found == sorted([("CVL303", rel(stamp_file)), ("CVL301", rel(latent_path(data, "a")))])
    assert any("cache stamp is not JSON" in d["message"] for d in report["diagnostics"])
    stamp_file.write_text('{"version": 1, "model": "m", "resolution": "r", "clips": {"a": {"size": "x"}}}')
    _, _, report = cache_lint()
    assert any("cache stamp is invalid at 'clips.a.size'" in d["message"] for d in report["diagnostics"])


def test_stamp_resolves_settings_like_check(data, cache_lint, capsys):
    (data.parent / "cogvid-lint.yaml").write_text("data-root: data\nmodel: cogvideox1.5-t2v\n"
                                                  "train-resolution: 81x768x1360\n")
    for stem in "ab":
        write_latent(data, stem, res="81x768x1360", model="cogvideox1.5-t2v")
    capsys.readouterr()
    assert main(["cache", "stamp"]) == 0  # no DATA_ROOT: the config's data root, model and resolution
    assert "for cogvideox1.5-t2v 81x768x1360" in capsys.readouterr().out
    recorded = json.loads((data / "cache" / "cogvid-lint-stamp.json").read_text())
    assert recorded["clips"]["videos/a.mp4"]["entries"].keys() == {
        "cache/video_latent/cogvideox1.5-t2v/81x768x1360/a.safetensors"}
    assert main(["cache", "stamp", "data", "--model", "cogvideox-t2v", "--train-resolution", "49x480x720"]) == 0
    assert "for cogvideox-t2v 49x480x720" in capsys.readouterr().out


def test_stamp_errors_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["cache", "stamp", "missing"]) == 1
    assert capsys.readouterr().err.strip().endswith("missing: data root not found")
    (tmp_path / "data" / "videos").mkdir(parents=True)
    make_clip(tmp_path / "data" / "videos" / "a.mp4", frames=6)
    (tmp_path / "data" / "videos.txt").write_text("videos/a.mp4\n")
    assert main(["cache", "stamp", "data"]) == 1
    err = capsys.readouterr().err
    assert "no listed clip has a cache entry in cache/video_latent/cogvideox-t2v/49x480x720" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["cache"]) == 2


# ---------------------------------------------------------------- the fix contract


def _messy(data: Path, capsys) -> set[str]:
    """One finding of each rule CVL301-CVL308; returns the cache files that must be deleted."""
    stamp(capsys)  # covers a and b in cogvideox-t2v/49x480x720
    other = set_mtime(make_clip(data.parent / "other.mp4", frames=9, marker=(30, 20)), CLIP_TIME - 7200)
    shutil.copy2(other, data / "videos" / "b.mp4")  # CVL308 on b's latent
    truncated = write_latent(data, "b", res="81x768x1360", model="cogvideox1.5-t2v")
    truncated.write_bytes(truncated.read_bytes()[:1000])  # CVL303
    legacy = data / "videos" / "latent" / "b.pt"
    legacy.parent.mkdir()
    legacy.write_bytes(b"old layout")  # CVL306
    doomed = {
        write_latent(data, "a", res="81x768x1360", when=CLIP_TIME - 60),  # CVL301 (the stamp does not cover it)
        write_latent(data, "gone"),  # CVL302
        truncated,
        write_latent(data, "b", res="81x768x1360", shape=SHAPE["49x480x720"]),  # CVL304
        write_embedding(data, "old caption"),  # CVL305
        legacy,
        write_first_frame(data, "a", when=CLIP_TIME - 60),  # CVL307
        latent_path(data, "b"),
    }
    return {rel(p) for p in doomed}


def test_fix_deletes_exactly_the_reported_cache_files_then_nothing_remains(data, cache_lint, capsys):
    doomed = _messy(data, capsys)
    before = tree(data.parent)
    _, found, _ = cache_lint()
    assert {code for code, _ in found} == CACHE_RULES
    assert {path for _, path in found} == doomed

    capsys.readouterr()
    code = main(["--data-root", "data", "--select", "CVL3", "--fix", "--output-format", "concise"])
    out = capsys.readouterr().out
    assert code == 1  # cache files were deleted: CI notices
    assert f"Fixed {len(found)} findings (0 remaining)." in out
    after = tree(data.parent)
    assert set(before) - set(after) == doomed
    assert all(after[p] == before[p] for p in after)  # nothing else changed or appeared; clips untouched
    code, found, _ = cache_lint()
    assert (code, found) == (0, [])


def test_fix_removes_content_changed_entries_and_exit_zero_on_fix(data, cache_lint, capsys):
    stamp(capsys)
    set_mtime(make_clip(data / "videos" / "b.mp4", frames=8, marker=(40, 30)), CLIP_TIME)
    _, found, _ = cache_lint()
    assert found == [("CVL308", rel(latent_path(data, "b")))]
    code, _, _ = cache_lint("--fix", "--exit-zero-on-fix")
    assert code == 0 and not latent_path(data, "b").exists() and latent_path(data, "a").exists()
    assert cache_lint()[:2] == (0, [])


def test_diff_prints_the_plan_and_changes_nothing(data, capsys):
    _messy(data, capsys)
    before = tree(data.parent)
    capsys.readouterr()
    code = main(["--data-root", "data", "--select", "CVL301,CVL306", "--diff"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out == ["delete data/cache/video_latent/cogvideox-t2v/81x768x1360/a.safetensors (CVL301 stale-latent)",
                   "delete data/videos/latent/b.pt (CVL306 legacy-latent-cache)"]
    assert tree(data.parent) == before


def test_fix_never_follows_a_symlinked_folder_out_of_the_cache(data, cache_lint, capsys):
    outside = data.parent / "elsewhere"
    outside.mkdir()
    res_dir = latent_path(data, "a", res="81x768x1360").parent
    res_dir.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, res_dir)
    victim = write_latent(data, "a", res="81x768x1360", when=CLIP_TIME - 60)  # stale, really in elsewhere/
    assert (outside / "a.safetensors").exists()
    _, found, _ = cache_lint()
    assert found == [("CVL301", rel(victim))]
    capsys.readouterr()
    main(["--data-root", "data", "--select", "CVL3", "--diff"])
    assert "# will not delete" in capsys.readouterr().out
    code, found, _ = cache_lint("--fix")
    assert (outside / "a.safetensors").exists() and found == [("CVL301", rel(victim))] and code == 1


def test_a_cache_entry_that_is_a_symlink_to_a_clip_is_never_judged_or_deleted(data, cache_lint):
    entry = latent_path(data, "a")
    entry.unlink()
    os.symlink(data / "videos" / "b.mp4", entry)  # a cache name pointing at a source clip
    set_mtime(data / "videos" / "b.mp4", NOW)
    before = tree(data)
    _, found, _ = cache_lint("--fix")
    after = tree(data)
    assert set(before) - set(after) == {"cache/video_latent/cogvideox-t2v/49x480x720/b.safetensors"}  # b's stale latent
    assert after == {k: v for k, v in before.items() if k in after} and entry.is_symlink()


@pytest.mark.parametrize("target, root, reason", [
    ("data/cache/x.safetensors", "data/cache/video_latent", "outside"),
    ("data/cache/video_latent/../../videos/a.safetensors", "data/cache", "outside"),
    ("data/cache/a.mp4", "data/cache", "a video file"),
    ("data/cache/link.safetensors", "data/cache", "a symlink"),
    ("data/cache/folder.safetensors", "data/cache", "not a regular file"),
    ("data/cache", "data/cache", "outside"),
])
def test_delete_refusals(tmp_path, monkeypatch, target, root, reason):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "cache" / "folder.safetensors").mkdir(parents=True)
    (tmp_path / "data" / "videos").mkdir()
    for name in ("cache/x.safetensors", "cache/a.mp4", "videos/a.safetensors"):
        (tmp_path / "data" / name).write_bytes(b"x")
    os.symlink(tmp_path / "data" / "cache" / "x.safetensors", tmp_path / "data" / "cache" / "link.safetensors")
    refusal = delete_refusal(Path(target), Path(root))
    assert refusal is not None and refusal.startswith(reason)
    assert delete_refusal(Path("data/cache/x.safetensors"), Path("data/cache")) is None


# ---------------------------------------------------------------- discovery and the installed command


@pytest.mark.parametrize("layout", ["cogvideo", "sat"])
def test_cache_files_never_look_like_clips(tmp_path, monkeypatch, layout):
    from cogvid_lint.discover.dataset import load_dataset
    from cogvid_lint.discover.datasets import resolve_datasets
    from cogvid_lint.settings import CliOptions, resolve_settings

    monkeypatch.chdir(tmp_path)
    root = cached_dataset(tmp_path / "data", first_frames=True)
    (root / "videos" / "latent").mkdir()
    (root / "videos" / "latent" / "a.pt").write_bytes(b"legacy")
    write_latent(root, "c")
    if layout == "sat":
        (root / "videos.txt").unlink()
        (root / "labels").mkdir()
        for stem in "ab":
            (root / "labels" / f"{stem}.txt").write_text(f"caption {stem}\n")
    (settings,) = resolve_datasets(resolve_settings(CliOptions(data_roots=("data",))))
    dataset = load_dataset(settings)
    assert dataset.layout == layout
    assert sorted(clip.path.relative_to(root).as_posix() for clip in dataset.clips) == ["videos/a.mp4", "videos/b.mp4"]


def test_installed_command_stamps_and_checks(data):
    set_mtime(data / "videos" / "a.mp4", NOW)
    run = subprocess.run([COGVID_LINT, "cache", "stamp", "data"], capture_output=True, text=True)
    assert run.returncode == 0 and "Stamped 1 clip (1 cache entry)" in run.stdout
    run = subprocess.run([COGVID_LINT, "data", "--select", "CVL3", "--output-format", "json"],
                         capture_output=True, text=True)
    assert run.returncode == 1 and run.stderr == ""
    codes = [(d["code"], d["path"]) for d in json.loads(run.stdout)["diagnostics"]]
    assert codes == [("CVL301", "data/cache/video_latent/cogvideox-t2v/49x480x720/a.safetensors")]
