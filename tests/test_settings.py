"""Settings: precedence (CLI > config > launch scripts > defaults), launch-script reading,
zero-config discovery, user rules."""

from __future__ import annotations

from pathlib import Path

from cogvid_lint.discover.launch import read_launch_script
from cogvid_lint.discover.datasets import resolve_datasets
from cogvid_lint.settings import COMMAND_LINE, DEFAULT, CliOptions, Source, resolve_settings

SCRIPT = """#!/bin/bash
ROOT=/data/runs
MODEL_ARGS=(
    --model_name "cogvideox1.5-t2v"   # the 1.5 model
)
DATA_ARGS=(
    --data_root "$ROOT/style"
    --caption_column prompt.txt
    --train_resolution=81x768x1360
)
accelerate launch train.py "${MODEL_ARGS[@]}" "${DATA_ARGS[@]}" \\
    --video_column videos.txt
"""


def test_launch_script_values_and_lines(tmp_path):
    script = tmp_path / "train.sh"
    script.write_text(SCRIPT)
    (run,) = read_launch_script(script)
    assert run.values == {"model": "cogvideox1.5-t2v", "data_root": "/data/runs/style",
                          "caption_column": "prompt.txt", "train_resolution": "81x768x1360",
                          "video_column": "videos.txt"}
    assert run.lines["model"] == 4 and run.lines["data_root"] == 7 and run.lines["video_column"] == 12


def test_two_runs_in_one_script(tmp_path):
    script = tmp_path / "both.sh"
    script.write_text("python a.py --data_root a --model_name cogvideox-t2v\n"
                      "python b.py --data_root b --model_name cogvideox-i2v\n")
    runs = read_launch_script(script)
    assert [(r.values["data_root"], r.values["model"]) for r in runs] == [("a", "cogvideox-t2v"),
                                                                          ("b", "cogvideox-i2v")]


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_precedence_cli_over_config_over_script_over_default(tmp_path):
    _write(tmp_path, {
        "finetune/train.sh": "python t.py --data_root ../data --model_name cogvideox-i2v "
                             "--train_resolution 49x480x720 --caption_column prompt.txt\n",
        "data/videos.txt": "",
        "cogvid-lint.yaml": "data-root: data\nmodel: cogvideox1.5-i2v\n",
    })
    settings = resolve_settings(CliOptions(paths=(str(tmp_path),), dataset={"purpose": "style"}), cwd=tmp_path)
    (ds,) = resolve_datasets(settings)
    assert ds.data_root == tmp_path / "data"
    assert (ds.purpose, ds.sources["purpose"]) == ("style", COMMAND_LINE)
    assert (ds.model, ds.sources["model"]) == ("cogvideox1.5-i2v", Source.in_file(tmp_path / "cogvid-lint.yaml"))
    assert str(ds.train_resolution) == "49x480x720"
    assert (ds.sources["train_resolution"].file.name, ds.sources["train_resolution"].line) == ("train.sh", 1)
    assert str(ds.sources["train_resolution"]).endswith("train.sh:1")
    assert ds.caption_column == "prompt.txt"
    assert (ds.id_token, ds.sources["id_token"]) == (None, DEFAULT)


def test_pyproject_table_is_a_config(tmp_path):
    _write(tmp_path, {"pyproject.toml": '[tool.cogvid-lint]\ndata-root = "d"\npurpose = "concept"\n'})
    settings = resolve_settings(CliOptions(paths=(str(tmp_path),)), cwd=tmp_path)
    assert settings.config_file == tmp_path / "pyproject.toml"
    assert resolve_datasets(settings)[0].purpose == "concept"


def test_zero_config_finds_dataset_folders(tmp_path):
    _write(tmp_path, {"a/videos.txt": "", "deep/b/video.txt": "", "sat/videos/1.mp4": "", "sat/labels/1.txt": ""})
    settings = resolve_settings(CliOptions(paths=(str(tmp_path),)), cwd=tmp_path)
    assert sorted(ds.data_root.name for ds in resolve_datasets(settings)) == ["a", "b", "sat"]


def test_user_rule_conditions(project, lint_json):
    project(files={
        "cogvid-lint.yaml": "data-root: data\nrules-dir: team-rules\n",
        "team-rules/long.yaml": (
            "code: TEAM001\nname: clip-too-long\ntarget: video\nseverity: warning\n"
            "when:\n  - {field: frames, op: '>', param: max_frames}\n  - {field: codec, op: in, value: [h264]}\n"
            "params:\n  max_frames: {type: int, default: 10}\n"
            "message: '{frames} frames > {max_frames}'\nsummary: too long\n"
            "docs: {what: w, why: y, example: e, fix: f}\n"),
        "data/prompts.txt": "a\nb\n", "data/videos.txt": "v/a.mp4\nv/b.mp4\n"},
        clips={"data/v/a.mp4": {"frames": 12}, "data/v/b.mp4": {"frames": 8}})
    code, report = lint_json("--select", "TEAM001")
    assert [(d["path"], d["message"]) for d in report["diagnostics"]] == [("data/v/a.mp4", "12 frames > 10")]
    assert code == 1


def test_user_rule_errors_are_config_errors(project, capsys):
    from cogvid_lint.cli import main

    project(files={
        "cogvid-lint.yaml": "data-root: data\nrules-dir: team-rules\n",
        "team-rules/bad.yaml": (
            "code: TEAM002\nname: bad\ntarget: video\nseverity: warning\n"
            "when:\n  - {field: frame, op: '>', value: 3}\n"
            "message: m\nsummary: s\ndocs: {what: w, why: y, example: e, fix: f}\n"),
        "team-rules/redos.yaml": (
            "code: TEAM003\nname: redos\ntarget: video\nseverity: warning\n"
            "when:\n  - {field: codec, op: matches, value: '(h)\\1'}\n"  # RE2 has no backreferences
            "message: m\nsummary: s\ndocs: {what: w, why: y, example: e, fix: f}\n"),
        "team-rules/op.yaml": (
            "code: TEAM004\nname: op\ntarget: video\nseverity: warning\n"
            "when:\n  - {field: fps, op: '=~', value: 3}\n"
            "message: m\nsummary: s\ndocs: {what: w, why: y, example: e, fix: f}\n"),
        "data/prompts.txt": "a\n", "data/videos.txt": "v/a.mp4\n"})
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "TEAM002" in err and "unknown field 'frame'" in err and "did you mean 'frames'" in err
    assert "TEAM003" in err and "invalid regular expression '(h)\\\\1' (RE2 syntax)" in err
    assert "op.yaml" in err and "'when.0.op'" in err
    assert "Traceback" not in err
