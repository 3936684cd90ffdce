"""Latent-cache rules (CVL3xx): stale, orphaned, corrupt and mis-shaped cache entries.

The subject is a `Dataset`; what is judged depends on its trainer's `Profile.cache`: none
(SAT, diffusers) — nothing; CogVideo finetune/ — the code below, where every finding's path
is the cache file and its fix deletes that file (the trainer regenerates a missing entry),
confined to the cache folder it lives in; the others — checks/cache_trainers.py.
The cache is scanned once per dataset and run (memoised on the project), headers are read
once, and clips are hashed only when a stamp says they may have changed.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterator

from cogvid_lint.bounded import few
from cogvid_lint.cache_layout import (LATENT_KEY, PROMPT_KEY, CacheFile, Header, cache_dir, caption_hash,
                                      expected_latent_shape, latent_files, legacy_dirs, prompt_files, remote_files,
                                      scan_folder, stamp_path, stat_file)
from cogvid_lint.cache_reads import CacheReads, dataset_reads
from cogvid_lint.cache_stamp import EntryJudge, StampError, file_key, load_stamp
from cogvid_lint.cache_layout import first_frames_dir
from cogvid_lint.checks.cache_trainers import KINDS, orphan_args
from cogvid_lint.discover.project import Dataset
from cogvid_lint.findings import Applicability, DeleteFile, Finding, Fix, Location
from cogvid_lint.registry import RuleContext, check


@dataclass
class CacheScan:
    """Everything the cache rules look at for one dataset, read once per run."""

    dataset: Dataset
    latents: list[CacheFile]
    prompts: list[CacheFile]
    first_frames: list[CacheFile]
    stamp_problem: str | None = None
    judge: EntryJudge | None = None
    reads: CacheReads = field(default_factory=CacheReads)

    @classmethod
    def build(cls, dataset: Dataset, reads: CacheReads) -> "CacheScan":
        remote = remote_files(dataset)
        try:
            stamp, problem = load_stamp(dataset.root, remote), None
        except StampError as exc:
            stamp, problem = None, str(exc)
        judge = EntryJudge(dataset, stamp, remote)
        frames = scan_folder(first_frames_dir(dataset), ".png", files=remote) if dataset.clips else []
        latents, prompts = latent_files(dataset.root, remote), prompt_files(dataset.root, remote)
        if (latents or prompts or frames) and remote is not None:
            # an object store has no links: a listed clip's object is a cache entry only by its name
            clips = {clip.fspath for clip in dataset.clips}
            latents, prompts, frames = ([f for f in files if os.fspath(f.path) not in clips]
                                        for files in (latents, prompts, frames))
        elif latents or prompts or frames:
            # A file the dataset lists as a clip (same inode, whatever the path or symlink) is never
            # treated as a cache entry, so no cache fix can delete a source clip.
            clips = {(st.st_dev, st.st_ino) for clip in dataset.clips if (st := clip.stat) is not None}
            latents, prompts, frames = ([f for f in files if (f.device, f.inode) not in clips]
                                        for files in (latents, prompts, frames))
        return cls(dataset, latents, prompts, frames, problem, judge, reads)

    def header(self, entry: CacheFile) -> Header:
        # a remote root's headers are read together (range requests in one batch)
        return self.reads.header(entry, self.latents + self.prompts)

    @cached_property
    def clip_stems(self) -> frozenset[str]:
        return frozenset(clip.stem for clip in self.dataset.clips)

    def rel(self, path: Path) -> str:
        return file_key(path, self.dataset.root)


def _kind(dataset: Dataset) -> str | None:
    """How the dataset's trainer caches (Profile.cache.kind); None: it keeps no cache."""
    profile = dataset.profile
    if profile is None:  # a dataset built without discovery: CogVideo finetune/, the default
        return "finetune"
    return profile.cache.kind if profile.cache is not None else None


def _finetune(dataset: Dataset) -> bool:
    return _kind(dataset) == "finetune"


def _trainer_found(dataset: Dataset, ctx: RuleContext, meaning: str) -> Iterator:
    """The findings (or, for orphans, the entries) of another trainer's cache with `meaning`."""
    kind = _kind(dataset)
    if kind is None or kind == "finetune":
        return iter(())
    return (item for what, item in ctx.project.derive(_build_trainer_found, dataset) if what == meaning)


