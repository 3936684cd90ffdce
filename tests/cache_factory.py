"""Build real CogVideo trainer caches for tests: real clips, real safetensors files, real mtimes.

Latents are written with `safetensors.numpy.save_file` at the trainer's real shapes in uint8
(1 byte an element: [16, 13, 60, 90] is 1.1 MB) — the rules read only headers.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from clips import make_clip, make_png

MODEL = "cogvideox-t2v"
RES = "49x480x720"
SHAPE = {"49x480x720": (16, 13, 60, 90), "81x768x1360": (16, 21, 96, 170)}
NOW = time.time()
CLIP_TIME = NOW - 3600  # clips were made an hour ago ...
CACHE_TIME = NOW - 1800  # ... and the cache half an hour later


def set_mtime(path: Path, when: float) -> Path:
    os.utime(path, ns=(int(when * 1e9), int(when * 1e9)))
    return path


def latent_path(root: Path, stem: str, res: str = RES, model: str = MODEL) -> Path:
    return root / "cache" / "video_latent" / model / res / f"{stem}.safetensors"


def write_safetensors(path: Path, key: str, shape, when: float | None = CACHE_TIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: np.zeros(shape, dtype=np.uint8)}, str(path))
    return set_mtime(path, when) if when is not None else path


def write_latent(root: Path, stem: str, res: str = RES, model: str = MODEL, shape=None,
                 when: float | None = CACHE_TIME) -> Path:
    return write_safetensors(latent_path(root, stem, res, model), "encoded_video", shape or SHAPE[res], when)


def embedding_path(root: Path, caption: str) -> Path:
    digest = hashlib.sha256(caption.encode("utf-8")).hexdigest()
    return root / "cache" / "prompt_embeddings" / f"{digest}.safetensors"


def write_embedding(root: Path, caption: str, when: float | None = CACHE_TIME) -> Path:
    return write_safetensors(embedding_path(root, caption), "prompt_embedding", (4, 8), when)


def write_first_frame(root: Path, stem: str, when: float = CACHE_TIME) -> Path:
    path = root / "first_frames" / f"{stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return set_mtime(make_png(path), when)


def cached_dataset(root: Path, stems=("a", "b"), first_frames: bool = False) -> Path:
    """A data root whose clips (distinct content) are older than a complete, correct cache."""
    (root / "videos").mkdir(parents=True, exist_ok=True)
    for number, stem in enumerate(stems):
        set_mtime(make_clip(root / "videos" / f"{stem}.mp4", frames=6, marker=(4 * number, 4)), CLIP_TIME)
        write_latent(root, stem)
        write_embedding(root, f"caption {stem}")
        if first_frames:
            write_first_frame(root, stem)
    (root / "videos.txt").write_text("".join(f"videos/{s}.mp4\n" for s in stems))
    (root / "prompts.txt").write_text("".join(f"caption {s}\n" for s in stems))
    return root


def tree(root: Path) -> dict[str, str]:
    """Every file under root (relative path → sha256), symlinks as their target."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
