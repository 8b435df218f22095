"""``disan user add`` and ``disan apikey create|list|revoke`` on the real access schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from shared.db import make_engine

pytestmark = pytest.mark.integration


def disan(test_env, tmp_path, *args, stdin=None):
    env = dict(os.environ, **test_env, DISAN_HOME=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "disan.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_user_add_and_api_key_lifecycle(settings, test_env, tmp_path, unique):
    engine = make_engine(settings.database_url, "access", pool_size=1)
    try:
        done = disan(
            test_env,
            tmp_path,
            "user",
            "add",
            f"ＣＬＩ-{unique}",
            "--role",
            "reviewer",
            "--password-stdin",
            stdin="a long enough passphrase\n",
        )
        assert done.returncode == 0, done.stderr
        assert f"cli-{unique}" in done.stdout and "passphrase" not in done.stdout

        weak = disan(
            test_env,
            tmp_path,
            "user",
            "add",
            f"weak-{unique}",
            "--role",
            "reviewer",
            "--password-stdin",
            stdin="short\n",
        )
        assert weak.returncode == 1 and "password" in weak.stderr

        created = disan(test_env, tmp_path, "apikey", "create", "--name", unique, "--json")
        assert created.returncode == 0, created.stderr
        key = json.loads(created.stdout)
        assert key["key"].startswith("dsn_") and key["roles"] == ["partner"]

        listed = disan(test_env, tmp_path, "apikey", "list", "--json")
        (row,) = [k for k in json.loads(listed.stdout) if k["id"] == key["id"]]
        assert row["active"] and key["key"] not in listed.stdout

        revoked = disan(test_env, tmp_path, "apikey", "revoke", key["id"])
        assert revoked.returncode == 0, revoked.stderr
        listed = disan(test_env, tmp_path, "apikey", "list", "--json")
        (row,) = [k for k in json.loads(listed.stdout) if k["id"] == key["id"]]
        assert not row["active"] and row["revoked_at"]

        missing = disan(test_env, tmp_path, "apikey", "revoke", "not-a-key-id")
        assert missing.returncode == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM users WHERE username = :u"), {"u": f"cli-{unique}"})
            conn.execute(text("DELETE FROM api_keys WHERE name = :n"), {"n": unique})
            conn.execute(
                text("DELETE FROM outbox WHERE envelope::text LIKE :p"), {"p": f"%{unique}%"}
            )
        engine.dispose()
