"""Each fuzz harness's property, replayed on its seeds (real clips and files the seeds
module makes) and on the inputs of past findings, in seconds, without atheris: what the
long fuzz runs check, kept true by every test run."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

HARNESSES = ["mp4box", "pixfmt", "safetensors", "manifest", "launch"]
# inputs a fuzz run found (its crash-*/timeout-* files), kept here once fixed
FOUND = Path(__file__).resolve().parent / "found"


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_property_holds_on_seeds_and_past_findings(name):
    harness = importlib.import_module(f"fuzz_{name}")
    inputs = harness.seeds()
    if (FOUND / name).is_dir():
        inputs |= {path.name: path.read_bytes() for path in sorted((FOUND / name).iterdir())}
    assert len(inputs) >= 3
    one_input = harness.load()
    for label, data in inputs.items():
        try:
            one_input(data)
        except Exception as exc:
            raise AssertionError(f"{name} fails on input {label!r}: {exc!r}") from exc
    # and on every prefix of the first real input: each truncation point is a case
    first = next(iter(inputs.values()))
    for end in range(0, len(first), max(1, len(first) // 200)):
        one_input(first[:end])

