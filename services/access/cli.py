"""``disan user …`` and ``disan apikey …``: account and key administration from a shell.

These work on the access service's own schema directly (migrating it first), so they also work
before the platform runs; what they change is announced through the outbox like any RPC.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from services.access import accounts
from shared.config import Settings
from shared.db import make_engine, migrate, unit_of_work
from shared.errors import DisanError


def add_parsers(sub: Any) -> None:
    user = sub.add_parser("user", help="manage user accounts")
    user_sub = user.add_subparsers(dest="action", required=True)
    add = user_sub.add_parser("add", help="create a user (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True, help="repeatable")
    add.add_argument("--display-name", default="")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )

    key = sub.add_parser("apikey", help="manage partner API keys")
    key_sub = key.add_subparsers(dest="action", required=True)
    create = key_sub.add_parser("create", help="create a key (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", action="append", help="partner (default) or researcher")
    create.add_argument("--scope", action="append", help="API tag the key may call; repeatable")
    create.add_argument("--expires", help="ISO 8601 date or date-time")
    create.add_argument("--json", action="store_true")
    revoke = key_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    listing = key_sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--json", action="store_true")


def _engine(settings: Settings) -> Any:
    from disan.registry import SERVICES

    spec = SERVICES["access"]
    assert spec.schema is not None
    migrate(settings.database_url, spec.schema, spec.migrations)
    return make_engine(settings.database_url, spec.schema, pool_size=1)


def _actor() -> str:
    return f"cli:{os.environ.get('USER', 'unknown')}"[:256]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise DisanError("the passwords differ")
    return first


def run(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    try:
        if args.command == "user":
            password = _read_password(args.password_stdin)
            with unit_of_work(engine) as session:
                user = accounts.create_user(
                    session,
                    accounts.Passwords(),
                    username=args.username,
                    password=password,
                    roles=args.role,
                    display_name=args.display_name,
                    actor=_actor(),
                )
            print(f"created user {user['username']} ({', '.join(user['roles'])}) id {user['id']}")
            return 0
        if args.action == "create":
            expires = None
            if args.expires:
                expires = datetime.fromisoformat(args.expires.replace("Z", "+00:00"))
                expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
            with unit_of_work(engine) as session:
                key = accounts.create_api_key(
                    session,
                    name=args.name,
                    roles=args.role or ["partner"],
                    scopes=args.scope or [],
                    expires_at=expires,
                    actor=_actor(),
                )
            if args.json:
                print(json.dumps(key, indent=2, ensure_ascii=False))
            else:
                print(f"API key {key['id']} for {key['name']} ({', '.join(key['roles'])})")
                print(f"  key: {key['key']}")
                print("  store it now: it is not shown again")
            return 0
        if args.action == "revoke":
            with unit_of_work(engine) as session:
                revoked = accounts.revoke_api_key(session, args.id, _actor())
            print(f"revoked API key {revoked['id']} ({revoked['name']})")
            return 0
        with unit_of_work(engine) as session:
            keys = accounts.list_api_keys(session)
        if args.json:
            print(json.dumps(keys, indent=2, ensure_ascii=False))
        else:
            print(f"{len(keys)} API key(s)")
            for k in keys:
                state = "active" if k["active"] else ("revoked" if k["revoked_at"] else "expired")
                print(
                    f"  {k['id']}  dsn_{k['prefix']}_…  {k['name']}  {','.join(k['roles'])}  "
                    f"{state}  last used {k['last_used_at'] or 'never'}"
                )
        return 0
    except (DisanError, ValueError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
