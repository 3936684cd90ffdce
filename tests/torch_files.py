"""Write `torch.save` files without torch, byte for byte in torch's zip format (torch >= 1.6):
a zip archive (stored, not compressed) of `archive/data.pkl` — a protocol-2 pickle in which each
tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
OrderedDict())` and each storage the persistent id `("storage", torch.<Type>Storage, key, "cpu",
numel)` — plus `archive/data/<key>` (the raw bytes), `archive/byteorder` and `archive/version`.

The pickle is assembled opcode by opcode (`pickle` itself would import torch to name its globals).
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

ITEM = {"BFloat16Storage": 2, "FloatStorage": 4, "HalfStorage": 2, "ByteStorage": 1}


@dataclass(frozen=True)
class Tensor:
    shape: tuple[int, ...]
    storage: str = "BFloat16Storage"


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


class _Writer:
    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.storages: list[tuple[str, Tensor]] = []

    def emit(self, value) -> None:
        out = self.out
        if isinstance(value, Tensor):
            key = str(len(self.storages))
            self.storages.append((key, value))
            numel = 1
            for n in value.shape:
                numel *= n
            stride, acc = [], 1
            for n in reversed(value.shape):
                stride.insert(0, acc)
                acc *= n
            out += _global("torch._utils", "_rebuild_tensor_v2") + b"("
            out += b"("  # the persistent id tuple
            self.emit("storage")
            out += _global("torch", value.storage)
            self.emit(key)
            self.emit("cpu")
            self.emit(numel)
            out += b"tQ"  # TUPLE, BINPERSID
            self.emit(0)
            self.emit(tuple(value.shape))
            self.emit(tuple(stride))
            self.emit(False)
            out += _global("collections", "OrderedDict") + b")R"  # OrderedDict()
            out += b"tR"
        elif isinstance(value, dict):
            out += b"}("
            for k, v in value.items():
                self.emit(k)
                self.emit(v)
            out += b"u"
        elif isinstance(value, tuple):
            if not value:
                out += b")"
                return
            out += b"("
            for item in value:
                self.emit(item)
            out += b"t"
        elif isinstance(value, bool):
            out += b"\x88" if value else b"\x89"
        elif isinstance(value, int):
            out += b"J" + struct.pack("<i", value)
        elif isinstance(value, str):
            raw = value.encode("utf-8")
            out += b"X" + struct.pack("<I", len(raw)) + raw
        elif value is None:
            out += b"N"
        else:
            raise TypeError(value)


def torch_save(value, path: Path) -> Path:
    """`torch.save(value, path)` for tensors (all zeros) in dicts and tuples."""
    writer = _Writer()
    writer.emit(value)
    writer.out += b"."
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", bytes(writer.out))
        archive.writestr("archive/byteorder", "little")
        for key, tensor in writer.storages:
            numel = 1
            for n in tensor.shape:
                numel *= n
            archive.writestr(f"archive/data/{key}", b"\0" * (numel * ITEM[tensor.storage]))
        archive.writestr("archive/version", "3\n")
    return path
