"""Where each trainer keeps its caches (CogVideo `finetune/` first, then finetrainers and
cogvideox-factory at the end of this module), and how to read an entry's header.

The trainer writes (and then trusts forever):
  <data_root>/cache/video_latent/<model_name>/<F>x<H>x<W>/<video stem>.safetensors  key `encoded_video`
  <data_root>/cache/prompt_embeddings/<sha256(caption utf-8) hex>.safetensors        key `prompt_embedding`
  <parent of the first video's folder>/first_frames/<stem>.png                        (I2V, no image column)
and the Jan-2025 layout left `videos/latent/<stem>.pt` (torch.save), which it no longer reads.

Headers are read without loading tensor data: the safetensors package's `safe_open` for the
shapes (its verdict is what the trainer's `load_file` will say), plus our own read of the
8-byte length and JSON header to say exactly how much of a truncated file is missing.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cogvid_lint.bounded import BadDocument, load_json, short_text
from cogvid_lint.discover.project import Dataset
from cogvid_lint.models import Resolution, parse_resolution

CACHE_DIR = "cache"
LATENT_DIR = "video_latent"
PROMPT_DIR = "prompt_embeddings"
LEGACY_DIR = "latent"
LATENT_KEY = "encoded_video"
PROMPT_KEY = "prompt_embedding"
LATENT_CHANNELS = 16  # every CogVideoX VAE (2B, 5B, 1.5) has 16 latent channels
STAMP_NAME = "cogvid-lint-stamp.json"
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit


@dataclass(frozen=True)
class CacheFile:
    """One file of a cache. `root` is the folder a fix may delete it from (the data root's `cache/`,
    a legacy `latent/` or the `first_frames/` folder); no symlink below it may lead out of it."""

    path: Path
    root: Path
    size: int
    mtime_ns: int
    model: str | None = None  # latents: the model folder's name
    folder: str | None = None  # latents: the resolution folder's name, e.g. 49x480x720
    resolution: Resolution | None = None  # parsed from `folder`; None when it is not FxHxW
    device: int = 0  # st_dev and st_ino (symlinks followed): tells a cache name that is really a clip
    inode: int = 0

    @property
    def stem(self) -> str:
        return self.path.stem


def cache_dir(data_root: Path) -> Path:
    return data_root / CACHE_DIR


def latent_folder(data_root: Path, model: str, resolution: Resolution) -> Path:
    return cache_dir(data_root) / LATENT_DIR / model / str(resolution)


def stamp_path(data_root: Path) -> Path:
    return cache_dir(data_root) / STAMP_NAME


def expected_latent_shape(resolution: Resolution) -> tuple[int, int, int, int]:
    """[C, F', H', W'] the VAE produces: 4x temporal (plus the first frame), 8x spatial."""
    return (LATENT_CHANNELS, (resolution.frames - 1) // 4 + 1, resolution.height // 8, resolution.width // 8)


def caption_hash(caption: str) -> str:
    """The prompt-embedding file stem: sha256 of the stripped caption line, UTF-8."""
    return hashlib.sha256(caption.encode("utf-8")).hexdigest()


def remote_files(dataset: Dataset):
    """The dataset's data source when its root is in an object store (discover.source.RemoteFiles:
    one listing, range reads), else None: the cache is read from the local file system."""
    files = dataset.files
    return files if getattr(files, "remote", False) else None


def scan_folder(directory: Path, suffix: str, root: Path | None = None, files=None, **labels) -> list[CacheFile]:
    """Files in `directory` ending in `suffix` (not recursive), as the trainer would find them;
    `root` (default: `directory`) is the folder their fixes must stay inside. `files`: a remote
    data source (remote_files), answered from its listing."""
    if files is not None:
        return [CacheFile(Path(name), root or directory, st.st_size, st.st_mtime_ns, inode=st.st_ino, **labels)
                for name, st in files.files_in(directory) if name.endswith(suffix)]
    found = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.name.endswith(suffix):
                    continue
                try:
                    if not entry.is_file():  # follows a symlink, like the trainer's `exists()`
                        continue
                    st = entry.stat()
                except OSError:
                    continue
                found.append(CacheFile(Path(entry.path), root or directory, st.st_size, st.st_mtime_ns,
                                       device=st.st_dev, inode=st.st_ino, **labels))
    except OSError:
        return []
    return sorted(found, key=lambda f: f.path)


def stat_file(path: Path, root: Path | None = None, files=None) -> CacheFile | None:
    """One regular file (symlinks followed, as the trainer does), or None when absent."""
    if files is not None:
        st = files.stat(path)
        return None if st is None else CacheFile(path, root or path.parent, st.st_size, st.st_mtime_ns, inode=st.st_ino)
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return CacheFile(path, root or path.parent, st.st_size, st.st_mtime_ns, device=st.st_dev, inode=st.st_ino)


def _subdirs(folder: Path, files=None) -> list[Path]:
    if files is not None:
        return [Path(name) for name in files.subfolders(folder)]
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries if e.is_dir())
    except OSError:
        return []


def latent_files(data_root: Path, files=None) -> list[CacheFile]:
    """Every `<model>/<resolution>/*.safetensors` under the latent cache, for every model."""
    found = []
    for model_dir in _subdirs(cache_dir(data_root) / LATENT_DIR, files):
        for res_dir in _subdirs(model_dir, files):
            try:
                resolution = parse_resolution(res_dir.name)
            except ValueError:
                resolution = None
            found += scan_folder(res_dir, ".safetensors", cache_dir(data_root), files, model=model_dir.name,
                                 folder=res_dir.name, resolution=resolution)
    return found


def prompt_files(data_root: Path, files=None) -> list[CacheFile]:
    return scan_folder(cache_dir(data_root) / PROMPT_DIR, ".safetensors", cache_dir(data_root), files)


def legacy_dirs(dataset: Dataset) -> list[Path]:
    """`videos/latent/` of the data root and `latent/` beside every listed clip's folder (inside the root)."""
    # as strings first: 100,000 clips share a few folders, and one Path each costs 0.3 s
    parents = {os.path.dirname(clip.fspath) for clip in dataset.clips if not clip.escapes_root}
    return sorted({dataset.root / "videos" / LEGACY_DIR, *(Path(parent) / LEGACY_DIR for parent in parents)})


@dataclass(frozen=True)
class Header:
    """What a safetensors file declares. `problem` is set when the trainer could not load it."""

    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


def read_header(path: Path) -> Header:
    size_problem = _size_problem(path)
    if size_problem:
        return Header(problem=size_problem)
    return safe_open_header(path)


def safe_open_header(path: Path | str) -> Header:
    """The shapes and dtypes as the safetensors package reads them (its verdict is the trainer's)."""
    try:
        from safetensors import safe_open

        shapes, dtypes = {}, {}
        with safe_open(str(path), framework="numpy") as handle:
            for key in handle.keys():
                tensor = handle.get_slice(key)
                shapes[key] = tuple(tensor.get_shape())
                dtypes[key] = str(tensor.get_dtype())
        return Header(shapes, dtypes)
    except Exception as exc:  # SafetensorError, OSError, ...: the trainer's load_file fails the same way
        return Header(problem="safetensors cannot read it: " + short_text(" ".join(str(exc).split())))


def header_span(head: bytes, size: int) -> int | None:
    """How many leading bytes the header check needs (8 + the declared header length), from
    the first 8; None when the declared length is unusable (header_problem says why)."""
    if len(head) < 8:
        return None
    (length,) = struct.unpack("<Q", head[:8])
    return 8 + length if length <= _MAX_HEADER and 8 + length <= size else None


def _size_problem(path: Path) -> str | None:
    """Our own read of the header: is the file as long as the header says?"""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            span = header_span(head, size)
            if span is not None:
                head += handle.read(span - 8)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    return header_problem(size, head)


def header_problem(size: int, head: bytes) -> str | None:
    """The verdict on a safetensors file of `size` bytes from its first bytes `head` (at least
    header_span of them when there are that many): None when it is as long as its header says."""
    if size == 0:
        return "empty file (0 bytes): an interrupted write"
    if len(head) < 8:
        return f"only {size} bytes: too short for a safetensors header"
    (length,) = struct.unpack("<Q", head[:8])
    if length > _MAX_HEADER or 8 + length > size:
        return f"header claims {length} bytes but the file has {size}: truncated or not safetensors"
    raw = head[8:8 + length]
    try:
        header = load_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "header is not JSON: UnicodeDecodeError"
    except BadDocument as exc:  # not JSON, nested too deeply, an integer past the digit limit
        return f"header is unusable: {exc}"
    if not isinstance(header, dict):
        return "header is not a JSON object"
    ends = [info.get("data_offsets", [0, 0])[1] for key, info in header.items()
            if key != "__metadata__" and isinstance(info, dict) and isinstance(info.get("data_offsets"), list)
            and len(info["data_offsets"]) == 2 and isinstance(info["data_offsets"][1], int)]
    expected = 8 + length + max(ends, default=0)
    if expected >= 1 << 64:  # no file is that long; a forged offset must not be echoed digit by digit
        return f"header claims data past 2^64 bytes (the file has {size}): corrupt or forged"
    if size < expected:
        return f"truncated: {size} bytes, but its header needs {expected} (an interrupted write)"
    if size > expected:
        return f"{size - expected} unexpected bytes after the data its header describes ({size} bytes, expected {expected})"
    return None


def first_frames_dir(dataset: Dataset) -> Path:
    """`<parent of the first video's folder>/first_frames`, where the I2V trainer writes frame 0."""
    return dataset.clips[0].path.parent.parent / "first_frames"


# ---------------------------------------------------------------- the other trainers' caches
# (their profiles' `cache` says which applies; torch files are read by cogvid_lint.torch_file)

PRECOMPUTED_TYPES = ("condition", "latent")  # finetrainers: <dir>/{condition,latent}-<i>.pt
V0_FOLDERS = ("conditions", "latents")  # finetrainers v0.0.1: <dir>/{conditions,latents}/*.pt
V0_SUFFIX = "_precomputed"
PREPARED_LATENTS, PREPARED_EMBEDS = "video_latents", "prompt_embeds"


def precomputed_items(folder: Path, data_type: str, files=None) -> list[CacheFile]:
    """`<data_type>-*.pt` in finetrainers' precomputation folder: what its `glob` counts."""
    return [f for f in scan_folder(folder, ".pt", files=files) if f.path.name.startswith(data_type + "-")]


def v0_cache_dirs(data_root: Path, location: Path | None, files=None) -> list[Path]:
    """finetrainers v0.0.1 cache folders: the one the launch command names, else every
    `*_precomputed` folder of the data root that holds conditions/ and latents/."""
    if location is not None:
        return [location]
    is_dir = files.is_dir if files is not None else Path.is_dir
    return [d for d in _subdirs(data_root, files) if d.name.endswith(V0_SUFFIX)
            and all(is_dir(d / name) for name in V0_FOLDERS)]


def prepared_name(clip_fspath: str) -> str:
    """cogvideox-factory's `path.name.split(".")[0]`: the name up to its FIRST dot."""
    return os.path.basename(clip_fspath).split(".")[0]


def prepared_folder(clip_fspath: str, kind: str) -> Path:
    """`path.parent.parent / kind` (dataset.py:233-235), lexically, as pathlib does."""
    return Path(clip_fspath).parent.parent / kind
