"""Data roots in object storage: an S3-compatible server on 127.0.0.1 (moto, tests/s3server.py)
holds the fixture clips; every probe through a URL equals the probe through the path, the
requests each costs are counted by the server (never timed), and bad input is one line or a
per-clip finding."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")

import mutate  # noqa: E402
from clips import cut_tail_bytes, make_clip, make_noise_clip, truncate_clip  # noqa: E402
from conftest import COGVID_LINT  # noqa: E402

from cogvid_lint.probe.mp4box import HEAD_BYTES  # noqa: E402
from cogvid_lint.probe.pyav import probe  # noqa: E402
from cogvid_lint.probe.remote import SMALL_OBJECT, probe_blocks, probe_remote  # noqa: E402
from cogvid_lint.remote import urls  # noqa: E402
from cogvid_lint.remote.access import RemoteError, RemoteSpec, filesystem  # noqa: E402
from cogvid_lint.remote.blocks import BlockCache, block_size  # noqa: E402
from cogvid_lint.remote.reader import ObjectReader  # noqa: E402

BUCKET = "clips"


# name -> how the clip is made: the containers, both mp4 layouts, above and below the size a
# first request reads whole, rotated, and cut short (truncated uploads)
CLIPS = {
    "small.mp4": lambda p: make_clip(p, frames=20),
    "rotated.mp4": lambda p: make_noise_clip(p, frames=32, rotation=90),
    "moov_at_end.mp4": lambda p: make_noise_clip(p, frames=32),
    "faststart.mp4": lambda p: make_noise_clip(p, frames=32, faststart=True),
    "bframes.mov": lambda p: make_noise_clip(p, frames=32),
    "clip.webm": lambda p: make_clip(p, frames=20),
    "clip.mkv": lambda p: make_clip(p, frames=20, rotation=90),
    "clip.avi": lambda p: make_clip(p, frames=20),
    "cut_faststart.mp4": lambda p: cut_tail_bytes(make_noise_clip(p, frames=32, faststart=True), 30_000),
    "cut_moov_at_end.mp4": lambda p: truncate_clip(make_noise_clip(p, frames=32), 0.7),
    "not_a_video.mp4": lambda p: Path(p).write_bytes(b"\0" * 300_000),
}


def _made_and_uploaded(s3, tmp_path_factory, clips: dict, prefix: str) -> Path:
    """Each of `clips` (name -> how it is made) made in a fresh folder and uploaded under
    s3://BUCKET/prefix/: the folder, for the local probes to compare with."""
    folder = tmp_path_factory.mktemp(prefix)
    for name, make in clips.items():
        make(folder / name)
    s3.upload(BUCKET, folder, prefix)
    return folder


@pytest.fixture(scope="module")
def uploaded(s3, tmp_path_factory):
    return _made_and_uploaded(s3, tmp_path_factory, CLIPS, "probe")


def _remote(name: str, prefix: str = "probe") -> str:
    return os.fspath(urls.to_path(f"s3://{BUCKET}/{prefix}/{name}"))


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_probe_through_url_equals_probe_through_path(name, uploaded, s3, env):
    local = uploaded / name
    size = local.stat().st_size
    s3.clear()
    remote = probe_remote(_remote(name), size, RemoteSpec(endpoint=s3.url))
    assert dataclasses.replace(remote, path=os.fspath(local)) == probe(local)
    assert remote.path == _remote(name)
    asked = s3.object_requests(BUCKET, "probe/")
    assert asked and all(r.method == "GET" for r in asked), [(r.method, r.path) for r in asked]  # no HEAD
    sent = sum(r.sent for r in asked)
    if size <= SMALL_OBJECT or not name.endswith((".mp4", ".mov")):
        assert len(asked) == 1 and sent == size  # the whole object, in one GET
    elif name.startswith(("moov_at_end", "faststart", "rotated", "bframes")):
        # from the index alone: at most three range requests, the head and the moov
        assert len(asked) <= 3
        assert sent < HEAD_BYTES + 16_000 < size / 4, (sent, size)
    else:  # cut short: the verdict decodes the tail, as the local probe does, from the whole object
        assert sent <= size + HEAD_BYTES


