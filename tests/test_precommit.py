"""The pre-commit hooks, run by the real `pre-commit`, and the CI docs' commands.

The slow tests run `pre-commit try-repo <this repository>` in temporary git repos holding a
dataset and Python files. try-repo installs the hook environment from the package registry
into a store of its own on every call (so they take time); the one `pre-commit run` test
installs into PRE_COMMIT_HOME, a temporary folder, where it checks what got installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from clips import make_clip

REPO = Path(__file__).resolve().parents[1]
HOOKS = REPO / ".pre-commit-hooks.yaml"
CI_DOC = REPO / "README.md"  # its "Use in CI" section
GIT_ENV = {"GIT_AUTHOR_NAME": "cogvid-lint tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
           "GIT_COMMITTER_NAME": "cogvid-lint tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

BAD_SCRIPT = 'import decord\nimport torch\n\nif __name__ == "__main__":\n    print(decord, torch)\n'
GOOD_SCRIPT = 'import torch\nimport decord\n\nif __name__ == "__main__":\n    print(decord, torch)\n'
CONFIG = "data-root: data\nrules:\n  CVL008:\n    params: {min_videos_other: 1}\n"


def hooks() -> dict[str, dict]:
    return {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})


def commit_all(root: Path) -> Path:
    if not (root / ".git").exists():
        git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", "snapshot")
    return root


# ---- fast: the manifest, the hook contract, the docs ----------------------------------------

def test_manifest_validates_with_pre_commit():
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(HOOKS)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hook_definitions():
    defined = hooks()
    assert set(defined) == {"cogvid-lint-code", "cogvid-lint", "cogvid-lint-fix"}
    for hook in defined.values():
        assert hook["language"] == "python"
        assert tuple(int(p) for p in hook["minimum_pre_commit_version"].split(".")) >= (3, 2, 0)
        assert "additional_dependencies" not in hook  # torch must never come in through a hook
    code = defined["cogvid-lint-code"]
    assert "--select CVL4" in code["entry"] and code["types"] == ["python"]
    assert code.get("pass_filenames", True) is True
    for hook_id in ("cogvid-lint", "cogvid-lint-fix"):
        hook = defined[hook_id]
        assert hook["pass_filenames"] is False and hook["require_serial"] is True
        files = re.compile(hook["files"])
        for name in ("data/videos.txt", "prompts.txt", "data/prompt.txt", "captions.txt", "images.txt",
                     "sat/labels/1.txt", "cogvid-lint.yaml", ".cogvid-lint.yml", "pyproject.toml",
                     "finetune/train.py", "finetune/train_ddp_t2v.sh"):
            assert files.search(name), name
        for name in ("data/videos/a.mp4", "README.md", "notes.txt", "data/videos.txt.bak"):
            assert not files.search(name), name
    assert "--fix" in defined["cogvid-lint-fix"]["entry"] and defined["cogvid-lint-fix"]["stages"] == ["manual"]


def test_torch_is_only_an_optional_extra():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any(dep.lower().startswith("torch") for dep in project["dependencies"])
    assert any(dep.startswith("torch") for dep in project["optional-dependencies"]["torch"])


def test_code_hook_entry_imports_no_video_library(tmp_path):
    """The code hook must stay fast: no av, decord or torch import, even in a project whose
    config tunes dataset rules the hook does not run."""
    (tmp_path / "cogvid-lint.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "train.py").write_text(BAD_SCRIPT, encoding="utf-8")
    entry = hooks()["cogvid-lint-code"]["entry"].split()[1:]
    script = ("import sys\nfrom cogvid_lint.cli import main\n"
              f"code = main({entry!r} + ['train.py'])\n"
              "heavy = sorted(m for m in ('av', 'decord', 'torch') if m in sys.modules)\n"
              "print('CODE', code, 'HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "CODE 1 HEAVY []" in proc.stdout, proc.stdout + proc.stderr
    assert "CVL401" in proc.stdout


def test_dataset_hook_prints_concise_output(tmp_path):
    """The project hook's entry, run by the installed command, prints one line per finding
    (like the code hook): no report tables, no settings table (issue 16, item 9)."""
    from conftest import COGVID_LINT

    (tmp_path / "data" / "v").mkdir(parents=True)
    make_clip(tmp_path / "data" / "v" / "a.mp4", frames=12, width=96, height=64)
    (tmp_path / "data" / "prompts.txt").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "data" / "videos.txt").write_text("v/a.mp4\nv/b.mp4\n", encoding="utf-8")
    (tmp_path / "train.py").write_text(BAD_SCRIPT, encoding="utf-8")
    entry = hooks()["cogvid-lint"]["entry"].split()
    assert entry[0] == "cogvid-lint"
    proc = subprocess.run([COGVID_LINT, *entry[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(" CVL003 [missing-media] " in line for line in lines) and any("CVL401" in line for line in lines)
    finding = re.compile(r"^[^\s:][^:]*(:\d+(:\d+)?)?: CVL\d{3} \[[a-z0-9-]+\] \S")
    assert all(finding.match(line) for line in lines), proc.stdout


def _commands(markdown: str) -> list[list[str]]:
    """Every `cogvid-lint ...` command line in the doc's code blocks (shell lines and `run:`)."""
    import shlex

    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", markdown, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"^\s*(- )?(run: |entry: )?", "", line).split(" #")[0].strip()
            if line.startswith("cogvid-lint ") or line == "cogvid-lint":
                found.append(shlex.split(line)[1:])
    return found


