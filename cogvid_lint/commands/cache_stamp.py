"""`cogvid-lint cache stamp [DATA_ROOT]`: write the content stamp the cache rules compare against.

Settings resolve exactly as for `cogvid-lint check --data-root DATA_ROOT` (command line >
config file > launch scripts > defaults), so the stamp covers the model and resolution
folder that check judges.
"""

from __future__ import annotations

import argparse
import sys

from cogvid_lint.cache_layout import latent_folder
from cogvid_lint.cache_stamp import build_stamp, file_key, write_stamp
from cogvid_lint.config_files import DATASET_KEYS
from cogvid_lint.discover.dataset import load_dataset
from cogvid_lint.discover.datasets import resolve_datasets
from cogvid_lint.errors import UsageError
from cogvid_lint.remote.urls import is_remote, to_url
from cogvid_lint.settings import CliOptions, resolve_settings


def stamp_command(args: argparse.Namespace) -> int:
    settings = resolve_settings(CliOptions(
        config=args.config,
        data_roots=(args.data_root,) if args.data_root else (),
        dataset={key: getattr(args, key) for key in DATASET_KEYS if getattr(args, key, None) is not None},
    ))
    datasets = resolve_datasets(settings)
    if not datasets:
        raise UsageError("no dataset found: give DATA_ROOT, or set data-root in the config")
    status = 0
    for ds in datasets:
        if is_remote(ds.data_root):  # a stamp records local files' ages: an object's are its upload's
            print(f"cogvid-lint: error: {to_url(ds.data_root)}: cache stamp needs a local data root", file=sys.stderr)
            status = 1
            continue
        if not ds.data_root.is_dir():
            print(f"cogvid-lint: error: {ds.data_root}: data root not found", file=sys.stderr)
            status = 1
            continue
        dataset = load_dataset(ds)
        if not dataset.clips:
            print(f"cogvid-lint: error: {ds.data_root}: no clips listed (the video list is missing, unreadable or "
                  "empty): nothing to stamp", file=sys.stderr)
            status = 1
            continue
        built = build_stamp(dataset)
        if built is None:
            print(f"cogvid-lint: error: {ds.data_root}: unknown model {ds.model!r} and no train-resolution: "
                  "cannot tell which cache folder to stamp", file=sys.stderr)
            status = 1
            continue
        stamp, summary = built
        folder = file_key(latent_folder(ds.data_root, stamp.model, ds.resolution), ds.data_root)
        if not stamp.clips:
            why = (f"all {summary.skipped_stale} are older than their clips" if summary.skipped_stale
                   else "run the precompute first")
            print(f"cogvid-lint: error: {ds.data_root}: no listed clip has a cache entry in {folder} to stamp "
                  f"({why})", file=sys.stderr)
            status = 1
            continue
        path = write_stamp(stamp, ds.data_root)
        print(f"Stamped {summary.clips} clip{'s' if summary.clips != 1 else ''} "
              f"({summary.entries} cache entr{'y' if summary.entries == 1 else 'ies'}) "
              f"for {stamp.model} {stamp.resolution}: {path}")
        if summary.skipped_stale:
            n = summary.skipped_stale
            what = "1 entry is older than its clip" if n == 1 else f"{n} entries are older than their clips"
            print(f"cogvid-lint: warning: {what} and not stamped: stale-latent keeps reporting "
                  f"{'it' if n == 1 else 'them'} (delete, precompute, stamp again)", file=sys.stderr)
    return status
