"""An object store through fsspec: the filesystem, one recursive listing, small reads.

The filesystem packages are optional extras (`cogvid-lint[s3]`, `[gcs]`, `[az]`), imported
here only when a remote data root is used; a missing one is one line naming the extra.
Credentials come from wherever the filesystem already looks (AWS_* variables and
~/.aws for s3fs, Application Default Credentials for gcsfs, AZURE_* for adlfs); the
config may only choose an endpoint, a profile, or anonymous access.
"""

from __future__ import annotations

import hashlib
import stat as stat_module
from datetime import datetime
from typing import Any, NamedTuple

from cogvid_lint.remote import urls

# The one-GET path of the remote probe (containers without an index, and clips whose
# index says the probe needs their bytes): objects up to this size are fetched whole,
# larger ones read through a cache of blocks (remote.blocks) held within it.
# 256 MiB: above any clip a CogVideoX dataset holds (49 frames at 720p are a few MB,
# a long source clip tens of MB), and still a bounded amount of memory per worker.
DEFAULT_FETCH_LIMIT = 256 << 20

_EXTRA = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "az", "abfs": "az", "abfss": "az",
          "adl": "az"}
_PACKAGE = {"s3": "s3fs", "gcs": "gcsfs", "az": "adlfs"}


class RemoteError(Exception):
    """A remote data root cannot be used: one line, naming the URL and the problem."""


class RemoteSpec(NamedTuple):
    """How to reach the object stores of a run: picklable, so probe workers build their own
    filesystem from it (an fsspec instance holds an event loop and sockets: never shared
    across a fork)."""

    endpoint: str | None = None
    profile: str | None = None
    anon: bool = False
    fetch_limit: int = DEFAULT_FETCH_LIMIT
    timeout: float = 30.0


class RemoteStat(NamedTuple):
    """An object's entry in the listing, with the os.stat_result fields discovery and the
    store read: `st_ino` is a number derived from the ETag, so the store's stat key of a
    remote clip is (URL, size, last-modified, ETag)."""

    st_size: int
    st_mtime_ns: int
    st_ino: int
    etag: str
    st_mode: int = stat_module.S_IFREG | 0o444


def filesystem(scheme: str, spec: RemoteSpec) -> Any:
    """A fresh fsspec filesystem for `scheme` (never fsspec's instance cache: a forked
    worker must not reuse its parent's event loop)."""
    extra = _EXTRA.get(scheme, scheme)
    try:
        import fsspec
    except ImportError:
        raise RemoteError(f"{scheme}:// data roots need fsspec: pip install 'cogvid-lint[{extra}]'") from None
    kwargs: dict[str, Any] = {"skip_instance_cache": True}
    protocol = scheme
    if extra == "s3":
        protocol = "s3"
        config: dict[str, Any] = {"connect_timeout": min(spec.timeout, 10.0), "read_timeout": spec.timeout,
                                  "retries": {"max_attempts": 2, "mode": "standard"}}
        kwargs["config_kwargs"] = config
        if spec.endpoint:
            kwargs["endpoint_url"] = spec.endpoint
        if spec.profile:
            kwargs["profile"] = spec.profile
        if spec.anon:
            kwargs["anon"] = True
    elif extra == "gcs":
        protocol = "gcs"
        if spec.endpoint:
            kwargs["endpoint_url"] = spec.endpoint
        if spec.anon:
            kwargs["token"] = "anon"
    elif extra == "az":
        protocol = "abfs" if scheme in ("az", "abfs", "abfss") else scheme
        if spec.anon:
            kwargs["anon"] = True
    try:
        return fsspec.filesystem(protocol, **kwargs)
    except ImportError:
        raise RemoteError(f"{scheme}:// data roots need {_PACKAGE.get(extra, 'its fsspec filesystem')}: "
                          f"pip install 'cogvid-lint[{extra}]'") from None
    except ValueError as exc:  # fsspec: unknown protocol
        raise RemoteError(f"{scheme}:// data roots: {exc}") from None


def describe(exc: BaseException) -> str:
    """One line for a failed remote call: what the store said, without a traceback."""
    if isinstance(exc, FileNotFoundError):
        return "not found (no such bucket or object)"
    if isinstance(exc, PermissionError):
        return "access denied"
    if type(exc).__name__ == "FSTimeoutError":
        return "no answer within the probe timeout"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:240]


def etag_number(etag: str) -> int:
    """A 63-bit number for an ETag: the store keys rows by integers."""
    return int.from_bytes(hashlib.blake2b(etag.encode("utf-8", "surrogatepass"), digest_size=7).digest(), "little")


def _mtime_ns(info: dict) -> int:
    for name in ("LastModified", "last_modified", "mtime", "updated", "modified"):
        value = info.get(name)
        if value is None:
            continue
        if isinstance(value, datetime):
            return int(value.timestamp() * 1_000_000) * 1000
        if isinstance(value, (int, float)):
            return int(value * 1_000_000_000)
        if isinstance(value, str):
            try:
                return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000) * 1000
            except ValueError:
                continue
    return 0


def entry_stat(info: dict) -> RemoteStat:
    etag = str(info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("content_md5") or "")
    size = int(info.get("size") or info.get("Size") or 0)
    return RemoteStat(size, _mtime_ns(info), etag_number(etag), etag)


def bounded(fs: Any, timeout: float | None) -> dict[str, Any]:
    """The keyword that bounds a whole call of an async fsspec filesystem, its retries
    included (fsspec's sync(timeout=): FSTimeoutError past it); nothing for the others."""
    return {"timeout": timeout} if timeout and getattr(fs, "async_impl", False) else {}


def list_objects(fs: Any, scheme: str, root: str, timeout: float | None = None) -> dict[str, RemoteStat]:
    """Every object under the remote path `root`, by remote path: one recursive listing
    (paginated by the store, never a HEAD per object). RemoteError when the store cannot
    be listed (unreachable, no such bucket, access denied) or does not answer in `timeout`."""
    key = urls.key_of(root)
    bucket = key.partition("/")[0]
    url = urls.to_url(root)
    try:
        found = fs.find(key, detail=True, withdirs=False, **bounded(fs, timeout))
        if not found:
            # an empty listing: tell a missing bucket (an error) from an empty folder (the
            # dataset's list files are then missing, as for an empty local folder)
            fs.ls(bucket, detail=False, **bounded(fs, timeout))
    except Exception as exc:  # noqa: BLE001 - any failure of the store is one line
        raise RemoteError(f"{url}: cannot list: {describe(exc)}") from None
    listing = {}
    for name, info in found.items():
        if info.get("type", "file") != "file":
            continue
        listing[urls.from_key(scheme, name)] = entry_stat(info)
    return listing


def read_object(fs: Any, path: str, timeout: float | None = None) -> bytes:
    """A whole (small) object: one GET."""
    return fs.cat_file(urls.key_of(path), **bounded(fs, timeout))