def _build_trainer_found(project, dataset: Dataset) -> list:
    return list(KINDS[_kind(dataset)](dataset, project))


def _scan(dataset: Dataset, ctx: RuleContext) -> CacheScan:
    return ctx.project.derive(_build_scan, dataset)


def _build_scan(project, dataset: Dataset) -> CacheScan:
    return CacheScan.build(dataset, project.derive(dataset_reads, dataset))


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.normpath(path)).relative_to(root)
        return True
    except ValueError:
        return False


def cache_finding(dataset: Dataset, entry: CacheFile, args: dict, title: str) -> Finding:
    """A finding on a cache file whose safe fix deletes it — only when its folder is inside the
    data root (a first_frames folder beside a data root of bare file names is reported, not touched)."""
    fix = None
    if _inside(entry.root, dataset.root):
        fix = Fix(title, Applicability.SAFE, (DeleteFile(entry.path, root=entry.root),))
    else:
        args = {**args, "outside": " (outside the data root: not deleted by --fix)"}
    return Finding(Location(entry.path), {"outside": "", **args}, fix=fix)


def _folder(entry: CacheFile) -> str:
    return f"{entry.model}/{entry.folder}"


def _mismatched(dataset: Dataset, ctx: RuleContext, kind: str, entries, title: str, more=None) -> Iterator[Finding]:
    """Entries whose clip changed after them: by timestamps ("stale") or by the stamp ("changed")."""
    scan = _scan(dataset, ctx)
    for entry in entries(scan):
        verdict = scan.judge.judge(entry)
        if verdict is not None and verdict.kind == kind:
            # a first frame has no model/resolution folder: "" rather than a message showing {folder}
            args = {"clip": scan.rel(verdict.clip.path), "detail": verdict.detail,
                    "folder": _folder(entry) if entry.folder is not None else ""}
            yield cache_finding(dataset, entry, {**args, **(more(args) if more else {})}, title)


