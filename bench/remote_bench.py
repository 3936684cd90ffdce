"""Benchmark: what a data root in object storage costs per clip, in requests and bytes.

    python bench/remote_bench.py [--mb 10] [--jobs 2]

Makes one ~`--mb` MB clip per container once under bench/corpus-remote/ (git-ignored; noise
frames, so nearly every byte is sample data, as in real footage): mp4 with the moov at the
end, mp4 faststart, mov, webm, mkv, avi. Uploads them with their lists to an S3-compatible
server on 127.0.0.1 (moto, tests/s3server.py, which counts every request and the bytes it
sends), then runs, in this one run:

* cold: `cogvid-lint s3://bench/data` with an empty store;
* warm: the same again (the store holds every probe);
* blocks: cold again with `remote-fetch-limit-mib: 1`, so that every clip the probe reads
  whole (webm, mkv, avi) is above the limit and read through the block cache (blocks of
  256 KiB at that limit, 8 MiB from a limit of 32 MiB);
* baseline: what a probe over fsspec's own file object costs (`fs.open(key)`, its default
  readahead cache, PyAV demuxing every packet: how one would read a remote clip without
  the index-only path), per clip.

It prints, per container, the requests and bytes of each clip as a share of the object's
size, and the listing's requests (once per data root, not per clip). Bytes and requests are
counted, not timed: the figures do not depend on the machine's load.

Target (issue: object-storage data roots): an mp4's cold probe reads <= 5% of a 10 MB clip;
a warm run makes no GET.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from clips import make_noise_clip  # noqa: E402  (imports av before anything imports decord)
from s3server import ACCESS, S3Server  # noqa: E402

CORPUS = REPO / "bench" / "corpus-remote"
BUCKET = "bench"
CONTAINERS = [("moov_at_end.mp4", False), ("faststart.mp4", True), ("clip.mov", False), ("clip.webm", False),
              ("clip.mkv", False), ("clip.avi", False)]
COMMAND = str(Path(sys.executable).parent / "cogvid-lint")


def corpus(megabytes: float) -> Path:
    """The clips, made once per size (a minute or so)."""
    folder = CORPUS / f"{megabytes:g}mb"
    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for name, faststart in CONTAINERS:
        path = videos / name
        if path.exists():
            continue
        print(f"making {name} ...", file=sys.stderr)
        # 320x240 noise: ~90 KB a frame in x264 at crf 10; the others differ, so grow until the size is met
        frames = 24
        while True:
            make_noise_clip(path, frames=frames, width=320, height=240, faststart=faststart)
            size = path.stat().st_size
            if size >= megabytes * 1e6 * 0.9:
                break
            frames = int(frames * megabytes * 1e6 / max(size, 1)) + 1
    (folder / "videos.txt").write_text("".join(f"videos/{name}\n" for name, _ in CONTAINERS))
    (folder / "prompts.txt").write_text("".join(f"a noisy test clip stored as {name}, for counting bytes\n"
                                                for name, _ in CONTAINERS))
    return folder


def lint(url: str, env: dict, cache: Path, jobs: int, cwd: Path | None = None) -> None:
    run = subprocess.run([COMMAND, url, "--cache-dir", str(cache), "-j", str(jobs), "--output-format", "json"],
                         env=env, capture_output=True, text=True, timeout=900, cwd=cwd)
    if run.returncode not in (0, 1):
        sys.exit(f"cogvid-lint failed ({run.returncode}): {run.stderr.strip()}")


def per_object(server: S3Server, prefix: str) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for r in server.object_requests(BUCKET, prefix):
        if r.method not in ("GET", "HEAD"):
            continue
        name = r.path.rsplit("/", 1)[1]
        n, sent = counts.get(name, (0, 0))
        counts[name] = (n + 1, sent + r.sent)
    return counts


def listing_requests(server: S3Server) -> int:
    return sum(1 for r in server.log if "list-type" in r.query or r.path.rstrip("/") == f"/{BUCKET}")


def fsspec_baseline(server: S3Server, name: str) -> tuple[int, int]:
    """PyAV over fsspec's file object (default cache), demuxing every packet."""
    import av
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=server.url, skip_instance_cache=True)
    server.clear()
    with fs.open(f"{BUCKET}/data/videos/{name}", "rb") as handle:
        with av.open(handle) as container:
            sum(1 for _ in container.demux(container.streams.video[0]))
    got = [r for r in server.log if r.method in ("GET", "HEAD") and r.path.endswith(name)]
    return len(got), sum(r.sent for r in got)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=10.0, help="size of each clip, MB (default 10)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    folder = corpus(args.mb)
    server = S3Server().start()
    env = {**os.environ, **ACCESS, "AWS_ENDPOINT_URL": server.url}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.update(ACCESS)
    try:
        server.upload(BUCKET, folder, "data")
        sizes = {name: (folder / "videos" / name).stat().st_size for name, _ in CONTAINERS}
        with tempfile.TemporaryDirectory() as tmp:
            runs = {}
            for label in ("cold", "warm"):
                server.clear()
                lint(f"s3://{BUCKET}/data", env, Path(tmp) / "store", args.jobs)
                runs[label] = (per_object(server, "data/videos/"), listing_requests(server),
                               per_object(server, "data/").get("videos.txt", (0, 0))[0]
                               + per_object(server, "data/").get("prompts.txt", (0, 0))[0])
            (Path(tmp) / "cogvid-lint.yaml").write_text("remote-fetch-limit-mib: 1\n")  # found in the cwd
            server.clear()
            lint(f"s3://{BUCKET}/data", env, Path(tmp) / "store-blocks", args.jobs, cwd=Path(tmp))
            blocks = per_object(server, "data/videos/")
        baseline = {name: fsspec_baseline(server, name) for name, _ in CONTAINERS}
    finally:
        server.stop()

    print(f"per clip, requests and bytes as a share of the object (clips of ~{args.mb:g} MB; "
          "baseline: PyAV over fsspec's file object)")
    print(f"{'container':<18}{'size MB':>9}{'cold req':>10}{'cold bytes':>12}{'warm req':>10}{'warm bytes':>12}"
          f"{'base req':>10}{'base bytes':>12}{'cold/base':>11}{'blocks req':>12}{'blocks bytes':>14}")
    for name, _ in CONTAINERS:
        size = sizes[name]
        cold = runs["cold"][0].get(name, (0, 0))
        warm = runs["warm"][0].get(name, (0, 0))
        base = baseline[name]
        block = blocks.get(name, (0, 0))
        print(f"{name:<18}{size / 1e6:>9.2f}{cold[0]:>10}{cold[1] / size:>11.1%} {warm[0]:>9}{warm[1] / size:>11.1%} "
              f"{base[0]:>9}{base[1] / size:>11.1%} {cold[1] / max(base[1], 1):>10.3f}"
              f"{block[0]:>12}{block[1] / size:>13.1%}")
    for label in ("cold", "warm"):
        _, listing, lists = runs[label]
        print(f"{label}: listing requests {listing} (once per data root), list-file GETs {lists}")
    mp4 = [runs["cold"][0].get(n, (0, 0))[1] / sizes[n] for n, _ in CONTAINERS if n.endswith((".mp4", ".mov"))]
    print(f"target: mp4/mov cold bytes <= 5% of the clip: worst {max(mp4):.2%} -> "
          f"{'met' if max(mp4) <= 0.05 else 'NOT met'}; warm GETs {sum(v[0] for v in runs['warm'][0].values())}")


if __name__ == "__main__":
    main()
