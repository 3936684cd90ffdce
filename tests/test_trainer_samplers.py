"""Each trainer profile against its trainer's own arithmetic.

tests/trainers/truth/<trainer>.yaml holds tables computed by running each trainer's own
frame-sampling and resize code (at the commits named in each file's `source`; see its
README.md): for N source frames (and fps, for SAT), the source indices taken in training
order, or the exception the trainer raises; for a W x H clip, the resized size and crop. The
profiles must give the same indices, the same crashes, and the same crop windows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cogvid_lint import trainers
from cogvid_lint.models import Resolution
from cogvid_lint.settings import DatasetSettings

TRUTH = Path(__file__).resolve().parent / "trainers" / "truth"


def settings(trainer: str, resolution: Resolution | None, **options) -> DatasetSettings:
    return DatasetSettings(data_root=Path("data"), layout="auto", caption_column=None, video_column=None,
                           image_column=None, model="cogvideox-t2v", train_resolution=resolution, purpose="general",
                           id_token=None, sources={}, trainer=trainer, trainer_options=options)


def _frames_cases():
    """(id, trainer, settings, row) for every frames row of every table."""
    for path in sorted(TRUTH.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for table in data["tables"]:
            for row in table["frames"]:
                made = _settings_for(data["trainer"], table["settings"])
                if made is None:
                    continue
                profile, ds = made
                label = f"{path.stem}-{'-'.join(f'{k}={v}' for k, v in table['settings'].items())}-n{row['n']}"
                if "fps" in row:
                    label += f"-{row['fps']}fps"
                yield pytest.param(profile, ds, row, id=label.replace(" ", ""))


def _settings_for(trainer: str, table: dict):
    if trainer == "ft":
        return "finetune", settings("finetune", Resolution(table["F"], 480, 720))
    if trainer == "sat":
        height, width = table["video_size"]
        return "sat", settings("sat", Resolution(table["max_num_frames"], height, width), fps=table["fps"],
                               max_num_frames=table["max_num_frames"], skip_frms_num=table["skip_frms_num"])
    if trainer == "df":
        name = "diffusers" if table["variant"] == "t2v" else "diffusers-i2v"
        return name, settings(name, Resolution(table["max_num_frames"], 480, 720),
                              max_num_frames=table["max_num_frames"], skip_frames_start=table["skip_frames_start"],
                              skip_frames_end=table["skip_frames_end"])
    if trainer == "ftr":
        return "finetrainers", settings("finetrainers", None, video_resolution_buckets=table["video_resolution_buckets"],
                                        reshape_mode=table.get("reshape_mode", "bicubic"))
    if trainer == "ftr0":
        if not isinstance(table["video_resolution_buckets"], list):
            return None  # the 144 default buckets: the resize tables only
        return "finetrainers-v0", settings("finetrainers-v0", None,
                                           video_resolution_buckets=table["video_resolution_buckets"])
    if trainer == "cxf":
        options = {k: table[k] for k in ("frame_buckets", "max_num_frames", "height_buckets", "width_buckets",
                                         "video_reshape_mode") if k in table}
        return "cogvideox-factory", settings("cogvideox-factory", None, **options)
    raise AssertionError(f"unknown trainer {trainer}")


@pytest.mark.parametrize("profile,ds,row", list(_frames_cases()))
def test_frames_taken_are_the_trainers(profile, ds, row):
    sample = trainers.get(profile).sample(row["n"], row.get("fps", 8), ds)
    if "raises" in row:
        assert sample.crash is not None, (row, sample)
        assert sample.crash.split(":")[0] == row["raises"].split(":")[0], (sample.crash, row["raises"])
    else:
        assert sample.crash is None, (row, sample.crash)
        assert list(sample.indices) == row["indices"]
        assert sample.padded == row["padded"]


def _resize_cases():
    for path in sorted(TRUTH.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for table in data.get("resize_tables", []):
            made = _settings_for(data["trainer"], {**_resize_defaults(data["trainer"]), **table["settings"]})
            if made is None:
                continue
            profile, ds = made
            for row in table["resize"]:
                label = f"{path.stem}-{'-'.join(f'{k}={v}' for k, v in table['settings'].items())}-{row['src']}"
                yield pytest.param(profile, ds, row, table["settings"].get("n", 100), id=label.replace(" ", ""))


def _resize_defaults(trainer: str) -> dict:
    return {"ft": {"F": 49}, "sat": {"video_size": [480, 720], "fps": 8, "max_num_frames": 49, "skip_frms_num": 3},
            "df": {"max_num_frames": 49, "skip_frames_start": 0, "skip_frames_end": 0}}.get(trainer, {})


@pytest.mark.parametrize("profile,ds,row,frames", list(_resize_cases()))
def test_resize_is_the_trainers(profile, ds, row, frames):
    width, height = row["src"]
    resize = trainers.get(profile).resize(width, height, ds, frames)
    if "raises" in row:
        assert resize is not None and resize.crash is not None, (row, resize)
        return
    out_h, out_w = row.get("out") or row["target"]
    assert (resize.height, resize.width) == (out_h, out_w), (row, resize)
    assert resize.crash is None
    if row["crop"] is None:
        assert resize.mode == "stretch", (row, resize)
    else:
        res_h, res_w = row["resized"]
        assert resize.scaled == (res_w, res_h), (row, resize)
        assert resize.crop == tuple(row["crop"]), (row, resize)


def test_finetrainers_v0_frames_and_size_from_different_buckets_are_a_key_error():
    """The truth table's extra case: frame count chosen among buckets <= N, size among all."""
    data = yaml.safe_load((TRUTH / "ftr0.yaml").read_text())
    for case in data["extra_cases"]:
        ds = settings("finetrainers-v0", None, video_resolution_buckets=case["settings"]["video_resolution_buckets"])
        width, height = case["src"]
        resize = trainers.get("finetrainers-v0").resize(width, height, ds, case["n"])
        assert case["is_a_bucket"] is False
        assert resize.crash is not None and resize.crash.startswith("KeyError")
        assert [trainers.get("finetrainers-v0").sample(case["n"], 8, ds).target, resize.height, resize.width] == \
            case["output_fhw"]
