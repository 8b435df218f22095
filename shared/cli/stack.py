"""The local stack: ``disan up``, ``down``, ``status``.

``up`` makes sure PostgreSQL, RabbitMQ and Redis run (installing Debian packages when missing),
creates the database, vhost, schemas, buckets and queues, then starts the S3 endpoint, every
service and the nginx front under supervisord, waits until all are ready and prints the URLs.
State lives in ``$DISAN_HOME`` (default ``.disan/`` in the checkout); generated development
secrets in ``$DISAN_HOME/dev.env``, never in the repository.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from shared.bus import DEAD_LETTERS, UNROUTED, declare_base, declare_queue
from shared.cli import infra
from shared.config import Settings, load_settings
from shared.runner import ROOT, SERVICES

BUCKETS = ("masters", "derivatives")
NGINX = "/usr/sbin/nginx"


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def env_file(self) -> Path:
        return self.home / "dev.env"

    @property
    def supervisor_conf(self) -> Path:
        return self.home / "supervisord.conf"

    @property
    def supervisor_pid(self) -> Path:
        return self.home / "supervisord.pid"

    @property
    def started(self) -> Path:
        return self.home / "started.json"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def nginx(self) -> Path:
        return self.home / "nginx"


def paths() -> Paths:
    return Paths(Path(os.environ.get("DISAN_HOME") or ROOT / ".disan").resolve())


# environment and secrets -----------------------------------------------------------------------


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    return values


def stack_env(p: Paths) -> dict[str, str]:
    """The environment of the stack: the caller's, completed with development secrets.

    Secrets are generated once per ``DISAN_HOME`` and kept in ``dev.env`` (mode 0600). In
    production mode nothing is generated: every secret must come from the environment.
    """
    env = dict(os.environ)
    if env.get("DISAN_ENV", "development") == "production":
        return env
    p.home.mkdir(parents=True, exist_ok=True)
    saved = _read_env_file(p.env_file)
    db_name = env.get("DISAN_DB_NAME", "disan")
    defaults = {
        "DISAN_DB_PASSWORD": secrets.token_urlsafe(18),
        "DISAN_S3_ACCESS_KEY": "disan" + secrets.token_hex(4),
        "DISAN_S3_SECRET_KEY": secrets.token_urlsafe(24),
        "DISAN_ADMIN_USER": "admin",
        "DISAN_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "DISAN_TOKEN_SECRET": secrets.token_urlsafe(32),
    }
    changed = False
    for key, value in defaults.items():
        if key not in saved:
            saved[key] = value
            changed = True
    if changed:
        p.env_file.write_text("".join(f"{k}={v}\n" for k, v in saved.items()), encoding="utf-8")
        p.env_file.chmod(0o600)
    for key, value in saved.items():
        env.setdefault(key, value)
    # one login role per database, so a second stack (the tests') never changes this one's password
    db_user = env.get("DISAN_DB_USER", db_name)
    env.setdefault(
        "DISAN_DATABASE_URL",
        f"postgresql://{db_user}:{env['DISAN_DB_PASSWORD']}@127.0.0.1:5432/{db_name}",
    )
    vhost = env.get("DISAN_AMQP_VHOST", "disan")
    env.setdefault("DISAN_AMQP_URI", f"amqp://guest:guest@127.0.0.1:5672/{vhost}")
    # the development stack's webhooks may target receivers on this machine (production refuses)
    env.setdefault("DISAN_WEBHOOKS_ALLOW_LOOPBACK", "true")
    # public manifests as files the front serves (ADR 061)
    env.setdefault("DISAN_IIIF_STATIC_DIR", str(p.home / "iiif-static"))
    return env


# provisioning ----------------------------------------------------------------------------------


def _load_started(p: Paths) -> dict[str, bool]:
    if p.started.exists():
        data: dict[str, bool] = json.loads(p.started.read_text())
        return data
    return {}


def provision(settings: Settings, p: Paths | None = None) -> dict[str, bool]:
    """Infrastructure up, database and vhost created; returns what this call started."""
    started: dict[str, bool] = {}
    db = urlsplit(settings.database_url)
    amqp = urlsplit(settings.amqp_uri)
    redis = urlsplit(settings.redis_url)
    if db.hostname in ("127.0.0.1", "localhost"):
        started["postgresql"] = infra.ensure_postgres(db.hostname, db.port or 5432)
        infra.ensure_database(db.path.lstrip("/"), db.username or "disan", db.password or "")
    if amqp.hostname in ("127.0.0.1", "localhost"):
        started["rabbitmq"] = infra.ensure_rabbitmq(amqp.hostname, amqp.port or 5672)
        infra.ensure_vhost(amqp.path.lstrip("/") or "/", amqp.username or "guest")
        infra.ensure_parking_policy(
            amqp.path.lstrip("/") or "/", settings.events.parking_max_messages
        )
    if redis.hostname in ("127.0.0.1", "localhost"):
        started["redis"] = infra.ensure_redis(redis.hostname, redis.port or 6379)
    if p is not None:
        before = _load_started(p)
        merged = {k: before.get(k, False) or started.get(k, False) for k in before | started}
        p.started.write_text(json.dumps(merged))
    return started


def migrate_all(settings: Settings) -> None:
    """Schemas and migrations of every service, and every reliable handler's queue."""
    from kombu import Connection

    from shared.consumer import handler_queues
    from shared.db import migrate

    with Connection(settings.amqp_uri, connect_timeout=10) as conn:
        declare_base(conn)
        for spec in SERVICES.values():
            if spec.schema:
                migrate(settings.database_url, spec.schema, spec.migrations)
            if spec.kind != "nameko":
                continue
            for queue in handler_queues(spec.name, spec.load()):
                declare_queue(conn, queue)