def test_a_clip_made_large_is_probed_from_its_moov(s3, env, tmp_path):
    """~1.5 MB of noise: the head (64 KiB) and the moov are read, ~5% of the object."""
    for faststart in (False, True):
        path = make_noise_clip(tmp_path / f"big{faststart}.mp4", frames=80, faststart=faststart)
        s3.upload(BUCKET, tmp_path, "big")
        s3.clear()
        info = probe_remote(_remote(path.name, "big"), path.stat().st_size, RemoteSpec(endpoint=s3.url))
        assert dataclasses.replace(info, path=os.fspath(path)) == probe(path)
        asked = s3.object_requests(BUCKET, f"big/{path.name}")
        assert len(asked) <= 3 and all(r.range for r in asked)
        assert sum(r.sent for r in asked) <= 0.06 * path.stat().st_size


# --- above the fetch limit: read through a bounded cache of large blocks ---------------------

LIMIT = 64 << 10  # blocks of 64 KiB (block_size's smallest), 4 held: the objects are 4-15 blocks


def _damaged(eid_change):
    def make(path):
        make_noise_clip(path, frames=48)
        path.write_bytes(eid_change(bytearray(path.read_bytes())))
    return make


# the containers without an index, whole and cut short; Matroska damage that our FFmpeg reads
# only through ebml's patches (its walk reads the object on a reader of its own); an mp4 whose
# verdict decodes its tail (NeedsBytes)
LARGE = {
    "noise.webm": lambda p: make_noise_clip(p, frames=48),
    "noise.mkv": lambda p: make_noise_clip(p, frames=48, rotation=90),
    "noise.avi": lambda p: make_noise_clip(p, frames=48),
    "cut.webm": lambda p: truncate_clip(make_noise_clip(p, frames=48), 0.6),
    "cut.mkv": lambda p: truncate_clip(make_noise_clip(p, frames=48), 0.6),
    "cut.avi": lambda p: truncate_clip(make_noise_clip(p, frames=48), 0.6),
    "pixelwidth0.mkv": _damaged(lambda d: mutate.set_ebml_uint(d, mutate.PIXEL_WIDTH, 0)),
    "cluster_size.mkv": _damaged(lambda d: mutate.damage_ebml_size(d, mutate.CLUSTER, 0x40)),
    "cut_faststart.mp4": lambda p: cut_tail_bytes(make_noise_clip(p, frames=48, faststart=True), 30_000),
}


@pytest.fixture(scope="module")
def uploaded_large(s3, tmp_path_factory):
    return _made_and_uploaded(s3, tmp_path_factory, LARGE, "large")


def _span(request) -> tuple[int, int]:
    """[start, end) of a ranged GET (`bytes=a-b`, b inclusive)."""
    start, _, end = request.range.removeprefix("bytes=").partition("-")
    return int(start), int(end) + 1


@pytest.mark.parametrize("name", sorted(LARGE))
def test_an_object_above_the_fetch_limit_is_probed_through_blocks(name, uploaded_large, s3, env):
    local = uploaded_large / name
    size = local.stat().st_size
    assert size > 2 * LIMIT
    s3.clear()
    remote = probe_remote(_remote(name, "large"), size, RemoteSpec(endpoint=s3.url, fetch_limit=LIMIT))
    assert dataclasses.replace(remote, path=os.fspath(local)) == probe(local)
    if name.startswith("cut.avi") or name.endswith(".mp4"):
        assert remote.error and remote.error.startswith("truncated: ")  # as the local file's (above)
    asked = s3.object_requests(BUCKET, f"large/{name}")
    assert asked and all(r.method == "GET" and r.range for r in asked), [(r.method, r.range) for r in asked]
    spans = [_span(r) for r in asked]
    assert all(end - start < size for start, end in spans)  # never the whole object
    blocks = spans if not name.endswith(".mp4") else spans[1:]  # an mp4's first request: its head (the index walk)
    block = block_size(LIMIT)
    assert blocks and all(start % block == 0 and end - start <= block for start, end in blocks), blocks
    # each block about once: the demuxer streams the object; the Matroska walk reads each
    # cluster's header (a block of its own here, as a cluster of these clips spans blocks)
    assert sum(r.sent for r in asked) <= 3 * size


