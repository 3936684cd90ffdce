"""Benchmark: the code rules (CVL400-CVL403) over a large tree vs `ruff check --select I`.

    python bench/ast_bench.py [TREE] [--rounds N]

TREE defaults to the installed torch package (found without importing it). Both tools
run as fresh processes on the same tree, in the same run, alternating, several rounds;
the medians and their ratio are printed. cogvid-lint also gets an in-process timing of
discovery + the four checks (no interpreter start-up), and a count of files parsed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def default_tree() -> Path | None:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


CPU: dict[str, list[float]] = {"ours": [], "ruff": []}


def run(cmd: list[str], cwd: Path, who: str) -> tuple[float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[who].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed, proc


def in_process(tree: Path) -> tuple[float, int, int]:
    sys.path.insert(0, str(REPO))
    from cogvid_lint.discover.project import Project, PythonFile
    from cogvid_lint.python.graph import may_reach_decord
    from cogvid_lint.registry import RuleContext, load_checks

    checks = load_checks()
    keys = ["python.syntax_error", "python.decord_before_torch", "python.unguarded_decord_import",
            "python.transitive_decord_before_torch"]
    start = time.perf_counter()
    project = Project(root=tree, settings=None)
    paths = []
    for folder, dirs, files in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        paths.extend(Path(folder) / f for f in sorted(files) if f.endswith(".py"))
    project.python_files = [PythonFile(p, project) for p in paths]
    findings = 0
    for key in keys:
        ctx = RuleContext(params={}, project=project)
        for file in project.python_files:
            findings += sum(1 for _ in checks[key](file, ctx))
    elapsed = time.perf_counter() - start
    parsed = len(project.memo("python.parsed", dict))
    assert may_reach_decord(project) is not None
    return elapsed, len(paths), parsed + 0 * findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", nargs="?", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tree = args.tree or default_tree()
    if tree is None or not tree.is_dir():
        parser.error("torch is not installed: pass a tree of .py files to lint")
    tree = tree.resolve()
    ruff = shutil.which("ruff")
    n_files = sum(1 for _ in tree.rglob("*.py"))
    lines = 0
    for p in tree.rglob("*.py"):
        with p.open("rb") as h:
            lines += sum(1 for _ in h)
    print(f"tree: {tree}  ({n_files} .py files, {lines:,} lines, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f})")

    ours_cmd = [sys.executable, "-m", "cogvid_lint", "check", str(tree), "--select", "CVL4",
                "--output-format", "json", "--exit-zero"]
    ruff_cmd = [ruff, "check", "--select", "I", "--isolated", "--no-cache", "--exit-zero", "--silent", str(tree)] if ruff else None
    env_cwd = REPO
    ours, theirs = [], []
    diags = None
    for _ in range(args.rounds):
        t, proc = run(ours_cmd, env_cwd, "ours")
        if proc.returncode not in (0, 1):
            print(proc.stderr, file=sys.stderr)
            return 2
        ours.append(t)
        try:
            diags = len(json.loads(proc.stdout)["diagnostics"])
        except (ValueError, KeyError):
            diags = None
        if ruff_cmd:
            t, _ = run(ruff_cmd, env_cwd, "ruff")
            theirs.append(t)
    ip_time, ip_files, ip_parsed = in_process(tree)
    ours_ms = statistics.median(ours) * 1000
    print(f"cogvid-lint --select CVL4 (process, start-up included): median {ours_ms:7.0f} ms over {args.rounds} rounds"
          f"  [{', '.join(f'{t*1000:.0f}' for t in ours)}]  cpu {statistics.median(CPU['ours'])*1000:.0f} ms"
          f"  findings: {diags}")
    print(f"cogvid-lint checks in-process (discovery + 4 checks):    {ip_time*1000:7.0f} ms, "
          f"{ip_files} files, {ip_parsed} parsed")
    if theirs:
        ruff_ms = statistics.median(theirs) * 1000
        print(f"ruff check --select I (--no-cache --silent):             median {ruff_ms:7.0f} ms"
              f"  [{', '.join(f'{t*1000:.0f}' for t in theirs)}]  cpu {statistics.median(CPU['ruff'])*1000:.0f} ms"
              " (multi-threaded)")
        print(f"ratio cogvid-lint / ruff: {ours_ms / ruff_ms:.2f}  (target: <= 1.00)")
    else:
        print("ruff not found on PATH: `pip install ruff` to compare")
    return 0


if __name__ == "__main__":
    sys.exit(main())
