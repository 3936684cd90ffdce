"""Fuzz the safetensors header reader (cogvid_lint/cache_layout.py read_header): any file
gives a Header whose problem, when there is one, is one short line. Usage: see _harness.py."""

from __future__ import annotations

import _harness
from seeds import safetensors_seeds as seeds


def load():
    from cogvid_lint import cache_layout

    path = _harness.scratch_file("x.safetensors")

    def one_input(data: bytes) -> None:
        path.write_bytes(data)
        header = cache_layout.read_header(path)
        if header.problem is not None:
            assert "\n" not in header.problem and len(header.problem) < 2000, header.problem[:200]
        else:
            assert all(isinstance(shape, tuple) for shape in header.shapes.values())

    return one_input


if __name__ == "__main__":
    _harness.run("safetensors", seeds, load)