@pytest.mark.parametrize("name", ["noise.webm", "noise.mkv", "noise.avi", "cluster_size.mkv", "cut.avi"])
def test_reads_through_blocks_are_exact_whatever_the_block_and_the_blocks_held(name, uploaded_large, s3, env):
    """Blocks that are no power of two and hold no box or element whole, two held: the
    probe's answer is the file's, and any read is the object's bytes."""
    import random

    local = uploaded_large / name
    data = local.read_bytes()
    fs = filesystem("s3", RemoteSpec(endpoint=s3.url))
    info = probe_blocks(ObjectReader(fs, _remote(name, "large"), len(data)), _remote(name, "large"), 10_007, held=2)
    assert dataclasses.replace(info, path=os.fspath(local)) == probe(local)
    cache = BlockCache(ObjectReader(fs, _remote(name, "large"), len(data)), 10_007, held=2)
    rng = random.Random(name)
    for _ in range(200):
        pos, n = rng.randrange(len(data) + 10), rng.choice([1, 12, 4096, 10_007, 32_768, 70_000])
        assert cache.read(pos, n) == data[pos:pos + n]
    view = cache.view()
    view.seek(-100, os.SEEK_END)
    assert view.read() == data[-100:] and view.read() == b""
    assert cache.failure is None and len(cache._blocks) <= 2


def test_an_object_above_the_limit_changed_since_the_listing_is_its_finding(s3, env, tmp_path):
    """Cut on the server after the listing, at its head or past it: a block reads short, and
    whatever the demuxer made of that, the answer is that the object changed."""
    from cogvid_lint.discover.source import RemoteFiles

    for name in ("head.webm", "tail.webm", "tail.avi"):
        make_noise_clip(tmp_path / name, frames=48)
    s3.upload(BUCKET, tmp_path, "changing-large")
    listed = RemoteFiles(urls.to_path(f"s3://{BUCKET}/changing-large"), RemoteSpec()).listing
    client = s3.client()
    for name, keep in (("head.webm", 3000), ("tail.webm", 300_000), ("tail.avi", 150_000)):
        client.put_object(Bucket=BUCKET, Key=f"changing-large/{name}", Body=(tmp_path / name).read_bytes()[:keep])
        path = _remote(name, "changing-large")
        info = probe_remote(path, listed[path].st_size, RemoteSpec(fetch_limit=LIMIT))
        assert info.error is not None and info.error.startswith("changed since it was listed: "), info.error


@pytest.fixture
def large_project(tmp_path, s3, env):
    """Clips of a few MiB: above a fetch limit of 1 MiB (blocks of 256 KiB)."""
    root = tmp_path / "data"
    (root / "videos").mkdir(parents=True)
    names = ["big.webm", "big.mkv", "cut.mkv", "big.avi"]
    make_noise_clip(root / "videos" / "big.webm", frames=60, width=320, height=240)
    make_noise_clip(root / "videos" / "big.mkv", frames=40, width=320, height=240)
    truncate_clip(make_noise_clip(root / "videos" / "cut.mkv", frames=40, width=320, height=240), 0.7)
    truncate_clip(make_noise_clip(root / "videos" / "big.avi", frames=200, width=320, height=240), 0.8)
    (root / "videos.txt").write_text("".join(f"videos/{n}\n" for n in names))
    (root / "prompts.txt").write_text("".join(f"a noisy clip number {i} of static on a screen\n"
                                              for i in range(len(names))))
    prefix = f"large-{tmp_path.name}"
    s3.upload(BUCKET, root, prefix)
    return root, f"s3://{BUCKET}/{prefix}", names


