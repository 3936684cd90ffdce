"""What a `torch.save` file holds — tensor shapes and dtypes — read without torch and without
running the file's pickle.

torch.save (zip format, torch >= 1.6, the default) writes a zip archive: `<prefix>/data.pkl`, a
protocol-2 pickle of the object in which each tensor is `torch._utils._rebuild_tensor_v2(storage,
offset, size, stride, requires_grad, hooks[, metadata])` and each storage the persistent id
`("storage", torch.<Type>Storage, key, location, numel)`; `<prefix>/data/<key>`, each storage's
raw bytes (stored, not compressed); `<prefix>/byteorder` and `<prefix>/version`.

The pickle is read by an `Unpickler` whose `find_class` hands out inert stand-ins for those few
names and refuses every other, so nothing in the file runs — the allowlist idea of
`torch.load(weights_only=True)`, which is how the trainers read these files. The stdlib's
`zipfile` and `pickle` do the parsing (no torch: it is an optional extra).
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

# Bytes per element of each storage type torch pickles (torch/storage.py's legacy typed storages)
ITEM_SIZES = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8, "Float8_e4m3fnStorage": 1, "Float8_e5m2Storage": 1,
    "Float8_e4m3fnuzStorage": 1, "Float8_e5m2fnuzStorage": 1, "UntypedStorage": 1,
}
# A torch.save pickle that starts like this is the legacy (pre-1.6, non-zip) format
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_MAX_PICKLE = 16 * 1024 * 1024  # data.pkl of a latent or an embedding dict is a few hundred bytes


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: str  # the storage type, e.g. "BFloat16Storage"


@dataclass(frozen=True)
class TorchFile:
    """`tensors`: "" for a bare tensor, else the dict key (nested keys joined with "."). `problem`:
    the file is damaged, torch.load fails on it too. `unread`: it may be fine for torch, but it is not
    a zip-format file of plain tensors we can read here (the legacy format, an unknown type)."""

    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    problem: str | None = None
    unread: str | None = None

    def first_shape(self, *keys: str) -> tuple[int, ...] | None:
        """The shape of the bare tensor, or of the first of `keys` present."""
        for key in ("", *keys):
            if key in self.tensors:
                return self.tensors[key].shape
        return None


class _Storage:
    __slots__ = ("type_name", "key", "numel")

    def __init__(self, type_name: str, key: str, numel: int):
        self.type_name, self.key, self.numel = type_name, key, numel


class _StorageType:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _Refused(Exception):
    pass


def _rebuild_tensor(storage, offset, size, stride, *rest):
    if not isinstance(storage, _Storage) or not isinstance(size, tuple) or not all(isinstance(n, int) for n in size):
        raise _Refused("a tensor whose storage or size is not what torch.save writes")
    return TensorInfo(tuple(size), storage.type_name)


def _rebuild_parameter(data, *rest):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data))
        self.storages: dict[str, _Storage] = {}  # every storage the pickle names, by key

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in ITEM_SIZES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise _Refused(f"it holds {module}.{name}, which is not read here")

    def persistent_load(self, pid):
        if (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)
                and isinstance(pid[2], str) and isinstance(pid[4], int)):
            storage = self.storages[pid[2]] = _Storage(pid[1].name, pid[2], pid[4])
            return storage
        raise _Refused("a persistent id that is not a torch storage")


def read_torch_file(path: Path) -> TorchFile:
    try:
        with open(path, "rb") as handle:
            return read_torch_handle(handle)
    except OSError as exc:
        return TorchFile(problem=f"cannot read it: {exc.strerror or exc}")


def read_torch_handle(handle) -> TorchFile:
    """As read_torch_file, from a seekable binary file object (an object in a store read by
    range requests: cogvid_lint.cache_reads)."""
    head = handle.read(len(LEGACY_MAGIC))
    if not head:
        return TorchFile(problem="empty file (0 bytes): an interrupted write")
    if head == LEGACY_MAGIC:
        return TorchFile(unread="a legacy (non-zip) torch.save file, not read here")
    handle.seek(0)
    return _read_zip(handle)


def to_json(found: TorchFile) -> dict:
    return {"tensors": {k: [list(v.shape), v.dtype] for k, v in found.tensors.items()}, "problem": found.problem,
            "unread": found.unread}


def from_json(value: dict) -> TorchFile:
    """TorchFile of to_json's value; ValueError (or KeyError, TypeError) when it is not one."""
    tensors = {str(k): TensorInfo(tuple(int(n) for n in shape), str(dtype))
               for k, (shape, dtype) in value["tensors"].items()}
    problem, unread = value["problem"], value["unread"]
    if not all(x is None or isinstance(x, str) for x in (problem, unread)):
        raise ValueError("not a TorchFile")
    return TorchFile(tensors, problem, unread)


def _read_zip(handle) -> TorchFile:
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile:
        return TorchFile(problem="not a complete zip archive (truncated, or not a torch.save file)")
    except (ValueError, OSError, EOFError) as exc:
        return TorchFile(problem=f"unreadable zip archive: {exc}")
    with archive:
        entries = {info.filename: info for info in archive.infolist()}
        pickles = [name for name in entries if name.endswith("/data.pkl") and name.count("/") == 1]
        if len(pickles) != 1:
            return TorchFile(problem="no data.pkl in the archive: not a torch.save file")
        prefix = pickles[0][: -len("data.pkl")]
        info = entries[pickles[0]]
        if info.file_size > _MAX_PICKLE:
            return TorchFile(unread=f"its data.pkl is {info.file_size} bytes, more than is read here")
        try:
            raw = archive.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            return TorchFile(problem=f"its data.pkl cannot be read: {' '.join(str(exc).split())[:120]}")
        unpickler = _Unpickler(raw)
        try:
            value = unpickler.load()
        except _Refused as exc:
            return TorchFile(unread=str(exc))
        except Exception as exc:  # noqa: BLE001 - a damaged pickle: UnpicklingError, EOFError, TypeError, ...
            return TorchFile(problem=f"its data.pkl is damaged ({exc.__class__.__name__})")
        try:
            tensors = _tensors(value, "")
        except RecursionError:  # a pickle of lists nested thousands deep: no trainer's cache item
            tensors = None
        if tensors is None:
            return TorchFile(unread="it holds something other than tensors in dicts, lists and tuples")
        for key, storage in unpickler.storages.items():
            record = entries.get(f"{prefix}data/{key}")
            needed = storage.numel * ITEM_SIZES[storage.type_name]
            if record is None:
                return TorchFile(problem=f"storage data/{key} is missing from the archive")
            if record.file_size < needed:
                return TorchFile(problem=f"storage data/{key} holds {record.file_size} bytes, its tensor needs {needed}")
        return TorchFile(tensors)


def _tensors(value, key: str) -> dict[str, TensorInfo] | None:
    """Every tensor in `value` by key path; None when something else is in it (besides plain scalars)."""
    if isinstance(value, TensorInfo):
        return {key: value}
    if isinstance(value, dict):
        found: dict[str, TensorInfo] = {}
        for name, item in value.items():
            inner = _tensors(item, f"{key}.{name}" if key else str(name))
            if inner is None:
                return None
            found.update(inner)
        return found
    if isinstance(value, (list, tuple)):
        found = {}
        for i, item in enumerate(value):
            inner = _tensors(item, f"{key}.{i}" if key else str(i))
            if inner is None:
                return None
            found.update(inner)
        return found
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return {}
    return None
