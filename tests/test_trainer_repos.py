"""A repository per trainer, in that trainer's own layout and launch convention, linted as a
user would: `cogvid-lint` in the repository, no flags. The problems planted for that trainer
are found and explained in its terms; what that trainer handles well stays silent; the
settings table names the trainer and the launch script it came from."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from clips import make_clip
from conftest import COGVID_LINT


def _write(root: Path, files: dict[str, str], clips: dict[str, dict]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for rel, spec in clips.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        make_clip(root / rel, **{"marker": (len(rel) % 40, 3, 4), **spec})


def _lint(root: Path, *args: str) -> tuple[int, str, str]:
    proc = subprocess.run([COGVID_LINT, *args], cwd=root, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def _findings(root: Path) -> dict[str, list[tuple[str, str]]]:
    code, out, err = _lint(root, "--output-format", "json")
    assert code in (0, 1), err
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in json.loads(out)["diagnostics"]:
        found[d["path"]].append((d["code"], d["message"]))
    return found


def _codes(found, path: str) -> set[str]:
    return {code for code, _ in found.get(path, [])}


def _message(found, path: str, code: str) -> str:
    messages = [m for c, m in found.get(path, []) if c == code]
    assert messages, (path, code, dict(found))
    return messages[0]


def test_cogvideo_finetune(tmp_path):
    _write(tmp_path, {
        "finetune/train_ddp_t2v.sh": 'accelerate launch train.py \\\n  --model_name cogvideox-t2v \\\n'
                                     '  --data_root ../data \\\n  --train_resolution "9x64x96" \\\n'
                                     '  --caption_column prompts.txt --video_column videos.txt\n',
        "data/prompts.txt": "a short clip\na full clip\n",
        "data/videos.txt": "videos/short.mp4\nvideos/full.mp4\n",
    }, {"data/videos/short.mp4": {"frames": 6, "width": 96, "height": 64},
        "data/videos/full.mp4": {"frames": 9, "width": 96, "height": 64}})
    found = _findings(tmp_path)
    assert "the trainer repeats the last frame 3 times" in _message(found, "data/videos/short.mp4", "CVL103")
    assert not _codes(found, "data/videos/full.mp4") & {"CVL103", "CVL104", "CVL105", "CVL112"}
    _, out, _ = _lint(tmp_path, "--output-format", "full")
    assert "trainer" in out and "finetune/train_ddp_t2v.sh:3" in out


def test_cogvideo_sat(tmp_path):
    sft = ("args:\n  train_data: [\"disney\"]\n  valid_data: [\"disney\"]\n"
           "data:\n  target: data_video.SFTDataset\n  params:\n    video_size: [64, 96]\n    fps: 8\n"
           "    max_num_frames: 49\n    skip_frms_num: 3.\n")
    _write(tmp_path, {
        "sat/finetune_single_gpu.sh": "python train_video.py --base configs/cogvideox_2b_lora.yaml configs/sft.yaml\n",
        "sat/configs/cogvideox_2b_lora.yaml": "model:\n  scale_factor: 1.15258426\n",
        "sat/configs/sft.yaml": sft,
        "sat/disney/labels/crash.txt": "a cat\n", "sat/disney/labels/padded.txt": "a dog\n",
        "sat/disney/labels/long.txt": "a bird\n", "sat/disney/labels/portrait.txt": "a horse\n",
    }, {"sat/disney/videos/crash.mp4": {"frames": 50, "fps": 8, "width": 96, "height": 64},
        "sat/disney/videos/padded.mp4": {"frames": 49, "fps": 8, "width": 96, "height": 64},
        "sat/disney/videos/long.mp4": {"frames": 52, "fps": 8, "width": 96, "height": 64},
        "sat/disney/videos/portrait.mp4": {"frames": 52, "fps": 8, "width": 64, "height": 112}})
    found = _findings(tmp_path)
    root = "sat/disney/videos"
    assert "CogVideo SAT would stop on this clip: IndexError" in _message(found, f"{root}/crash.mp4", "CVL112")
    assert ("49 frames: SAT keeps frames 3–43 and repeats the last 8 times"
            in _message(found, f"{root}/padded.mp4", "CVL103"))
    assert not _codes(found, f"{root}/long.mp4") & {"CVL103", "CVL104", "CVL105", "CVL112"}
    # SAT crops instead of stretching: not aspect-mismatch, but how much the crop loses
    assert "CVL105" not in _codes(found, f"{root}/portrait.mp4")
    assert "62% of the frame is cut away" in _message(found, f"{root}/portrait.mp4", "CVL111")
    _, out, _ = _lint(tmp_path, "--output-format", "full")
    assert "sat" in out and "configs/sft.yaml" in out


def test_diffusers(tmp_path):
    _write(tmp_path, {
        "train.sh": "accelerate launch examples/cogvideo/train_cogvideox_lora.py \\\n"
                    "  --instance_data_root data --caption_column prompts.txt --video_column videos.txt \\\n"
                    "  --id_token BW_STYLE --height 64 --width 96 --max_num_frames 9 --video_reshape_mode center\n",
        "data/prompts.txt": "A black and white clip\n(a title card)\n",
        "data/videos.txt": "videos/a.mp4\nvideos/b.mp4\n",
    }, {"data/videos/a.mp4": {"frames": 6, "width": 96, "height": 64},
        "data/videos/b.mp4": {"frames": 9, "width": 128, "height": 64}})
    found = _findings(tmp_path)
    assert "'BW_STYLE' + 'A' trains as 'BW_STYLEA'" in _message(found, "data/prompts.txt", "CVL010")
    # diffusers prepends the token itself: no caption needs it (no CVL009); it trims to 4k+1
    # and never pads (no CVL103); it covers and crops (no CVL105)
    assert "CVL009" not in _codes(found, "data/prompts.txt")
    assert not _codes(found, "data/videos/a.mp4") & {"CVL103", "CVL105"}
    assert not _codes(found, "data/videos/b.mp4") & {"CVL103", "CVL105"}


def test_finetrainers(tmp_path):
    config = {"datasets": [{"data_root": "data", "dataset_type": "video", "id_token": "TOK",
                            "video_resolution_buckets": [[17, 64, 96]], "reshape_mode": "bicubic"}]}
    _write(tmp_path, {
        "train.sh": "torchrun --nproc_per_node 1 train.py --parallel_backend ptd --model_name cogvideox \\\n"
                    "  --pretrained_model_name_or_path THUDM/CogVideoX1.5-5B --dataset_config training.json\n",
        "training.json": json.dumps(config),
        "data/prompts.txt": "a cat\na dog\n",
        "data/videos.txt": "videos/short.mp4\nvideos/long.mp4\n",
    }, {"data/videos/short.mp4": {"frames": 9, "width": 96, "height": 64},
        "data/videos/long.mp4": {"frames": 40, "width": 96, "height": 64}})
    found = _findings(tmp_path)
    # short clips are kept as they are (no pad), long ones spread over the whole clip (no unseen tail)
    assert not _codes(found, "data/videos/short.mp4") & {"CVL103", "CVL104"}
    assert not _codes(found, "data/videos/long.mp4") & {"CVL103", "CVL104"}
    assert "CVL009" not in _codes(found, "data/prompts.txt")  # the trainer prepends TOK itself
    _, out, _ = _lint(tmp_path, "--output-format", "full")
    assert "finetrainers" in out and "training.json" in out and "cogvideox1.5-t2v" in out


def test_cogvideox_factory(tmp_path):
    _write(tmp_path, {
        "training/prepare_dataset.sh": "python training/cogvideox/prepare_dataset.py --data_root ../data \\\n"
                                       "  --caption_column prompts.txt --video_column videos.txt \\\n"
                                       "  --height_buckets 64 --width_buckets 96 --frame_buckets 9 --max_num_frames 9\n",
        "data/prompts.txt": "a cat\na dog\n",
        "data/videos.txt": "videos/short.mp4\nvideos/ok.mp4\n",
    }, {"data/videos/short.mp4": {"frames": 5, "width": 96, "height": 64},
        "data/videos/ok.mp4": {"frames": 9, "width": 96, "height": 64}})
    found = _findings(tmp_path)
    assert "range() arg 3 must not be zero" in _message(found, "data/videos/short.mp4", "CVL112")
    assert "CVL103" not in _codes(found, "data/videos/short.mp4")
    assert not _codes(found, "data/videos/ok.mp4") & {"CVL103", "CVL104", "CVL112"}


def test_two_trainers_in_one_repo_each_lint_their_own_dataset(tmp_path):
    _write(tmp_path, {
        "finetune/train.sh": "accelerate launch train.py --data_root ../ft --train_resolution 9x64x96\n",
        "factory/prepare.sh": "python training/cogvideox/prepare_dataset.py --data_root ../cxf "
                              "--height_buckets 64 --width_buckets 96 --frame_buckets 9 --max_num_frames 9\n",
        "ft/prompts.txt": "a\n", "ft/videos.txt": "videos/a.mp4\n",
        "cxf/prompts.txt": "a\n", "cxf/videos.txt": "videos/a.mp4\n",
    }, {"ft/videos/a.mp4": {"frames": 5, "width": 96, "height": 64},
        "cxf/videos/a.mp4": {"frames": 5, "width": 96, "height": 64}})
    found = _findings(tmp_path)
    assert "CVL103" in _codes(found, "ft/videos/a.mp4") and "CVL112" not in _codes(found, "ft/videos/a.mp4")
    assert "CVL112" in _codes(found, "cxf/videos/a.mp4") and "CVL103" not in _codes(found, "cxf/videos/a.mp4")


@pytest.mark.parametrize("broken", [
    ("train.sh", 'accelerate launch train.py --data_root "data\n'),  # unbalanced quote
    ("training.json", '{"datasets": [{"data_root": "data",'),  # broken JSON
])
def test_a_launch_file_that_cannot_be_parsed_is_one_line_and_the_rest_lints(tmp_path, broken):
    files = {"train.sh": "torchrun train.py --dataset_config training.json\n",
             "training.json": '{"datasets": [{"data_root": "data"}]}',
             "other/prompts.txt": "a\n", "other/videos.txt": "videos/a.mp4\n",
             "other/train_other.sh": "accelerate launch train.py --data_root . --train_resolution 9x64x96\n"}
    name, text = broken
    files[name] = text
    _write(tmp_path, files, {"other/videos/a.mp4": {"frames": 5, "width": 96, "height": 64}})
    code, out, err = _lint(tmp_path, "--output-format", "json")
    assert code == 1
    assert "CVL103" in {d["code"] for d in json.loads(out)["diagnostics"] if d["path"] == "other/videos/a.mp4"}
    if name == "training.json":
        lines = [line for line in err.splitlines() if "training.json" in line]
        assert len(lines) == 1 and lines[0].startswith("cogvid-lint: warning:"), err


def test_inspect_shows_the_frames_each_trainer_takes(tmp_path):
    make_clip(tmp_path / "a.mp4", frames=49, fps=8, width=128, height=64)
    code, out, _ = _lint(tmp_path, "inspect", "a.mp4", "--trainer", "sat", "--train-resolution", "49x64x96", "--json")
    training = json.loads(out)[0]["training"]
    assert code == 0 and training["trainer"] == "sat"
    assert training["indices"] == list(range(3, 44)) + [43] * 8 and training["padded_frames"] == 8
    assert training["resize"] == "cover-crop" and training["resized_to"] == [96, 64] and training["crop"] == [16, 0, 96, 64]
    _, text, _ = _lint(tmp_path, "inspect", "a.mp4", "--trainer", "sat", "--train-resolution", "49x64x96")
    assert "41 of them: frames 3..43; then frame 43 repeated 8 times" in text
    assert "scaled and center-cropped 128x64 → 96x64 (25% of the frame cut away)" in text
    _, text, _ = _lint(tmp_path, "inspect", "a.mp4", "--train-resolution", "49x64x96")  # finetune/: every frame
    assert "finetune at 49x64x96: 49 of them: frames 0..48" in text and "stretched 128x64 → 96x64" in text
    code, out, _ = _lint(tmp_path, "inspect", "a.mp4", "--trainer", "cogvideox-factory", "--json")
    assert json.loads(out)[0]["training"]["indices"] == list(range(49))
    code, _, err = _lint(tmp_path, "inspect", "a.mp4", "--trainer", "nope")
    assert code == 2 and "unknown trainer 'nope'" in err


def test_the_config_and_the_command_line_override_the_detected_trainer(tmp_path):
    _write(tmp_path, {
        "train.sh": "accelerate launch train_cogvideox_lora.py --instance_data_root data --max_num_frames 9 "
                    "--height 64 --width 96\n",
        "data/prompts.txt": "a cat\n", "data/videos.txt": "videos/a.mp4\n",
    }, {"data/videos/a.mp4": {"frames": 5, "width": 96, "height": 64}})

    def trainer_row(*args: str) -> str:
        _, out, _ = _lint(tmp_path, "--output-format", "full", *args)
        return next(line for line in out.splitlines() if "│ trainer " in line)

    assert "diffusers" in trainer_row() and "train.sh:1" in trainer_row()
    (tmp_path / "cogvid-lint.yaml").write_text("data-root:\n  - path: data\n    trainer: finetune\n")
    assert "finetune" in trainer_row() and "cogvid-lint.yaml" in trainer_row()
    assert "sat" in trainer_row("--trainer", "sat") and "command line" in trainer_row("--trainer", "sat")
    (tmp_path / "cogvid-lint.yaml").write_text("trainer: nope\n")
    code, _, err = _lint(tmp_path)
    assert code == 2 and "key 'trainer': unknown trainer 'nope'" in err


# Layouts and dataset-level stops (issue 15 items 4, 5): each trainer's own layout, no flags.

SFT = ("args:\n  train_data: [\"{root}\"]\n  valid_data: [\"{root}\"]\n"
       "data:\n  target: data_video.SFTDataset\n  params:\n    video_size: [64, 96]\n    fps: 8\n"
       "    max_num_frames: 49\n    skip_frms_num: 3.\n")
SAT_LAUNCH = "python train_video.py --base configs/cogvideox_2b_lora.yaml configs/sft.yaml\n"
CLIP = {"frames": 52, "fps": 8, "width": 96, "height": 64}


def test_sat_layout_walk_labels_and_empty_label(tmp_path):
    _write(tmp_path, {
        "sat/finetune_single_gpu.sh": SAT_LAUNCH,
        "sat/configs/cogvideox_2b_lora.yaml": "model:\n  scale_factor: 1.15258426\n",
        "sat/configs/sft.yaml": SFT.format(root="disney"),
        "sat/disney/labels/a.txt": "a cat\nsitting on a mat\n",
        "sat/disney/labels/part2/b.txt": "a dog\n",  # the walk is recursive, labels mirror videos/
        "sat/disney/labels/empty.txt": "",
        "sat/disney/labels/upper.txt": "a bird\n",
    }, {"sat/disney/videos/a.mp4": CLIP, "sat/disney/videos/part2/b.mp4": CLIP,
        "sat/disney/videos/empty.mp4": CLIP, "sat/disney/videos/upper.MP4": CLIP})
    found = _findings(tmp_path)
    root = "sat/disney"
    assert ("CogVideo SAT would stop on this dataset: IndexError: list index out of range"
            in _message(found, f"{root}/labels/empty.txt", "CVL011"))
    assert "videos/upper.MP4 never trains" in _message(found, f"{root}/videos/upper.MP4", "CVL012")
    assert "only the first line" in _message(found, f"{root}/labels/a.txt", "CVL012")
    # the nested clip is read with its label; the .MP4 is not a clip, so its label is read by none
    assert _message(found, f"{root}/labels", "CVL002") == ("the lists disagree: 1 labels without a video "
                                                          "(first: labels/upper.txt)")
    assert not _codes(found, f"{root}/videos/part2/b.mp4") & {"CVL003", "CVL101"}
    assert "CVL101" not in _codes(found, f"{root}/videos/upper.MP4")


def test_sat_root_named_videos_sends_its_labels_outside(tmp_path):
    _write(tmp_path, {
        "sat/finetune_single_gpu.sh": SAT_LAUNCH,
        "sat/configs/sft.yaml": SFT.format(root="cat_videos"),
        "sat/cat_videos/labels/a.txt": "a cat\n",
    }, {"sat/cat_videos/videos/a.mp4": CLIP})
    found = _findings(tmp_path)
    message = _message(found, "sat/cat_videos/labels", "CVL002")
    assert "1 videos without labels/<name>.txt" in message and "1 labels without a video" in message
    assert "../cat_labels/labels/a.txt, outside the data root" in message


def _finetrainers(tmp_path, files, clips, **entry):
    config = {"datasets": [{"data_root": "data", "dataset_type": "video",
                            "video_resolution_buckets": [[9, 64, 96]], **entry}]}
    _write(tmp_path, {"train.sh": "torchrun train.py --model_name cogvideox --dataset_config training.json\n",
                      "training.json": json.dumps(config), **files}, clips)
    return _findings(tmp_path)


SMALL = {"frames": 9, "width": 96, "height": 64}


def test_finetrainers_lists_keep_blank_lines(tmp_path):
    found = _finetrainers(tmp_path, {"data/prompts.txt": "a cat\n\n", "data/videos.txt": "videos/a.mp4\nvideos/b.mp4\n"},
                          {"data/videos/a.mp4": SMALL, "data/videos/b.mp4": SMALL})
    assert "finetrainers keeps it: videos/b.mp4 trains on an empty caption" in _message(found, "data/prompts.txt",
                                                                                          "CVL005")
    assert "CVL002" not in _codes(found, "data/prompts.txt")


def test_finetrainers_lists_count_every_line(tmp_path):
    found = _finetrainers(tmp_path, {"data/prompts.txt": "a cat\na dog\n\n",
                                     "data/videos.txt": "videos/a.mp4\nvideos/b.mp4\n"},
                          {"data/videos/a.mp4": SMALL, "data/videos/b.mp4": SMALL})
    assert ("ValueError: Number of captions (3) must match number of videos (2)"
            in _message(found, "data/prompts.txt", "CVL002"))


def test_finetrainers_pairs(tmp_path):
    found = _finetrainers(tmp_path, {"data/a.txt": "a cat\n", "data/b.txt": "a dog\n", "data/c.txt": "\n"},
                          {"data/a.mp4": SMALL, "data/b.mp4": SMALL, "data/b.mov": SMALL, "data/c.mp4": SMALL,
                           "data/d.mp4": SMALL})
    assert "ValueError: Multiple data files found for caption file" in _message(found, "data/b.txt", "CVL011")
    assert "there is no d.txt, so d.mp4 never trains" in _message(found, "data/d.mp4", "CVL012")
    assert "c.mp4 trains on an empty caption" in _message(found, "data/c.txt", "CVL005")
    assert "CVL001" not in {code for codes in found.values() for code, _ in codes}  # no list is needed


def test_finetrainers_metadata(tmp_path):
    rows = '{"file_name": "a.mp4", "caption": "a cat"}\n{"file_name": "missing.mp4", "caption": "a dog"}\n'
    found = _finetrainers(tmp_path, {"data/metadata.jsonl": rows, "data/metadata.csv": "file_name,caption\n"},
                          {"data/a.mp4": SMALL})
    assert "ValueError: Found multiple metadata files" in _message(found, "data/metadata.csv", "CVL011")
    # the rows are the list: a missing clip is anchored to its row
    code, out, _ = _lint(tmp_path, "--output-format", "json")
    missing = [d for d in json.loads(out)["diagnostics"] if d["code"] == "CVL003"]
    assert [(d["path"], d["listed_at"]) for d in missing] == [("data/missing.mp4",
                                                              {"path": "data/metadata.jsonl", "line": 2})]


def test_diffusers_batch_of_unequal_lengths(tmp_path):
    launch = ("accelerate launch examples/cogvideo/train_cogvideox_lora.py --instance_data_root data \\\n"
              "  --height 64 --width 96 --max_num_frames 9 {batch}\n")
    files = {"data/prompts.txt": "a\nb\n", "data/videos.txt": "videos/a.mp4\nvideos/b.mp4\n"}
    clips = {"data/videos/a.mp4": SMALL, "data/videos/b.mp4": {**SMALL, "frames": 5}}
    _write(tmp_path, {"train.sh": launch.format(batch=""), **files}, clips)
    message = _message(_findings(tmp_path), "data/videos.txt", "CVL011")
    assert "RuntimeError: Sizes of tensors must match" in message and "--train_batch_size 4" in message
    (tmp_path / "train.sh").write_text(launch.format(batch="--train_batch_size 1"))
    assert "CVL011" not in _codes(_findings(tmp_path), "data/videos.txt")


def test_a_list_line_is_joined_where_the_trainer_joins_it(tmp_path):
    """finetune/ joins a line to the list file's folder, diffusers to the data root: a list in
    a sub-folder names other files for each."""
    _write(tmp_path, {"data/lists/prompts.txt": "a cat walks\n", "data/lists/videos.txt": "videos/a.mp4\n"},
           {"data/videos/a.mp4": {"frames": 9, "width": 96, "height": 64}})
    common = ["--data-root", "data", "--caption-column", "lists/prompts.txt", "--video-column", "lists/videos.txt",
              "--train-resolution", "9x64x96", "--select", "CVL003", "--output-format", "json"]
    _, out, _ = _lint(tmp_path, *common)
    assert [d["path"] for d in json.loads(out)["diagnostics"]] == ["data/lists/videos/a.mp4"]
    _, out, _ = _lint(tmp_path, *common, "--trainer", "diffusers")
    assert json.loads(out)["diagnostics"] == []
