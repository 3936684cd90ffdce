"""The latent-cache rules (CVL3xx) on a data root in object storage: an S3-compatible server on
127.0.0.1 (moto, tests/s3server.py) holds a copy of a local data root with its cache, each
object given its local file's age; the report on the URL is the local copy's, byte for byte
once the URL is mapped to the folder; the requests each costs are counted by the server
(safetensors headers: 2 range requests at most; torch.save files: their two ends), a warm
run makes none, and a cache file gone or denied after the listing is its own finding."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from cache_factory import (CACHE_TIME, CLIP_TIME, cached_dataset, embedding_path, latent_path,  # noqa: E402
                           write_embedding, write_latent, write_safetensors)
from clips import make_clip  # noqa: E402
from conftest import COGVID_LINT  # noqa: E402
from s3server import S3Server  # noqa: E402
from torch_files import Tensor, torch_save  # noqa: E402

from cogvid_lint.cache_reads import HEAD, TORCH_END  # noqa: E402

BUCKET = "caches"


def _whole_seconds(root: Path) -> None:
    """Every file's mtime cut to whole seconds: what an object store's listing says."""
    for path in root.rglob("*"):
        if path.is_file():
            when = int(path.stat().st_mtime)
            os.utime(path, (when, when))


def _upload(s3: S3Server, root: Path, prefix: str) -> str:
    """The data root to s3://BUCKET/prefix, each object as old as its local file."""
    _whole_seconds(root)
    s3.upload(BUCKET, root, prefix)
    for path in root.rglob("*"):
        if path.is_file():
            s3.set_mtime(BUCKET, f"{prefix}/{path.relative_to(root).as_posix()}", path.stat().st_mtime)
    return f"s3://{BUCKET}/{prefix}"


def _lint(args, cwd, env):
    run = subprocess.run([COGVID_LINT, *args, "--output-format", "json"], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=300)
    assert "Traceback" not in run.stderr and run.returncode in (0, 1), run.stderr
    return run


def _cache_gets(s3: S3Server, prefix: str, folder: str = "") -> list:
    return [r for r in s3.object_requests(BUCKET, f"{prefix}/{folder}") if r.method in ("GET", "HEAD")
            and r.path.endswith((".safetensors", ".pt", "-stamp.json"))]


def _finetune_root(root: Path) -> Path:
    """CogVideo finetune/'s cache with one of each thing the rules report."""
    cached_dataset(root, stems=("a", "b", "c", "d"))
    write_latent(root, "b", when=CLIP_TIME - 600)  # stale: older than its clip (CVL301)
    write_latent(root, "gone")  # orphan (CVL302)
    write_latent(root, "c", shape=(16, 13, 60, 80))  # mis-shaped (CVL304)
    embed = embedding_path(root, "caption a")  # truncated (CVL303)
    embed.write_bytes(embed.read_bytes()[:-10])
    os.utime(embed, (CACHE_TIME, CACHE_TIME))
    write_safetensors(embedding_path(root, "caption b"), "not_the_key", (4, 8))  # no prompt_embedding (CVL303)
    write_embedding(root, "a caption no longer listed")  # orphan prompt embedding (CVL305)
    torch_save(Tensor((16, 3, 8, 12)), root / "videos" / "latent" / "a.pt")  # the legacy layout (CVL306)
    (root / "cache" / "cogvid-lint-stamp.json").write_text("{not json")  # an unusable stamp (CVL303)
    # a header longer than the first request reads: the second request fetches the rest
    from safetensors.numpy import save_file

    long_header = latent_path(root, "d")
    save_file({"encoded_video": np.zeros((16, 13, 60, 90), np.uint8)}, str(long_header),
              metadata={"note": "x" * (HEAD + 4000)})
    os.utime(long_header, (CACHE_TIME, CACHE_TIME))
    return root


