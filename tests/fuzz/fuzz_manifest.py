"""Fuzz the list-file reader (cogvid_lint/discover/manifest.py read_manifest): any bytes
give a Manifest, an error or lines read as the trainer reads them (stripped, not empty,
numbered in order). Usage: see _harness.py."""

from __future__ import annotations

import _harness
from seeds import manifest_seeds as seeds


def load():
    from cogvid_lint.discover.manifest import read_manifest

    path = _harness.scratch_file("videos.txt")

    def one_input(data: bytes) -> None:
        path.write_bytes(data)
        manifest = read_manifest(path)
        if manifest.error is not None:
            assert not manifest.entries
            return
        numbers = [entry.line for entry in manifest.entries]
        assert numbers == sorted(set(numbers)) and not set(numbers) & set(manifest.blank_lines)
        for entry in manifest.entries:
            assert entry.text and entry.text == entry.text.strip() and not {"\n", "\r"} & set(entry.text)

    return one_input


if __name__ == "__main__":
    _harness.run("manifest", seeds, load)
