"""Shared fixtures: a project builder that writes real files and real clips."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Mapping

import pytest

from clips import make_clip, packet_offsets, truncate_clip

# The command this test run's interpreter installed (its venv's bin/), never PATH's: the
# tests must pass with the venv not activated and another cogvid-lint on PATH.
COGVID_LINT = str(Path(sys.executable).parent / "cogvid-lint")


def build_project(root: Path, files: Mapping[str, Any] | None = None,
                  clips: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write text files (str), binary files (bytes) and real clips (make_clip kwargs) under root."""
    for rel, content in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
    for rel, kwargs in (clips or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs = dict(kwargs or {})
        if "footage" in kwargs:  # a footage-like clip (tests/footage.py) for the pixel rules
            from footage import make as make_footage

            make_footage(root, rel, kwargs.pop("footage"), **kwargs)
            continue
        truncate = kwargs.pop("truncate", None)
        cut_packets = kwargs.pop("cut_last_packets", None)
        make_clip(path, **kwargs)
        if truncate is not None:
            truncate_clip(path, truncate)
        if cut_packets:
            # drop the last packets' bytes of a faststart mp4: the header still claims them
            offsets = packet_offsets(path)
            start = sorted(offsets)[-cut_packets][0]
            with open(path, "r+b") as handle:
                handle.truncate(start)
    return root


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A builder bound to a fresh folder that is also the current directory."""
    monkeypatch.chdir(tmp_path)

    def make(files=None, clips=None) -> Path:
        return build_project(tmp_path, files, clips)

    return make


@pytest.fixture
def lint_json(capsys, stamped):
    """Run main() with --output-format json; return (exit code, parsed JSON).

    Each finding stamped meanwhile is held to what its check declared (assert_declared_args):
    every test that lints this way doubles as a test that the declarations are honest."""
    from cogvid_lint.cli import main

    def run(*argv: str) -> tuple[int, dict]:
        capsys.readouterr()
        code = main([*argv, "--output-format", "json"])
        out = capsys.readouterr().out
        assert_declared_args(stamped)
        return code, json.loads(out)

    return run


@pytest.fixture
def stamped(monkeypatch) -> list:
    """(active rule, finding, diagnostic) for each finding the engine stamps in this test."""
    from cogvid_lint import engine

    found: list = []
    original = engine.stamp

    def recording(rule, finding):
        diagnostic = original(rule, finding)
        found.append((rule, finding, diagnostic))
        return diagnostic

    monkeypatch.setattr(engine, "stamp", recording)
    return found


def assert_declared_args(stamped: list) -> None:
    """Each finding fills exactly the message arguments its check declared (registry.check):
    none undeclared, none declared and left out (a message naming it would show `{name}`);
    and no placeholder of its message or hint is left in the rendered text."""
    from cogvid_lint.catalogue import placeholders
    from cogvid_lint.registry import message_args

    for rule, finding, diagnostic in stamped:
        spec = rule.spec
        declared = message_args(rule.check)
        assert set(finding.args) == declared, (spec.code, sorted(finding.args), sorted(declared))
        for template, text in ((spec.message, diagnostic.message), (spec.hint, diagnostic.hint)):
            left = [name for name in placeholders(template) if "{" + name in text]
            assert not left, (spec.code, template, text)


@pytest.fixture(autouse=True)
def _no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_tmp(tmp_path_factory):
    """The remembered catalogue and configs (cogvid_lint.remembered) of this test session
    live in its tmp folder, not in the user's ~/.cache; subprocesses inherit it."""
    import os

    from cogvid_lint.remembered import ENV_VAR

    os.environ[ENV_VAR] = str(tmp_path_factory.mktemp("user-cache"))
    # the caption rules read a CogVideoX tokenizer from the Hugging Face cache: the user's
    # must not change what a test sees (a test that wants one makes its own)
    os.environ["HF_HUB_CACHE"] = str(tmp_path_factory.mktemp("hf-hub-cache"))


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray instance (it costs ~7 s and ~1 GiB to start) for the tests of a module
    (marked `ray`; they are in one module), shut down after them: its idle workers, log
    monitor and agents would otherwise take CPU from the rest of the run. Two CPUs, no dashboard; its workers
    find the stand-ins (tests/) on PYTHONPATH and the test S3 server's made-up credentials in
    their environment (where a real cluster's workers find theirs). Skipped where Ray is not
    installed."""
    ray = pytest.importorskip("ray")
    import logging

    from s3server import ACCESS

    tests = str(Path(__file__).parent)
    with pytest.MonkeyPatch.context() as patch:
        # Ray 2.5x writes an access token under ~/.ray for a new local instance: not for a test run
        patch.setenv("RAY_AUTH_MODE", "disabled")
        patch.delenv("RAY_ADDRESS", raising=False)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 runtime_env={"env_vars": {"PYTHONPATH": tests, **ACCESS}})
        try:
            yield ray
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def s3():
    """An S3-compatible server on 127.0.0.1 (moto, tests/s3server.py) for one test module."""
    pytest.importorskip("moto")
    from s3server import S3Server

    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def env(s3, monkeypatch):
    """The environment the filesystem reads credentials and the endpoint of `s3` from (this
    process's too, for the in-process reads); for subprocesses, the returned mapping."""
    import os

    from s3server import ACCESS

    for key, value in ACCESS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.url)
    return {**os.environ, **ACCESS, "AWS_ENDPOINT_URL": s3.url}