@check("cache.stale_latent", args=("clip", "detail", "folder", "outside", "entry", "source", "changed", "consequence"))
def stale_latent(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if not _finetune(dataset):
        yield from _trainer_found(dataset, ctx, "stale")
        return
    yield from _mismatched(dataset, ctx, "stale", lambda scan: scan.latents, "Delete the stale latent",
                           lambda args: {"entry": f"latent in {args['folder']}", "source": f"its clip {args['clip']}",
                                         "changed": "the clip changed",
                                         "consequence": "the trainer reuses it and never sees the new clip"})


@check("cache.stale_first_frame", args=("clip", "detail", "folder", "outside"))
def stale_first_frame(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if not _finetune(dataset):
        return
    yield from _mismatched(dataset, ctx, "stale", lambda scan: scan.first_frames, "Delete the stale first frame")


@check("cache.content_changed", args=("clip", "detail", "folder", "outside"))
def content_changed(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if not _finetune(dataset):  # `cache stamp` covers finetune/'s stem-named entries only
        return
    yield from _mismatched(dataset, ctx, "changed", lambda scan: scan.latents + scan.first_frames,
                           "Delete the entry made from the old clip")


@check("cache.orphan_latent", args=("stem", "folder", "outside", "link"))
def orphan_latent(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if not _finetune(dataset):
        for entry in _trainer_found(dataset, ctx, "orphan"):
            yield cache_finding(dataset, entry, orphan_args(dataset, entry), "Delete the orphaned latent")
        return
    if not dataset.clips:  # no readable clip list: every entry would look orphaned
        return
    spec = dataset.settings.model_spec
    models = {dataset.settings.model} | ({spec.name} if spec else set())
    scan = _scan(dataset, ctx)
    for entry in scan.latents:
        if entry.model in models and entry.stem not in scan.clip_stems:
            yield cache_finding(dataset, entry, {"stem": entry.stem, "folder": _folder(entry), "link": "stem"},
                                "Delete the orphaned latent")


@check("cache.orphan_prompt_embedding", args=("captions", "outside"))
def orphan_prompt_embedding(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if not _finetune(dataset):
        return
    captions = dataset.captions
    if captions is None or captions.error is not None or not captions.entries:
        return
    prompts = _scan(dataset, ctx).prompts
    if not prompts:
        return
    hashes = {caption_hash(entry.text) for entry in captions.entries}
    for entry in prompts:
        if entry.stem not in hashes:
            yield cache_finding(dataset, entry, {"captions": captions.path.name},
                                "Delete the unused prompt embedding")


@check("cache.corrupt_entry", args=("problem", "outside"))
def corrupt_entry(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if not _finetune(dataset):
        yield from _trainer_found(dataset, ctx, "corrupt")
        return
    scan = _scan(dataset, ctx)
    for files, key in ((scan.latents, LATENT_KEY), (scan.prompts, PROMPT_KEY)):
        for entry in files:
            header = scan.header(entry)
            problem = header.problem
            if problem is None and key not in header.shapes:
                found = few(sorted(header.shapes)) or "none"
                problem = f"no tensor {key!r} (tensors: {found}); the trainer's lookup fails"
            if problem is not None:
                yield cache_finding(dataset, entry, {"problem": problem}, "Delete the corrupt cache entry")
    if scan.stamp_problem is not None:
        stamp = stat_file(stamp_path(dataset.root), cache_dir(dataset.root), remote_files(dataset))
        if stamp is not None:
            yield cache_finding(dataset, stamp, {"problem": scan.stamp_problem + " (timestamps are used instead)"},
                                "Delete the unusable cache stamp")


@check("cache.latent_shape_mismatch", args=("shape", "expected", "folder", "outside", "verdict"))
def latent_shape_mismatch(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if not _finetune(dataset):
        yield from _trainer_found(dataset, ctx, "shape")
        return
    scan = _scan(dataset, ctx)
    for entry in scan.latents:
        if entry.resolution is None:
            continue
        shape = scan.header(entry).shapes.get(LATENT_KEY)
        expected = expected_latent_shape(entry.resolution)
        if shape is not None and tuple(shape) != expected:
            yield cache_finding(dataset, entry, {
                "shape": list(shape), "expected": list(expected), "folder": _folder(entry),
                "verdict": f"differs from {list(expected)}, the shape that folder's resolution implies"},
                "Delete the mis-shaped latent")


@check("cache.legacy_latent", args=("detail", "outside"))
def legacy_latent(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if not _finetune(dataset):  # the Jan-2025 layout of CogVideo finetune/
        return
    remote = remote_files(dataset)
    for folder in legacy_dirs(dataset):
        for entry in scan_folder(folder, ".pt", files=remote):
            yield cache_finding(dataset, entry, {"detail": _torch_detail(entry.path, ctx, dataset)},
                                "Delete the legacy .pt cache")


@check("cache.missing_entry", args=("what", "trainer", "error", "outside"))
def missing_entry(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """A cache the trainer requires and reads without a fallback is not there: it stops."""
    yield from _trainer_found(dataset, ctx, "missing")


@check("cache.precomputed_count", args=("items", "clips", "consequence", "outside"))
def precomputed_count(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """A reused cache read back by index holds another number of items than the dataset has clips."""
    yield from _trainer_found(dataset, ctx, "count")


def _torch_detail(path: Path, ctx: RuleContext, dataset: Dataset) -> str:
    """What the legacy file holds — read only when torch is installed, and never with pickle code."""
    if importlib.util.find_spec("torch") is None:
        return " (torch is not installed, so its content was not read)"
    try:
        import torch

        if remote_files(dataset) is not None:  # an object: its bytes, in one request
            import io

            try:
                data = ctx.project.derive(dataset_reads, dataset).whole(path)
            except OSError as exc:
                return f" (cannot read it: {exc})"
            value = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        else:
            try:
                value = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:  # not a zip-format file: mmap is not possible
                value = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling refused, truncated file, ...: the file is reported either way
        return f" (torch cannot read it: {' '.join(str(exc).split())[:120]})"
    shape = getattr(value, "shape", None)
    return f" (a tensor of shape {list(shape)})" if shape is not None else f" (a {type(value).__name__})"