def test_finetune_cache_on_a_remote_root_is_reported_as_on_its_local_copy(s3, env, tmp_path):
    root = _finetune_root(tmp_path / "data")
    prefix = f"ft-{tmp_path.name}"
    url = _upload(s3, root, prefix)
    local = _lint(["--data-root", "data", "--no-cache"], tmp_path, env)
    codes = {d["code"] for d in json.loads(local.stdout)["diagnostics"]}
    assert {"CVL301", "CVL302", "CVL303", "CVL304", "CVL305", "CVL306"} <= codes, codes
    s3.clear()
    remote = _lint([url, "--no-cache"], tmp_path, env)
    assert remote.stdout.replace(url, "data") == local.stdout
    assert "the cache stamp is not JSON" in remote.stdout
    gets = _cache_gets(s3, prefix)
    stamp = [r for r in gets if r.path.endswith("-stamp.json")]
    assert len(stamp) == 1 and stamp[0].method == "GET"  # the stamp: one small GET
    gets = [r for r in gets if r not in stamp]
    assert all(r.method == "GET" and r.range for r in gets)  # range requests only: no HEAD, no whole GET
    per_file: dict[str, list] = {}
    for r in gets:
        per_file.setdefault(r.path, []).append(r)
    latents = {f"/{BUCKET}/{prefix}/{p.relative_to(root).as_posix()}": p for p in root.rglob("*.safetensors")}
    assert set(per_file) == set(latents)  # every header read once; the legacy .pt is not read (no torch)
    for path, asked in per_file.items():
        size = latents[path].stat().st_size
        long = path.endswith("/d.safetensors")
        assert len(asked) == (2 if long else 1), (path, asked)
        # the header's bytes, not the tensor data (a latent is 1.1 MB)
        assert sum(r.sent for r in asked) <= min(size, HEAD + (HEAD + 5000 if long else 0))


def test_a_warm_run_reads_no_cache_file_and_a_rewritten_one_is_read_again(s3, env, tmp_path):
    root = _finetune_root(tmp_path / "data")
    prefix = f"warm-{tmp_path.name}"
    url = _upload(s3, root, prefix)
    first = _lint([url], tmp_path, env)
    s3.clear()
    warm = _lint([url], tmp_path, env)
    assert warm.stdout == first.stdout
    assert [r for r in s3.object_requests(BUCKET, prefix + "/") if r.method in ("GET", "HEAD")] == []
    # the mis-shaped latent is rewritten right: a new ETag; it alone is read again, and passes
    write_latent(root, "c")
    s3.client().put_object(Bucket=BUCKET, Key=f"{prefix}/cache/video_latent/cogvideox-t2v/49x480x720/c.safetensors",
                           Body=latent_path(root, "c").read_bytes())
    s3.clear()
    again = _lint([url], tmp_path, env)
    assert [r.path for r in _cache_gets(s3, prefix)] == [
        f"/{BUCKET}/{prefix}/cache/video_latent/cogvideox-t2v/49x480x720/c.safetensors"]
    assert "CVL304" not in {d["code"] for d in json.loads(again.stdout)["diagnostics"]}


def test_a_cache_file_gone_or_denied_after_the_listing_is_its_finding(s3, env, tmp_path):
    """Read by the cache rules after the listing: the object deleted, or access denied to it."""
    from cogvid_lint.cache_layout import latent_files
    from cogvid_lint.cache_reads import CacheReads
    from cogvid_lint.discover.source import RemoteFiles
    from cogvid_lint.remote import urls
    from cogvid_lint.remote.access import RemoteSpec

    root = cached_dataset(tmp_path / "data", stems=("a", "b"))
    prefix = f"gone-{tmp_path.name}"
    url = _upload(s3, root, prefix)
    files = RemoteFiles(urls.to_path(url), RemoteSpec(endpoint=s3.url))
    entries = latent_files(urls.to_path(url), files)
    assert [e.path.name for e in entries] == ["a.safetensors", "b.safetensors"]
    s3.client().delete_object(Bucket=BUCKET, Key=f"{prefix}/cache/video_latent/cogvideox-t2v/49x480x720/a.safetensors")
    s3.denied.add(f"/{BUCKET}/{prefix}/cache/video_latent/cogvideox-t2v/49x480x720/b.safetensors")
    try:
        reads = CacheReads(files)
        found = [reads.header(e, entries).problem for e in entries]
    finally:
        s3.denied.clear()
    assert found == ["cannot read it: not found (no such bucket or object)", "cannot read it: access denied"]


