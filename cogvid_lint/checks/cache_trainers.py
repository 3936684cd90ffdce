"""The cache rules for the trainers other than CogVideo `finetune/` (checks/cache.py dispatches
here by the dataset's `Profile.cache.kind`): finetrainers' precomputation folder (current and
v0.0.1) and cogvideox-factory's prepared folder. Each yields (rule meaning, Finding) pairs;
messages say what *this* trainer does with the cache.

None of these caches is tied to a clip the way finetune/'s stem-named latents are: finetrainers
reads its items back by index (so only the whole folder can be judged: its age and its item
count), cogvideox-factory by the clip's name up to its first dot. Deleting one entry of such a
cache breaks the trainer (a missing index, a missing file), so only orphans get a fix.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cogvid_lint.bounded import few
from cogvid_lint.cache_layout import (PRECOMPUTED_TYPES, PREPARED_EMBEDS, PREPARED_LATENTS, V0_FOLDERS, CacheFile,
                                      precomputed_items, prepared_folder, prepared_name, remote_files, scan_folder,
                                      v0_cache_dirs)
from cogvid_lint.cache_reads import CacheReads, dataset_reads
from cogvid_lint.cache_stamp import _age, file_key
from cogvid_lint.discover.project import Dataset
from cogvid_lint.findings import Finding, Location
from cogvid_lint.torch_file import TorchFile
from cogvid_lint.remote.urls import to_url
from cogvid_lint.trainers.base import plural

Found = Iterator[tuple[str, Finding]]  # (meaning: stale, orphan, corrupt, shape, missing, count), finding


def finding(path: Path, args: dict, line: int | None = None) -> Finding:
    """A finding without a fix: deleting one entry of these caches breaks the trainer."""
    return Finding(Location(path, line), {"outside": "", **args})


def rel(dataset: Dataset, path: Path) -> str:
    return file_key(path, dataset.root)


def _newest_source(datasets: list[Dataset]) -> tuple[int, Path, str] | None:
    """The most recently changed clip or caption list of `datasets`: (mtime_ns, path, what)."""
    newest = None
    for dataset in datasets:
        for clip in dataset.clips:
            st = clip.stat
            if st is not None and (newest is None or st.st_mtime_ns > newest[0]):
                newest = (st.st_mtime_ns, clip.path, "clip")
        captions = dataset.captions
        if captions is not None and captions.error is None:
            mtime = _mtime(captions.path, remote_files(dataset))
            if mtime is None:
                continue
            if newest is None or mtime > newest[0]:
                newest = (mtime, captions.path, "caption list")
    return newest


def _stale(dataset: Dataset, datasets: list[Dataset], folder: Path, items: list[CacheFile], title: str,
           consequence: str) -> Found:
    """The whole cache judged at once: its oldest item against the newest clip or caption."""
    newest = _newest_source(datasets)
    if not items or newest is None:
        return
    oldest = min(item.mtime_ns for item in items)
    if oldest < newest[0]:
        yield "stale", finding(folder, {
            "entry": f"{title} ({len(items)} files)", "source": f"the {newest[2]} "
            f"{rel(dataset, newest[1])}", "changed": "which changed", "detail": _age(newest[0] - oldest),
            "consequence": consequence, "clip": rel(dataset, newest[1]), "folder": rel(dataset, folder)})


def _corrupt(reads: CacheReads, files: list[CacheFile], trainer: str) -> Found:
    paths = [entry.path for entry in files]
    for entry in files:
        problem = reads.torch_file(entry.path, paths).problem
        if problem is not None:
            yield "corrupt", finding(entry.path, {"problem": f"{problem} ({trainer}'s torch.load fails on it)"})


# ---------------------------------------------------------------- finetrainers (current)


def shared_datasets(dataset: Dataset, project) -> list[Dataset]:
    """The project's datasets that train from the same cache folder (one --dataset_config lists
    several, mixed into one stream): the folder is judged once, with the first of them."""
    profile, location = dataset.profile, dataset.profile.cache_location(dataset.settings)
    return [d for d in project.datasets if d.profile is profile
            and profile.cache_location(d.settings) == location] or [dataset]


def precomputed(dataset: Dataset, project) -> Found:
    profile = dataset.profile
    folder = profile.cache_location(dataset.settings)
    if folder is None or profile.cache_reused(dataset.settings) is not True:
        return  # no --precomputation_reuse: the trainer wipes the folder and computes afresh
    datasets = shared_datasets(dataset, project)
    if datasets[0] is not dataset:
        return
    remote = remote_files(dataset)
    if not dataset.is_dir(folder):
        yield "missing", finding(folder, {
            "what": f"the folder {folder.name}/", "trainer": "finetrainers with --precomputation_reuse",
            "error": f"RuntimeError: The directory '{folder}' does not exist or is not a directory, but is required "
                     "when enabling reuse of precomputed data"})
        return
    items = {kind: precomputed_items(folder, kind, remote) for kind in PRECOMPUTED_TYPES}
    empty = [kind for kind, found in items.items() if not found]
    if empty:
        yield "missing", finding(folder, {
            "what": f"every {' and '.join(empty)}-<i>.pt item in {folder.name}/",
            "trainer": "finetrainers with --precomputation_reuse",
            "error": "ValueError: Precomputed data directory is empty or does not contain enough items "
                     "(required 1, found 0)"})
        return
    everything = [f for found in items.values() for f in found]
    yield from _stale(dataset, datasets, folder, everything, "the precomputed data",
                      "finetrainers --precomputation_reuse reads the items back by index, never the clips or captions, "
                      "and trains on the old data")
    yield from _corrupt(project.derive(dataset_reads, dataset), everything, "finetrainers")
    conditions, latents = (len(items[kind]) for kind in PRECOMPUTED_TYPES)
    clips = sum(len(d.clips) for d in datasets)
    if conditions != latents:
        yield "count", finding(folder, {
            "items": f"{conditions} condition and {latents} latent items", "clips": clips,
            "consequence": "each kind is cycled through on its own, so condition i trains with the latent of another "
                           "clip"})
    elif clips and conditions != clips:
        yield "count", finding(folder, {
            "items": plural(conditions, "precomputed item"), "clips": clips,
            "consequence": _count_consequence(conditions, clips, "finetrainers --precomputation_reuse")})


def _count_consequence(items: int, clips: int, who: str) -> str:
    if items < clips:
        unseen = clips - items
        return f"{who} trains on those {items} alone: {plural(unseen, 'clip')} never train{'s' if unseen == 1 else ''}"
    return f"{who} also trains on {plural(items - clips, 'item')} of clips no longer listed (or twice on some)"


# ---------------------------------------------------------------- finetrainers v0.0.1


def precomputed_v0(dataset: Dataset, project) -> Found:
    profile = dataset.profile
    if profile.cache_reused(dataset.settings) is False:
        return  # no --precompute_conditions: the cache is never read
    remote = remote_files(dataset)
    for folder in v0_cache_dirs(dataset.root, profile.cache_location(dataset.settings), remote):
        parts = {name: scan_folder(folder / name, ".pt", files=remote) for name in V0_FOLDERS}
        conditions, latents = (len(parts[name]) for name in V0_FOLDERS)
        if conditions != latents or conditions == 0:
            continue  # utils/data_utils.py:12-35: unequal or empty, the trainer cleans up and precomputes again
        everything = parts["conditions"] + parts["latents"]
        yield from _stale(dataset, [dataset], folder, everything, "the precomputed data",
                          "finetrainers v0.0.1 reuses it whenever both folders hold the same number of files, and "
                          "trains on the old data")
        yield from _corrupt(project.derive(dataset_reads, dataset), everything, "finetrainers v0.0.1")
        clips = len(dataset.clips)
        if clips and conditions != clips:
            yield "count", finding(folder, {
                "items": plural(conditions, "precomputed item"), "clips": clips,
                "consequence": _count_consequence(conditions, clips, "finetrainers v0.0.1")})


# ---------------------------------------------------------------- cogvideox-factory


@dataclass
class _Group:
    """The listed clips whose tensors live in one prepared folder (path.parent.parent)."""

    latents: Path
    embeds: Path
    clips: list


def prepared(dataset: Dataset, project) -> Found:
    profile = dataset.profile
    reused = profile.cache_reused(dataset.settings)
    if reused is False or not dataset.clips:
        return  # no --load_tensors: the clips themselves are read
    groups: dict[Path, _Group] = {}
    for clip in dataset.clips:
        latents = prepared_folder(clip.fspath, PREPARED_LATENTS)
        group = groups.get(latents)
        if group is None:
            group = groups[latents] = _Group(latents, prepared_folder(clip.fspath, PREPARED_EMBEDS), [])
        group.clips.append(clip)
    if reused is None and not any(dataset.is_dir(g.latents) for g in groups.values()):
        return  # no launch command says --load_tensors, and nothing was prepared here
    trainer = "cogvideox-factory with --load_tensors"
    buckets = profile.train_buckets(dataset.settings)
    reads = project.derive(dataset_reads, dataset)
    for group in groups.values():
        absent = [folder for folder in (group.latents, group.embeds) if not dataset.is_dir(folder)]
        if absent:
            yield "missing", finding(absent[0], {
                "what": " and ".join(f"{rel(dataset, f)}/" for f in absent), "trainer": trainer,
                "error": "ValueError: When setting the load_tensors parameter to `True`, it is expected that the "
                         "data root contains two folders named `video_latents` and `prompt_embeds`"})
            continue
        yield from _prepared_group(dataset, group, trainer, buckets, reads)


def _prepared_group(dataset: Dataset, group: _Group, trainer: str, buckets, reads: CacheReads) -> Found:
    remote = remote_files(dataset)
    is_file = remote.is_file if remote is not None else Path.is_file
    present = [path for clip in group.clips for kind in (group.latents, group.embeds)
               if is_file(path := kind / f"{prepared_name(clip.fspath)}.pt")]  # read together when remote
    names = set()
    for clip in group.clips:
        name = prepared_name(clip.fspath)
        names.add(name)
        latent, embed = group.latents / f"{name}.pt", group.embeds / f"{name}.pt"
        missing = [path for path in (latent, embed) if not is_file(path)]
        if missing:
            where = clip.entry
            yield "missing", finding(where.file if where else clip.path, {
                "what": " and ".join(rel(dataset, p) for p in missing) + f" (for {rel(dataset, clip.path)})",
                "trainer": trainer,
                "error": f"ValueError: The file video_latent_filepath='{to_url(latent)}' or "
                         f"embeds_filepath='{to_url(embed)}' "
                         "could not be found"}, where.line if where else None)
            continue
        header = reads.torch_file(latent, present)
        if header.problem is not None:
            yield "corrupt", finding(latent, {"problem": f"{header.problem} ({trainer}: torch.load fails on it)"})
        else:
            yield from _bucket(dataset, latent, header, trainer, buckets, reads)
        embed_problem = reads.torch_file(embed, present).problem
        if embed_problem is not None:
            yield "corrupt", finding(embed, {"problem": f"{embed_problem} ({trainer}: torch.load fails on it)"})
        st = clip.stat
        entry_st = _mtime(latent, remote)
        if st is not None and entry_st is not None and entry_st < st.st_mtime_ns:
            yield "stale", finding(latent, {
                "entry": f"latent {rel(dataset, latent)}", "source": f"its clip {rel(dataset, clip.path)}",
                "changed": "the clip changed", "detail": _age(st.st_mtime_ns - entry_st),
                "consequence": f"{trainer} trains on the latent and never reads the new clip",
                "clip": rel(dataset, clip.path), "folder": rel(dataset, group.latents)})
    for entry in scan_folder(group.latents, ".pt", files=remote):
        if entry.path.name[:-3] not in names:
            yield "orphan", entry


def _mtime(path: Path, remote=None) -> int | None:
    if remote is not None:
        st = remote.stat(path)
        return st.st_mtime_ns if st is not None else None
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _bucket(dataset: Dataset, latent: Path, header: TorchFile, trainer: str, buckets, reads: CacheReads) -> Found:
    """dataset.py:126-133 turns the latent's [C, F', H', W'] into (F, H, W); BucketSampler
    (:393, :410) has a list only for the training buckets: any other key is a KeyError."""
    shape = header.first_shape()
    if shape is None:
        shape = _torch_shape(latent, reads) if header.unread is not None else None
    if shape is None:
        return  # not readable without torch (docs of CVL304 say so)
    if len(shape) < 4:
        yield "shape", finding(latent, {"shape": list(shape), "expected": "[C, F, H, W]",
                                        "folder": rel(dataset, latent.parent),
                                        "verdict": f"is not a [C, F, H, W] latent: {trainer} fails on latent.size(3)"})
        return
    frames = shape[1] * 4 if shape[1] % 2 == 0 else (shape[1] - 1) * 4 + 1
    key = (frames, shape[2] * 8, shape[3] * 8)
    if buckets and key not in buckets:
        shown = few(sorted(f"{f}x{h}x{w}" for f, h, w in buckets), 6)
        yield "shape", finding(latent, {
            "shape": list(shape), "expected": shown, "folder": rel(dataset, latent.parent),
            "verdict": f"means {key[0]}x{key[1]}x{key[2]}, which is no training bucket ({shown}): {trainer} stops "
                       f"in BucketSampler with KeyError: {key}"})


def _torch_shape(path: Path, reads: CacheReads) -> tuple[int, ...] | None:
    """The tensor's shape through torch itself, when it is installed and the file is of a kind
    read above only by torch (the legacy format)."""
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        import io

        import torch

        source = io.BytesIO(reads.whole(path)) if reads.files is not None else path  # a remote one: one GET
        value = torch.load(source, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - refused or unreadable: not judged
        return None
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else None


def orphan_args(dataset: Dataset, entry: CacheFile) -> dict:
    return {"stem": entry.path.name[:-3], "folder": rel(dataset, entry.path.parent),
            "link": "name (up to its first dot)"}


KINDS = {"precomputed": precomputed, "precomputed-v0": precomputed_v0, "prepared": prepared}


