"""Arrows one way (issue 11): routes -> services -> fetch/context -> rules -> cards, store at the
bottom. Read from the source with `ast`, so a new upward import (even inside a function) fails."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cdshooks"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every cdshooks module `path` imports (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {n for n in out if n == "cdshooks" or n.startswith("cdshooks.")}


def imports_of(subpackage: str) -> dict[str, set[str]]:
    root = PACKAGE / subpackage
    files = [root] if root.suffix == ".py" else sorted(root.rglob("*.py"))
    return {str(f.relative_to(PACKAGE)): imported_modules(f) for f in files}


def offenders(subpackage: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{file} imports {name}" for file, names in imports_of(subpackage).items()
            for name in sorted(names) if name.startswith(forbidden)]


def test_services_do_not_import_protocol_or_the_app() -> None:
    assert offenders("services", ("cdshooks.protocol", "cdshooks.app")) == []


def test_fetch_and_context_sit_below_services_and_protocol() -> None:
    up = ("cdshooks.protocol", "cdshooks.services", "cdshooks.app", "cdshooks.rules", "cdshooks.cards")
    assert offenders("fetch", up) == []
    assert offenders("context", up) == []


def test_store_imports_nothing_above_it() -> None:
    assert offenders("store", ("cdshooks.protocol", "cdshooks.services", "cdshooks.app", "cdshooks.fetch")) == []


def test_protocol_never_imports_the_app_factory() -> None:
    assert offenders("protocol", ("cdshooks.app",)) == []


def test_the_checker_sees_a_relative_import() -> None:
    names = imported_modules(PACKAGE / "protocol" / "routes.py")
    assert "cdshooks.services.pipeline" in names and "cdshooks.protocol.runtime" in names
