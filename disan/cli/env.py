"""The local stack's state folder and environment, with its generated development secrets.

State lives in ``$DISAN_HOME`` (default ``.disan/`` in the checkout); generated development
secrets in ``$DISAN_HOME/dev.env``, never in the repository.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from disan.registry import ROOT


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
    # public manifests as files the front serves (ADR 0061)
    env.setdefault("DISAN_IIIF_STATIC_DIR", str(p.home / "iiif-static"))
    return env