def test_the_fetch_limit_in_the_config_reads_larger_clips_in_blocks(large_project, tmp_path, env, s3):
    root, url, names = large_project
    prefix = url.split("/", 3)[3]
    (tmp_path / "cogvid-lint.yaml").write_text("remote-fetch-limit-mib: 1\n")
    local = _lint(["--data-root", "data", "--no-cache"], tmp_path, env)
    s3.clear()
    remote = _lint([url, "--no-cache"], tmp_path, env)
    assert remote.returncode == local.returncode == 1, remote.stderr
    assert remote.stdout.replace(url, "data") == local.stdout
    assert "fetch limit" not in remote.stdout
    assert f"{url}/videos/big.avi" in {d["path"] for d in json.loads(remote.stdout)["diagnostics"]}  # cut short
    for name in names:
        size = (root / "videos" / name).stat().st_size
        assert size > 1 << 20
        asked = s3.object_requests(BUCKET, f"{prefix}/videos/{name}")
        assert asked and all(r.method == "GET" and r.range for r in asked), name
        assert all(end - start <= 256 << 10 and start % (256 << 10) == 0 for start, end in map(_span, asked)), name


def test_urls_round_trip():
    for url in ("s3://bucket/data", "s3://bucket/data/a b.mp4", "gs://b/x/y.webm", "az://container/p"):
        path = urls.to_path(url)
        assert path.is_absolute() and urls.is_remote(path) and urls.to_url(path) == url
    assert urls.to_path("file:///tmp/data") == Path("/tmp/data")
    assert not urls.is_remote("/data/videos/a.mp4")
    with pytest.raises(ValueError, match="unsupported URL scheme 'ftp'"):
        urls.to_path("ftp://host/data")


def _dataset(root: Path, names: list[str]) -> None:
    (root / "videos").mkdir(parents=True, exist_ok=True)
    for name in names:
        if name.endswith(".webm"):
            make_clip(root / "videos" / name, frames=20)
        else:
            make_clip(root / "videos" / name, frames=49, width=96, height=64)
    (root / "videos.txt").write_text("".join(f"videos/{n}\n" for n in names) + "videos/gone.mp4\n")
    (root / "prompts.txt").write_text("".join(f"a short clip number {i} of a cat walking\n"
                                              for i in range(len(names) + 1)))


def _lint(args, cwd, env, fmt="json"):
    run = subprocess.run([COGVID_LINT, *args, "--output-format", fmt], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=180)
    assert "Traceback" not in run.stderr, run.stderr
    return run


@pytest.fixture
def project_data(tmp_path, s3, env):
    root = tmp_path / "data"
    _dataset(root, ["a.mp4", "b.webm", "c.mp4", "copy.mp4"])
    truncate_clip(root / "videos" / "c.mp4", 0.6)
    (root / "videos" / "copy.mp4").write_bytes((root / "videos" / "a.mp4").read_bytes())  # CVL007: by ETag
    prefix = f"ds-{tmp_path.name}"
    s3.upload(BUCKET, root, prefix)
    return root, f"s3://{BUCKET}/{prefix}"


def test_a_remote_root_reports_what_the_local_copy_does(project_data, tmp_path, env):
    root, url = project_data
    local = _lint(["--data-root", "data", "--no-cache"], tmp_path, env)
    remote = _lint([url, "--no-cache"], tmp_path, env)
    assert local.returncode == remote.returncode == 1
    found = json.loads(remote.stdout)["diagnostics"]
    assert {d["code"] for d in found} >= {"CVL003", "CVL007", "CVL101", "CVL102"}
    assert all(d["path"].startswith(url + "/") for d in found)
    assert remote.stdout.replace(url, "data") == local.stdout


def test_a_clip_url_as_path_is_that_clip_as_a_local_path_is(project_data, tmp_path, env, s3):
    """`cogvid-lint s3://.../videos/c.mp4` lints that clip with its dataset found above it
    (the prefix holding videos.txt), as `cogvid-lint data/videos/c.mp4` does; a clip that is
    not there is one line and exit 2, as a missing local PATH is."""
    root, url = project_data
    for clip in ("videos/c.mp4", "videos/b.webm"):
        local = _lint([f"data/{clip}", "--no-cache"], tmp_path, env)
        remote = _lint([f"{url}/{clip}", "--no-cache"], tmp_path, env)
        assert remote.returncode == local.returncode
        found = json.loads(remote.stdout)["diagnostics"]
        assert {d["path"] for d in found} <= {f"{url}/{clip}"}
        assert remote.stdout.replace(url, "data") == local.stdout
    assert "CVL101" in {d["code"] for d in json.loads(_lint([f"{url}/videos/c.mp4"], tmp_path, env).stdout)["diagnostics"]}
    gone = _lint([f"{url}/videos/nothere.mp4"], tmp_path, env)
    assert gone.returncode == 2
    assert gone.stderr.strip().splitlines() == [f"cogvid-lint: error: {url}/videos/nothere.mp4: no such object"]


