"""The layers show in the code: routes parse and answer, use cases in core reach the adapters."""

from __future__ import annotations

import ast
from pathlib import Path

ROUTES = Path(__file__).resolve().parents[2] / "services" / "upload_api" / "routes"
ADAPTERS = {"objects", "warehouse"}  # Context's adapters: core's use cases call them


def _route_modules() -> list[Path]:
    modules = sorted(path for path in ROUTES.glob("*.py") if path.name != "__init__.py")
    assert len(modules) >= 5, modules  # the check runs over the real routes, not an empty glob
    return modules


def _imported(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_no_route_reaches_an_adapter() -> None:
    reached = [
        f"{path.name}:{node.lineno} .{node.attr}"
        for path in _route_modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in ADAPTERS
    ]
    imports = [
        f"{path.name}: {name}"
        for path in _route_modules()
        for name in _imported(ast.parse(path.read_text()))
        if name.startswith("core.repository")
    ]
    assert reached == [] and imports == [], "use a core use case instead: " + str(reached + imports)


def test_no_route_imports_another_route() -> None:
    imports = [
        f"{path.name}: {name}"
        for path in _route_modules()
        for name in _imported(ast.parse(path.read_text()))
        if name.startswith(("services.upload_api.routes", "."))
    ]
    assert imports == []
