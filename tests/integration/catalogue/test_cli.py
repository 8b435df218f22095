"""``disan import FILE [--dry-run]`` and ``disan export`` on the real catalogue schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from shared.db import make_engine

pytestmark = pytest.mark.integration


def disan(test_env, tmp_path, *args):
    env = dict(os.environ, **test_env, DISAN_HOME=str(tmp_path))
    return subprocess.run(
        [sys.executable, "-m", "disan.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_dry_run_then_real_run_then_export(settings, test_env, tmp_path, unique):
    prefix = f"CLI-{unique.upper()}"
    good = tmp_path / "good.csv"
    good.write_text(
        "\ufeffinventory_number,heritage_class,title.vi,title.en,rank.level\n"
        f"{prefix}-1,tangible_site,Đình Kênh,Kênh communal house,national\n"
        f"{prefix}-2,tangible_site,Chùa Dư Hàng,Dư Hàng pagoda,\n",
        encoding="utf-8",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "inventory_number,heritage_class,title.vi,rank.level\n"
        f"{prefix}-3,tangible_site,,\n{prefix}-4,tangible_site,Đình,imperial\n",
        encoding="utf-8",
    )
    engine = make_engine(settings.database_url, "catalogue", pool_size=1)

    def count() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM records WHERE inventory_number LIKE :p"),
                    {"p": prefix + "%"},
                ).scalar_one()
            )

    try:
        refused = disan(test_env, tmp_path, "import", str(bad))
        assert refused.returncode == 1
        assert "row      2  title" in refused.stdout
        assert "row      3  rank.level" in refused.stdout
        dry = disan(test_env, tmp_path, "import", str(good), "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["valid"] == 2 and count() == 0
        real = disan(test_env, tmp_path, "import", str(good))
        assert real.returncode == 0, real.stderr
        assert "2 created" in real.stdout and count() == 2
        exported = disan(test_env, tmp_path, "export", "--format", "jsonl", "--state", "draft")
        assert exported.returncode == 0
        assert sum(prefix in line for line in exported.stdout.splitlines()) == 2
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("DELETE FROM records WHERE inventory_number LIKE :p"), {"p": prefix + "%"}
            )
        engine.dispose()
