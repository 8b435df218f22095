"""The composition root (``disan/``: the ``disan`` command, the local stack, the service
registry) is the one place that puts services together: the kernel (``shared/``) imports no
service and nothing of the root; the root's modules stay small; the command prints no warnings
first; the production dependencies are the runtime's only, and every import is declared."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _imported(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_kernel_imports_no_service_and_nothing_of_the_composition_root() -> None:
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "shared").rglob("*.py")
        for name in _imported(path)
        if name.split(".")[0] in ("services", "disan")
    }
    assert wrong == set()


def test_the_composition_root_has_no_long_module_or_function() -> None:
    long: list[str] = []
    for path in (ROOT / "disan").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}: {node.name} {size} lines")
    assert long == []


def test_the_console_script_is_the_composition_roots() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["disan"] == "disan.cli.main:main"
    assert "disan*" in project["tool"]["setuptools"]["packages"]["find"]["include"]


def test_a_disan_command_prints_no_warning_first() -> None:
    """dnspython (imported by eventlet) used to print four CryptographyDeprecationWarning lines
    before every command's output."""
    done = subprocess.run(
        [sys.executable, "-m", "disan.cli.main", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("usage: disan")


# packaging ---------------------------------------------------------------------------------------

#: what only a developer's machine runs (``disan up``'s S3 endpoint and supervisor) or the tests
LOCAL_ONLY = {"moto", "supervisor", "iiif-validator"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _project() -> dict[str, object]:
    data: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return data


def test_runtime_dependencies_leave_the_local_tools_to_the_local_extra() -> None:
    project = _project()
    runtime = {_name(r) for r in project["dependencies"]}  # type: ignore[attr-defined]
    extras: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    assert runtime & LOCAL_ONLY == set()
    assert {_name(r) for r in extras["local"]} >= LOCAL_ONLY
    assert "disan[local]" in extras["dev"]


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module → the runtime files importing it, for the code the image carries."""
    ours = {"disan", "shared", "services", "iiif"}
    found: dict[str, set[str]] = {}
    for package in ours:
        for path in (ROOT / package).rglob("*.py"):
            for name in _imported(path):
                top = name.split(".")[0]
                if top in ours or top in sys.stdlib_module_names or top == "__future__":
                    continue
                found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_module_the_runtime_imports_is_a_declared_runtime_dependency() -> None:
    """Not only reachable through another package's requirements (werkzeug through nameko,
    amqp through kombu, urllib3 through minio were imported but not declared)."""
    declared = {_name(r) for r in _project()["dependencies"]}  # type: ignore[attr-defined]
    providers = importlib.metadata.packages_distributions()
    undeclared = {
        module: sorted(files)
        for module, files in _third_party_imports().items()
        if not {_name(d) for d in providers.get(module, [module])} & declared
    }
    assert undeclared == {}


@pytest.mark.parametrize("module", ["werkzeug", "amqp", "urllib3"])
def test_the_directly_imported_libraries_are_among_those_checked(module: str) -> None:
    assert module in _third_party_imports()
