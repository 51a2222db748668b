"""PynamoDB lives in the persistence layer only (issue #12, "a repository boundary").

Every module of ``app.py``, ``chalicelib/`` and ``functions/`` is read with :mod:`ast` (nothing
is imported but the persistence package, to know which of its names are PynamoDB models). A
module fails the check when it imports ``pynamodb`` (``import pynamodb...`` or ``from pynamodb...
import``), the persistence models module itself, or a PynamoDB ``Model`` class from anywhere in
``chalicelib.persistence``. Imports under ``TYPE_CHECKING`` and inside functions count too.

Allowed to: ``chalicelib/persistence/`` and a capability's own ``persistence.py`` (e.g.
``chalicelib/feeds/persistence.py``), which is that capability's DynamoDB access.

:data:`NOT_YET_MOVED` lists the modules that still hold table code and wait for their move.
It can only shrink: a module listed there that no longer imports PynamoDB fails the check too,
so whoever moves it also takes it off the list.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("app.py", "chalicelib", "functions")
PERSISTENCE = "chalicelib.persistence"
MODEL_MODULES = {f"{PERSISTENCE}.models"}  # importing the models module whole counts as importing them

# Modules outside the persistence layer that still import PynamoDB or a model (path -> why).
NOT_YET_MOVED: dict[str, str] = {
}


def scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def exempt(rel: str) -> bool:
    """The persistence layer, and a capability's own persistence module."""
    return rel.startswith("chalicelib/persistence/") or rel.endswith("/persistence.py")


def module_name(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(rel: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``rel``)."""
    if not node.level:
        return node.module or ""
    package = module_name(rel).split(".")
    if not rel.endswith("__init__.py"):
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


@cache
def persistence_models() -> dict[str, set[str]]:
    """module of chalicelib.persistence -> the names in it that are PynamoDB models."""
    from pynamodb.models import Model

    package = importlib.import_module(PERSISTENCE)
    out: dict[str, set[str]] = {}
    for info in pkgutil.walk_packages(package.__path__, f"{PERSISTENCE}."):
        module = importlib.import_module(info.name)
        out[info.name] = {
            name
            for name, value in vars(module).items()
            if inspect.isclass(value) and issubclass(value, Model) and value is not Model
        }
    out[PERSISTENCE] = {
        name for name, value in vars(package).items() if inspect.isclass(value) and issubclass(value, Model)
    }
    return out


def offences(rel: str, source: str) -> list[str]:
    """What in ``source`` (the module at ``rel``) reaches past the persistence layer."""
    found: list[str] = []
    models = persistence_models()
    for node in ast.walk(ast.parse(source, rel)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pynamodb" or alias.name in MODEL_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = resolve(rel, node)
            if module.split(".")[0] == "pynamodb":
                found.append(f"line {node.lineno}: from {module} import ...")
                continue
            if module != PERSISTENCE and not module.startswith(f"{PERSISTENCE}."):
                continue
            for alias in node.names:
                if f"{module}.{alias.name}" in MODEL_MODULES or alias.name in models.get(module, set()):
                    found.append(f"line {node.lineno}: from {module} import {alias.name}")
    return found


def scan() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in scanned_files():
        rel = path.relative_to(ROOT).as_posix()
        if exempt(rel):
            continue
        found = offences(rel, path.read_text(encoding="utf-8"))
        if found:
            out[rel] = found
    return out


def test_pynamodb_is_imported_only_by_the_persistence_layer() -> None:
    stray = {rel: found for rel, found in scan().items() if rel not in NOT_YET_MOVED}
    assert not stray, (
        "PynamoDB (or a persistence model) imported outside chalicelib/persistence/ and the capabilities' "
        f"persistence.py modules: move the table code behind a port in chalicelib/persistence/. {stray}"
    )


def test_the_list_of_modules_not_yet_moved_only_shrinks() -> None:
    found = scan()
    done = sorted(rel for rel in NOT_YET_MOVED if rel not in found)
    assert not done, f"these no longer import PynamoDB: take them off NOT_YET_MOVED in {__file__}: {done}"


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("chalicelib/realtime/x.py", "from pynamodb.exceptions import PutError\n"),
        ("chalicelib/realtime/x.py", "import pynamodb.models\n"),
        ("chalicelib/auth/x.py", "from ..persistence.models import UserModel\n"),
        ("chalicelib/auth/x.py", "from ..persistence import models\n"),
        ("chalicelib/auth/sub/x.py", "from ...persistence.repository import TaskModel\n"),
        ("functions/rest/x.py", "from chalicelib.persistence.models import ConnectionModel\n"),
        ("app.py", "import chalicelib.persistence.models\n"),
        (
            "chalicelib/container.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pynamodb.models import Model\n",
        ),
        ("chalicelib/realtime/x.py", "def f():\n    from .. persistence.models import TaskModel\n"),
    ],
)
def test_the_check_sees_a_stray_import(rel: str, source: str) -> None:
    assert offences(rel, source)


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("chalicelib/realtime/x.py", "from ..persistence.conditions import condition_failed\n"),
        ("chalicelib/realtime/x.py", "from ..persistence.repository import to_task, now_ms\n"),
        ("functions/rest/x.py", "from chalicelib.persistence.repository import now_ms\n"),
        ("chalicelib/auth/x.py", "from .persistence import models\n"),  # the package's own module
    ],
)
def test_the_check_lets_the_rest_through(rel: str, source: str) -> None:
    assert not offences(rel, source)


def test_the_exemptions_are_the_persistence_layer_only() -> None:
    assert exempt("chalicelib/persistence/tasks.py") and exempt("chalicelib/feeds/persistence.py")
    assert not exempt("chalicelib/realtime/connections.py")
