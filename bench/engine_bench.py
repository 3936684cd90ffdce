"""Benchmark: the local engine (this machine's worker pool) against `--engine ray` on one
machine, same corpus, one run: each engine's fixed cost and per-clip cost.

    python bench/engine_bench.py [--clips 160] [--small 16] [--rounds 3]

Makes (once) --clips real clips of 640x360, 97 frames at 24 fps, under bench/corpus-engine/
(git-ignored). Two stage sets: the probe alone (the default rules) and the probe plus the
content stage (`--extend-select CVL5`: each clip's 49 sampled frames decoded). Engines are
interleaved round by round (the machine is shared: only ratios measured in one run mean
anything); medians.

Per clip: through `cli.main` in this process, on --small clips and on all of them, with one
local Ray instance up the whole time (Ray's start-up varies by seconds between runs, more than
probing 100 clips costs): (T(all) - T(small)) / (all - small). Fixed: the installed
`cogvid-lint` on --small clips, as a user runs it (`--no-cache`; for Ray, a local instance
started and stopped by the run), less --small x per clip. Every pair of runs is checked to
print byte-identical JSON. Last, a warm run (everything in the store, nothing probed): the
driver's own per-clip work, which does not spread over machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from clips import make_clip  # noqa: E402

CORPUS = REPO / "bench" / "corpus-engine"
GENERATION = "1"
COMMAND = str(Path(sys.executable).parent / "cogvid-lint")
STAGES = {"probe": [], "probe+content": ["--extend-select", "CVL5"]}


def corpus(n: int) -> list[Path]:
    videos = CORPUS / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    stamp = CORPUS / "GENERATION"
    fresh = stamp.exists() and stamp.read_text() == GENERATION
    paths = []
    for i in range(n):
        path = videos / f"clip{i:05d}.mp4"
        if not fresh or not path.exists():
            if i % 16 == 0:
                print(f"making clips {i}..{min(i + 16, n) - 1} of {n} ...", file=sys.stderr)
            # a white block placed by the index: no two clips alike
            make_clip(path, width=640, height=360, frames=97, fps=24, marker=(8 * (i % 70), 8 * (i // 70 % 40), 8),
                      gop=24)
        paths.append(path)
    stamp.write_text(GENERATION)
    return paths


def dataset(paths: list[Path], folder: Path) -> Path:
    """A data root holding `paths` (hard links where the file system allows: a clip outside
    its data root is not probed) and listing them."""
    import shutil

    (folder / "videos").mkdir(parents=True, exist_ok=True)
    for path in paths:
        try:
            os.link(path, folder / "videos" / path.name)
        except OSError:
            shutil.copyfile(path, folder / "videos" / path.name)
    (folder / "videos.txt").write_text("".join(f"videos/{p.name}\n" for p in paths))
    (folder / "prompts.txt").write_text("".join(f"a clip of a white block moving, number {i}\n"
                                                for i in range(len(paths))))
    return folder


def run(root: Path, engine: str, stage: str, cache: str | None = None) -> tuple[float, bytes]:
    args = [COMMAND, "--data-root", str(root), "--output-format", "json", "--engine", engine,
            "--train-resolution", "49x480x720", *STAGES[stage]]
    args += ["--cache-dir", cache] if cache else ["--no-cache"]
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, cwd=root)
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    # every clip probed: each is 16:9, stretched to 3:2 (CVL105)
    clips = len((root / "videos.txt").read_text().split())
    if proc.stdout.count(b'"code": "CVL105"') != clips:
        sys.exit(f"{' '.join(args)}: not every clip was probed: {proc.stderr.decode()[-2000:]}")
    return took, proc.stdout


def in_process(root: Path, engine: str, stage: str) -> tuple[float, bytes]:
    """The same run as `run`, through cli.main in this process: with Ray already connected,
    the Ray engine uses that instance (no start-up in the time)."""
    import contextlib
    import io

    from cogvid_lint.cli import main as lint

    argv = ["--data-root", str(root), "--output-format", "json", "--engine", engine, "--no-cache",
            "--train-resolution", "49x480x720", *STAGES[stage]]
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = lint(argv)
        took = time.perf_counter() - start
    finally:
        os.chdir(cwd)
    if code not in (0, 1):
        sys.exit(f"in-process {engine} {stage} failed ({code}): {err.getvalue()[-2000:]}")
    return took, out.getvalue().encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=160)
    parser.add_argument("--small", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        import ray
    except ImportError:
        sys.exit("needs Ray: pip install -e '.[ray]'")
    paths = corpus(args.clips)
    sizes = {"small": args.small, "all": args.clips}
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    outputs: dict[tuple[str, str], set[bytes]] = {}
    with tempfile.TemporaryDirectory(dir=CORPUS) as tmp:  # beside the corpus: hard links work
        roots = {name: dataset(paths[:n], Path(tmp) / name) for name, n in sizes.items()}
        # 1. Whole commands on the small corpus, as a user runs them: start-up included (for
        # Ray: a local instance started and stopped by each run)
        whole: dict[tuple[str, str], list[float]] = {}
        for r in range(args.rounds):
            for stage in STAGES:
                for engine in (("local", "ray") if r % 2 == 0 else ("ray", "local")):
                    took, out = run(roots["small"], engine, stage)
                    whole.setdefault((engine, stage), []).append(took)
                    outputs.setdefault((stage, "small"), set()).add(out)
                    print(f"round {r + 1}: command {engine:5} {stage:13} {args.small:4} clips {took:6.2f} s",
                          file=sys.stderr)
        # 2. The per-clip cost, in this process with Ray up (its start-up varies by seconds
        # from run to run on a shared machine, more than the probe of 100 clips costs)
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="warning")
        inside: dict[tuple[str, str, str], list[float]] = {}
        try:
            for stage in STAGES:  # Ray's workers started and their imports done: not timed
                in_process(roots["small"], "ray", stage)
            for r in range(args.rounds):
                for stage in STAGES:
                    for size in sizes:
                        for engine in (("local", "ray") if r % 2 == 0 else ("ray", "local")):
                            took, out = in_process(roots[size], engine, stage)
                            inside.setdefault((engine, stage, size), []).append(took)
                            outputs.setdefault((stage, size), set()).add(out)
                            print(f"round {r + 1}: in-process {engine:5} {stage:13} {sizes[size]:4} clips "
                                  f"{took:6.2f} s", file=sys.stderr)
        finally:
            ray.shutdown()
        # 3. Warm: the store holds every answer; the run is the driver's own work (stat,
        # store, rules, report), the part that does not spread over machines
        warm = {}
        for size in sizes:
            cache = str(Path(tmp) / f"store-{size}")
            run(roots[size], "local", "probe+content", cache)
            warm[size] = statistics.median(run(roots[size], engine, "probe+content", cache)[0]
                                           for engine in ("local", "ray", "local"))

    n_small, n_all = args.small, args.clips
    print(f"\n{n_all} clips of 640x360, 97 frames, 49 decoded each; {cpus} CPUs; medians of {args.rounds} rounds, "
          f"engines interleaved\n")
    print(f"{'engine':6}  {'stages':13}  {'fixed (s)':>9}  {'per clip (ms)':>13}  {'CPU-s per clip':>14}")
    figures = {}
    for stage in STAGES:
        for engine in ("local", "ray"):
            per_clip = (statistics.median(inside[engine, stage, "all"])
                        - statistics.median(inside[engine, stage, "small"])) / (n_all - n_small)
            fixed = statistics.median(whole[engine, stage]) - n_small * per_clip
            figures[engine, stage] = (fixed, per_clip)
            print(f"{engine:6}  {stage:13}  {fixed:9.2f}  {per_clip * 1000:13.1f}  {per_clip * cpus:14.3f}")
    print()
    for stage in STAGES:
        (lf, lc), (rf, rc) = figures["local", stage], figures["ray", stage]
        extra = rf - lf
        # n clips on M machines like this one: local lf + n lc, ray rf + n rc / M (the driver's
        # own per-clip work, the warm figure below, is far below either here)
        even = ", ".join(f"{m} machine{'s' if m > 1 else ''}: {extra / (lc - rc / m):.0f} clips" if lc > rc / m
                         else f"{m} machine{'s' if m > 1 else ''}: never" for m in (1, 2, 4, 16))
        print(f"{stage:13}  ray/local: fixed {rf / max(lf, 1e-3):.1f}x (+{extra:.1f} s), per clip {rc / lc:.2f}x; "
              f"ray is faster past ({even})")
    warm_clip = (warm["all"] - warm["small"]) / (n_all - n_small)
    print(f"warm re-run (every answer stored, nothing probed: the driver's own work, either engine): "
          f"fixed {warm['small'] - n_small * warm_clip:.2f} s, per clip {warm_clip * 1000:.1f} ms")
    same = all(len(outs) == 1 for outs in outputs.values())
    print(f"JSON byte-identical between engines, every run: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
