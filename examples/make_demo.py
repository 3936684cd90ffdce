"""Regenerate the bundled example project `examples/demo/` (real clips written with PyAV).

    python examples/make_demo.py

The demo is a small CogVideoX fine-tuning repo with a launch script, a dataset and a data
loader, seeded with one or more problems of every rule family so `cogvid-lint examples/demo`
shows what the tool reports. Clip content is synthetic (moving gradients) to stay tiny.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from clips import make_clip, truncate_clip  # noqa: E402  (the tests' real-clip writer)

DEMO = HERE / "demo"
DATA = DEMO / "data"

LAUNCH_T2V = """#!/usr/bin/env bash
# Launch script in the style of CogVideo's finetune/train_ddp_t2v.sh.
export TOKENIZERS_PARALLELISM=false

MODEL_ARGS=(
    --model_path "THUDM/CogVideoX-5b"
    --model_name "cogvideox-t2v"
    --model_type "t2v"
    --training_type "lora"
)

DATA_ARGS=(
    --data_root "../data"
    --caption_column "prompts.txt"
    --video_column "videos.txt"
    --train_resolution "49x480x720"
)

accelerate launch train.py "${MODEL_ARGS[@]}" "${DATA_ARGS[@]}"
"""

LAUNCH_I2V = """#!/usr/bin/env bash
# An image-to-video run on the same clips: wrong frame count for a 1.5 model.
accelerate launch train.py \\
    --model_path "THUDM/CogVideoX1.5-5B-I2V" \\
    --model_name "cogvideox1.5-i2v" \\
    --data_root "../data_i2v" \\
    --caption_column "prompts.txt" \\
    --video_column "videos.txt" \\
    --train_resolution "80x768x1360"
"""

LOADER = '''"""Data loading for the demo trainer."""
import os

import decord  # loads its own FFmpeg/threading state: must come after torch
import torch

decord.bridge.set_bridge("torch")


def load(path: str, height: int, width: int) -> torch.Tensor:
    reader = decord.VideoReader(path, width=width, height=height)
    return reader.get_batch(list(range(len(reader))))
'''

CAPTIONS = [
    "a paper boat drifts across a calm pond",
    "a red kite climbs over a windy beach",
    "",  # a blank line: the trainer drops it
    "a cat watches rain run down a window",
    "a train crosses a snowy bridge at dusk",
    "a candle flickers in a dark room",
    "a hand pours tea into a white cup",
]

VIDEOS = ["videos/boat.mp4", "videos/kite.mp4", "videos/cat.mp4", "videos/train.webm",
          "videos/candle.mkv", "videos/missing.mp4"]


def _write_cache() -> None:
    """A latent cache with problems that survive a git checkout (mtimes do not, so no
    stale-by-timestamp entries here): a wrong shape, an orphan, a truncated file, a legacy .pt."""
    import numpy as np
    from safetensors.numpy import save_file

    folder = DATA / "cache" / "video_latent" / "cogvideox-t2v" / "49x480x720"
    folder.mkdir(parents=True)
    # Tiny tensors: the linter reads only headers. The real shape here is [16, 13, 60, 90].
    # Stems are chosen so that no listed clip exists beside them: a stale-by-mtime verdict
    # would depend on the order git checks files out.
    save_file({"encoded_video": np.zeros((16, 13, 6, 9), np.uint8)}, str(folder / "missing.safetensors"))
    save_file({"encoded_video": np.zeros((16, 13, 60, 90), np.uint8)[:, :1]}, str(folder / "ghost.safetensors"))
    data = (folder / "ghost.safetensors").read_bytes()
    (folder / "ghost.safetensors").write_bytes(data[: len(data) // 2])  # an interrupted precompute
    legacy = DATA / "videos" / "latent"
    legacy.mkdir()
    (legacy / "boat.pt").write_bytes(b"PK\x03\x04 legacy torch.save archive")


def main() -> None:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    (DEMO / "finetune").mkdir(parents=True)
    (DEMO / "finetune" / "train_ddp_t2v.sh").write_text(LAUNCH_T2V)
    (DEMO / "finetune" / "train_ddp_i2v.sh").write_text(LAUNCH_I2V)
    (DEMO / "finetune" / "video_loader.py").write_text(LOADER)
    videos = DATA / "videos"
    videos.mkdir(parents=True)
    make_clip(videos / "boat.mp4", width=720, height=480, frames=49, fps=8)        # clean
    make_clip(videos / "kite.mp4", width=854, height=480, frames=57, fps=8)        # 16:9 → stretched; tail unseen
    make_clip(videos / "cat.mp4", width=720, height=480, frames=20, fps=8)         # too short, padded
    make_clip(videos / "train.webm", width=720, height=480, frames=49, fps=30)     # 30 fps → slow motion
    make_clip(videos / "candle.mkv", width=360, height=240, frames=49, fps=8, vfr=True)  # small, VFR
    (DATA / "prompts.txt").write_text("\n".join(CAPTIONS) + "\n")
    (DATA / "videos.txt").write_text("\n".join(VIDEOS) + "\n")

    _write_cache()

    i2v = DATA.parent / "data_i2v"
    (i2v / "videos").mkdir(parents=True)
    make_clip(i2v / "videos" / "wave.mp4", width=1360, height=768, frames=81, fps=16)
    truncate_clip(make_clip(i2v / "videos" / "storm.mp4", width=1360, height=768, frames=81, fps=16), 0.5)
    (i2v / "prompts.txt").write_text("a wave breaks on rocks\nlightning over a dark sea\n")
    (i2v / "videos.txt").write_text("videos/wave.mp4\nvideos/storm.mp4\n")
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    print(f"wrote {DEMO} ({total / 1024:.0f} KiB)", file=sys.stderr)


if __name__ == "__main__":
    os.umask(0o022)
    main()
