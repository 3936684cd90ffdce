"""Seconds per clip of the CVL105 media fix (49 frames, 1280x720 → 720x480) vs the ffmpeg CLI.

    python bench/media_fix_bench.py [--clips 5]

For each of N generated 1280x720 clips, in turn (so both sides share the machine's load):
  * `cogvid-lint --fix --unsafe-fixes` on a one-clip dataset, in process: lint, re-encode
    (PyAV, libx264 crf 18), re-probe, decode to the last frame, hash, back up, swap, re-lint;
  * the re-encode alone (`cogvid_lint.fix.transcode.transcode`);
  * `ffmpeg -i in.mp4 -vf "crop=1080:720,scale=720:480:flags=area" -c:v libx264 -crf 18
    -pix_fmt yuv420p -an out.mp4` (the issue's command line).
Wall and CPU seconds are printed (CPU counts every thread; the machine may be shared, so the
wall time can exceed the CPU time). The outputs are compared frame by frame as a sanity check.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from clips import make_clip  # noqa: E402  (imports av before decord)

FFMPEG = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", "{src}", "-vf",
          "crop=1080:720,scale=720:480:flags=area", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p",
          "-an", "{dst}"]


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(fn, who=resource.RUSAGE_SELF) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), _cpu(who)
    fn()
    return time.perf_counter() - wall, _cpu(who) - cpu


def fix_in_process(work: Path, source: Path) -> None:
    from cogvid_lint.cli import main

    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    (data / "videos").mkdir(parents=True)
    shutil.copy(source, data / "videos" / "a.mp4")
    (data / "videos.txt").write_text("videos/a.mp4\n")
    (data / "prompts.txt").write_text("a clip\n")
    with contextlib.redirect_stdout(io.StringIO()):  # the fix report: not what is measured
        code = main(["--fix", "--unsafe-fixes", "--data-root", str(data), "--select", "CVL105", "-q",
                     "--output-format", "concise"])
    assert code == 1, code  # media changed → 1


def transcode_only(source: Path, target: Path) -> None:
    from cogvid_lint.fix.media_plan import crop_window
    from cogvid_lint.fix.transcode import Job, transcode

    job = Job(rotation=0, crop=crop_window(1280, 720, 720, 480), size=(720, 480), fps=None, frames=49, crf=18,
              muxer="mp4")
    assert transcode(source, target, job) == 49


def ffmpeg(source: Path, target: Path) -> None:
    subprocess.run([part.format(src=source, dst=target) for part in FFMPEG], check=True)


def mean_abs_difference(a: Path, b: Path) -> float:
    import av
    import numpy as np

    with av.open(str(a)) as ca, av.open(str(b)) as cb:
        pairs = zip(ca.decode(video=0), cb.decode(video=0))
        diffs = [np.abs(fa.to_ndarray(format="rgb24").astype(int) - fb.to_ndarray(format="rgb24").astype(int)).mean()
                 for fa, fb in pairs]
    return float(np.mean(diffs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is not installed (apt-get install -y ffmpeg)", file=sys.stderr)
        return 2
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    import av

    results: dict[str, list[tuple[float, float]]] = {"cogvid-lint --fix (whole fix)": [],
                                                    "PyAV re-encode alone": [], "ffmpeg CLI": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for index in range(args.clips):
            source = make_clip(work / f"src{index}.mp4", width=1280, height=720, frames=49, fps=8,
                               marker=(100 * index, 50, 64))
            results["cogvid-lint --fix (whole fix)"].append(timed(lambda: fix_in_process(work, source)))
            results["PyAV re-encode alone"].append(timed(lambda: transcode_only(source, work / "ours.mp4")))
            results["ffmpeg CLI"].append(timed(lambda: ffmpeg(source, work / "ffmpeg.mp4"),
                                               resource.RUSAGE_CHILDREN))
        difference = mean_abs_difference(work / "ours.mp4", work / "ffmpeg.mp4")

    print(f"{args.clips} clips of 49 frames, 1280x720 → crop 1080x720 → 720x480, libx264 crf 18; "
          f"PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}) vs {version}")
    print(f"{'':34} {'wall s/clip (median)':>22} {'CPU s/clip (median)':>20}")
    for name, samples in results.items():
        walls, cpus = zip(*samples)
        print(f"{name:34} {statistics.median(walls):>22.2f} {statistics.median(cpus):>20.2f}")
    print(f"mean absolute pixel difference, PyAV output vs ffmpeg output: {difference:.2f} / 255")
    return 0


if __name__ == "__main__":
    sys.exit(main())