# ---------------------------------------------------------------- cogvideox-factory's prepared folder

NAMES = ["ok", "big", "other_bucket", "no_latent", "stale", "bad_embed", "two.dots"]
TRAIN = ("accelerate launch training/cogvideox/cogvideox_text_to_video_lora.py --data_root {root} \\\n"
         "  --caption_column prompts.txt --video_column videos.txt \\\n"
         "  --height_buckets 64 --width_buckets 96 --frame_buckets 9 --load_tensors\n")


def _factory_root(root: Path) -> Path:
    """cogvideox-factory's prepared folder: a latent above the size read whole (its two ends
    are read), one out of the buckets, one missing, a stale one, a cut embedding, an orphan."""
    old, older, now = CLIP_TIME, CLIP_TIME - 3600, CACHE_TIME
    (root / "videos").mkdir(parents=True)
    for n, name in enumerate(NAMES):
        path = make_clip(root / "videos" / f"{name}.mp4", width=96, height=64, frames=9, marker=(n, 3, 4))
        os.utime(path, (old, old))
    (root / "prompts.txt").write_text("".join(f"caption {n}\n" for n in NAMES))
    (root / "videos.txt").write_text("".join(f"videos/{n}.mp4\n" for n in NAMES))
    shapes = {"ok": (32, 3, 8, 12), "big": (128, 3, 8, 12), "other_bucket": (32, 13, 60, 90), "stale": (32, 3, 8, 12),
              "bad_embed": (32, 3, 8, 12), "two.dots": (32, 3, 8, 12), "old_take": (32, 3, 8, 12)}
    for name, shape in shapes.items():
        latent = torch_save(Tensor(shape), root / "video_latents" / f"{name}.pt")
        embed = torch_save(Tensor((226, 64)), root / "prompt_embeds" / f"{name}.pt")
        for path in (latent, embed):
            os.utime(path, (older, older) if name == "stale" else (now, now))
    embed = root / "prompt_embeds" / "bad_embed.pt"
    embed.write_bytes(embed.read_bytes()[:-200])
    return root


def test_cogvideox_factory_cache_on_a_remote_root_is_reported_as_on_its_local_copy(s3, env, tmp_path):
    local_project, remote_project = tmp_path / "local", tmp_path / "remote"
    root = _factory_root(local_project / "prepared")
    assert (root / "video_latents" / "big.pt").stat().st_size > 2 * TORCH_END + HEAD
    prefix = f"factory-{tmp_path.name}"
    url = _upload(s3, root, prefix)
    (local_project / "train.sh").write_text(TRAIN.format(root="prepared"))
    remote_project.mkdir()
    (remote_project / "train.sh").write_text(TRAIN.format(root=url))
    local = _lint(["--no-cache"], local_project, env)
    codes = {(d["path"], d["code"]) for d in json.loads(local.stdout)["diagnostics"] if d["code"].startswith("CVL3")}
    assert codes == {("prepared/video_latents/other_bucket.pt", "CVL304"), ("prepared/videos.txt", "CVL309"),
                     ("prepared/video_latents/stale.pt", "CVL301"), ("prepared/prompt_embeds/bad_embed.pt", "CVL303"),
                     ("prepared/video_latents/two.dots.pt", "CVL302"), ("prepared/video_latents/old_take.pt", "CVL302")}
    s3.clear()
    remote = _lint(["--no-cache"], remote_project, env)
    # messages quote the trainer's own error, which names the file: the URL for the local path
    mapped = remote.stdout.replace(f"'{url}/", f"'{root}/").replace(url, "prepared")
    assert mapped == local.stdout
    gets = _cache_gets(s3, prefix)
    assert gets and all(r.method == "GET" for r in gets)
    by_file: dict[str, list] = {}
    for r in gets:
        by_file.setdefault(r.path.rsplit("/", 2)[-2] + "/" + r.path.rsplit("/", 1)[-1], []).append(r)
    # each listed clip's latent and embedding read once (old_take: an orphan, its name is enough)
    assert sorted(by_file) == sorted(f"{kind}/{n}.pt" for kind in ("video_latents", "prompt_embeds")
                                     for n in NAMES if n not in ("no_latent", "two.dots"))
    for name, asked in by_file.items():
        size = (root / name).stat().st_size
        if size > 2 * TORCH_END + HEAD:  # big, other_bucket: the two ends, never the tensor data
            assert len(asked) == 2 and sum(r.sent for r in asked) == 2 * TORCH_END < size, name
        else:  # about as small as its two ends: whole, in one request
            assert len(asked) == 1 and asked[0].sent == size, name
    assert {name for name, asked in by_file.items() if len(asked) == 2} == {"video_latents/big.pt",
                                                                              "video_latents/other_bucket.pt"}
    # warm: nothing read again
    _lint([], remote_project, env)
    s3.clear()
    warm = _lint([], remote_project, env)
    assert _cache_gets(s3, prefix) == []
    assert {(d["path"], d["code"]) for d in json.loads(warm.stdout)["diagnostics"]} == \
        {(d["path"], d["code"]) for d in json.loads(remote.stdout)["diagnostics"]}


