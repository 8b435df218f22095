"""supervisord for the local stack: its configuration (S3 endpoint, every service, the nginx
front) and ``supervisorctl``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from disan.cli.env import Paths
from disan.cli.nginx import NGINX
from disan.registry import ROOT, SERVICES
from shared.config import Settings


def venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _program(name: str, command: str, p: Paths, extra: str = "") -> str:
    return (
        f"[program:{name}]\ncommand={command}\ndirectory={ROOT}\nautorestart=true\n"
        f"startsecs=1\nstartretries=5\nstopasgroup=true\nkillasgroup=true\nstopwaitsecs=15\n"
        f"redirect_stderr=true\nstdout_logfile={p.logs / (name + '.log')}\n"
        f"stdout_logfile_maxbytes=20MB\nstdout_logfile_backups=2\n{extra}\n"
    )


def write_supervisor_conf(settings: Settings, p: Paths) -> None:
    s3 = urlsplit(f"//{settings.s3.endpoint}")
    programs = [
        _program(
            "s3",
            f"{venv_bin('moto_server')} -H {s3.hostname} -p {s3.port or 9000}",
            p,
            "priority=10",
        ),
    ]
    for spec in SERVICES.values():
        programs.append(
            _program(spec.name, f"{venv_bin('disan')} service run {spec.name}", p, "priority=50")
        )
    programs.append(
        _program(
            "front",
            f"{NGINX} -g 'daemon off;' -p {p.nginx} -c {p.nginx / 'nginx.conf'}",
            p,
            "priority=90",
        )
    )
    conf = (
        f"[unix_http_server]\nfile={p.home / 'supervisor.sock'}\nchmod=0700\n\n"
        f"[supervisord]\nlogfile={p.logs / 'supervisord.log'}\npidfile={p.supervisor_pid}\n"
        f"directory={ROOT}\nchildlogdir={p.logs}\n\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        f"[supervisorctl]\nserverurl=unix://{p.home / 'supervisor.sock'}\n\n" + "\n".join(programs)
    )
    p.supervisor_conf.write_text(conf, encoding="utf-8")


def supervisor_running(p: Paths) -> bool:
    if not p.supervisor_pid.exists():
        return False
    try:
        os.kill(int(p.supervisor_pid.read_text().strip()), 0)
    except (ValueError, OSError):
        return False
    return True


def supervisorctl(p: Paths, *args: str) -> str:
    done = subprocess.run(
        [venv_bin("supervisorctl"), "-c", str(p.supervisor_conf), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout
