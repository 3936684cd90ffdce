"""Benchmark: the content stage (CVL5xx) per clip against what the trainer's reader pays and
against PySceneDetect.

    python bench/content_bench.py [--rounds 3] [--frames 49] [CLIP ...]

On the clips given, or on footage-like clips it makes once under bench/corpus-content/
(git-ignored; tests/footage.py: a textured pan with a cut, x264 with B-frames, at 1280x720:
300 frames with the default GOP of 250, 300 frames with a GOP of 30, 900 frames with a GOP
of 12, where the trainer's stride exceeds the GOP, and a 640x360 MPEG-4 AVI), for the frames
CogVideo's finetune trainer samples (F=49: range(0, N, N // F)[:F]), it times in this one
process, median of --rounds, CPU seconds (time.process_time: all threads) and wall seconds:

* ours: `cogvid_lint.probe.content.content(path, indices)`: the decode of exactly those
  frames at 160 px gray and every feature the pixel rules read;
* decord: `VideoReader(path, width=w, height=h).get_batch(indices)` at the same reduced size
  (the trainer's reader, with its default threads);
* PySceneDetect: `scenedetect.detect(path, AdaptiveDetector())` on the whole clip, when
  installed. It is not a dependency (it pulls OpenCV, 64 MB):
  `pip install scenedetect-headless` to include it.

Targets (issue 18): ours <= 0.7x decord's CPU time per clip; PySceneDetect >= 5x ours.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import footage  # noqa: E402  (imports av before anything imports decord)

CORPUS = REPO / "bench" / "corpus-content"
GENERATION = "1"


def corpus() -> list[Path]:
    """The default clips, made once (a minute or two)."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    stamp = CORPUS / "GENERATION"
    specs = [("720p_300_gop250.mp4", 300, None, (1280, 720)), ("720p_300_gop30.mp4", 300, 30, (1280, 720)),
             ("720p_900_gop12.mp4", 900, 12, (1280, 720)), ("360p_270.avi", 270, None, (640, 360))]
    fresh = stamp.exists() and stamp.read_text() == GENERATION
    paths = []
    for name, frames, gop, (w, h) in specs:
        path = CORPUS / name
        if not fresh or not path.exists():
            print(f"making {name} ...", file=sys.stderr)
            scene = footage.cut(footage.pan(1, 6.0, h, w), footage.figures(2, 6, 12, h, w), frames * 2 // 3)
            footage.clip(path, scene, frames=frames, fps=30, gop=gop)
        paths.append(path)
    stamp.write_text(GENERATION)
    return paths


def sampled(frames: int, target: int) -> list[int]:
    step = max(frames // target, 1)
    return list(range(0, frames, step))[:target]


def timed(fn, rounds: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=49, help="frames the trainer takes (F)")
    args = parser.parse_args()

    from cogvid_lint.probe.content import content, sampled_frames
    from cogvid_lint.probe.pyav import probe

    try:
        import decord
    except ImportError:
        print("decord is not installed: pip install decord==0.6.0 (the trainer's reader)", file=sys.stderr)
        return 2
    try:
        from scenedetect import AdaptiveDetector, detect
    except ImportError:
        detect = None
        print("PySceneDetect is not installed: pip install scenedetect-headless (pulls OpenCV, 64 MB) "
              "to compare cut detection with it", file=sys.stderr)

    clips = args.clips or corpus()
    rows = []
    print(f"{'clip':24} {'frames':>6} {'mode':>6}  {'ours cpu/wall ms':>17}  {'decord cpu/wall ms':>19}"
          f"  {'ratio':>5}  {'scenedetect cpu ms':>18}  {'x ours':>6}")
    for path in clips:
        info = probe(path)
        if info.error:
            print(f"{path.name}: {info.error}", file=sys.stderr)
            continue
        indices = sampled(info.frames, args.frames)
        frames, _, mode = sampled_frames(str(path), indices, info.rotation)
        h, w = frames[0].shape
        ours = timed(lambda: content(str(path), indices, info.rotation), args.rounds)

        def read():
            decord.VideoReader(str(path), width=w, height=h).get_batch(indices).asnumpy()

        theirs = timed(read, args.rounds)
        scenes = timed(lambda: detect(str(path), AdaptiveDetector()), max(1, args.rounds - 2)) if detect else None
        ratio = ours[0] / theirs[0]
        speedup = scenes[0] / ours[0] if scenes else None
        rows.append((ratio, speedup))
        print(f"{path.name[:24]:24} {info.frames:>6} {mode:>6}  {ours[0] * 1e3:>8.0f}/{ours[1] * 1e3:<8.0f}"
              f"  {theirs[0] * 1e3:>9.0f}/{theirs[1] * 1e3:<9.0f}  {ratio:>5.2f}"
              f"  {scenes[0] * 1e3 if scenes else float('nan'):>18.0f}  {speedup or float('nan'):>6.1f}")
    if not rows:
        return 1
    median_ratio = statistics.median(r for r, _ in rows)
    print(f"\ncontent stage / decord get_batch (CPU, median over clips): {median_ratio:.2f}x  "
          f"(target <= 0.70x: {'met' if median_ratio <= 0.7 else 'NOT met'}); worst {max(r for r, _ in rows):.2f}x")
    speedups = [s for _, s in rows if s is not None]
    if speedups:
        best = statistics.median(speedups)
        print(f"PySceneDetect AdaptiveDetector / content stage (CPU, median): {best:.1f}x  "
              f"(target >= 5x: {'met' if best >= 5 else 'NOT met'}); least {min(speedups):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
