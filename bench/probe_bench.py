"""Benchmark: cogvid-lint's clip probing vs a loop of `ffprobe` processes and a `decord` loop.

    python bench/probe_bench.py --clips N [--rounds 3] [--baseline-max 400] [--manifest-lines 100000] [--scale 7.5]

Generates (or reuses) N small real clips of mixed containers, sizes, rotations, audio,
variable frame rate and truncation under bench/corpus/ (git-ignored; with --scale S, sizes
times S under bench/corpus-xS/: 7.5 gives CogVideoX's 480x720 training size), then times, several
rounds, medians: the installed `cogvid-lint` cold (--no-cache) on 1 job and on all CPUs,
warm (nothing changed), warm after a caption edit (the run is
done again from the probe cache), the probe pool in-process on 1 and 2 jobs, a loop of `ffprobe`
subprocesses (Debian's ffmpeg; `apt-get install -y ffmpeg` when it is absent) and a loop
of `decord.VideoReader(path)` + `len`. The ffprobe and decord loops run on the first
--baseline-max clips (every kind equally often). cogvid-lint's times include interpreter start-up.
Answers are compared with what decord (the trainer's reader) really gives.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(REPO / "tests"))
from clips import make_clip  # noqa: E402  (imports av before anything imports decord)

CORPUS = REPO / "bench" / "corpus"
GENERATION = "4"  # bump when KINDS change: the corpus is rebuilt
# Mostly clips a 49x64x96 training run accepts (display 3:2, 49 frames, 8 fps) in every
# container, through rotation, audio and Matroska's missing frame counts; one kind in five
# has a real problem (truncated, variable frame rate, too short, another frame rate).
# (suffix, make_clip kwargs, keep this share of the bytes or None)
KINDS = [
    (".mp4", {"width": 96, "height": 64}, None),
    (".webm", {"width": 96, "height": 64}, None),
    (".mkv", {"width": 120, "height": 80, "audio_seconds": 8.0}, None),
    (".mov", {"width": 64, "height": 96, "rotation": 90}, None),
    (".avi", {"width": 96, "height": 64}, None),
    (".mp4", {"width": 96, "height": 64, "vfr": True}, None),
    (".mp4", {"width": 96, "height": 64, "faststart": True}, 0.6),
    (".mkv", {"width": 144, "height": 96}, None),
    (".mp4", {"width": 64, "height": 96, "rotation": 270, "audio_seconds": 1.0}, None),
    (".webm", {"width": 120, "height": 80, "frames": 33, "fps": 24}, None),
]
TRAIN = ["--train-resolution", "49x64x96"]
N_CLIPS = 0  # the corpus size of this run (its list files are named by it)
SCALE = 1  # --scale: every size times this (7.5: CogVideoX's own 480x720), in bench/corpus-x<S>/


def _scaled(kwargs: dict) -> dict:
    return {**kwargs, "width": round(kwargs["width"] * SCALE / 2) * 2, "height": round(kwargs["height"] * SCALE / 2) * 2}


def clip_path(i: int) -> Path:
    return CORPUS / "videos" / f"clip{i:05d}{KINDS[i % len(KINDS)][0]}"


def _make(i: int) -> None:
    _, kwargs, keep = KINDS[i % len(KINDS)]
    kwargs = _scaled(kwargs)
    path = clip_path(i)
    tmp = path.with_name("tmp-" + path.name)
    # a white block placed by the index: no two clips alike (else the duplicate-content
    # rule hashes every clip on every run)
    cols, rows = kwargs["width"] - 4, kwargs["height"] - 4
    block = (i // len(KINDS)) % (cols * rows)
    make_clip(tmp, **{"frames": 49, "fps": 8, "marker": (block % cols, block // cols, 4), **kwargs})
    if keep is not None:
        data = tmp.read_bytes()
        tmp.write_bytes(data[: int(len(data) * keep)])
    os.replace(tmp, path)


def build_corpus(n: int) -> list[Path]:
    stamp = CORPUS / "GENERATION"
    if stamp.exists() and stamp.read_text() != GENERATION:
        shutil.rmtree(CORPUS)
    (CORPUS / "videos").mkdir(parents=True, exist_ok=True)
    stamp.write_text(GENERATION)
    missing = [i for i in range(n) if not clip_path(i).exists()]
    if missing:
        print(f"generating {len(missing)} clips under {CORPUS} ...", file=sys.stderr)
        import multiprocessing

        with multiprocessing.get_context("fork").Pool() as pool:
            pool.map(_make, missing, chunksize=16)
    paths = [clip_path(i) for i in range(n)]
    write_dataset(f"-{n}", [p.relative_to(CORPUS).as_posix() for p in paths])
    return paths


def write_dataset(tag: str, lines: list[str]) -> list[str]:
    (CORPUS / f"videos{tag}.txt").write_text("".join(line + "\n" for line in lines))
    (CORPUS / f"prompts{tag}.txt").write_text("".join(f"a clip of something, number {i}\n" for i in range(len(lines))))
    return ["--data-root", str(CORPUS), "--video-column", f"videos{tag}.txt", "--caption-column", f"prompts{tag}.txt"]


def cogvid_lint() -> str:
    """The command installed beside this interpreter (a venv's bin/), not a shim on PATH:
    pyenv's bash shims add ~0.1 s to every call."""
    beside = Path(sys.executable).parent / "cogvid-lint"
    return str(beside) if beside.exists() else "cogvid-lint"


# As installed by pip, which compiles every module: a PYTHONDONTWRITEBYTECODE in the
# caller's environment would make each run compile cogvid-lint's modules again.
CLI_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cli(args: list[str]) -> None:
    proc = subprocess.run([cogvid_lint(), *args, "--output-format", "json"], cwd=CORPUS, check=False, env=CLI_ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"cogvid-lint failed ({proc.returncode}): {proc.stderr}")


def measure(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and every child it waited for)."""
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return wall, sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before))


def _burn(n: int) -> None:
    x = 0
    for i in range(n):
        x += i * i


def headroom(cpus: int) -> float:
    """How many CPUs are really free now: `cpus` busy loops against one (the machine is shared)."""
    import multiprocessing

    one, _ = measure(lambda: _burn(3_000_000))
    with multiprocessing.get_context("fork").Pool(cpus) as pool:
        many, _ = measure(lambda: pool.map(_burn, [3_000_000] * cpus))
    return cpus * one / many


def ensure_ffprobe() -> str:
    found = shutil.which("ffprobe")
    if found:
        return found
    print("ffprobe not found: apt-get install -y ffmpeg ...", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", "ffmpeg"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("ffprobe") or sys.exit("ffprobe still missing after installing ffmpeg")


FFPROBE_ARGS = ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                "stream=width,height,nb_frames,nb_read_packets:stream_side_data=rotation", "-of", "json"]


def ffprobe_one(ffprobe: str, path: Path) -> dict:
    proc = subprocess.run([ffprobe, *FFPROBE_ARGS, str(path)], capture_output=True, text=True, check=False)
    streams = json.loads(proc.stdout or "{}").get("streams") or [{}]
    return streams[0] if proc.returncode == 0 else {}


def _decord():
    import decord

    decord.logging.set_level(decord.logging.QUIET)  # else FFmpeg's complaints about the truncated clips
    return decord


def decord_one(path: Path) -> int | None:
    decord = _decord()
    try:
        return len(decord.VideoReader(str(path)))
    except Exception:
        return None


def truth(path: Path) -> dict:
    """What the trainer gets: decord's frame count, display size, and whether its last frame decodes."""
    decord = _decord()

    try:
        vr = decord.VideoReader(str(path))
        n = len(vr)
        h, w = vr[0].shape[:2]
        vr[n - 1]
        return {"ok": True, "frames": n, "size": (w, h)}
    except Exception:
        return {"ok": False}


def agreement(sample: list[Path], ffprobe: str) -> dict[str, tuple[int, int, int]]:
    """Per tool: (frame counts equal to decord's, display sizes equal, broken clips flagged)."""
    from cogvid_lint.probe.pyav import probe

    facts = [truth(p) for p in sample]
    score = {"cogvid-lint": [0, 0, 0], "ffprobe": [0, 0, 0], "decord": [0, 0, 0]}
    for path, fact in zip(sample, facts):
        ours = probe(path)
        ff = ffprobe_one(ffprobe, path)
        rot = abs(int(((ff.get("side_data_list") or [{}])[0]).get("rotation", 0) or 0)) % 180
        ff_size = (ff.get("height"), ff.get("width")) if rot == 90 else (ff.get("width"), ff.get("height"))
        ff_frames = int(ff.get("nb_read_packets") or 0)
        ff_broken = not ff or (ff.get("nb_frames") not in (None, "N/A") and ff_frames < int(ff["nb_frames"]))
        dec_frames = decord_one(path)
        our_frames = ours.frames if ours.readable else None
        answers = {"cogvid-lint": (our_frames, (ours.width, ours.height), not ours.readable),
                   "ffprobe": (None if ff_broken else ff_frames, ff_size, ff_broken),
                   "decord": (dec_frames, fact.get("size"), dec_frames is None)}
        for tool, (frames, size, broken) in answers.items():
            if fact["ok"]:
                score[tool][0] += frames == fact["frames"]
                score[tool][1] += size == fact["size"]
            else:
                score[tool][2] += broken
    return {tool: tuple(v) for tool, v in score.items()} | {"_of": (sum(f["ok"] for f in facts),) * 2
                                                             + (sum(not f["ok"] for f in facts),)}


def edit_captions() -> None:
    """A user edits a caption: the list's mtime moves, so the next run is done afresh
    (from the probe cache) instead of replayed."""
    captions = CORPUS / f"prompts-{N_CLIPS}.txt"
    os.utime(captions, ns=(time.time_ns(), time.time_ns()))


def peak_rss_mb(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB of the cogvid-lint process) via /usr/bin/time -v."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", cogvid_lint(), *args, "--output-format", "json"], cwd=CORPUS, env=CLI_ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    line = next(row for row in proc.stderr.splitlines() if "Maximum resident set size" in row)
    return elapsed, int(line.rsplit(":", 1)[1]) / 1024


