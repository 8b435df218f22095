"""Staff and partner e-mail: who hears of what, in which language, now or in a daily digest.

A mail job (written with the journal entry of its event) is turned into one e-mail per
recipient: staff recipients are the access service's users holding the kind's roles (asked by
RPC) who left an address in their e-mail preferences; a paused subscription's partner is its
contact address. Each e-mail is rendered in the recipient's language (Vietnamese unless they
chose English) and sent at once, or held for their daily digest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.notifications import domain, mail
from services.notifications import repository as repo
from shared.db import DbSession
from shared.errors import ValidationFailed

log = logging.getLogger(__name__)

SYSTEM_ACTOR = {"kind": "user", "id": "system", "name": "notifications", "roles": ["admin"]}
ListUsers = Callable[[], list[dict[str, Any]]]


def context_for(kind: str, data: dict[str, Any], language: str, public_url: str) -> dict[str, Any]:
    """The template values of a ``kind`` e-mail from its event's data: the record's title in
    the reader's language, its link, and a dash for what the event left empty.

    The link is the record in the API (``/api/v1/records/{id}``, answered under the reader's
    access rules): the portal has no ``/records/{id}`` page yet, and no mail may carry a link
    that answers 404 (ADR 0067)."""
    base = public_url.rstrip("/")
    context = {k: "—" if v is None or v == "" else v for k, v in data.items()}
    if kind == "subscription_paused":
        context["failures"] = data.get("consecutive_failures", "—")
    if "record_id" in data:
        context["record_url"] = f"{base}/api/v1/records/{data['record_id']}"
    if "title" in data:
        context["title"] = domain.title_in(data.get("title"), language)
    if not context.get("comment"):
        context["comment"] = "—"
    return context


def render_for(kind: str, person: dict[str, Any], context: dict[str, Any]) -> tuple[str, str]:
    """Subject and body for one recipient: in their language, or in Vietnamese then English
    for a recipient who chose none (a partner's contact)."""
    if not person.get("bilingual"):
        return mail.render(kind, person["language"], context)
    vi_subject, vi_body = mail.render(kind, "vi", context)
    en_subject, en_body = mail.render(kind, "en", context)
    return (
        f"{vi_subject} / {en_subject.removeprefix('[Disan] ')}",
        f"{vi_body}\n— English —\n\n{en_body}",
    )


def recipients(
    db: DbSession, kind: str, data: dict[str, Any], actor: str, list_users: ListUsers
) -> list[dict[str, Any]]:
    """Addresses (with language, digest choice and a name) that should get a ``kind`` mail."""
    if kind == "subscription_paused":
        sub = repo.get_subscription(db, str(data.get("subscription_id")))
        if sub is None or not sub["contact_email"]:
            return []
        return [
            {
                "email": sub["contact_email"],
                "user_id": "",
                "language": "vi",
                "digest": False,
                "name": sub["owner_name"] or sub["owner"],
                "context": {"url": sub["url"]},
                "bilingual": True,  # a partner chose no language: Vietnamese, then English
            }
        ]
    roles = set(domain.RECIPIENT_ROLES.get(kind, ()))
    prefs = repo.all_preferences(db)
    if not prefs:
        return []
    found = []
    for user in list_users():
        pref = prefs.get(str(user["id"]))
        if pref is None or user.get("disabled") or not roles & set(user.get("roles", ())):
            continue
        if kind == "review_requested" and actor == f"user:{user['id']}":
            continue  # who submitted does not review their own submission
        found.append(
            {
                "email": pref["email"],
                "user_id": str(user["id"]),
                "language": pref["language"],
                "digest": bool(pref["digest"]),
                "name": user.get("display_name") or user.get("username") or pref["username"],
            }
        )
    return found


def process_jobs(db: DbSession, list_users: ListUsers, public_url: str, limit: int = 20) -> int:
    """Turn pending mail jobs into e-mails; a job whose recipients cannot be found is retried."""
    done = 0
    for job in repo.pending_mail_jobs(db, limit):
        envelope = job["data"]
        data = envelope.get("data", envelope)
        try:
            people = recipients(db, job["kind"], data, str(envelope.get("actor", "")), list_users)
        except Exception as exc:  # noqa: BLE001 - e.g. the access service is down: retry later
            log.warning("mail job %s: recipients unknown: %s", job["id"], exc)
            repo.finish_mail_job(db, job["id"], f"{type(exc).__name__}: {exc}"[:1000])
            continue
        for person in people:
            context = context_for(job["kind"], data, person["language"], public_url)
            context |= person.get("context", {})
            context["name"] = person["name"]
            context["actor"] = envelope.get("actor", "")
            subject, body = render_for(job["kind"], person, context)
            repo.add_email(
                db,
                {
                    "job_id": job["id"],
                    "kind": job["kind"],
                    "recipient": person["email"],
                    "user_id": person["user_id"],
                    "language": person["language"],
                    "subject": subject,
                    "body": body,
                    "status": "held" if person["digest"] else "pending",
                },
            )
        repo.finish_mail_job(db, job["id"])
        done += 1
    return done


def send_pending(db: DbSession, sender: mail.SmtpSender, limit: int = 50) -> int:
    """Send pending e-mails over one SMTP connection; returns how many went out."""
    rows = repo.pending_emails(db, limit)
    if not rows or not sender.settings.enabled:
        return 0
    messages = [
        mail.message(sender.settings, r["recipient"], r["subject"], r["body"], r["language"])
        for r in rows
    ]
    try:
        errors = sender.send_all(messages)
    except mail.MailError as exc:
        log.warning("SMTP unavailable: %s", exc)
        errors = [str(exc)] * len(rows)
    for row, error in zip(rows, errors, strict=True):
        repo.mark_email(db, row["id"], error)
    return sum(1 for e in errors if e is None)


def make_digests(db: DbSession) -> int:
    """One digest e-mail per recipient of everything held for them; returns digests made."""
    held = repo.held_emails(db)
    by_recipient: dict[str, list[dict[str, Any]]] = {}
    for row in held:
        by_recipient.setdefault(row["recipient"], []).append(row)
    for recipient, rows in by_recipient.items():
        language = rows[0]["language"]
        items = "\n".join(
            f"- {r['created_at'].astimezone(UTC):%Y-%m-%d %H:%M} UTC  {r['subject']}" for r in rows
        )
        subject, body = mail.render(
            "digest", language, {"count": len(rows), "items": items, "name": recipient}
        )
        repo.add_email(
            db,
            {
                "job_id": None,
                "kind": "digest",
                "recipient": recipient,
                "user_id": rows[0]["user_id"],
                "language": language,
                "subject": subject,
                "body": body,
                "status": "pending",
            },
        )
        repo.mark_digested(db, [r["id"] for r in rows])
    return len(by_recipient)


def dead_letters_alert(
    db: DbSession, count: int, threshold: int, quiet_hours: float, now: datetime
) -> bool:
    """Queue a ``dead_letters`` mail when the platform's dead letters reach the threshold, at
    most once per ``quiet_hours``."""
    if count < threshold:
        return False
    last = repo.last_mail_job(db, "dead_letters")
    if last is not None and (now - last).total_seconds() < quiet_hours * 3600:
        return False
    repo.add_mail_job(db, "dead_letters", None, {"count": count, "threshold": threshold})
    return True


def preferences_view(row: dict[str, Any] | None, user_id: str) -> dict[str, Any]:
    if row is None:
        return {
            "user_id": user_id,
            "email": None,
            "language": "vi",
            "digest": False,
            "enabled": False,
        }
    return {
        "user_id": row["user_id"],
        "email": row["email"],
        "language": row["language"],
        "digest": row["digest"],
        "enabled": row["enabled"],
    }


def set_preferences(db: DbSession, user_id: str, username: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed("the body is a JSON object", domain.refusal_details("body"))
    try:
        email = domain.clean_email(body.get("email"))
    except domain.Refused as exc:
        raise ValidationFailed(
            str(exc), {"email": [str(exc)]} | domain.refusal_details("email")
        ) from None
    language = body.get("language", "vi")
    if language not in mail.LANGUAGES:
        raise ValidationFailed(
            "language is vi or en",
            {"language": ["vi or en"]} | domain.refusal_details("language"),
        )
    digest, enabled = body.get("digest", False), body.get("enabled", True)
    if not isinstance(digest, bool) or not isinstance(enabled, bool):
        raise ValidationFailed(
            "digest and enabled are true or false", domain.refusal_details("flag")
        )
    repo.set_preferences(
        db,
        {
            "user_id": user_id,
            "username": username,
            "email": email,
            "language": language,
            "digest": digest,
            "enabled": enabled,
        },
    )
    return preferences_view(repo.get_preferences(db, user_id), user_id)