def test_a_warm_run_makes_no_get_and_a_rewritten_object_is_probed_again(project_data, tmp_path, env, s3):
    root, url = project_data
    prefix = url.split("/", 3)[3]
    first = _lint([url], tmp_path, env)
    s3.clear()
    warm = _lint([url], tmp_path, env)
    assert warm.stdout == first.stdout
    asked = s3.object_requests(BUCKET, prefix + "/")
    assert [r for r in asked if r.method in ("GET", "HEAD")] == []  # the listing alone
    # the clip is rewritten on the server: a new ETag, probed again (one GET), and it alone
    make_clip(root / "videos" / "c.mp4", frames=49, width=96, height=64)
    s3.client().put_object(Bucket=BUCKET, Key=f"{prefix}/videos/c.mp4", Body=(root / "videos" / "c.mp4").read_bytes())
    s3.clear()
    again = _lint([url], tmp_path, env)
    gets = [r.path for r in s3.object_requests(BUCKET, prefix + "/") if r.method == "GET"]
    assert gets == [f"/{BUCKET}/{prefix}/videos/c.mp4"]
    assert "CVL101" not in {d["code"] for d in json.loads(again.stdout)["diagnostics"]}


def test_a_data_root_url_in_the_config_and_in_a_launch_script(project_data, tmp_path, env, s3):
    root, url = project_data
    no_endpoint = {k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL"}
    (tmp_path / "cogvid-lint.yaml").write_text(f"data-root: {url}\nremote-endpoint: {s3.url}\n")
    by_config = _lint(["--no-cache"], tmp_path, no_endpoint)
    assert {d["path"] for d in json.loads(by_config.stdout)["diagnostics"]} >= {f"{url}/videos/gone.mp4"}
    (tmp_path / "cogvid-lint.yaml").unlink()
    (tmp_path / "train.sh").write_text(f"python train.py --data_root {url} --train_resolution 49x480x720\n")
    by_script = _lint(["--no-cache"], tmp_path, env)
    assert by_script.stdout == by_config.stdout


def test_sarif_takes_the_url_as_the_artifact_uri(project_data, tmp_path, env):
    _, url = project_data
    run = _lint([url, "--no-cache"], tmp_path, env, fmt="sarif")
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for result in json.loads(run.stdout)["runs"][0]["results"] for loc in result["locations"]}
    assert f"{url}/videos.txt" in uris or f"{url}/videos/gone.mp4" in uris
    assert all(uri.startswith(url) for uri in uris)


def test_fix_on_a_remote_root_says_once_that_fixes_need_a_local_root(project_data, tmp_path, env, s3):
    _, url = project_data
    s3.clear()
    run = _lint([url, "--fix", "--no-cache"], tmp_path, env, fmt="concise")
    assert run.stderr.count("fixes need a local data root") == 1
    assert not [r for r in s3.log if r.method in ("PUT", "DELETE", "POST")]


# --- bad input: one line or a per-clip finding, never a traceback, never a hang -------------


