"""`cogvid-lint undo [DATA_ROOT] [--run RUN_ID]`: put back the originals a media fix replaced.

Without DATA_ROOT, the data roots the settings name (config file, launch scripts) are used,
else the current folder. Without --run, the last run that backed something up is undone
(run ids sort by start time); an older run is undone by naming it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cogvid_lint.errors import UsageError


def _data_roots(args: argparse.Namespace) -> list[Path]:
    if args.data_root:
        root = Path(args.data_root).resolve()
        if not root.is_dir():
            raise UsageError(f"{args.data_root}: not a folder")
        return [root]
    from cogvid_lint.settings import CliOptions, resolve_settings

    settings = resolve_settings(CliOptions(config=args.config))
    from cogvid_lint.discover.datasets import resolve_datasets

    return [ds.data_root for ds in resolve_datasets(settings)] or [Path.cwd()]


def _runs_with_backups(root: Path) -> list[str]:
    from cogvid_lint.fix.backup import Journal, backup_base, list_runs

    return [run for run in list_runs(root)
            if any(entry.get("state") in ("replaced", "start", "verified")
                   for entry in Journal(backup_base(root) / run).entries().values())]


def undo_command(args: argparse.Namespace) -> int:
    from cogvid_lint.fix.backup import shown
    from cogvid_lint.fix.recovery import undo_run

    roots = _data_roots(args)
    runs = {root: _runs_with_backups(root) for root in roots}
    if args.run:
        chosen = args.run
        if not any(chosen in found for found in runs.values()):
            known = sorted({run for found in runs.values() for run in found})
            raise UsageError(f"no fix run {chosen!r} with backups under {', '.join(map(str, roots))}"
                             + (f" (runs: {', '.join(known)})" if known else ""))
    else:
        every = [run for found in runs.values() for run in found]
        if not every:
            print(f"cogvid-lint: nothing to undo: no backups under {', '.join(map(str, roots))}", file=sys.stderr)
            return 1
        chosen = max(every)  # one fix run uses one id in every data root it touched
    problems = []
    for root in roots:
        if chosen not in runs[root]:
            continue
        restored, trouble = undo_run(root, chosen)
        for rel in restored:
            print(f"restored {shown(root / rel)} (from run {chosen})")
        problems += trouble
    for line in problems:
        print(f"cogvid-lint: error: {line}", file=sys.stderr)
    return 1 if problems else 0
