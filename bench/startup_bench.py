"""Benchmark: the pre-commit code hook (`cogvid-lint-code`) on one small file, start-up included.

    python bench/startup_bench.py [--rounds 15]

Builds a small project in a temporary folder (a training script, a pyproject.toml with a
[tool.cogvid-lint] table and a .pre-commit-config.yaml: what a real repository has) and
times, as fresh processes alternating in the same run, medians:
- `python -c pass`: the interpreter's own start-up, the floor;
- the hook's command (`cogvid-lint check --select CVL4 --output-format concise FILE`, the
  entry of `.pre-commit-hooks.yaml`) warm: catalogue and config remembered, file unchanged
  (the facts come from the store);
- the same on a file edited since (what a commit brings the hook: the run is done again);
- the same with a fresh user cache (first run after installing or upgrading);
- `ruff check --select I FILE` when ruff is installed, for scale.
The commands are run from this interpreter's bin folder (a venv or pyenv's version folder),
not through a shim on PATH (pyenv's shims add ~0.1 s of bash per call). Target: < 0.25 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOOK = ["check", "--select", "CVL4", "--output-format", "concise"]
TRAIN = """import os

import decord
import torch
from torch.utils.data import Dataset


class Clips(Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __getitem__(self, i):
        return decord.VideoReader(self.paths[i])
"""


# As installed by pip, which compiles every module: a PYTHONDONTWRITEBYTECODE in the
# caller's environment would make each run compile cogvid-lint's modules again.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        (root / "train.py").write_text(TRAIN)
        (root / "pyproject.toml").write_text('[tool.cogvid-lint]\nignore = ["CVL403"]\n\n[tool.ruff]\nline-length = 100\n')
        (root / ".pre-commit-config.yaml").write_text(
            "repos:\n- repo: https://github.com/astral-sh/ruff-pre-commit\n  rev: v0.6.0\n  hooks:\n"
            "  - id: ruff\n    args: [--select, I]\n")
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        warm_env = {**ENV, "COGVID_LINT_CACHE_HOME": str(Path(tmp) / "user-cache")}
        cogvid = [tool("cogvid-lint"), *HOOK, "train.py"]
        for _ in range(2):  # prime: the catalogue and config remembered, then the run itself
            subprocess.run(cogvid, cwd=root, env=warm_env, stdout=subprocess.DEVNULL, check=False)
        runs = {
            "python -c pass": lambda: timed([sys.executable, "-c", "pass"], root, warm_env),
            "cogvid-lint-code, warm": lambda: timed(cogvid, root, warm_env),
            "cogvid-lint-code, file edited": lambda: (edit(root / "train.py"), timed(cogvid, root, warm_env))[1],
            "cogvid-lint-code, fresh user cache": lambda: _fresh(cogvid, root, tmp),
        }
        ruff = shutil.which("ruff") or (tool("ruff") if Path(tool("ruff")).exists() else None)
        if ruff:
            runs["ruff check --select I"] = lambda: timed([ruff, "check", "--no-cache", "--select", "I",
                                                          "train.py"], root, warm_env)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(opts.rounds):
            for name, fn in runs.items():
                times[name].append(fn())
    print(f"{opts.rounds} rounds, medians (best), seconds wall, start-up included")
    for name, values in times.items():
        print(f"  {name:36} {statistics.median(values):6.3f}  ({min(values):.3f})")
    for case in ("warm", "file edited"):
        wall = statistics.median(times[f"cogvid-lint-code, {case}"])
        print(f"target: cogvid-lint-code on one small file < 0.25 s, {case}: {wall:.3f} s "
              f"({'met' if wall < 0.25 else 'NOT met'})")


def edit(path: Path) -> None:
    """What a commit brings the hook: a file that changed (so its run is not replayed)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("# edited\n")


def _fresh(cmd: list[str], root: Path, tmp: str) -> float:
    folder = tempfile.mkdtemp(dir=tmp)
    try:
        return timed(cmd, root, {**ENV, "COGVID_LINT_CACHE_HOME": folder})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