def _one_error_line(run) -> str:
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_an_unreachable_endpoint_is_one_line(tmp_path, env):
    dead = {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # discard port: nothing listens
    line = _one_error_line(_lint([f"s3://{BUCKET}/data", "--probe-timeout", "5"], tmp_path, dead))
    assert line.startswith(f"cogvid-lint: error: s3://{BUCKET}/data: cannot list: ")


def test_a_bucket_that_does_not_exist_is_one_line(tmp_path, env):
    line = _one_error_line(_lint(["s3://no-such-bucket/data"], tmp_path, env))
    assert line == "cogvid-lint: error: s3://no-such-bucket/data: cannot list: not found (no such bucket or object)"


def test_access_denied_is_one_line(tmp_path, env, s3):
    s3.client().create_bucket(Bucket="private")
    s3.denied.add("/private")
    try:
        line = _one_error_line(_lint(["s3://private/data"], tmp_path, env))
    finally:
        s3.denied.discard("/private")
    assert line == "cogvid-lint: error: s3://private/data: cannot list: access denied"


def test_an_object_denied_after_the_listing_is_its_finding(project_data, tmp_path, env, s3):
    _, url = project_data
    prefix = url.split("/", 3)[3]
    s3.denied.add(f"/{BUCKET}/{prefix}/videos/a.mp4")
    try:
        run = _lint([url, "--no-cache"], tmp_path, env)
    finally:
        s3.denied.clear()
    found = {d["path"]: d for d in json.loads(run.stdout)["diagnostics"] if d["code"] == "CVL101"}
    assert found[f"{url}/videos/a.mp4"]["message"] == "cannot be read: cannot read: access denied"


def test_a_listing_that_changes_mid_run_and_an_object_cut_on_the_server(s3, env, tmp_path):
    """Listed, then deleted or rewritten shorter before the probe: the clip's own finding."""
    from cogvid_lint.discover.source import RemoteFiles

    make_noise_clip(tmp_path / "gone.mp4", frames=16)
    make_noise_clip(tmp_path / "cut.mp4", frames=16)
    make_clip(tmp_path / "cut.webm", frames=20)
    s3.upload(BUCKET, tmp_path, "changing")
    listed = RemoteFiles(urls.to_path(f"s3://{BUCKET}/changing"), RemoteSpec()).listing
    client = s3.client()
    client.delete_object(Bucket=BUCKET, Key="changing/gone.mp4")
    for name in ("cut.mp4", "cut.webm"):
        client.put_object(Bucket=BUCKET, Key=f"changing/{name}", Body=(tmp_path / name).read_bytes()[:3000])
    gone = probe_remote(_remote("gone.mp4", "changing"), listed[_remote("gone.mp4", "changing")].st_size, RemoteSpec())
    assert gone.error == "cannot read: not found (no such bucket or object)"
    for name in ("cut.mp4", "cut.webm"):
        info = probe_remote(_remote(name, "changing"), listed[_remote(name, "changing")].st_size, RemoteSpec())
        assert info.error is not None and info.error.startswith("changed since it was listed: "), info.error


def test_a_hanging_store_is_bounded_by_the_probe_timeout(tmp_path, env):
    """A server that accepts and never answers: the listing gives up after the timeout the
    filesystem is given (the probe timeout), one line."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        silent = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{listener.getsockname()[1]}"}
        line = _one_error_line(_lint([f"s3://{BUCKET}/data", "--probe-timeout", "2"], tmp_path, silent))
        assert line.endswith("cannot list: no answer within the probe timeout"), line
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_a_missing_extra_is_one_line_naming_it():
    if "gcsfs" in sys.modules or _installed("gcsfs"):
        pytest.skip("gcsfs is installed here")
    with pytest.raises(RemoteError, match=r"pip install 'cogvid-lint\[gcs\]'"):
        filesystem("gs", RemoteSpec())


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_what_reads_local_files_only_says_so_once(project_data, tmp_path, env, s3):
    """The pixel rules decode local files: one warning, not one per clip; a SAT layout in a
    bucket: one line."""
    _, url = project_data
    run = _lint([url, "--no-cache", "--extend-select", "CVL5"], tmp_path, env, fmt="concise")
    assert run.returncode == 1
    assert [line for line in run.stderr.splitlines() if line.strip()] == [
        "cogvid-lint: warning: the pixel rules read local clips only: 3 clips in object storage skipped"]
    sat = tmp_path / "sat"
    (sat / "videos").mkdir(parents=True)
    make_clip(sat / "videos" / "a.mp4", frames=49)
    (sat / "labels").mkdir()
    (sat / "labels" / "a.txt").write_text("a cat\n")
    s3.upload(BUCKET, sat, f"sat-{tmp_path.name}")
    line = _one_error_line(_lint([f"s3://{BUCKET}/sat-{tmp_path.name}", "--trainer", "sat"], tmp_path, env))
    assert "the sat layout is not read from object storage yet" in line
