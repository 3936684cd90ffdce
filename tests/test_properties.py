"""Property tests: manifest parsing agrees with the trainer; random configs never crash."""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cogvid_lint.config_files import FileConfig, read_config
from cogvid_lint.discover.manifest import parse_manifest_text, read_manifest
from cogvid_lint.errors import ConfigError

LINE_CHARS = st.text(alphabet=st.sampled_from(list("ab /.\t\r\n\u00a0\u2028\x0b\x0c\x1c\u3000é-")), max_size=200)


def trainer_entries(text: str) -> list[str]:
    """CogVideo's finetune: open(path, encoding="utf-8") and keep stripped non-blank lines."""
    with io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8") as handle:
        return [line.strip() for line in handle.readlines() if len(line.strip()) > 0]


@given(LINE_CHARS)
def test_manifest_entries_match_the_trainer(text):
    manifest = parse_manifest_text(Path("videos.txt"), text)
    assert [entry.text for entry in manifest.entries] == trainer_entries(text)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_reading_any_bytes_never_raises(tmp_path, data):
    path = tmp_path / "videos.txt"
    path.write_bytes(data)
    manifest = read_manifest(path)
    if manifest.error is None:
        assert len(manifest.entries) == len(trainer_entries(data.decode("utf-8")))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=10,
)
KEYS = st.sampled_from(["data-root", "model", "train-resolution", "purpose", "select", "ignore", "rules",
                        "per-path-ignores", "jobs", "fix-crf", "layout", "id-token", "rules-dir", "bogus"])


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(KEYS | st.text(max_size=10), JSONISH, max_size=6))
def test_random_configs_give_a_config_or_one_line_errors(tmp_path, data):
    path = tmp_path / "cogvid-lint.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        config = read_config(path)
    except ConfigError as exc:
        assert exc.lines and all("\n" not in line and str(path) in line for line in exc.lines)
    else:
        assert isinstance(config, FileConfig)