def test_ci_doc_uses_only_flags_that_exist():
    from cogvid_lint.cli import COMMANDS, build_parser

    text = CI_DOC.read_text(encoding="utf-8")
    commands = _commands(text)
    assert len(commands) >= 3
    for argv in commands:
        argv = argv if argv and argv[0] in COMMANDS else ["check", *argv]
        build_parser().parse_args(argv)  # raises UsageError on an unknown flag or value
    blocks = {m.group(1): yaml.safe_load(m.group(2)) for m in
              re.finditer(r"<!-- (\S+) -->\n```yaml\n(.*?)```", text, flags=re.DOTALL)}
    workflow = blocks["github-workflow"]
    steps = workflow["jobs"]["cogvid-lint"]["steps"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif"))
    assert upload["if"] == "always()" and upload["with"]["sarif_file"]
    assert workflow["jobs"]["cogvid-lint"]["permissions"]["security-events"] == "write"
    config = blocks["pre-commit-config"]
    used = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert set(used) <= set(hooks()) and used["cogvid-lint"]["always_run"] is True


# ---- slow: the real pre-commit, installing the hook environment -----------------------------

@pytest.fixture(scope="module")
def hook_repo() -> Path:
    """This repository, as try-repo is meant to be used: a local checkout. try-repo itself
    takes the working tree of the tracked files (it commits them into a shadow clone), so
    untracked work in progress is left out; $COGVID_LINT_HOOK_REPO names another checkout
    (e.g. a clone of the last commit) when the working tree is mid-change."""
    repo = Path(os.environ.get("COGVID_LINT_HOOK_REPO") or REPO)
    if not (repo / ".git").exists():
        pytest.skip(f"{repo} is not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", ".pre-commit-hooks.yaml"], cwd=repo,
                             capture_output=True)
    assert tracked.returncode == 0, "commit .pre-commit-hooks.yaml: try-repo ignores untracked files"
    return repo


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def make_project(root: Path, *, bad: bool) -> Path:
    """A git repo with a dataset and Python files: clean, or with dataset and code findings."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cogvid-lint.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "data/videos").mkdir(parents=True)
    make_clip(root / "data/videos/a.mp4", 72, 48, 49, fps=8, marker=(2, 2))
    make_clip(root / "data/videos/b.mp4", 72, 48, 49, fps=8, marker=(40, 20))
    # descriptions long enough for caption-too-short (CVL022)
    captions = ("a red fox runs across a snowy field\na grey cat sleeps on a sunny windowsill\n"
                + ("a third caption with no clip to describe\n" if bad else ""))
    (root / "data/prompts.txt").write_text(captions, encoding="utf-8")
    (root / "data/videos.txt").write_text("videos/a.mp4\nvideos/b.mp4\n", encoding="utf-8")
    (root / "train.py").write_text(BAD_SCRIPT if bad else GOOD_SCRIPT, encoding="utf-8")
    (root / "utils").mkdir()
    (root / "utils/helpers.py").write_text("def double(x):\n    return 2 * x\n", encoding="utf-8")
    return commit_all(root)


def pre_commit(project: Path, home: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}
    env.update(GIT_ENV, PRE_COMMIT_HOME=str(home), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "pre_commit", *argv, "--color", "never"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=1800)


def try_repo(hook_repo: Path, home: Path, project: Path, *hook_and_flags: str) -> subprocess.CompletedProcess:
    """`pre-commit try-repo` (it installs the hook environment in a store of its own each time)."""
    return pre_commit(project, home, "try-repo", str(hook_repo), *hook_and_flags, "--all-files")


def sections(output: str) -> dict[str, str]:
    """pre-commit's output split per hook: `name....Passed/Failed` starts a hook's section."""
    found: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        match = re.match(r"^(cogvid-lint[^.]*?)\.{3,}(Passed|Failed|Skipped)", line)
        if match:
            current = match.group(1)
            found[current] = match.group(2) + "\n"
        elif current:
            found[current] += line + "\n"
    return found


@pytest.mark.slow
def test_try_repo_fails_on_a_bad_project_and_passes_on_a_clean_one(hook_repo, pre_commit_home, tmp_path):
    """Both commit-stage hooks (cogvid-lint-code and cogvid-lint) in one try-repo run."""
    bad = try_repo(hook_repo, pre_commit_home, make_project(tmp_path / "bad", bad=True))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
    hooks_out = sections(bad.stdout)
    code, project = hooks_out["cogvid-lint (Python code rules)"], hooks_out["cogvid-lint (project)"]
    assert code.startswith("Failed") and "train.py:1:1: CVL401 [decord-before-torch]" in code
    assert "CVL002" not in code  # the code hook runs no dataset rule
    assert project.startswith("Failed")
    assert "CVL002" in project and "count-mismatch" in project and "CVL401" in project
    clean = try_repo(hook_repo, pre_commit_home, make_project(tmp_path / "clean", bad=False))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    hooks_out = sections(clean.stdout)
    assert hooks_out["cogvid-lint (Python code rules)"].startswith("Passed"), clean.stdout
    assert hooks_out["cogvid-lint (project)"].startswith("Passed"), clean.stdout


@pytest.mark.slow
def test_try_repo_single_hook_and_the_manual_fix_hook(hook_repo, pre_commit_home, tmp_path):
    project = make_project(tmp_path / "bad", bad=True)
    skipped = try_repo(hook_repo, pre_commit_home, project, "cogvid-lint-fix")  # not in the commit stage
    assert "No hook with id `cogvid-lint-fix` in stage `pre-commit`" in skipped.stdout, skipped.stdout
    assert (project / "train.py").read_text(encoding="utf-8") == BAD_SCRIPT
    fixed = try_repo(hook_repo, pre_commit_home, project, "cogvid-lint-fix", "--hook-stage", "manual")
    assert fixed.returncode == 1, fixed.stdout  # files changed (and the count mismatch remains)
    assert "Fixed 1 finding" in fixed.stdout and "CVL002" in fixed.stdout
    text = (project / "train.py").read_text(encoding="utf-8")
    assert text.index("import torch") < text.index("import decord"), text


@pytest.mark.slow
def test_installed_hook_environment_has_no_torch(hook_repo, pre_commit_home, tmp_path):
    """A `.pre-commit-config.yaml` run: the environment lands in PRE_COMMIT_HOME, where we look."""
    project = make_project(tmp_path / "clean", bad=False)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hook_repo, capture_output=True, text=True,
                         check=True).stdout.strip()  # the last commit: a config names a revision
    config = {"repos": [{"repo": str(hook_repo), "rev": rev, "hooks": [{"id": "cogvid-lint-code"}]}]}
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    commit_all(project)
    ran = pre_commit(project, pre_commit_home, "run", "cogvid-lint-code", "--all-files")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    site_packages = list(pre_commit_home.glob("repo*/py_env-*/lib/python*/site-packages"))
    assert site_packages, sorted(str(p) for p in pre_commit_home.rglob("site-packages"))
    for folder in site_packages:
        installed = {p.name.lower() for p in folder.iterdir()}
        assert "cogvid_lint" in installed and "av" in installed, sorted(installed)
        assert not {"torch", "decord"} & installed, sorted(installed)
        # a non-editable install: the rule catalogue came along inside the package
        rules = {p.name for p in (folder / "cogvid_lint" / "rules").glob("*.yaml")}
        committed = subprocess.run(["git", "ls-tree", "--name-only", rev, "rules/"], cwd=hook_repo,
                                   capture_output=True, text=True, check=True).stdout.split()
        assert rules == {Path(name).name for name in committed}


@pytest.mark.slow
def test_wheel_ships_the_rule_catalogue(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("cogvid_lint-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("cogvid_lint/rules/")}
    assert shipped == {p.name for p in (REPO / "rules").glob("*.yaml")}
    assert not any(n.startswith(("tests/", "rules/")) for n in names)
