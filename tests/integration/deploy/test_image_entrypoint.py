"""The image's entrypoint and healthcheck, run as the container would run them (no Docker engine
here): ``bootstrap`` migrates and creates the buckets; a named service starts and reports healthy
to the container healthcheck; SIGTERM stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.storage import ObjectStore
from tests.conftest import ROOT, free_port
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

DOCKER = ROOT / "deploy" / "docker"


def _env(test_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "PSYCOPG_WAIT_FUNC": "wait_selector",
        "DISAN_CONFIG": str(ROOT / "deploy" / "config" / "disan.yaml"),
        "DISAN_HOME": "/tmp/disan-entrypoint-test",
        "DISAN_BIND_HOST": "127.0.0.1",
        **test_env,
    }
    env.update(extra)
    return env


def test_bootstrap_migrates_and_creates_the_buckets(
    test_env: dict[str, str], settings: Any
) -> None:
    done = subprocess.run(
        [str(DOCKER / "entrypoint.sh"), "bootstrap"],
        env=_env(test_env),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    store = ObjectStore(settings.s3)
    for bucket in ("masters", "derivatives"):
        store.ensure_bucket(bucket)  # exists already: no error, nothing created twice


def test_a_named_service_starts_and_the_container_healthcheck_sees_it(
    test_env: dict[str, str], settings: Any
) -> None:
    ops = free_port()
    env = _env(
        test_env,
        DISAN_SERVICE="gateway",
        DISAN_OPS_PORT_GATEWAY=str(ops),
        DISAN_GATEWAY_PORT=str(free_port()),
    )
    check = [sys.executable, str(DOCKER / "healthcheck.py")]
    assert subprocess.run(check, env=env, capture_output=True, timeout=30).returncode == 1
    proc = subprocess.Popen(
        [str(DOCKER / "entrypoint.sh")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(
            lambda: subprocess.run(check, env=env, capture_output=True, timeout=30).returncode == 0,
            timeout=60,
            interval=0.5,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait(timeout=10)


def test_without_a_service_name_the_entrypoint_says_what_to_do(test_env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(DOCKER / "entrypoint.sh")],
        env=_env(test_env, DISAN_SERVICE=""),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "DISAN_SERVICE" in done.stderr
