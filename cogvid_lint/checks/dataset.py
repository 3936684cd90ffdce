"""Dataset rules: list files, counts, paths, duplicates, size, id tokens (CVL0xx)."""

from __future__ import annotations

import difflib
import os
import stat
from collections import defaultdict
from pathlib import Path
from typing import Iterator

from cogvid_lint.checks.common import clip_finding, manifest_finding
from cogvid_lint.fsutil import is_inside
from cogvid_lint.discover.dataset import CAPTION_NAMES, IMAGE_NAMES, VIDEO_NAMES
from cogvid_lint.discover.project import Dataset, Manifest
from cogvid_lint.findings import Finding, Location
from cogvid_lint.registry import RuleContext, check

_KNOWN_NAMES = {"caption_column": CAPTION_NAMES, "video_column": VIDEO_NAMES, "image_column": IMAGE_NAMES}


@check("dataset.missing_manifest", args=("column", "problem"))
def missing_manifest(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if dataset.missing and not dataset.is_dir(dataset.root):  # said once, not once per list it would hold
        column, wanted, folder = next(((c, w, f) for c, w, f in dataset.missing if c == "video_column"),
                                      dataset.missing[0])
        yield Finding(Location(folder / wanted), {"column": column,
                                                  "problem": "not found" + _suggest(dataset, folder, wanted, column)})
        return
    for column, wanted, folder in dataset.missing:
        target = folder / wanted
        yield Finding(Location(target), {"column": column,
                                         "problem": "not found" + _suggest(dataset, folder, wanted, column)})
    for manifest in (dataset.captions, dataset.videos, dataset.images):
        if manifest is not None and manifest.error is not None:
            column = _column_of(dataset, manifest)
            yield Finding(Location(manifest.path), {"column": column, "problem": manifest.error})


def _column_of(dataset: Dataset, manifest: Manifest) -> str:
    return {id(dataset.captions): "caption_column", id(dataset.videos): "video_column"}.get(id(manifest), "image_column")


def _suggest(dataset: Dataset, folder: Path, wanted: str, column: str) -> str:
    try:
        present = [n for n in dataset.listdir(folder) if n.endswith(".txt")]
    except OSError:
        return " (the data root itself is missing)" if not dataset.is_dir(folder) and not folder.exists() else ""
    known = [n for n in _KNOWN_NAMES.get(column, ()) if n in present]
    close = known or difflib.get_close_matches(wanted, present, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


@check("dataset.count_mismatch", args=("counts", "detail"))
def count_mismatch(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if dataset.layout == "sat":
        yield from _sat_count_mismatch(dataset)
        return
    lists = [m for m in (dataset.captions, dataset.videos, dataset.images) if m is not None and m.error is None]
    if len(lists) < 2 or len({len(m.entries) for m in lists}) == 1:
        return
    counts = ", ".join(f"{len(m.entries)} in {m.path.name}" for m in lists)
    anchor = dataset.captions or lists[0]
    detail = _first_divergence(dataset)
    if dataset.captions is not None and dataset.videos is not None and dataset.captions.keeps_blank:
        # every line counts, blank ones too: the trainer's own error says so
        error = dataset.profile.count_error(len(dataset.captions.entries), len(dataset.videos.entries))
        blanks = len(dataset.captions.blank_lines) + len(dataset.videos.blank_lines)
        kept = f"; {dataset.profile.title} counts blank lines too ({blanks} here)" if blanks else ""
        detail = f"{kept}; it stops: {error}" if error else kept
    yield Finding(Location(anchor.path), {"counts": counts, "detail": detail})


def _first_divergence(dataset: Dataset) -> str:
    """Point at the first caption that looks like a continuation line (it shifts the rest)."""
    if dataset.captions is None or dataset.videos is None or dataset.captions.keeps_blank:
        return ""
    captions, videos = dataset.captions.entries, dataset.videos.entries
    if len(captions) > len(videos):
        return f"; the trainer pairs line by line, so every caption after {dataset.captions.path.name}:" \
               f"{captions[len(videos) - 1].line if videos else 1} is off by one or more"
    return ""


def _sat_count_mismatch(dataset: Dataset) -> Iterator[Finding]:
    """Each clip's label is the path SAT derives from the clip's (discover.layouts): a clip
    whose label is missing, or outside the dataset, trains on an empty caption."""
    root = dataset.root
    read = {os.path.normpath(clip.caption.file) for clip in dataset.clips if clip.caption is not None}
    without = [clip for clip in dataset.clips if clip.caption is not None
               and (not clip.caption.file.is_file() or not is_inside(clip.caption.file, root))]
    orphans = sorted(label.file for label in dataset.sat_labels if os.path.normpath(label.file) not in read)
    if without or orphans:
        parts = []
        if without:
            parts.append(f"{len(without)} videos without labels/<name>.txt (first: {without[0].stem})")
        if orphans:
            parts.append(f"{len(orphans)} labels without a video (first: {_shown(orphans[0], root)})")
        detail = ""
        outside = next((clip for clip in without if not is_inside(clip.caption.file, root)), None)
        if outside is not None:
            detail = (f"; SAT reads {outside.path.name}'s caption from {_shown(outside.caption.file, root)}, outside "
                      f"the data root: it makes every 'videos' of the path as its config writes it 'labels', "
                      f"the data root's name too")
        yield Finding(Location(root / "labels"), {"counts": "; ".join(parts), "detail": detail})


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return os.path.relpath(path, root)


@check("dataset.missing_media", args=("kind", "hint"))
def missing_media(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    unseen = dataset.git_ignored  # absent and git-ignored: a checkout without the media (discovery)
    for clip in dataset.clips:
        if not clip.escapes_root and clip.stat is None and clip.fspath not in unseen:
            hint = ""
            if clip.entry is not None and clip.index == 0 and dataset.videos is not None and dataset.videos.has_bom:
                hint = " (the list file starts with a UTF-8 BOM, which becomes part of this path)"
            yield clip_finding(clip, {"kind": "clip", "hint": hint})
    for entry, path in _image_paths(dataset):
        if not _escapes(path, dataset) and not os.path.exists(path) and os.fspath(path) not in unseen:
            yield Finding(Location(path), {"kind": "image", "hint": ""}, anchor=Location(entry.file, entry.line))


def _image_paths(dataset: Dataset):
    if dataset.images is None or dataset.images.error is not None:
        return []
    base = dataset.images.path.parent
    return [(entry, Path(os.path.normpath(base / entry.text))) for entry in dataset.images.entries]


def _escapes(path: Path, dataset: Dataset) -> bool:
    from cogvid_lint.discover.dataset import escapes

    return escapes(path, dataset.root)


@check("dataset.path_escapes_root", args=("entry", "root"))
def path_escapes_root(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    for clip in dataset.clips:
        if clip.escapes_root and clip.entry is not None:
            yield manifest_finding(clip.entry, {"entry": clip.entry.text, "root": str(dataset.root)})
        elif clip.escapes_root:
            yield Finding(Location(clip.path), {"entry": clip.path.name, "root": str(dataset.root)})
    for entry, path in _image_paths(dataset):
        if _escapes(path, dataset):
            yield manifest_finding(entry, {"entry": entry.text, "root": str(dataset.root)})


DROPPED = "the trainer drops it"


@check("dataset.blank_caption_line", args=("effect",))
def blank_caption_line(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    captions = dataset.captions
    if captions is not None and captions.error is None and captions.entries and not captions.keeps_blank:
        last_entry = captions.entries[-1].line
        for line in captions.blank_lines:
            if line < last_entry:  # trailing blank lines shift nothing
                yield Finding(Location(captions.path, line), {"effect": DROPPED})
        return
    # A layout that pairs each clip with its own caption (a list read with every line kept,
    # a caption file per clip, SAT's first label line): a blank one is that clip's caption.
    title = dataset.profile.title
    stopped = {note.path for note in dataset.stops}  # an empty SAT label stops it instead (trainer_stop)
    for clip in dataset.clips:
        caption = clip.caption
        if (caption is not None and not caption.text.strip() and caption.file not in stopped
                and caption.file.is_file()):
            yield Finding(Location(caption.file, caption.line),
                          {"effect": f"{title} keeps it: {_named(clip)} trains on an empty caption"})


@check("dataset.duplicate_stem", args=("stem", "other"))
def duplicate_stem(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    first_by_stem: dict[str, object] = {}
    for clip in dataset.clips:
        other = first_by_stem.setdefault(clip.stem, clip)
        if other is not clip and other.fspath != clip.fspath:
            yield clip_finding(clip, {"stem": clip.stem, "other": _where(other)})


def same_size_clips(dataset: Dataset) -> list[tuple[str, os.stat_result]]:
    """The clips whose content duplicate_clip compares: present, regular, not empty, listed
    once, and sharing their size with another such clip (the only ones that can be equal)."""
    by_size: dict[int, list] = defaultdict(list)
    for clip in _listed_once(dataset)[0]:
        st = clip.stat if not clip.escapes_root else None
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_size:
            by_size[st.st_size].append(clip)
    return [(clip.fspath, clip.stat) for clips in by_size.values() if len(clips) > 1 for clip in clips]


def _listed_once(dataset: Dataset) -> tuple[list, list[tuple[object, object]]]:
    """(the clips each file's first listing names, (repeat, first) for every other listing)."""
    first_by_path: dict[str, object] = {}
    unique, repeats = [], []
    for clip in dataset.clips:
        other = first_by_path.setdefault(clip.fspath, clip)  # normalized strings: equal iff the Paths are
        if other is not clip:
            repeats.append((clip, other))
        else:
            unique.append(clip)
    return unique, repeats


@check("dataset.duplicate_clip", args=("how", "other"), content_digests=same_size_clips)
def duplicate_clip(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    unique, repeats = _listed_once(dataset)
    for clip, other in repeats:
        yield clip_finding(clip, {"how": "listed again", "other": _where(other)})
    first_by_hash: dict[tuple[int, str], object] = {}
    for clip in unique:
        digest = ctx.digests.get(clip.fspath)  # the content digests of same_size_clips
        if digest is None:
            continue
        other = first_by_hash.setdefault((clip.stat.st_size, digest), clip)
        if other is not clip:
            yield clip_finding(clip, {"how": "identical content to", "other": _where(other)})


def _where(clip) -> str:
    if clip.entry is not None:
        return f"{clip.entry.text} (line {clip.entry.line})"
    return clip.path.name


@check("dataset.too_small", args=("count", "minimum", "purpose"), content_digests=same_size_clips,
       probe_facts=True)
def dataset_too_small(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """Counts what will train: each file once, readable (its probe facts), and one clip per
    content (a byte-identical copy teaches nothing new). A listed clip git ignores and that is
    absent (a CI checkout) counts as listed: nothing about it can be known here. A missing
    data root is CVL001's to say."""
    if not dataset.is_dir(dataset.root):
        return
    purpose = dataset.settings.purpose
    minimum = ctx.params["min_videos"] if purpose == "style" else ctx.params["min_videos_other"]
    count = len(_trainable(dataset, ctx.digests, ctx.params.get("near_duplicate_bits")))
    if count < minimum:
        where = dataset.videos.path if dataset.videos is not None else dataset.root
        yield Finding(Location(where), {"count": count, "minimum": minimum, "purpose": purpose})


def _trainable(dataset: Dataset, digests, near_bits: int | None = None) -> set:
    """A key per clip that will train: its content (size, digest) when known, else its path.
    When the content stage ran (a CVL5xx rule selected), a group of near-duplicates (pHash
    within `near_bits`) is one key: its first clip's."""
    from cogvid_lint.checks.content import near_duplicate_groups

    alias: dict[str, str] = {}
    if near_bits is not None:
        for group in near_duplicate_groups(_listed_once(dataset)[0], near_bits):
            for clip, _ in group:
                alias[clip.fspath] = group[0][0].fspath
    keys: set = set()
    unseen = dataset.git_ignored
    for clip in _listed_once(dataset)[0]:
        if clip.fspath in unseen:
            keys.add(clip.fspath)
            continue
        info = clip.info  # None: not probed (missing, outside the root)
        if clip.escapes_root or info is None or info.error is not None:
            continue
        if clip.fspath in alias:
            keys.add(("near", alias[clip.fspath]))
            continue
        digest = digests.get(clip.fspath)
        keys.add((clip.stat.st_size, digest) if digest is not None else clip.fspath)
    return keys


@check("dataset.id_token_missing", args=("token",))
def id_token_missing(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    token = dataset.settings.id_token
    # A trainer that prepends the token itself (diffusers, finetrainers, cogvideox-factory)
    # needs it in no caption; for CogVideo's trainers it is a caption convention.
    if not token or dataset.profile.id_token != "caption":
        return
    if dataset.captions is not None and dataset.captions.error is None:
        for entry in dataset.captions.entries:
            if token not in entry.text:
                yield Finding(Location(entry.file, entry.line), {"token": token})
    if dataset.captions is None:  # captions paired by file (SAT's first label line): those it reads
        for clip in dataset.clips:
            caption = clip.caption
            if caption is not None and caption.text.strip() and token not in caption.text:
                yield Finding(Location(caption.file, caption.line), {"token": token})


@check("dataset.id_token_fuses", args=("token", "word", "fused", "trainer"))
def id_token_fuses(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """A trainer that glues the id token to the caption with no separator (diffusers) fuses a
    token ending in a letter or digit with a caption that starts with one."""
    token = dataset.settings.id_token
    if not token or dataset.profile.id_token != "glued" or not token[-1].isalnum():
        return
    if dataset.captions is None or dataset.captions.error is not None:
        return
    for entry in dataset.captions.entries:
        text = entry.text
        if text[:1].isalnum():
            word = text.split(maxsplit=1)[0]
            yield Finding(Location(entry.file, entry.line),
                          {"token": token, "word": word, "fused": token + word, "trainer": dataset.profile.title})


def _named(clip) -> str:
    """The clip as its list names it, else its path below the data root."""
    if clip.entry is not None and clip.entry.text.strip():
        return clip.entry.text
    return _shown(clip.path, clip.dataset.root)


@check("dataset.trainer_stop", args=("trainer", "error"), probe_facts=True)
def trainer_stop(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """Where the trainer's loader raises on the dataset as a whole (found by discovery as it
    loads the dataset the trainer's way), and the trainer's batching of clips that train at
    different frame counts (their probe facts and the trainer's sampling)."""
    title = dataset.profile.title
    for note in dataset.stops:
        anchor = Location(*note.anchor) if note.anchor is not None else None
        yield Finding(Location(note.path, note.line), {"trainer": title, "error": note.text}, anchor=anchor)
    if dataset.profile.target_frames(dataset.settings) is None:
        return
    frames: dict[int, tuple[int, str]] = {}
    for clip in _listed_once(dataset)[0]:
        info = clip.info
        if info is None or info.error is not None or info.frames <= 0:
            continue
        sample = dataset.sample(info.frames, info.fps)
        if sample.crash is None and sample.indices:
            count, first = frames.get(sample.taken, (0, _named(clip)))
            frames[sample.taken] = (count + 1, first)
    error = dataset.profile.batch_crash(frames, dataset.settings)
    if error:
        where = dataset.videos.path if dataset.videos is not None else dataset.root
        yield Finding(Location(where), {"trainer": title, "error": error})


@check("dataset.never_read", args=("why",))
def never_read(dataset: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """Files of the dataset the trainer's loader passes over (discover.layouts)."""
    for note in dataset.unread:
        yield Finding(Location(note.path, note.line), {"why": note.text})
