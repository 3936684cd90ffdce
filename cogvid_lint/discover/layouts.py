"""The dataset layouts that CogVideo SAT and finetrainers read, loaded their way.

Each loader walks the folder as the trainer's own dataset class does, and records on the
`Dataset` what it finds: the clips (each with the caption the trainer pairs with it), the
places where the trainer's loader raises (`Dataset.stops`, the trainer's own error) and the
files it never reads though they look like part of the dataset (`Dataset.unread`).

SAT (`sat/data_video.py` SFTDataset.__init__): `os.walk(data_dir)` recursively, names ending
`.mp4` (case-sensitive), caption path = the video path as written with every `.mp4` made
`.txt` and every `videos` made `labels`, first line of it, `""` when it is missing, an
IndexError when it is empty.

finetrainers (`finetrainers/data/dataset.py` `_initialize_local_dataset`), in order:
`metadata.{json,jsonl,csv}` (more than one: ValueError) read by datasets' `videofolder`;
`.tar`/`.parquet` anywhere: a webdataset; `*.txt` at the top with a same-stem media file:
pairs (two videos for one caption: ValueError); else caption + video lists, exactly one of
each name, read with `splitlines()` (no strip, blank lines kept), `root / line`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cogvid_lint.bounded import BadDocument, load_json, read_text
from cogvid_lint.discover.manifest import read_manifest
from cogvid_lint.discover.project import Clip, LayoutNote, ManifestLine
from cogvid_lint.fsutil import is_inside

if TYPE_CHECKING:
    from cogvid_lint.discover.dataset import RealPaths
    from cogvid_lint.discover.project import Dataset

# Video names other trainers read that SAT's `.endswith(".mp4")` passes over.
OTHER_VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
MAX_LABEL_BYTES = 1 << 20  # a caption; SAT reads the whole file to take its first line
MAX_METADATA_BYTES = 64 << 20


def _rel(path: str | Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return os.fspath(path)


# ---------------------------------------------------------------------------------------- SAT

def load_sat(dataset: Dataset, realpath: RealPaths, skip_dirs: frozenset[str]) -> None:
    root = dataset.root
    root_s = os.fspath(root)
    if not root.is_dir():
        dataset.missing.append(("video_column", "videos/", root))
        return
    opts = dataset.profile.options(dataset.settings) if dataset.profile is not None else {}
    # The label path is rewritten on the path as SAT's config writes it (`train_data`,
    # relative to SAT's working folder): its `videos` are rewritten too. Without a config,
    # the folder is taken as named from its parent (`train_data: ["disney"]`).
    written, cwd = opts.get("data_dir"), opts.get("cwd")
    if not isinstance(written, str) or not isinstance(cwd, str):
        written, cwd = root.name or root_s, os.fspath(root.parent)
    labels: list[ManifestLine] = []
    index = 0
    for folder, dirs, files in os.walk(root_s):  # links to folders are not entered, as SAT's walk
        dirs[:] = sorted(d for d in dirs if d not in skip_dirs)
        rel = os.path.relpath(folder, root_s)
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".mp4"):
                as_written = os.path.join(written, name) if rel == "." else os.path.join(written, rel, name)
                label = os.path.normpath(os.path.join(cwd, as_written.replace(".mp4", ".txt").replace("videos", "labels")))
                caption = _sat_caption(dataset, label, path)
                outside, st = realpath.place(path, root_s)
                dataset.clips.append(Clip(dataset, index, path, None, outside, None, st, caption))
                index += 1
            elif name.lower().endswith(OTHER_VIDEO_SUFFIXES):
                dataset.unread.append(LayoutNote(Path(path), f"SAT reads only names ending in '.mp4' "
                                                             f"(case-sensitive): {_rel(path, root)} never trains"))
            elif name.endswith(".txt") and "labels" in Path(rel).parts:
                labels.append(ManifestLine(Path(path), 1, Path(name).stem))
    dataset.sat_labels = labels
    if not (root / "videos").is_dir() and not dataset.clips:
        dataset.missing.append(("video_column", "videos/", root))
    if not (root / "labels").is_dir() and not labels:
        dataset.missing.append(("caption_column", "labels/", root))


def _sat_caption(dataset: Dataset, label: str, clip: str) -> ManifestLine:
    """The first line of the label, "" when the label is missing (SAT's `os.path.exists`)."""
    if not os.path.exists(label):
        return ManifestLine(Path(label), 1, "")
    anchor = (Path(clip), None)
    if not os.path.isfile(label):  # a folder, a FIFO (opening one would wait forever)
        dataset.stops.append(LayoutNote(Path(label), f"the label of {Path(clip).name} is not a regular file",
                                        anchor=anchor))
        return ManifestLine(Path(label), 1, "")
    try:
        with open(label, "rb") as handle:
            data = handle.read(MAX_LABEL_BYTES)
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc.strerror or exc}"
        dataset.stops.append(LayoutNote(Path(label), f"{error} (reading the label of {Path(clip).name})",
                                        anchor=anchor))
        return ManifestLine(Path(label), 1, "")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        dataset.stops.append(LayoutNote(Path(label), f"UnicodeDecodeError: 'utf-8' codec can't decode byte "
                                                     f"0x{data[exc.start]:02x} in position {exc.start}",
                                        anchor=anchor))
        return ManifestLine(Path(label), 1, "")
    lines = text.splitlines()
    if not lines:
        dataset.stops.append(LayoutNote(Path(label), "IndexError: list index out of range (the label is empty: "
                                                     "SAT takes `.read().splitlines()[0]`)", anchor=anchor))
        return ManifestLine(Path(label), 1, "")
    rest = [n for n, line in enumerate(lines[1:], start=2) if line.strip()]
    if rest:
        dataset.unread.append(LayoutNote(Path(label), f"SAT reads only the first line of a label: line"
                                                      f"{'s' if len(rest) > 1 else ''} {_lines(rest)} never "
                                                      f"train{'' if len(rest) > 1 else 's'}", line=rest[0]))
    return ManifestLine(Path(label), 1, lines[0])


