"""``disan up`` starts RabbitMQ with the pid file Debian's init script waits for, so that
``service rabbitmq-server restart`` works on a machine it set up (issue 14)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from disan.cli import infra


def test_rabbitmq_is_started_with_the_init_scripts_pid_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[dict[str, Any]] = []
    answers = iter([False])  # not running before; then the port opens
    monkeypatch.setattr(infra, "port_open", lambda *a, **k: next(answers, True))
    monkeypatch.setattr(infra, "wait_port", lambda *a, **k: None)
    monkeypatch.setattr(infra.shutil, "which", lambda name: f"/usr/sbin/{name}")
    pid_file = tmp_path / "run" / "rabbitmq" / "pid"
    monkeypatch.setattr(infra, "RABBITMQ_PID_FILE", pid_file)

    def fake_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        started.append({"cmd": cmd, "env": kwargs.get("env")})
        return subprocess.CompletedProcess(cmd, 0, b"", b"")

    monkeypatch.setattr(infra.subprocess, "run", fake_run)
    assert infra.ensure_rabbitmq() is True
    (start,) = started
    assert start["cmd"] == ["rabbitmq-server", "-detached"]
    assert start["env"]["RABBITMQ_PID_FILE"] == str(pid_file)
    assert pid_file.parent.is_dir()


def test_the_pid_file_is_the_one_the_init_script_reads() -> None:
    script = Path("/etc/init.d/rabbitmq-server")
    if script.exists():
        assert f"PID_FILE={infra.RABBITMQ_PID_FILE}" in script.read_text()
    assert infra.RABBITMQ_PID_FILE == Path("/var/run/rabbitmq/pid")
