"""The import contract (issue #16, ADR 0013): services never import each other, ``shared`` and
``iiif`` never import ``services`` (nor the composition root ``disan``), ``iiif`` imports no I/O
library, and no package has an import cycle. The contracts live in ``pyproject.toml``
(``[tool.importlinter]``); ``make lint`` runs them too. The tree must keep them, and each one
must break when a copy of the tree is given the import it forbids."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, ROOT

PACKAGES = ("disan", "shared", "services", "iiif")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_the_import_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages and the contracts, copied (sources only) to be broken one way at a time."""
    base = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, base / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(ROOT / "pyproject.toml", base / "pyproject.toml")
    return base


@pytest.mark.parametrize(
    ("module", "added", "contract"),
    [
        (
            "services/iiif/feeds.py",
            "from services.gateway import http",
            "a service never imports another",
        ),
        (
            "services/notifications/service.py",
            "    from services.access import domain  # inside a function: still a dependency",
            "a service never imports another",
        ),
        ("shared/bus.py", "import services.catalogue.domain", "shared and iiif never import"),
        ("iiif/search.py", "from disan import registry", "shared and iiif never import"),
        ("iiif/search.py", "import sqlalchemy", "iiif is pure protocol code"),
        ("services/iiif/repository.py", "from services.iiif import service", "no import cycles"),
        ("shared/errors.py", "from shared import rpc", "no import cycles"),
    ],
)
def test_each_contract_breaks_on_the_import_it_forbids(
    tree_copy: Path, module: str, added: str, contract: str
) -> None:
    path = tree_copy / module
    original = path.read_text(encoding="utf-8")
    line = f"\n\ndef _added() -> None:\n{added}\n" if added.startswith(" ") else f"\n{added}\n"
    path.write_text(original + line, encoding="utf-8")
    try:
        result = lint_imports(tree_copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), result.stdout