def _lines(numbers: list[int]) -> str:
    return str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"


# ------------------------------------------------------------------------------- finetrainers

METADATA_NAMES = ("metadata.json", "metadata.jsonl", "metadata.csv")
CAPTION_LISTS = ("caption.txt", "captions.txt", "prompt.txt", "prompts.txt")
VIDEO_LISTS = ("video.txt", "videos.txt")
IMAGE_LISTS = ("image.txt", "images.txt")
PAIR_VIDEO_SUFFIXES = (".mp4", ".mov")  # constants.SUPPORTED_VIDEO_FILE_EXTENSIONS
PAIR_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def load_finetrainers(dataset: Dataset, realpath: RealPaths) -> None:
    root = dataset.root
    if not root.is_dir():
        dataset.missing.append(("video_column", "videos.txt", root))
        return
    try:
        names = set(os.listdir(root))
    except OSError as exc:
        dataset.stops.append(LayoutNote(root, f"{type(exc).__name__}: {exc.strerror or exc}"))
        return
    metadata = [name for name in METADATA_NAMES if name in names]
    if metadata:
        if len(metadata) > 1:
            dataset.stops.append(LayoutNote(root / metadata[1], "ValueError: Found multiple metadata files. Please "
                                            f"ensure there is only one metadata file. ({', '.join(metadata)})"))
        dataset.form = metadata[0]
        _unread_lists(dataset, names, f"finetrainers reads {metadata[0]} in this folder")
        _load_metadata(dataset, root / metadata[0], realpath)
        return
    shards = _first_shard(root)
    if shards is not None:
        dataset.form = "webdataset"  # shards cogvid-lint does not open: no clips to lint
        return
    captions = sorted(p for p in root.glob("*.txt"))
    if any(c.with_suffix(s).exists() for c in captions for s in (*PAIR_IMAGE_SUFFIXES, *PAIR_VIDEO_SUFFIXES)):
        dataset.form = "pairs"
        _unread_lists(dataset, names, "finetrainers reads the caption/clip pairs in this folder")
        _load_pairs(dataset, captions, names, realpath)
        return
    if any(n in names for n in CAPTION_LISTS) and any(n in names for n in (*VIDEO_LISTS, *IMAGE_LISTS)):
        dataset.form = "lists"
        if dataset.profile is not None and dataset.profile.options(dataset.settings).get("dataset_type") == "image":
            return  # caption + image lists: no clip for the video rules
        _load_lists(dataset, names, realpath)
        return
    dataset.stops.append(LayoutNote(root, f"ValueError: Could not find any supported dataset structure in the "
                                          f"directory {root} (no metadata file, no caption/clip pairs, no "
                                          f"{'/'.join(CAPTION_LISTS)} with {'/'.join(VIDEO_LISTS)})"))


def _first_shard(root: Path) -> Path | None:
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.endswith((".tar", ".parquet")):
                return Path(folder) / name
    return None


def _unread_lists(dataset: Dataset, names: set[str], why: str) -> None:
    for name in (*CAPTION_LISTS, *VIDEO_LISTS):
        if name in names:
            dataset.unread.append(LayoutNote(dataset.root / name, f"{why} and never this list"))


def _load_lists(dataset: Dataset, names: set[str], realpath: RealPaths) -> None:
    root = dataset.root
    settings = dataset.settings
    for column, configured, valid, kind in (("caption_column", settings.caption_column, CAPTION_LISTS, "caption"),
                                            ("video_column", settings.video_column, VIDEO_LISTS, "video")):
        # the trainer tests `.exists()`; a list that is no regular file is read by nobody here
        present = [name for name in valid if name in names and (root / name).is_file()]
        if configured:
            present = [configured] if (root / configured).is_file() else []
        if not present:
            dataset.missing.append((column, configured or valid[-1], root))
            continue
        if len(present) > 1:
            dataset.stops.append(LayoutNote(root / present[1], f"ValueError: Multiple {kind} files found in {root}. "
                                                               f"Must have exactly one of {list(valid)} "
                                                               f"({', '.join(present)})"))
        manifest = read_manifest(root / present[0], keep_blank=True)
        if kind == "caption":
            dataset.captions = manifest
        else:
            dataset.videos = manifest
    if dataset.videos is None or dataset.videos.error is not None:
        return
    captions = dataset.captions.entries if dataset.captions is not None and dataset.captions.error is None else ()
    root_s = os.fspath(root)
    for index, entry in enumerate(dataset.videos.entries):
        caption = captions[index] if index < len(captions) else None
        if not entry.text:
            # `root / ""` is the data root: the folder itself is handed to the video decoder
            dataset.stops.append(LayoutNote(entry.file, "a blank line: finetrainers takes the data root folder "
                                                        "itself as this clip and cannot decode it", line=entry.line))
            continue
        path = os.path.normpath(os.fspath(root / entry.text))  # pathlib's join: absolute lines stay absolute
        outside, st = realpath.place(path, root_s)
        dataset.clips.append(Clip(dataset, len(dataset.clips), path, entry, outside, None, st, caption))


def _load_pairs(dataset: Dataset, captions: list[Path], names: set[str], realpath: RealPaths) -> None:
    root = dataset.root
    root_s = os.fspath(root)
    paired: set[str] = set()
    for caption_file in captions:
        media = [caption_file.with_suffix(s) for s in PAIR_VIDEO_SUFFIXES if caption_file.with_suffix(s).exists()]
        if not media:
            continue
        paired.update(m.name for m in media)
        if len(media) > 1:
            dataset.stops.append(LayoutNote(caption_file, f"ValueError: Multiple data files found for caption file "
                                                          f"{caption_file}. Please ensure there is only one data "
                                                          f"file per caption file. "
                                                          f"({', '.join(m.name for m in media)})"))
        text = _pair_caption(dataset, caption_file)
        path = os.fspath(media[-1])  # the trainer keeps the last one it finds
        outside, st = realpath.place(path, root_s)
        dataset.clips.append(Clip(dataset, len(dataset.clips), path, None, outside, None, st,
                                  ManifestLine(caption_file, 1, text)))
    for name in sorted(names):
        if name.lower().endswith(PAIR_VIDEO_SUFFIXES) and name not in paired and (root / name).is_file():
            dataset.unread.append(LayoutNote(root / name, f"finetrainers pairs each clip with a caption file of "
                                                          f"its name: there is no {Path(name).stem}.txt, so "
                                                          f"{name} never trains"))


