"""The cache rules per trainer (issue 15 item 4): a repository in each caching trainer's own
layout and launch convention — finetrainers' precomputation folder (current and v0.0.1),
cogvideox-factory's prepared folder — linted with no flags through the installed command; the
trainers that keep no cache (SAT, diffusers) get no cache finding whatever lies on disk; and
torch.save files read without torch."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest
from clips import make_clip
from conftest import COGVID_LINT
from torch_files import Tensor, torch_save

from cache_factory import write_latent
from cogvid_lint.torch_file import LEGACY_MAGIC, read_torch_file

NOW = time.time()
OLD, OLDER = NOW - 3600, NOW - 7200


def _mtime(path: Path, when: float) -> Path:
    os.utime(path, (when, when))
    return path


def _write(root: Path, files: dict[str, str], clips: dict[str, dict] | None = None, when: float = NOW) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        _mtime(root / rel, when)
    for rel, spec in (clips or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        _mtime(make_clip(root / rel, **{"width": 96, "height": 64, "frames": 9, "marker": (len(rel) % 40, 3, 4),
                                        **spec}), when)


def _cache_findings(root: Path) -> dict[str, list[tuple[str, str]]]:
    """`cogvid-lint` in the repository, no flags: the CVL3xx findings by path."""
    proc = subprocess.run([COGVID_LINT, "--output-format", "json"], cwd=root, capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in json.loads(proc.stdout)["diagnostics"]:
        if d["code"].startswith("CVL3"):
            found[d["path"]].append((d["code"], d["message"]))
    return dict(found)


def _codes(found) -> set[tuple[str, str]]:
    return {(path, code) for path, items in found.items() for code, _ in items}


def _message(found, path: str, code: str) -> str:
    messages = [m for c, m in found.get(path, []) if c == code]
    assert messages, (path, code, found)
    return messages[0]


# ---------------------------------------------------------------- trainers without a cache


FINETUNE_DEBRIS = ("cache/video_latent/cogvideox-t2v/9x64x96/gone.safetensors", "videos/latent/a.pt")


def _finetune_debris(data: Path) -> None:
    """What finetune/'s rules would report (an orphan latent, a legacy .pt): not these trainers' files."""
    write_latent(data, "gone", res="9x64x96", shape=(16, 3, 8, 12), when=OLDER)
    torch_save(Tensor((16, 3, 8, 12)), data / "videos" / "latent" / "a.pt")


def test_sat_keeps_no_cache_so_no_cache_rule_speaks(tmp_path):
    sft = ("args:\n  train_data: [\"disney\"]\ndata:\n  target: data_video.SFTDataset\n  params:\n"
           "    video_size: [64, 96]\n    fps: 8\n    max_num_frames: 49\n    skip_frms_num: 3.\n")
    _write(tmp_path, {"sat/finetune_single_gpu.sh": "python train_video.py --base configs/sft.yaml\n",
                      "sat/configs/sft.yaml": sft, "sat/disney/labels/a.txt": "a cat\n"},
           {"sat/disney/videos/a.mp4": {"frames": 60}})
    _finetune_debris(tmp_path / "sat" / "disney")
    assert _cache_findings(tmp_path) == {}


def test_diffusers_keeps_no_cache_so_no_cache_rule_speaks(tmp_path):
    _write(tmp_path, {"train.sh": "accelerate launch examples/cogvideo/train_cogvideox_lora.py --instance_data_root data "
                                  "--caption_column prompts.txt --video_column videos.txt --height 64 --width 96 "
                                  "--max_num_frames 9\n",
                      "data/prompts.txt": "a cat\n", "data/videos.txt": "videos/a.mp4\n"},
           {"data/videos/a.mp4": {}})
    _finetune_debris(tmp_path / "data")
    assert _cache_findings(tmp_path) == {}


def test_the_same_debris_under_finetune_is_reported(tmp_path):
    """The control for the two tests above: finetune/ itself reads these folders."""
    _write(tmp_path, {"finetune/train.sh": "accelerate launch train.py --data_root ../data --train_resolution 9x64x96\n",
                      "data/prompts.txt": "a cat\n", "data/videos.txt": "videos/a.mp4\n"},
           {"data/videos/a.mp4": {}})
    _finetune_debris(tmp_path / "data")
    assert _codes(_cache_findings(tmp_path)) == {("data/" + FINETUNE_DEBRIS[0], "CVL302"),
                                                 ("data/" + FINETUNE_DEBRIS[1], "CVL306")}


# ---------------------------------------------------------------- finetrainers (current)


FT_CONFIG = json.dumps({"datasets": [{"data_root": "data", "dataset_type": "video",
                                      "video_resolution_buckets": [[9, 64, 96]]}]})
FOLDER = "out/precomputed/finetrainers-precomputed-data"


def _finetrainers(root: Path, flags: str, items: int = 2, when: float = OLDER) -> Path:
    _write(root, {"train.sh": "torchrun --nproc_per_node 1 train.py --model_name cogvideox \\\n"
                              "  --pretrained_model_name_or_path THUDM/CogVideoX-5b --dataset_config training.json \\\n"
                              f"  --output_dir out {flags}\n",
                  "training.json": FT_CONFIG, "data/prompts.txt": "a cat\na dog\na bird\n",
                  "data/videos.txt": "videos/a.mp4\nvideos/b.mp4\nvideos/c.mp4\n"},
           {f"data/videos/{s}.mp4": {} for s in "abc"}, when=OLD)
    folder = root / FOLDER
    for i in range(items):
        _mtime(torch_save({"prompt_embeds": Tensor((226, 4096))}, folder / f"condition-{i}.pt"), when)
        _mtime(torch_save({"latents": Tensor((16, 3, 8, 12))}, folder / f"latent-{i}.pt"), when)
    return folder


def test_finetrainers_reused_cache_older_than_the_clips_and_short_of_items(tmp_path):
    _finetrainers(tmp_path, "--enable_precomputation --precomputation_reuse")
    found = _cache_findings(tmp_path)
    assert _codes(found) == {(FOLDER, "CVL301"), (FOLDER, "CVL310")}
    assert _message(found, FOLDER, "CVL301") == (
        "the precomputed data (4 files) is older than the clip videos/a.mp4 (which changed 1.0 hours later): "
        "finetrainers --precomputation_reuse reads the items back by index, never the clips or captions, and trains "
        "on the old data")
    assert _message(found, FOLDER, "CVL310") == (
        "the reused cache holds 2 precomputed items but the dataset has 3 clips: finetrainers --precomputation_reuse "
        "trains on those 2 alone: 1 clip never trains")


def test_finetrainers_fresh_cache_of_the_right_size_passes(tmp_path):
    _finetrainers(tmp_path, "--enable_precomputation --precomputation_reuse", items=3, when=NOW)
    assert _cache_findings(tmp_path) == {}


def test_finetrainers_without_reuse_wipes_its_folder_so_nothing_is_judged(tmp_path):
    _finetrainers(tmp_path, "--enable_precomputation")
    assert _cache_findings(tmp_path) == {}


def test_finetrainers_precomputation_dir_and_unequal_kinds(tmp_path):
    _finetrainers(tmp_path, "--enable_precomputation --precomputation_reuse --precomputation_dir pre", items=0)
    target = tmp_path / "pre" / "finetrainers-precomputed-data"
    target.mkdir(parents=True)
    found = _cache_findings(tmp_path)
    assert _codes(found) == {("pre/finetrainers-precomputed-data", "CVL309")}
    assert "Precomputed data directory is empty" in _message(found, "pre/finetrainers-precomputed-data", "CVL309")
    for i in range(3):
        _mtime(torch_save({"prompt_embeds": Tensor((226, 4096))}, target / f"condition-{i}.pt"), NOW)
    _mtime(torch_save({"latents": Tensor((16, 3, 8, 12))}, target / "latent-0.pt"), NOW)
    found = _cache_findings(tmp_path)
    assert "3 condition and 1 latent items" in _message(found, "pre/finetrainers-precomputed-data", "CVL310")


def test_finetrainers_reuse_of_a_missing_folder_and_a_truncated_item(tmp_path):
    _finetrainers(tmp_path, "--enable_precomputation --precomputation_reuse", items=0)
    found = _cache_findings(tmp_path)
    assert "RuntimeError: The directory" in _message(found, FOLDER, "CVL309")
    folder = _finetrainers(tmp_path, "--enable_precomputation --precomputation_reuse", items=3, when=NOW)
    item = folder / "latent-1.pt"
    item.write_bytes(item.read_bytes()[:100])
    found = _cache_findings(tmp_path)
    assert _codes(found) == {(f"{FOLDER}/latent-1.pt", "CVL303")}
    assert "not a complete zip archive" in _message(found, f"{FOLDER}/latent-1.pt", "CVL303")


# ---------------------------------------------------------------- finetrainers v0.0.1


V0_DIR = "data/cogvideox_THUDM-CogVideoX-5b_precomputed"


def _finetrainers_v0(root: Path, flags: str, conditions: int, latents: int) -> None:
    _write(root, {"train.sh": "accelerate launch train.py --model_name cogvideox \\\n"
                              "  --pretrained_model_name_or_path THUDM/CogVideoX-5b --data_root data \\\n"
                              "  --caption_column prompts.txt --video_column videos.txt \\\n"
                              f"  --video_resolution_buckets 9x64x96 {flags}\n",
                  "data/prompts.txt": "a cat\na dog\na bird\n",
                  "data/videos.txt": "videos/a.mp4\nvideos/b.mp4\nvideos/c.mp4\n"},
           {f"data/videos/{s}.mp4": {} for s in "abc"}, when=OLD)
    for i in range(conditions):
        _mtime(torch_save({"prompt_embeds": Tensor((226, 4096))}, root / V0_DIR / "conditions" / f"conditions-0-{i}.pt"),
               OLDER)
    for i in range(latents):
        _mtime(torch_save({"latents": Tensor((16, 3, 8, 12))}, root / V0_DIR / "latents" / f"latents-0-{i}.pt"), OLDER)


def test_finetrainers_v0_reuses_equal_counts_however_old(tmp_path):
    _finetrainers_v0(tmp_path, "--precompute_conditions", 2, 2)
    found = _cache_findings(tmp_path)
    assert _codes(found) == {(V0_DIR, "CVL301"), (V0_DIR, "CVL310")}
    assert "finetrainers v0.0.1 reuses it whenever both folders hold the same number of files" in \
        _message(found, V0_DIR, "CVL301")
    assert "holds 2 precomputed items but the dataset has 3 clips" in _message(found, V0_DIR, "CVL310")


@pytest.mark.parametrize("flags, conditions, latents", [
    ("--precompute_conditions", 2, 1),  # unequal: the trainer wipes both and precomputes again
    ("", 2, 2),  # no --precompute_conditions: the folder is never read
])
def test_finetrainers_v0_cache_it_will_not_reuse_is_not_judged(tmp_path, flags, conditions, latents):
    _finetrainers_v0(tmp_path, flags, conditions, latents)
    assert _cache_findings(tmp_path) == {}


# ---------------------------------------------------------------- cogvideox-factory


TRAIN = ("accelerate launch training/cogvideox/cogvideox_text_to_video_lora.py --data_root ../prepared \\\n"
         "  --caption_column prompts.txt --video_column videos.txt \\\n"
         "  --height_buckets 64 --width_buckets 96 --frame_buckets 9 {flags}\n")
NAMES = ["ok", "other_bucket", "no_latent", "stale", "bad_embed", "two.dots"]


def _factory(root: Path, flags: str = "--load_tensors") -> Path:
    prepared = root / "prepared"
    _write(root, {"training/train.sh": TRAIN.format(flags=flags),
                  "prepared/prompts.txt": "".join(f"caption {n}\n" for n in NAMES),
                  "prepared/videos.txt": "".join(f"videos/{n}.mp4\n" for n in NAMES)},
           {f"prepared/videos/{n}.mp4": {} for n in NAMES}, when=OLD)
    shapes = {"ok": (32, 3, 8, 12), "other_bucket": (32, 13, 60, 90), "stale": (32, 3, 8, 12),
              "bad_embed": (32, 3, 8, 12), "two.dots": (32, 3, 8, 12), "old_take": (32, 3, 8, 12)}
    for name, shape in shapes.items():
        _mtime(torch_save(Tensor(shape), prepared / "video_latents" / f"{name}.pt"), OLDER if name == "stale" else NOW)
        torch_save(Tensor((226, 4096)), prepared / "prompt_embeds" / f"{name}.pt")
    embed = prepared / "prompt_embeds" / "bad_embed.pt"
    embed.write_bytes(embed.read_bytes()[:-200])
    return prepared


def test_cogvideox_factory_load_tensors(tmp_path):
    _factory(tmp_path)
    found = _cache_findings(tmp_path)
    latents = "prepared/video_latents"
    assert _codes(found) == {
        (f"{latents}/other_bucket.pt", "CVL304"),
        ("prepared/videos.txt", "CVL309"),  # no_latent, and two.dots (looked up as two.pt)
        (f"{latents}/stale.pt", "CVL301"),
        ("prepared/prompt_embeds/bad_embed.pt", "CVL303"),
        (f"{latents}/two.dots.pt", "CVL302"), (f"{latents}/old_take.pt", "CVL302"),
    }
    assert _message(found, f"{latents}/other_bucket.pt", "CVL304") == (
        "latent shape [32, 13, 60, 90] in video_latents means 49x480x720, which is no training bucket (9x64x96): "
        "cogvideox-factory with --load_tensors stops in BucketSampler with KeyError: (49, 480, 720)")
    missing = sorted(m for c, m in found["prepared/videos.txt"] if c == "CVL309")
    assert len(missing) == 2
    assert missing[0].startswith("missing video_latents/no_latent.pt and prompt_embeds/no_latent.pt (for "
                                 "videos/no_latent.mp4): cogvideox-factory with --load_tensors stops with ValueError: The file")
    assert missing[1].startswith("missing video_latents/two.pt and prompt_embeds/two.pt (for videos/two.dots.mp4)")
    assert _message(found, f"{latents}/two.dots.pt", "CVL302") == (
        "no listed clip has the name (up to its first dot) 'two.dots': this latent in video_latents is never used")
    assert "cogvideox-factory with --load_tensors trains on the latent and never reads the new clip" in \
        _message(found, f"{latents}/stale.pt", "CVL301")
    assert "not a complete zip archive" in _message(found, "prepared/prompt_embeds/bad_embed.pt", "CVL303")


def test_cogvideox_factory_findings_point_at_the_list_line(tmp_path, lint_json, monkeypatch):
    _factory(tmp_path)
    monkeypatch.chdir(tmp_path)
    _, report = lint_json("--select", "CVL309")
    assert sorted(d["line"] for d in report["diagnostics"]) == [3, 6]


def test_cogvideox_factory_without_load_tensors_reads_the_clips(tmp_path):
    _factory(tmp_path, flags="")
    assert _cache_findings(tmp_path) == {}


def test_cogvideox_factory_missing_folder_is_one_finding(tmp_path):
    prepared = _factory(tmp_path)
    for path in (prepared / "prompt_embeds").iterdir():
        path.unlink()
    (prepared / "prompt_embeds").rmdir()
    found = _cache_findings(tmp_path)
    assert [code for code, _ in found["prepared/prompt_embeds"]] == ["CVL309"]
    assert "contains two folders named `video_latents` and `prompt_embeds`" in \
        _message(found, "prepared/prompt_embeds", "CVL309")
    assert not any(code == "CVL309" for code, _ in found.get("prepared/videos.txt", []))


def test_cogvideox_factory_orphan_fix_deletes_only_the_orphans(tmp_path):
    prepared = _factory(tmp_path)
    proc = subprocess.run([COGVID_LINT, "--select", "CVL302", "--fix"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    assert sorted(p.name for p in (prepared / "video_latents").iterdir()) == [
        "bad_embed.pt", "ok.pt", "other_bucket.pt", "stale.pt"]


# ---------------------------------------------------------------- torch.save files without torch


def test_torch_file_reads_shapes_of_tensors_in_dicts(tmp_path):
    path = torch_save({"latents": Tensor((16, 13, 60, 90)), "meta": {"mask": Tensor((1, 226), "ByteStorage")},
                       "fps": 8, "name": "a", "none": None}, tmp_path / "a.pt")
    found = read_torch_file(path)
    assert found.problem is None and found.unread is None
    assert {k: v.shape for k, v in found.tensors.items()} == {"latents": (16, 13, 60, 90), "meta.mask": (1, 226)}
    assert read_torch_file(torch_save(Tensor((32, 3, 8, 12)), tmp_path / "b.pt")).first_shape() == (32, 3, 8, 12)


@pytest.mark.parametrize("damage, problem, unread", [
    (lambda b: b"", "empty file", None),
    (lambda b: b[: len(b) // 2], "not a complete zip archive", None),
    (lambda b: b"not a zip at all" * 4, "not a complete zip archive", None),
    (lambda b: LEGACY_MAGIC + b"rest", None, "legacy (non-zip)"),
])
def test_torch_file_damage(tmp_path, damage, problem, unread):
    path = torch_save(Tensor((32, 3, 8, 12)), tmp_path / "a.pt")
    path.write_bytes(damage(path.read_bytes()))
    found = read_torch_file(path)
    assert (problem is None or problem in (found.problem or "")) and (unread is None or unread in (found.unread or ""))
    assert (found.problem is None) == (problem is None)


def test_torch_file_missing_or_short_storage_and_foreign_globals(tmp_path):
    import zipfile

    path = torch_save(Tensor((32, 3, 8, 12)), tmp_path / "a.pt")
    with zipfile.ZipFile(path) as archive:
        pickle_bytes = archive.read("archive/data.pkl")
    for name, storage, pkl, says in [
        ("missing.pt", None, pickle_bytes, "storage data/0 is missing"),
        ("short.pt", b"\0" * 10, pickle_bytes, "holds 10 bytes, its tensor needs 18432"),
        ("evil.pt", b"", pickle_bytes.replace(b"collections\nOrderedDict", b"os\nsystem\n\n\n\n\n\n\n\n\n\n\n\n"), None),
    ]:
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            archive.writestr("archive/data.pkl", pkl)
            if storage is not None:
                archive.writestr("archive/data/0", storage)
        found = read_torch_file(tmp_path / name)
        if says:
            assert says in (found.problem or ""), found
        else:  # a global outside the allowlist is never resolved: not read, nothing run
            assert found.problem is None and "os.system" in (found.unread or ""), found


def test_torch_file_nested_thousands_deep_is_not_read_and_never_a_traceback(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "deep.pt", "w") as archive:  # [[[[...]]]] 200,000 deep
        archive.writestr("archive/data.pkl", b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b".")
    found = read_torch_file(tmp_path / "deep.pt")
    assert found.problem is None and found.unread and not found.tensors
