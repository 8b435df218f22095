"""One place for configuration: a YAML file with ``${VAR}`` / ``${VAR:default}`` substitution.

Secrets have no defaults: a missing one stops the process at start-up with a clear message.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from marshmallow import Schema, ValidationError, fields, post_load, validate

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "config" / "disan.yaml"


class ConfigError(Exception):
    """The configuration is missing something or holds a wrong value."""


def substitute(text: str, env: Mapping[str, str], missing: list[str] | None = None) -> str:
    """Replace ``${VAR}`` and ``${VAR:default}``; an unset variable without default is an error.

    With ``missing`` given, the names of unset variables are collected there instead.
    """
    collect = missing is not None
    missing = [] if missing is None else missing

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or value == "":
            if default is None:
                missing.append(name)
                return ""
            return default
        return value

    result = _VAR.sub(repl, text)
    if missing and not collect:
        raise ConfigError("missing required setting(s): " + ", ".join(sorted(set(missing))))
    return result


def substitute_tree(node: Any, env: Mapping[str, str]) -> Any:
    """Substitute inside the string values of parsed YAML.

    Substituting after parsing means a value from the environment is always data: a secret
    holding ``: ``, ``#`` or quotes cannot change the file's structure. Values stay strings;
    the schema converts numbers and booleans.
    """
    missing: list[str] = []

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and "${" in value:
            return substitute(value, env, missing)
        return value

    result = walk(node)
    if missing:
        raise ConfigError("missing required setting(s): " + ", ".join(sorted(set(missing))))
    return result


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    secure: bool = False


@dataclass(frozen=True)
class EventSettings:
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    max_attempts: int = 6
    relay_batch: int = 500
    relay_idle_seconds: float = 0.05
    # bound of disan.unrouted and disan.dead_letters (a RabbitMQ policy; 0 = unbounded)
    parking_max_messages: int = 1_000_000


@dataclass(frozen=True)
class AccessSettings:
    """Authentication and access control: token keys, lifetimes, lockout, rate limits, caches.

    ``token_secret`` signs new access tokens under ``token_kid``; ``previous_token_keys``
    (``kid=secret,kid=secret``) are still accepted when verifying, so keys rotate without
    logging everyone out. Required in production; services that sign or verify tokens refuse
    to start without it.
    """

    token_secret: str = ""
    token_kid: str = "k1"
    previous_token_keys: str = ""
    token_ttl_seconds: int = 900
    refresh_ttl_seconds: int = 14 * 24 * 3600
    lockout_threshold: int = 5
    lockout_seconds: int = 900
    login_per_minute: int = 20
    public_per_minute: int = 600
    api_key_per_minute: int = 1200
    cache_seconds: float = 2.0
    admin_user: str = ""
    admin_password: str = ""
    redis_prefix: str = "disan:"
    trusted_proxies: str = "127.0.0.1/32,::1/128"  # whose X-Real-IP is believed (CIDRs)

    def signing_keys(self) -> dict[str, str]:
        """Every key accepted when verifying, by ``kid``; the current one first."""
        if len(self.token_secret) < 32:
            raise ConfigError("DISAN_TOKEN_SECRET must be set to at least 32 characters")
        keys = {self.token_kid: self.token_secret}
        for item in filter(None, (p.strip() for p in self.previous_token_keys.split(","))):
            kid, sep, secret = item.partition("=")
            if not sep or not kid.strip() or len(secret.strip()) < 32:
                raise ConfigError("DISAN_TOKEN_PREVIOUS_KEYS must be kid=secret (32+ chars), ...")
            keys.setdefault(kid.strip(), secret.strip())
        return keys


@dataclass(frozen=True)
class ServicePorts:
    """The ops port (health and metrics) each service listens on, and HTTP ports where any."""

    ops: dict[str, int] = field(default_factory=dict)
    http: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    environment: str
    public_url: str
    amqp_uri: str
    database_url: str
    redis_url: str
    s3: S3Settings
    events: EventSettings
    ports: ServicePorts
    bind_host: str = "127.0.0.1"
    access: AccessSettings = field(default_factory=AccessSettings)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def ops_port(self, service: str) -> int:
        try:
            return self.ports.ops[service]
        except KeyError as exc:
            raise ConfigError(f"no ops port configured for service {service!r}") from exc

    def redacted(self) -> dict[str, Any]:
        """Settings safe to log: passwords in URLs and secret keys masked."""
        return {
            "environment": self.environment,
            "public_url": self.public_url,
            "amqp_uri": redact_url(self.amqp_uri),
            "database_url": redact_url(self.database_url),
            "redis_url": redact_url(self.redis_url),
            "s3_endpoint": self.s3.endpoint,
        }


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def _url(schemes: tuple[str, ...]) -> Callable[[str], None]:
    def check(value: str) -> None:
        if urlsplit(value).scheme not in schemes:
            raise ValidationError(f"must be a URL with scheme {' or '.join(schemes)}")

    return check


class _S3Schema(Schema):
    endpoint = fields.String(required=True, validate=validate.Length(min=1))
    access_key = fields.String(required=True, validate=validate.Length(min=1))
    secret_key = fields.String(required=True, validate=validate.Length(min=1))
    region = fields.String(load_default="us-east-1")
    secure = fields.Boolean(load_default=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> S3Settings:
        return S3Settings(**data)


class _EventSchema(Schema):
    retry_base_seconds = fields.Float(load_default=1.0, validate=validate.Range(min=0.01))
    retry_max_seconds = fields.Float(load_default=300.0, validate=validate.Range(min=0.01))
    max_attempts = fields.Integer(load_default=6, validate=validate.Range(min=1, max=50))
    relay_batch = fields.Integer(load_default=500, validate=validate.Range(min=1, max=10000))
    relay_idle_seconds = fields.Float(load_default=0.05, validate=validate.Range(min=0.001))
    parking_max_messages = fields.Integer(
        load_default=1_000_000, validate=validate.Range(min=0, max=2**31 - 1)
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> EventSettings:
        return EventSettings(**data)


def _networks(value: str) -> None:
    try:
        [ipaddress.ip_network(p.strip()) for p in value.split(",") if p.strip()]
    except ValueError as exc:
        raise ValidationError(f"not a comma-separated list of networks: {exc}") from exc


class _AccessSchema(Schema):
    token_secret = fields.String(load_default="")
    token_kid = fields.String(load_default="k1", validate=validate.Length(min=1, max=32))
    previous_token_keys = fields.String(load_default="")
    token_ttl_seconds = fields.Integer(load_default=900, validate=validate.Range(min=5, max=86400))
    refresh_ttl_seconds = fields.Integer(
        load_default=14 * 24 * 3600, validate=validate.Range(min=60, max=365 * 24 * 3600)
    )
    lockout_threshold = fields.Integer(load_default=5, validate=validate.Range(min=1, max=1000))
    lockout_seconds = fields.Integer(load_default=900, validate=validate.Range(min=1))
    login_per_minute = fields.Integer(load_default=20, validate=validate.Range(min=1))
    public_per_minute = fields.Integer(load_default=600, validate=validate.Range(min=1))
    api_key_per_minute = fields.Integer(load_default=1200, validate=validate.Range(min=1))
    cache_seconds = fields.Float(load_default=2.0, validate=validate.Range(min=0, max=4))
    admin_user = fields.String(load_default="")
    admin_password = fields.String(load_default="")
    redis_prefix = fields.String(load_default="disan:", validate=validate.Length(min=1))
    trusted_proxies = fields.String(load_default="127.0.0.1/32,::1/128", validate=_networks)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AccessSettings:
        return AccessSettings(**data)


class _PortsSchema(Schema):
    ops = fields.Dict(keys=fields.String(), values=fields.Integer(), load_default=dict)
    http = fields.Dict(keys=fields.String(), values=fields.Integer(), load_default=dict)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ServicePorts:
        return ServicePorts(**data)


class _SettingsSchema(Schema):
    environment = fields.String(
        required=True, validate=validate.OneOf(["development", "test", "production"])
    )
    public_url = fields.String(required=True, validate=_url(("http", "https")))
    amqp_uri = fields.String(required=True, validate=_url(("amqp", "amqps")))
    database_url = fields.String(required=True, validate=_url(("postgresql", "postgresql+psycopg")))
    redis_url = fields.String(required=True, validate=_url(("redis", "rediss")))
    s3 = fields.Nested(_S3Schema, required=True)
    events = fields.Nested(_EventSchema, load_default=lambda: EventSettings())
    ports = fields.Nested(_PortsSchema, load_default=lambda: ServicePorts())
    bind_host = fields.String(load_default="127.0.0.1")
    access = fields.Nested(_AccessSchema, load_default=lambda: AccessSettings())
    extra = fields.Dict(load_default=dict)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Settings:
        settings = Settings(**data)
        if settings.production:
            try:
                settings.access.signing_keys()
            except ConfigError as exc:
                raise ValidationError({"access": [str(exc)]}) from exc
        return settings


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, substitute and validate the configuration; raise ConfigError with every problem."""
    env = os.environ if env is None else env
    source = Path(path or env.get("DISAN_CONFIG") or DEFAULT_CONFIG)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {source}: {exc.strerror}") from exc
    try:
        parsed = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {source} is not valid YAML: {exc}") from exc
    raw = substitute_tree(parsed, env)
    try:
        settings: Settings = _SettingsSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid config {source}: {exc.messages}") from exc
    return settings