def _pair_caption(dataset: Dataset, caption_file: Path) -> str:
    """`open(filename).read().strip()`."""
    if not caption_file.is_file():  # a folder, a FIFO (opening one would wait forever)
        dataset.stops.append(LayoutNote(caption_file, "the caption file is not a regular file"))
        return ""
    try:
        return read_text(caption_file, MAX_LABEL_BYTES).strip()
    except BadDocument as exc:
        dataset.stops.append(LayoutNote(caption_file, f"the caption file cannot be read: {exc}"))
        return ""


def _load_metadata(dataset: Dataset, path: Path, realpath: RealPaths) -> None:
    """datasets' `videofolder`: a row per clip, `file_name` relative to the metadata's folder;
    finetrainers then reads `sample["caption"]` (after its `rename_columns`)."""
    try:
        if not path.is_file():  # a folder, a FIFO (opening one would wait forever)
            raise BadDocument("not a regular file")
        rows = _metadata_rows(path)
    except BadDocument as exc:
        dataset.stops.append(LayoutNote(path, f"datasets cannot read it: {exc}"))
        return
    renames = dataset.profile.options(dataset.settings).get("rename_columns") if dataset.profile else None
    renames = renames if isinstance(renames, dict) else {}
    columns: set[str] = set()
    for _, row in rows:
        columns.update(row)
    if rows and "file_name" not in columns:
        dataset.stops.append(LayoutNote(path, "ValueError: `file_name` or `*_file_name` must be present as "
                                              "dictionary key (with type string) in metadata files (datasets' "
                                              f"videofolder; the columns are {', '.join(sorted(columns))})"))
        return
    caption_key = next((k for k in columns if renames.get(k, k) == "caption"), None)
    if rows and caption_key is None:
        dataset.stops.append(LayoutNote(path, "KeyError: 'caption' (finetrainers reads each sample's "
                                              f"'caption'; the columns are {', '.join(sorted(columns))})"))
    root_s = os.fspath(dataset.root)
    for line, row in rows:
        name = row.get("file_name")
        if not isinstance(name, str) or not name:
            continue
        caption = row.get(caption_key) if caption_key else None
        text = "" if caption is None else str(caption)
        entry = ManifestLine(path, line, name)
        clip_path = os.path.normpath(os.path.join(os.fspath(path.parent), name))
        outside, st = realpath.place(clip_path, root_s)
        dataset.clips.append(Clip(dataset, len(dataset.clips), clip_path, entry, outside, None, st,
                                  ManifestLine(path, line, text)))


def _metadata_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line, row) for each row: CSV with a header, JSON Lines, or a JSON list of objects."""
    text = read_text(path, MAX_METADATA_BYTES)
    rows: list[tuple[int, dict[str, Any]]] = []
    if path.suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            start = 2
            for row in reader:
                rows.append((start, {k: v for k, v in row.items() if isinstance(k, str)}))
                start = reader.line_num + 1
        except csv.Error as exc:
            raise BadDocument(f"not CSV: {exc}") from None
        return rows
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                row = load_json(line)
                if not isinstance(row, dict):
                    raise BadDocument(f"line {number} is not a JSON object")
                rows.append((number, row))
        return rows
    data = load_json(text)
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        data = next(iter(data.values()))
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise BadDocument("not a JSON list of objects")
    return [(None, row) for row in data]  # type: ignore[misc]