# ---------------------------------------------------------------- finetrainers v0.0.1's precomputed folder

V0_TRAIN = ("accelerate launch train.py --model_name cogvideox \\\n"
            "  --pretrained_model_name_or_path THUDM/CogVideoX-5b --data_root {root} \\\n"
            "  --caption_column prompts.txt --video_column videos.txt \\\n"
            "  --video_resolution_buckets 9x64x96 --precompute_conditions\n")


def test_finetrainers_v0_cache_on_a_remote_root_is_reported_as_on_its_local_copy(s3, env, tmp_path):
    local_project, remote_project = tmp_path / "local", tmp_path / "remote"
    root = local_project / "data"
    (root / "videos").mkdir(parents=True)
    for n, name in enumerate("abc"):
        os.utime(make_clip(root / "videos" / f"{name}.mp4", width=96, height=64, frames=9, marker=(n, 3, 4)),
                 (CLIP_TIME, CLIP_TIME))
    (root / "prompts.txt").write_text("a cat\na dog\na bird\n")
    (root / "videos.txt").write_text("videos/a.mp4\nvideos/b.mp4\nvideos/c.mp4\n")
    folder = root / "cogvideox_THUDM-CogVideoX-5b_precomputed"
    for i in range(2):  # older than the clips (CVL301), two items for three clips (CVL310)
        for kind, value in (("conditions", {"prompt_embeds": Tensor((226, 64))}),
                            ("latents", {"latents": Tensor((16, 3, 8, 12))})):
            path = torch_save(value, folder / kind / f"{kind}-0-{i}.pt")
            os.utime(path, (CLIP_TIME - 3600, CLIP_TIME - 3600))
    cut = folder / "latents" / "latents-0-1.pt"  # a cut item (CVL303)
    cut.write_bytes(cut.read_bytes()[:300])
    os.utime(cut, (CLIP_TIME - 3600, CLIP_TIME - 3600))
    prefix = f"v0-{tmp_path.name}"
    url = _upload(s3, root, prefix)
    (local_project / "train.sh").write_text(V0_TRAIN.format(root="data"))
    remote_project.mkdir()
    (remote_project / "train.sh").write_text(V0_TRAIN.format(root=url))
    local = _lint(["--no-cache"], local_project, env)
    folder_rel = "data/cogvideox_THUDM-CogVideoX-5b_precomputed"
    assert {(d["path"], d["code"]) for d in json.loads(local.stdout)["diagnostics"] if d["code"].startswith("CVL3")} \
        == {(folder_rel, "CVL301"), (folder_rel, "CVL310"), (f"{folder_rel}/latents/latents-0-1.pt", "CVL303")}
    s3.clear()
    remote = _lint(["--no-cache"], remote_project, env)
    assert remote.stdout.replace(url, "data") == local.stdout
    gets = _cache_gets(s3, prefix)
    assert len(gets) == 4 and len({r.path for r in gets}) == 4  # each item read once, whole (they are small)


def test_cache_stamp_of_a_remote_root_is_one_line(env, tmp_path):
    run = subprocess.run([COGVID_LINT, "cache", "stamp", f"s3://{BUCKET}/data"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == f"cogvid-lint: error: s3://{BUCKET}/data: cache stamp needs a local data root"