def use_scale(scale: float) -> None:
    """Clips `scale` times the default sizes, in their own corpus folder (a script's setting,
    chosen once before anything is built)."""
    global CORPUS, SCALE, TRAIN
    SCALE, CORPUS = scale, CORPUS.with_name(f"corpus-x{scale:g}")
    size = _scaled({"width": 96, "height": 64})
    TRAIN = ["--train-resolution", f"49x{size['height']}x{size['width']}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-max", type=int, default=400, help="clips in the ffprobe/decord loops")
    parser.add_argument("--manifest-lines", type=int, default=0, help="also measure memory on a manifest this long")
    parser.add_argument("--scale", type=float, default=1, help="clip sizes times this (7.5: 480x720 training size)")
    opts = parser.parse_args()
    if opts.scale != 1:
        use_scale(opts.scale)

    global N_CLIPS
    paths = build_corpus(opts.clips)
    n = N_CLIPS = len(paths)
    data = write_dataset(f"-{n}", [p.relative_to(CORPUS).as_posix() for p in paths])
    base = [*data, *TRAIN]
    sample = paths[:opts.baseline_max]  # consecutive: every kind of clip, equally often
    ffprobe = ensure_ffprobe()
    cpus = len(os.sched_getaffinity(0))
    from cogvid_lint.probe.pool import probe_many

    runs = {
        "cogvid-lint cold, 1 job": (n, lambda: cli([*base, "--no-cache", "-j", "1"])),
        f"cogvid-lint cold, {cpus} jobs": (n, lambda: cli([*base, "--no-cache"])),
        "cogvid-lint warm": (n, lambda: cli(warm_args)),
        "cogvid-lint warm, captions edited": (n, lambda: (edit_captions(), cli(warm_args))),
        "probe pool in-process, 1 job": (n, lambda: probe_many(paths, jobs=1)),
        f"probe pool in-process, {cpus} jobs": (n, lambda: probe_many(paths, jobs=cpus)),
        "ffprobe loop": (len(sample), lambda: [ffprobe_one(ffprobe, p) for p in sample]),
        "decord loop": (len(sample), lambda: [decord_one(p) for p in sample]),
    }
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    free: list[float] = []
    with tempfile.TemporaryDirectory() as cache:
        warm_args = [*base, "--cache-dir", cache]
        cli(warm_args)  # prime the probe cache; the run it records finds no cache folder, so
        cli(warm_args)  # once more: recorded against the cache as the warm rounds will find it
        for r in range(opts.rounds):
            free.append(headroom(cpus))
            print(f"round {r + 1}/{opts.rounds} (CPUs free: {free[-1]:.2f} of {cpus}) ...", file=sys.stderr)
            for name, (count, fn) in runs.items():
                wall, used = measure(fn)
                walls[name].append(wall / count)
                cpu[name].append(used / count)
    med = {name: statistics.median(v) for name, v in walls.items()}
    cold = med[f"cogvid-lint cold, {cpus} jobs"]
    print(f"\n{n} clips ({len(sample)} in the ffprobe/decord loops), {cpus} CPUs, {opts.rounds} rounds, medians;"
          " cogvid-lint runs include interpreter start-up")
    print(f"CPUs really free during the rounds (busy loops, {cpus} against 1): "
          + ", ".join(f"{f:.2f}" for f in free) + "\n")
    print(f"{'':34} {'ms/clip':>9} {'best':>8} {'CPU ms':>8} {'total s':>8} {'x cold all':>11}")
    for name, value in med.items():
        count = runs[name][0]
        print(f"{name:34} {value * 1e3:9.3f} {min(walls[name]) * 1e3:8.3f} {statistics.median(cpu[name]) * 1e3:8.3f}"
              f" {value * count:8.2f} {value / cold:11.2f}")
    score = agreement(sample, ffprobe)
    of = score.pop("_of")
    print(f"\nanswers vs decord's real frames on the sample: {of[0]} clips decord reads to the end, "
          f"{of[2]} it cannot")
    print(f"{'':14} {'frames equal':>13} {'sizes equal':>12} {'broken flagged':>15}")
    for tool, (frames, sizes, broken) in score.items():
        print(f"{tool:14} {frames:>8}/{of[0]:<4} {sizes:>7}/{of[1]:<4} {broken:>10}/{of[2]:<4}")
    pool1, pool_all = med["probe pool in-process, 1 job"], med[f"probe pool in-process, {cpus} jobs"]
    print("\ntargets:")
    print(f"  ffprobe loop / cold all jobs = {med['ffprobe loop'] / cold:.1f}x (>= 40)")
    print(f"  decord loop / cold all jobs  = {med['decord loop'] / cold:.1f}x (>= 4)")
    edited = med["cogvid-lint warm, captions edited"]
    print(f"  warm / cold all jobs         = {100 * med['cogvid-lint warm'] / cold:.1f}% (<= 5%);"
          f" warm run of {n} clips: {med['cogvid-lint warm'] * n:.2f} s (after a caption edit:"
          f" {100 * edited / cold:.1f}%, {edited * n:.2f} s)")
    print(f"  {cpus} jobs / 1 job, in-process   = {pool1 / pool_all:.2f}x (best rounds:"
          f" {min(walls['probe pool in-process, 1 job']) / min(walls[f'probe pool in-process, {cpus} jobs']):.2f}x);"
          f" CLI cold = {med['cogvid-lint cold, 1 job'] / cold:.2f}x (best rounds:"
          f" {min(walls['cogvid-lint cold, 1 job']) / min(walls[f'cogvid-lint cold, {cpus} jobs']):.2f}x;"
          f" per round: {', '.join(f'{a / b:.2f}' for a, b in zip(walls['cogvid-lint cold, 1 job'], walls[f'cogvid-lint cold, {cpus} jobs']))})"
          f" (>= 1.8 on >= 2000 clips)")
    if opts.manifest_lines:
        # every line a different clip: the corpus, then names of clips that do not exist
        lines = [p.relative_to(CORPUS).as_posix() for p in paths[:opts.manifest_lines]]
        lines += [f"videos/missing{i:06d}.mp4" for i in range(len(lines), opts.manifest_lines)]
        big = write_dataset("-big", lines)
        wall, rss = peak_rss_mb([*big, *TRAIN, "--no-cache"])
        print(f"  manifest of {opts.manifest_lines} lines ({n} clips, the rest missing; all rules, no cache):"
              f" {wall:.1f} s, peak RSS {rss:.0f} MB (< 500)")

if __name__ == "__main__":
    main()
