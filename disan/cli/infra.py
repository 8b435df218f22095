"""Make sure the infrastructure runs: PostgreSQL, RabbitMQ, Redis (Debian packages).

What is already running is reused and never stopped by us; what we start is recorded, so
``disan down`` stops exactly that.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


class InfraError(Exception):
    """A piece of infrastructure could not be installed or started."""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise InfraError(f"{what} did not open {host}:{port} within {timeout:.0f}s")
        time.sleep(0.2)


def run(cmd: list[str], check: bool = True, timeout: float = 600, **kw: object) -> str:
    log.debug("running %s", " ".join(cmd))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    except FileNotFoundError as exc:
        raise InfraError(f"command not found: {cmd[0]}") from exc
    if check and done.returncode != 0:
        raise InfraError(
            f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-800:]}"
        )
    return str(done.stdout)


_apt_updated = False


def apt_install(*packages: str) -> None:
    """Install Debian packages that are missing (needs root)."""
    global _apt_updated
    missing = [p for p in packages if not dpkg_installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise InfraError(f"please install as root: apt-get install -y {' '.join(missing)}")
    print(f"  installing {' '.join(missing)} (Debian packages)…", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        run(["apt-get", "update", "-qq"], env=env)
        _apt_updated = True
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def dpkg_installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return done.returncode == 0 and "install ok installed" in done.stdout


# PostgreSQL ----------------------------------------------------------------------------------


def ensure_postgres(host: str = "127.0.0.1", port: int = 5432) -> bool:
    """Running PostgreSQL on host:port; returns True if we started it."""
    if port_open(host, port):
        return False
    if shutil.which("pg_lsclusters") is None:
        apt_install("postgresql", "postgresql-contrib")
    clusters = run(["pg_lsclusters", "-h"]).split()
    if not clusters:
        raise InfraError("PostgreSQL is installed but has no cluster (pg_createcluster 15 main)")
    version = clusters[0]
    run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    wait_port(host, port, 60, "PostgreSQL")
    return True


def stop_postgres() -> None:
    clusters = run(["pg_lsclusters", "-h"], check=False).split()
    if clusters:
        run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[0], "main", "stop"], check=False
        )


def psql_superuser(sql: str, database: str = "postgres") -> str:
    """Run SQL as the ``postgres`` superuser: over the local socket as that OS user when we can
    (a fresh Debian install trusts only that), else over TCP."""
    if os.geteuid() == 0 and shutil.which("runuser"):
        cmd = [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-v",
            "ON_ERROR_STOP=1",
            "-qtAX",
            "-d",
            database,
            "-c",
            sql,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd="/tmp")
        if done.returncode == 0:
            return done.stdout
    return run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qtAX",
            "-d",
            database,
            "-c",
            sql,
        ]
    )


def ensure_database(name: str, user: str, password: str) -> None:
    """A login role and a database it owns, with the extensions search needs."""
    for value in (name, user):
        if not value.replace("_", "").isalnum():
            raise InfraError(f"unsafe identifier {value!r}")
    pw = password.replace("'", "''")
    exists = psql_superuser(f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'").strip()
    verb = "ALTER" if exists else "CREATE"
    psql_superuser(f"{verb} ROLE {user} WITH LOGIN PASSWORD '{pw}'")
    if not psql_superuser(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip():
        psql_superuser(f"CREATE DATABASE {name} OWNER {user} ENCODING 'UTF8' TEMPLATE template0")
    psql_superuser(
        "CREATE EXTENSION IF NOT EXISTS unaccent; CREATE EXTENSION IF NOT EXISTS "
        f"pg_trgm; GRANT CREATE ON DATABASE {name} TO {user}",
        database=name,
    )


# RabbitMQ ------------------------------------------------------------------------------------


#: where Debian's init script (``service rabbitmq-server stop|restart``) expects the broker's
#: pid: ``rabbitmqctl stop <pid file>`` waits for that process, forever if the file is missing
RABBITMQ_PID_FILE = Path("/var/run/rabbitmq/pid")


def ensure_rabbitmq(host: str = "127.0.0.1", port: int = 5672) -> bool:
    if port_open(host, port):
        return False
    if shutil.which("rabbitmq-server") is None and not Path("/usr/sbin/rabbitmq-server").exists():
        apt_install("rabbitmq-server")
    subprocess.run(["rabbitmq-server", "-detached"], capture_output=True, env=rabbitmq_env())
    wait_port(host, port, 120, "RabbitMQ")
    return True


def rabbitmq_env(pid_file: Path | None = None) -> dict[str, str]:
    """The environment to start RabbitMQ in: it writes its pid where the init script looks for
    it (the folder made and given to the ``rabbitmq`` user as the init script does)."""
    pid_file = pid_file or RABBITMQ_PID_FILE
    folder = pid_file.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(folder, "rabbitmq", "rabbitmq")
        folder.chmod(0o755)
    except (OSError, LookupError):  # not root, or no rabbitmq user: the broker says so
        log.debug("could not prepare %s for RabbitMQ's pid file", folder, exc_info=True)
    return dict(os.environ) | {"RABBITMQ_PID_FILE": str(pid_file)}


def stop_rabbitmq() -> None:
    run(["rabbitmqctl", "stop"], check=False, timeout=120)
    try:
        RABBITMQ_PID_FILE.unlink(missing_ok=True)  # as the init script's stop removes it
    except OSError:  # not ours to remove (not root): the next start writes it again
        log.debug("could not remove %s", RABBITMQ_PID_FILE, exc_info=True)


def ensure_vhost(vhost: str, user: str = "guest") -> None:
    """Create the vhost (if we administer the local broker) and grant ``user`` on it."""
    if shutil.which("rabbitmqctl") is None:
        log.info("no rabbitmqctl here; assuming vhost %s exists", vhost)
        return
    for _ in range(30):
        done = subprocess.run(
            ["rabbitmqctl", "-q", "add_vhost", vhost], capture_output=True, text=True, timeout=120
        )
        if done.returncode == 0 or "already exists" in (done.stderr + done.stdout):
            break
        time.sleep(2)  # the node is still booting
    run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], timeout=120)


def ensure_parking_policy(vhost: str, max_messages: int) -> bool:
    """Bound ``disan.unrouted`` and ``disan.dead_letters`` of ``vhost`` by a policy.

    ``max_messages`` 0 removes the bound. False when there is no local ``rabbitmqctl`` (a
    broker administered elsewhere: see docs/operations.md for the same policy by hand).
    """
    import json

    from shared.bus import PARKING_PATTERN, PARKING_POLICY, parking_policy

    if shutil.which("rabbitmqctl") is None:
        log.info("no rabbitmqctl here; set the %s policy on the broker yourself", PARKING_POLICY)
        return False
    if max_messages <= 0:
        run(["rabbitmqctl", "-q", "clear_policy", "-p", vhost, PARKING_POLICY], check=False)
        return True
    run(
        [
            "rabbitmqctl",
            "-q",
            "set_policy",
            "-p",
            vhost,
            "--priority",
            "10",
            "--apply-to",
            "queues",
            PARKING_POLICY,
            PARKING_PATTERN,
            json.dumps(parking_policy(max_messages)),
        ],
        timeout=120,
    )
    return True


def list_queues(vhost: str) -> dict[str, tuple[int, int]] | None:
    """Queue name → (messages, consumers), or None when rabbitmqctl is not usable here."""
    if shutil.which("rabbitmqctl") is None:
        return None
    done = subprocess.run(
        [
            "rabbitmqctl",
            "-q",
            "list_queues",
            "-p",
            vhost,
            "name",
            "messages",
            "consumers",
            "--no-table-headers",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        return None
    queues: dict[str, tuple[int, int]] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            queues[parts[0]] = (int(parts[1]), int(parts[2]))
    return queues


# Redis ---------------------------------------------------------------------------------------


def ensure_redis(host: str = "127.0.0.1", port: int = 6379) -> bool:
    if port_open(host, port):
        return False
    if shutil.which("redis-server") is None:
        apt_install("redis-server")
    run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            host,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
    )
    wait_port(host, port, 30, "Redis")
    return True


def stop_redis(port: int = 6379) -> None:
    run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False)
