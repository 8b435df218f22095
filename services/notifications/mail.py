"""E-mail: templates in Vietnamese and English, and the one SMTP sender.

Templates live in ``templates/<kind>.<vi|en>.txt``: a ``Subject:`` line, a blank line, then the
body, with ``$name``-style placeholders (``string.Template``; a missing value stays visible as
``$name`` instead of failing the mail).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("vi", "en")


class MailError(Exception):
    """The SMTP server could not be reached or refused the message."""


@cache
def _template(kind: str, language: str) -> tuple[Template, Template]:
    text = (TEMPLATES / f"{kind}.{language}.txt").read_text(encoding="utf-8")
    head, _, body = text.partition("\n\n")
    if not head.startswith("Subject: "):
        raise ValueError(f"template {kind}.{language} has no Subject line")
    return Template(head.removeprefix("Subject: ").strip()), Template(body.strip() + "\n")


def render(kind: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of a ``kind`` e-mail in ``language`` (Vietnamese if unknown)."""
    subject, body = _template(kind, language if language in LANGUAGES else "vi")
    values = {k: "" if v is None else str(v) for k, v in context.items()}
    return subject.safe_substitute(values), body.safe_substitute(values)


@dataclass(frozen=True)
class SmtpSettings:
    """``extra.notifications.smtp``: where mail goes. No credentials in the repository."""

    host: str = ""
    port: int = 25
    username: str = ""
    password: str = ""
    sender: str = "Disan <no-reply@localhost>"
    starttls: bool = False
    ssl: bool = False
    timeout_seconds: float = 20.0

    @classmethod
    def from_config(cls, raw: dict[str, Any] | None) -> SmtpSettings:
        raw = dict(raw or {})

        def flag(name: str) -> bool:
            return str(raw.get(name, "")).strip().lower() in ("1", "true", "yes", "on")

        return cls(
            host=str(raw.get("host") or ""),
            port=int(raw.get("port") or 25),
            username=str(raw.get("username") or ""),
            password=str(raw.get("password") or ""),
            sender=str(raw.get("sender") or cls.sender),
            starttls=flag("starttls"),
            ssl=flag("ssl"),
            timeout_seconds=float(raw.get("timeout_seconds") or 20.0),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.host)


def message(
    settings: SmtpSettings, to: str, subject: str, body: str, language: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = str(Address(addr_spec=to))
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="disan")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body, charset="utf-8")
    msg["Content-Language"] = language  # after set_content, which resets Content-* headers
    return msg


class SmtpSender:
    """Sends messages over one SMTP connection per batch (``with sender.session() as send``)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_seconds, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
                if s.starttls:
                    client.starttls(context=ssl.create_default_context())
            if s.username:
                client.login(s.username, s.password)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP {s.host}:{s.port}: {exc}") from exc
        return client

    def send_all(self, messages: list[EmailMessage]) -> list[str | None]:
        """Send each message; the error text of each one that failed (None where sent)."""
        if not messages:
            return []
        client = self._connect()
        errors: list[str | None] = []
        try:
            for msg in messages:
                try:
                    client.send_message(msg)
                    errors.append(None)
                except (OSError, smtplib.SMTPException) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:1000])
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return errors
