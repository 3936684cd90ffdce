"""Start-up of the fast path: a warm run of the code rules imports neither pydantic, PyYAML,
rich nor a video library, and the remembered catalogue/config never hides a change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cogvid_lint.cli import main
from cogvid_lint.remembered import ENV_VAR

HEAVY = ("pydantic", "yaml", "rich", "av", "decord", "torch", "numpy")

_IMPORTS_AFTER_MAIN = f"""
import json, sys
from cogvid_lint.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]), file=sys.stderr)
"""


def _run(cwd: Path, *argv: str, cache_home: Path) -> tuple[int, list[str], str]:
    env = {**os.environ, ENV_VAR: str(cache_home)}
    proc = subprocess.run([sys.executable, "-c", _IMPORTS_AFTER_MAIN, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    code, imported = json.loads(proc.stderr.strip().splitlines()[-1])
    return code, imported, proc.stdout


@pytest.mark.parametrize("config", ["none", "pyproject", "yaml"])
def test_warm_code_hook_imports_no_validation_or_video_library(tmp_path, config):
    (tmp_path / "train.py").write_text("import decord\nimport torch\n")
    if config == "pyproject":
        (tmp_path / "pyproject.toml").write_text('[tool.cogvid-lint]\nignore = ["CVL403"]\n')
    elif config == "yaml":
        (tmp_path / "cogvid-lint.yaml").write_text("rules:\n  decord-before-torch: {severity: warning}\n")
    argv = ("--select", "CVL4", "train.py", "--output-format", "concise")
    home = tmp_path / "home-cache"
    first = _run(tmp_path, *argv, cache_home=home)
    assert first[1] and "pydantic" in first[1]  # the first run validates
    warm = _run(tmp_path, *argv, cache_home=home)
    assert warm[1] == []
    assert warm[0] == first[0] == 1 and warm[2] == first[2] and "CVL401" in warm[2]
    # --no-cache is about the project's caches (clips, code facts), not the validated catalogue
    assert _run(tmp_path, *argv, "--no-cache", cache_home=home)[1] == []
    # a user cache that cannot be written: every run validates, and lints the same
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    for _ in range(2):
        code, imported, out = _run(tmp_path, *argv, cache_home=blocked / "sub")
        assert "pydantic" in imported and (code, out) == (first[0], first[2])


def test_an_edited_config_is_read_again(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("import decord\nimport torch\n")
    config = tmp_path / "cogvid-lint.yaml"
    config.write_text("select: [CVL401]\n")
    assert main(["train.py", "--output-format", "concise", "--config", str(config)]) == 1
    config.write_text("select: [CVL401]\nignore: [CVL401]\n")  # same mtime tick is possible: bump it
    os.utime(config, ns=(config.stat().st_atime_ns, config.stat().st_mtime_ns + 1_000_000))
    capsys.readouterr()
    assert main(["train.py", "--output-format", "concise", "--config", str(config)]) == 0
    config.write_text("selct: [CVL401]\n")
    for _ in range(2):  # a broken config is never remembered: the error shows on every run
        assert main(["train.py", "--config", str(config)]) == 2
        assert "key 'selct': unknown key (did you mean 'select'?)" in capsys.readouterr().err


def test_an_edited_rule_file_is_read_again(tmp_path, capsys, monkeypatch):
    rules = tmp_path / "my-rules"
    rules.mkdir()
    rule = rules / "short.yaml"
    body = ("code: ME{n:03d}\nname: my-short\ntarget: video\nseverity: error\nmessage: m\nsummary: s\n"
            "when: [{{field: frames, op: '<', value: 2}}]\ndocs: {{what: w, why: y, example: e, fix: f}}\n")
    rule.write_text(body.format(n=1))
    (tmp_path / "cogvid-lint.yaml").write_text("rules-dir: my-rules\n")
    monkeypatch.chdir(tmp_path)
    assert main(["--select", "ME001", "--output-format", "concise"]) == 0
    rule.write_text(body.format(n=2))
    assert main(["--select", "ME001", "--output-format", "concise"]) == 2  # ME001 is gone now
    assert "unknown rule selector 'ME001'" in capsys.readouterr().err
    assert main(["--select", "ME002", "--output-format", "concise"]) == 0


def test_the_code_hook_resolves_no_dataset_but_still_reports_a_broken_config(tmp_path, capsys, monkeypatch):
    """Launch scripts and dataset folders are found only when a dataset rule runs; a
    train-resolution the config writes wrong is reported by every run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("import os\n")
    (tmp_path / "finetune").mkdir()
    (tmp_path / "finetune/train.sh").write_text("python train.py --data_root data --train_resolution 49x480\n")
    assert main(["--select", "CVL4", "--output-format", "concise"]) == 0  # the script is never read
    assert main(["--select", "CVL2", "--output-format", "concise"]) == 2
    assert "finetune/train.sh:1: key 'train-resolution'" in capsys.readouterr().err
    (tmp_path / "cogvid-lint.yaml").write_text("train-resolution: 49x480\n")
    assert main(["--select", "CVL4", "--output-format", "concise"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cogvid-lint.yaml: key 'train-resolution'" in err[0], err


def test_suppressions_follow_an_edit_within_one_process(tmp_path, capsys, monkeypatch):
    """`--fix` lints again in the same process: a noqa added or removed in between counts."""
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "train.py"
    script.write_text("import decord\nimport torch\n")
    argv = ["train.py", "--select", "CVL401", "--output-format", "concise", "--no-cache"]
    assert main(argv) == 1
    script.write_text("import decord  # noqa: CVL401\nimport torch\n")
    assert main(argv) == 0
    script.write_text("import decord\nimport torch\n\n")
    assert main(argv) == 1


def test_user_cache_folder_follows_xdg_and_ignores_a_relative_one(tmp_path, monkeypatch):
    from cogvid_lint.remembered import user_cache_dir

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "xdg" / "cogvid-lint"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # would litter the project being linted
    assert user_cache_dir() == tmp_path / "home" / ".cache" / "cogvid-lint"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "mine"))
    assert user_cache_dir() == tmp_path / "mine"
