"""Benchmark: what an unchanged re-lint costs per clip, as a share of a cold run's.

    python bench/warm_bench.py [--small 1000] [--large 3000] [--rounds 3] [--jobs 0] [--scale 7.5]

On the probe bench's corpus (bench/corpus/, real small clips of mixed containers; built by
probe_bench.build_corpus when missing), two datasets of --small and --large clips are linted
by the installed `cogvid-lint`, several rounds, medians (with --scale S, the clips' sizes times
S under bench/corpus-xS/, as probe_bench makes them: 7.5 is CogVideoX's 480x720, clips of
the size a fine-tune really holds, whose cold probe costs what it costs on a real dataset):
- cold: a fresh store (nothing derived yet), on --jobs workers (0: every CPU);
- warm: the same command again, nothing changed;
- warm, other command line and environment: the same project with another output format,
  another `--fail-on`, and a variable added to the environment (nothing may depend on a
  record of the last run: the store answers by each clip's stat key).
Per-clip cost is the slope between the two sizes, (t_large - t_small) / (large - small), so
start-up and other fixed costs drop out. Printed: each figure, and warm / cold per clip
(target: <= 10%), in wall-clock time and in CPU time (the command's and every process it
waited for: the probe workers). On a shared machine the CPU figures are the steadier: a cold
run's two workers lose more wall time to a neighbour than a warm run's one process does.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import probe_bench  # noqa: E402  (the corpus and the installed command)


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and the processes it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([probe_bench.cogvid_lint(), *args], cwd=probe_bench.CORPUS, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"cogvid-lint failed ({proc.returncode}): {proc.stderr}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1, help="clip sizes times this (7.5: 480x720 training size)")
    opts = parser.parse_args()
    if opts.scale != 1:
        probe_bench.use_scale(opts.scale)
    probe_bench.build_corpus(opts.large)
    paths = [probe_bench.clip_path(i).relative_to(probe_bench.CORPUS).as_posix() for i in range(opts.large)]
    env = probe_bench.CLI_ENV
    other_env = {**env, "COGVID_WARM_BENCH_OTHER": "1"}
    times: dict[tuple[str, int], list[tuple[float, float]]] = {}
    kinds = ("cold", "warm", "warm, other command line and environment")
    with tempfile.TemporaryDirectory() as scratch:
        for n in (opts.small, opts.large):
            data = probe_bench.write_dataset(f"-warm{n}", paths[:n])
            for round_ in range(opts.rounds):
                store = Path(scratch) / f"store-{n}-{round_}"
                common = [*data, *probe_bench.TRAIN, "-j", str(opts.jobs), "--cache-dir", str(store)]
                times.setdefault((kinds[0], n), []).append(_run([*common, "--output-format", "json"], env))
                times.setdefault((kinds[1], n), []).append(_run([*common, "--output-format", "json"], env))
                times.setdefault((kinds[2], n), []).append(
                    _run([*common, "--output-format", "concise", "--fail-on", "error"], other_env))
                shutil.rmtree(store)
    span = opts.large - opts.small
    # The machine is shared: the median says what is typical, the best round what the work
    # costs when nothing else runs; both are printed.
    for label, pick in (("medians", statistics.median), ("best rounds", min)):
        print(f"{opts.small} and {opts.large} clips ({probe_bench.CORPUS.name}, training size "
              f"{probe_bench.TRAIN[1]}), {opts.rounds} rounds, -j {opts.jobs}, {label}:")
        for measure, index in (("wall", 0), ("CPU", 1)):
            per_clip = {}
            for kind in kinds:
                small, large = (pick(t[index] for t in times[kind, n]) for n in (opts.small, opts.large))
                per_clip[kind] = (large - small) / span
                print(f"  {measure:<4} {kind:<42} {small:6.2f} s / {large:6.2f} s   per clip {per_clip[kind] * 1e3:7.3f} ms")
            for kind in kinds[1:]:
                print(f"  {measure:<4} {kind} / cold, per clip (start-up excluded): "
                      f"{per_clip[kind] / per_clip['cold']:.1%}  (target <= 10%)")


if __name__ == "__main__":
    main()
