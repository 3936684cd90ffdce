"""`cogvid-lint cache clean [PATH]`: delete the probe cache that `check` would use for PATH."""

from __future__ import annotations

import argparse
import sys

from cogvid_lint.store import clean, store_folder
from cogvid_lint.settings import CliOptions, resolve_settings


def clean_command(args: argparse.Namespace) -> int:
    extra = {"cache_dir": args.cache_dir} if args.cache_dir else {}
    settings = resolve_settings(CliOptions(paths=(args.path,), config=args.config, extra=extra))
    folder = store_folder(settings)
    removed = clean(folder)
    if removed:
        print(f"Removed the probe cache {folder} ({len(removed)} files).", file=sys.stderr)
    else:
        print(f"No probe cache at {folder}.", file=sys.stderr)
    return 0
