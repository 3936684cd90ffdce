"""Read training launch scripts (shell) for the settings they pass to a trainer.

CogVideo's `finetune/train_*.sh` pass `--data_root`, `--train_resolution`, `--model_name`,
`--caption_column`, `--video_column`, `--image_column` (often inside bash arrays); we
tokenize with shlex, expand simple `$VAR`/`${VAR}` assignments, and read flag/value pairs.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from cogvid_lint.settings import Source

FLAG_TO_KEY = {
    "--data_root": "data_root",
    "--train_resolution": "train_resolution",
    "--model_name": "model",
    "--caption_column": "caption_column",
    "--video_column": "video_column",
    "--image_column": "image_column",
}

_SKIP_DIRS = {".git", ".hg", "node_modules", "__pycache__", ".venv", "venv", "env", ".tox", ".cogvid-lint",
              ".cogvid_lint_cache", "site-packages"}
_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
# Longest expansion kept: `A=$A$A` repeated doubles a value per line (2^40 bytes after 40).
_MAX_EXPANDED = 4096


@dataclass(frozen=True)
class LaunchSettings:
    script: Path
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # key -> 1-based line in the script

    def source(self, key: str) -> Source:
        return Source.in_file(self.script, self.lines.get(key, 1))


def find_launch_scripts(root: Path, max_depth: int = 4) -> list[Path]:
    """Shell scripts under `root` that mention `--data_root` (cheap text test first)."""
    found = []
    root = root.resolve()
    for folder, dirs, files in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".") and depth < max_depth)
        for name in sorted(files):
            if name.endswith(".sh"):
                path = Path(folder) / name
                try:
                    if b"--data_root" in path.read_bytes()[:1_000_000]:
                        found.append(path)
                except OSError:
                    continue
    return found


def read_launch_script(path: Path) -> list[LaunchSettings]:
    """One LaunchSettings per `--data_root` the script passes (usually one)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    variables: dict[str, str] = {}
    tokens: list[tuple[str, int]] = []
    for lineno, line in enumerate(_logical_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        assign = _ASSIGN.match(line)
        if assign and not assign.group(2).strip().startswith("("):
            value = _split(assign.group(2))
            variables[assign.group(1)] = _expand(value[0] if value else "", variables)
            continue
        for token in _split(line):
            tokens.append((_expand(token, variables), lineno))
    # One run per `--data_root`; flags before the first one (model args often come first)
    # belong to that first run.
    results: list[LaunchSettings] = [LaunchSettings(script=path)]
    for i, (token, lineno) in enumerate(tokens):
        key = FLAG_TO_KEY.get(token.split("=", 1)[0])
        if key is None:
            continue
        value = token.split("=", 1)[1] if "=" in token else (tokens[i + 1][0] if i + 1 < len(tokens) else "")
        if key in results[-1].values and key == "data_root":
            results.append(LaunchSettings(script=path))
        results[-1].values[key] = value
        results[-1].lines[key] = lineno
    return [r for r in results if "data_root" in r.values]


def resolve_data_root(settings: LaunchSettings, project_root: Path) -> Path:
    """Relative roots are tried against the script's folder, then the project root."""
    raw = Path(settings.values["data_root"]).expanduser()
    if raw.is_absolute():
        return raw
    for base in (settings.script.parent, project_root):
        if (base / raw).exists():
            return Path(os.path.normpath(base / raw))
    return Path(os.path.normpath(settings.script.parent / raw))


def _logical_lines(text: str) -> list[str]:
    # Each physical line is tokenized on its own (a trailing `\\` dropped) so every flag keeps
    # the line number it is written on; flags and their values share a line in practice.
    return [line[:-1] if line.endswith("\\") else line for line in text.splitlines()]


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()


def _expand(token: str, variables: dict[str, str]) -> str:
    """`token` with its variables expanded; as written when that would pass _MAX_EXPANDED."""
    room = _MAX_EXPANDED - len(token)

    def value(match: re.Match[str]) -> str:
        nonlocal room
        found = variables.get(match.group(1) or match.group(2), match.group(0))
        room -= len(found)
        if room < 0:
            raise _TooLong
        return found

    try:
        return _VAR.sub(value, token)
    except _TooLong:
        return token


class _TooLong(Exception):
    pass
