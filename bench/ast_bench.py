"""Benchmark: the code rules (CVL400-CVL403) over a large tree vs `ruff check --select I`.

    python bench/ast_bench.py [TREE] [--rounds N]

TREE defaults to the installed torch package (found without importing it), else to an
extracted copy at /tmp/torchtree/torch. Both tools run as fresh processes on the same
tree, in the same run, alternating, several rounds; medians and ratios are printed:
- cold: cogvid-lint with an empty cache folder each round (so it parses, and writes the
  cache, as a first run does) vs ruff without its cache;
- warm: cogvid-lint again on the unchanged tree with the cache primed (target: 0.3 s
  wall, start-up included): the facts come from the store;
- warm, not replayed: the same with an environment the record does not know, so the run
  is done again from the code-facts cache (what a run after an edit costs);
- in-process, no interpreter start-up: `main()` cold and warm, and the code rules' own
  warm work (discovery + facts from the cache + the four checks; target <= 0.1 s).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXTRACTED = Path("/tmp/torchtree/torch")
WARM_TARGET_S = 0.3
WARM_WORK_TARGET_S = 0.1


def default_tree() -> Path | None:
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return EXTRACTED if EXTRACTED.is_dir() else None


CPU: dict[str, list[float]] = {}


# As installed by pip, which compiles every module: a PYTHONDONTWRITEBYTECODE in the
# caller's environment would make each run compile cogvid-lint's modules again.
CLI_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], cwd: Path, who: str, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env or CLI_ENV)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(who, []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed, proc


def _main_args(tree: Path, cache: Path) -> list[str]:
    return ["check", str(tree), "--select", "CVL4", "--output-format", "json", "--exit-zero", "--cache-dir", str(cache)]


def in_process(tree: Path, scratch: Path, rounds: int) -> dict[str, float]:
    """Medians of main() cold / warm, and of the code rules' warm work alone."""
    sys.path.insert(0, str(REPO))
    from cogvid_lint.cli import main
    from cogvid_lint.discover import discover
    from cogvid_lint.registry import RuleContext, load_checks
    from cogvid_lint.settings import CliOptions, resolve_settings

    def timed_main(cache: Path) -> float:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            main(_main_args(tree, cache))
        return time.perf_counter() - start

    cold = [timed_main(scratch / f"ip-cold-{i}") for i in range(rounds)]
    warm_cache = scratch / "ip-cold-0"
    warm = [timed_main(warm_cache) for _ in range(rounds)]
    checks = load_checks(["python"])
    keys = ["python.syntax_error", "python.decord_before_torch", "python.unguarded_decord_import",
            "python.transitive_decord_before_torch"]
    settings = resolve_settings(CliOptions(paths=(str(tree),), extra={"cache_dir": str(warm_cache)}))
    work = []
    for _ in range(rounds):
        start = time.perf_counter()
        project = discover(settings, datasets=False)
        for key in keys:
            ctx = RuleContext(params={}, project=project, settings=settings)
            for file in project.python_files:
                for _finding in checks[key](file, ctx):
                    pass
        work.append(time.perf_counter() - start)
    read = len(project.memo("python.facts", lambda: None).read)
    return {"cold": statistics.median(cold), "warm": statistics.median(warm), "work": statistics.median(work),
            "files": len(project.python_files), "read": read}


def _ms(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:6.0f} ms  [{', '.join(f'{t * 1000:.0f}' for t in times)}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", nargs="?", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tree = args.tree or default_tree()
    if tree is None or not tree.is_dir():
        parser.error(f"torch is not installed and {EXTRACTED} is absent: pass a tree of .py files to lint")
    tree = tree.resolve()
    ruff = shutil.which("ruff")
    n_files = sum(1 for _ in tree.rglob("*.py"))
    lines = 0
    for p in tree.rglob("*.py"):
        with p.open("rb") as h:
            lines += sum(1 for _ in h)
    print(f"tree: {tree}  ({n_files} .py files, {lines:,} lines, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f})")

    ruff_cmd = [ruff, "check", "--select", "I", "--isolated", "--no-cache", "--exit-zero", "--silent", str(tree)] if ruff else None
    scratch = Path(tempfile.mkdtemp(prefix="ast-bench-"))
    try:
        return _measure(tree, scratch, ruff_cmd, args.rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _measure(tree: Path, scratch: Path, ruff_cmd: list[str] | None, rounds: int) -> int:
    ours = [sys.executable, "-m", "cogvid_lint"]
    cold, warm, unreplayed, theirs = [], [], [], []
    outputs = {}
    for i in range(rounds):
        cache = scratch / f"cold-{i}"  # empty: this round parses and writes the cache
        for who, times in (("cold", cold), ("settle", []), ("warm", warm), ("unreplayed", unreplayed)):
            # settle: the cold run made the cache folder it had found absent, so its record
            # cannot match; this one's does, and "warm" replays it
            env = {**CLI_ENV, "COGVID_LINT_BENCH_ROUND": f"{i}"} if who == "unreplayed" else None
            t, proc = run(ours + _main_args(tree, cache), REPO, who, env)
            if proc.returncode not in (0, 1):
                print(proc.stderr, file=sys.stderr)
                return 2
            times.append(t)
            outputs[who] = proc.stdout
        if ruff_cmd:
            t, _ = run(ruff_cmd, REPO, "ruff")
            theirs.append(t)
    same = outputs["cold"] == outputs["warm"] == outputs["unreplayed"]
    try:
        diags = len(json.loads(outputs["cold"])["diagnostics"])
    except (ValueError, KeyError):
        diags = None
    ip = in_process(tree, scratch, rounds)
    cold_ms = statistics.median(cold) * 1000
    print(f"cogvid-lint --select CVL4 cold (process, empty cache): {_ms(cold)}  cpu "
          f"{statistics.median(CPU['cold']) * 1000:.0f} ms  findings: {diags}")
    print(f"cogvid-lint --select CVL4 warm (process, primed cache): {_ms(warm)}  cpu "
          f"{statistics.median(CPU['warm']) * 1000:.0f} ms  (target: < {WARM_TARGET_S * 1000:.0f} ms)"
          f"  same JSON as cold: {same}")
    print(f"cogvid-lint --select CVL4 warm, not replayed (facts cache): {_ms(unreplayed)}  cpu "
          f"{statistics.median(CPU['unreplayed']) * 1000:.0f} ms")
    print(f"in-process main() (no start-up): cold {ip['cold'] * 1000:.0f} ms, warm {ip['warm'] * 1000:.0f} ms")
    print(f"in-process warm work (discovery + facts + 4 checks): {ip['work'] * 1000:.0f} ms for {ip['files']} files,"
          f" {ip['read']} read  (target: <= {WARM_WORK_TARGET_S * 1000:.0f} ms)")
    if theirs:
        ruff_ms = statistics.median(theirs) * 1000
        print(f"ruff check --select I (--no-cache --silent):           {_ms(theirs)}  cpu "
              f"{statistics.median(CPU['ruff']) * 1000:.0f} ms (multi-threaded)")
        print(f"ratio cogvid-lint cold / ruff: {cold_ms / ruff_ms:.2f}  (target: <= 1.00)")
    else:
        print("ruff not found on PATH: `pip install ruff` to compare")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