def ensure_buckets(settings: Settings) -> None:
    from shared.storage import ObjectStore

    store = ObjectStore(settings.s3)
    for bucket in BUCKETS:
        store.ensure_bucket(bucket)


# supervisord and nginx -------------------------------------------------------------------------


def _venv_bin(name: str) -> str:
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
            f"{_venv_bin('moto_server')} -H {s3.hostname} -p {s3.port or 9000}",
            p,
            "priority=10",
        ),
    ]
    for spec in SERVICES.values():
        programs.append(
            _program(spec.name, f"{_venv_bin('disan')} service run {spec.name}", p, "priority=50")
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


def write_nginx_conf(settings: Settings, p: Paths) -> None:
    for sub in ("logs", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (p.nginx / sub).mkdir(parents=True, exist_ok=True)
        (p.nginx / sub).chmod(0o777)
    host = settings.bind_host
    http = settings.ports.http
    image_location = (
        f"location /iiif/image/ {{ proxy_pass http://imageserver; {_PROXY} }}"
        if "imageserver" in SERVICES
        else "location /iiif/image/ { default_type application/json; return 503 "
        '\'{"error": {"code": "unavailable", "message": "no image server yet"}}\'; }'
    )
    static_dir = ((settings.extra or {}).get("iiif") or {}).get("static_dir") or ""
    manifests = iiif_static_location(str(static_dir), "@gateway") if static_dir else ""
    conf = f"""
worker_processes 2;
error_log {p.nginx / "logs" / "error.log"} warn;
pid {p.nginx / "nginx.pid"};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_max_body_size 0;
    client_body_temp_path {p.nginx / "tmp/body"};
    proxy_temp_path {p.nginx / "tmp/proxy"};
    fastcgi_temp_path {p.nginx / "tmp/fastcgi"};
    uwsgi_temp_path {p.nginx / "tmp/uwsgi"};
    scgi_temp_path {p.nginx / "tmp/scgi"};
    proxy_request_buffering off;
    proxy_read_timeout 300s;
    upstream gateway {{ server {host}:{http.get("gateway", 8001)}; keepalive 32; }}
    upstream imageserver {{ server {host}:{http.get("imageserver", 8002)}; keepalive 64; }}
    server {{
        listen {host}:{http.get("front", 8000)};
        {FRONT_LIMITS}
        {image_location}
        {manifests}
        location / {{ proxy_pass http://gateway; {_PROXY} }}
        location @gateway {{ proxy_pass http://gateway; {_PROXY} }}
    }}
}}
"""
    (p.nginx / "nginx.conf").write_text(conf, encoding="utf-8")


# The front's rule for public manifest files: one file for `disan up`, compose and Helm (ADR 061)
IIIF_STATIC_TEMPLATE = ROOT / "deploy" / "compose" / "nginx" / "iiif-manifest-files.conf.template"


def iiif_static_location(static_dir: str, fallback: str) -> str:
    """nginx: public manifests from the iiif service's mirror (ADR 061), else ``fallback``.

    Only GET/HEAD of an existing file are answered here; other methods (405) and missing files
    (restricted, withdrawn, not yet mirrored) go to the gateway, which decides. The rule is
    ``IIIF_STATIC_TEMPLATE``, the file the compose front and the Helm chart render too.
    """
    text = IIIF_STATIC_TEMPLATE.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    rule = " ".join(line for line in lines if line)
    return rule.replace("${DISAN_IIIF_STATIC_ROOT}", static_dir).replace("@gateway", fallback)


# Long URLs and headers (ADR 066): request lines and header lines up to 32 KB go through (the
# gateway answers a query string over 8 KB with its 400 query_too_long); longer ones are refused
# here, in the API's error format. deploy/compose/nginx/default.conf.template has the same lines.
FRONT_LIMITS = (
    "large_client_header_buffers 4 32k; "
    "error_page 414 /.disan/uri_too_long; "
    "error_page 494 =431 /.disan/header_too_large; "
    "location = /.disan/uri_too_long { internal; default_type application/json; "
    "add_header Access-Control-Allow-Origin * always; "
    """return 414 '{"error": {"code": "uri_too_long", "message": "the URL is longer than 32 KB: """
    """send a shorter query", "details": null}}'; } """
    "location = /.disan/header_too_large { internal; default_type application/json; "
    "add_header Access-Control-Allow-Origin * always; "
    """return 431 '{"error": {"code": "header_too_large", "message": "a request header is """
    """longer than 32 KB", "details": null}}'; }"""
)

_PROXY = (
    'proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $http_host; '
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; "
    "proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Real-IP $remote_addr;"
)


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
        [_venv_bin("supervisorctl"), "-c", str(p.supervisor_conf), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


# commands ----------------------------------------------------------------------------------------


def _print(msg: str) -> None:
    print(msg, flush=True)


def readiness(settings: Settings) -> dict[str, str]:
    """Each service's /readyz answer (and the front's /healthz): ``ok`` or why not."""
    results: dict[str, str] = {}
    for name in SERVICES:
        port = settings.ports.ops.get(name)
        results[name] = _probe(f"http://{settings.bind_host}:{port}/readyz")
    results["front"] = _probe(f"http://{settings.bind_host}:{settings.ports.http['front']}/healthz")
    return results


def _probe(url: str) -> str:
    try:
        r = requests.get(url, timeout=5)
    except requests.RequestException as exc:
        return f"unreachable ({type(exc).__name__})"
    if r.status_code == 200:
        return "ok"
    try:
        return f"{r.status_code} {json.dumps(r.json().get('checks', r.json()))[:200]}"
    except ValueError:
        return f"{r.status_code}"


def up(timeout: float = 120) -> int:
    p = paths()
    env = stack_env(p)
    os.environ.update(env)
    settings = load_settings(env=env)
    p.logs.mkdir(parents=True, exist_ok=True)
    _print("• infrastructure (PostgreSQL, RabbitMQ, Redis)")
    provision(settings, p)
    install_missing(RUNTIME_TOOLS)
    _print("• migrations and queues")
    migrate_all(settings)
    write_nginx_conf(settings, p)
    write_supervisor_conf(settings, p)
    if supervisor_running(p):
        _print("• supervisor already running: reloading programs")
        supervisorctl(p, "update")
        supervisorctl(p, "start", "all")
    else:
        _print("• starting the S3 endpoint, services and front under supervisord")
        subprocess.run(
            [_venv_bin("supervisord"), "-c", str(p.supervisor_conf)], env=env, check=True
        )
    _wait_s3(settings, timeout)
    ensure_buckets(settings)
    deadline = time.monotonic() + timeout
    while True:
        ready = readiness(settings)
        if all(v == "ok" for v in ready.values()):
            break
        if time.monotonic() > deadline:
            _print("✗ not ready in time: " + json.dumps(ready, ensure_ascii=False))
            _print(f"  logs: {p.logs}")
            return 1
        time.sleep(0.5)
    _print("• Hải Phòng demo data")
    try:
        from services.catalogue.demo import load_into_stack

        _print("  " + load_into_stack(settings))
    except Exception as exc:  # noqa: BLE001 - the platform runs; say what failed
        _print(f"✗ demo data not loaded: {type(exc).__name__}: {exc}")
    base = settings.public_url.rstrip("/")
    _print("\nDisan is up.")
    _print(f"  portal        {base}/")
    _print(f"  API           {base}/api/v1/openapi.json")
    _print(f"  health        {base}/healthz  {base}/readyz")
    _print(f"  IIIF image    {base}/iiif/image/3/{{asset_id}}/info.json")
    _print(f"  IIIF manifests {base}/iiif/presentation/3/collections/all")
    _print(f"  IIIF changes  {base}/iiif/discovery/1/all-changes")
    _print(f"  S3 endpoint   http://{settings.s3.endpoint}")
    _print(
        f"  admin         {env.get('DISAN_ADMIN_USER', '')} / "
        f"{env.get('DISAN_ADMIN_PASSWORD', '(from DISAN_ADMIN_PASSWORD)')}"
    )
    _print(f"  logs          {p.logs}")
    _print("Stop with: disan down")
    return 0


def _wait_s3(settings: Settings, timeout: float) -> None:
    s3 = urlsplit(f"//{settings.s3.endpoint}")
    infra.wait_port(s3.hostname or "127.0.0.1", s3.port or 9000, timeout, "the S3 endpoint")


def down() -> int:
    p = paths()
    if supervisor_running(p):
        _print("• stopping services, S3 endpoint and front")
        supervisorctl(p, "shutdown")
        deadline = time.monotonic() + 60
        while supervisor_running(p) and time.monotonic() < deadline:
            time.sleep(0.2)
    started = _load_started(p)
    if started.get("redis"):
        _print("• stopping Redis (started by disan up)")
        infra.stop_redis()
    if started.get("rabbitmq"):
        _print("• stopping RabbitMQ (started by disan up)")
        infra.stop_rabbitmq()
    if started.get("postgresql"):
        _print("• stopping PostgreSQL (started by disan up)")
        infra.stop_postgres()
    if p.started.exists():
        p.started.unlink()
    _print("Disan is down.")
    return 0


def status(as_json: bool = False) -> int:
    p = paths()
    env = stack_env(p)
    settings = load_settings(env=env)
    report: dict[str, Any] = {"services": readiness(settings), "queues": {}}
    if supervisor_running(p):
        report["processes"] = {
            line.split()[0]: line.split()[1]
            for line in supervisorctl(p, "status").splitlines()
            if line.strip()
        }
    vhost = urlsplit(settings.amqp_uri).path.lstrip("/") or "/"
    queues = infra.list_queues(vhost)
    if queues is not None:
        report["queues"] = {
            k: {"messages": v[0], "consumers": v[1]}
            for k, v in queues.items()
            if k.startswith("disan.")
        }
    report["dead_letters"] = report["queues"].get(DEAD_LETTERS, {}).get("messages", 0)
    report["unrouted"] = report["queues"].get(UNROUTED, {}).get("messages", 0)
    healthy = all(v == "ok" for v in report["services"].values())
    if as_json:
        _print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print("services")
        for name, state in report["services"].items():
            proc = report.get("processes", {}).get(name, "")
            _print(f"  {'✓' if state == 'ok' else '✗'} {name:<14} {state} {proc}")
        _print("queues (messages / consumers)")
        for name, q in sorted(report["queues"].items()):
            _print(f"  {name:<48} {q['messages']:>7} / {q['consumers']}")
        _print(f"dead letters: {report['dead_letters']}   unrouted events: {report['unrouted']}")
    return 0 if healthy else 1


# Tools beyond the infrastructure, as (command or file that shows it is there, Debian package).
# The platform runs with: the nginx front; ffmpeg (ffprobe) and poppler-utils for the media
# service's audio, video and PDF derivatives.
RUNTIME_TOOLS = (
    (NGINX, "nginx"),
    ("ffprobe", "ffmpeg"),
    ("pdftoppm", "poppler-utils"),
)
# The tests also need: docker-compose (v1) to validate the compose file without a Docker engine,
# libmagic for the IIIF validator, a browser and npm for the e2e tests.
TEST_TOOLS = RUNTIME_TOOLS + (
    ("docker-compose", "docker-compose"),
    ("libmagic1", "libmagic1"),
    ("chromium", "chromium"),
    ("npm", "npm"),
)


def install_missing(tools: tuple[tuple[str, str], ...]) -> None:
    missing = [package for probe, package in tools if _missing(probe)]
    if missing:
        infra.apt_install(*missing)


def _missing(probe: str) -> bool:
    """A path must exist, a library package be installed, a command be on PATH."""
    if probe.startswith("/"):
        return not Path(probe).exists()
    if probe.startswith("lib"):
        return not infra.dpkg_installed(probe)
    return shutil.which(probe) is None


def infra_up() -> int:
    """The infrastructure and the Debian packages the test suite needs."""
    p = paths()
    env = stack_env(p)
    settings = load_settings(env=env)
    provision(settings)
    install_missing(TEST_TOOLS)
    _print("infrastructure ready: PostgreSQL, RabbitMQ, Redis; test tools present")
    return 0
