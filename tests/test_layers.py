"""Arrows point one way: a module may import only its own layer or layers below it.

Why a test: the architecture (protocol -> services -> context -> rules -> cards, with knowledge
and units below all of them and the store beside the services) stays visible only while nothing
imports upward. The test reads every module's imports with `ast` (nothing is executed); imports
under `if TYPE_CHECKING:` are annotations only and do not count. `KNOWN` lists the arrows that
still point the wrong way, each with why; the test fails on any new one, and on a listed one
that has been fixed (so the list only shrinks).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cdshooks"

# Lowest first. Same number = one layer (may import each other).
LAYERS: dict[str, int] = {
    "errors": 0, "units": 0, "config": 0,  # settings are read by every layer
    "gate": 0,  # the serving CPU gate (fetch/ and protocol/ let it go at network waits); imports nothing of ours
    "knowledge": 1,
    "context": 2,
    "rules": 3, "policy": 3,  # the policy is applied once in the rules engine
    "cards": 4,
    "store": 5, "fetch": 5,  # what the services persist to and read the EHR's FHIR server through
    "services": 6,
    "protocol": 7,
    "gctune": 8, "app": 8, "serve": 8, "fixtures": 8, "fixture_server": 8, "goldens": 8, "replay": 8,
    "commands": 9, "cli": 9, "__init__": 9,
}

# (importer, imported) top-level packages still pointing the wrong way, and why.
KNOWN: dict[tuple[str, str], str] = {
    ("config", "policy"): "settings parse and validate CDSHOOKS_POLICY at start-up (one line, exit 2 on a bad file)",
}


def _module(path: Path) -> list[str]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for child in node.body for n in ast.walk(child)}
    here = _module(path)
    package = here if path.name == "__init__.py" else here[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
            out.add(name)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {n for n in out if n == "cdshooks" or n.startswith("cdshooks.")}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def wrong_arrows() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _top(".".join(_module(path)))
        for target in _imports(path):
            imported = _top(target)
            if imported == importer or imported == "__init__":
                continue
            if LAYERS[imported] > LAYERS[importer]:
                found.setdefault((importer, imported), []).append(f"{path.relative_to(PACKAGE.parent)} -> {target}")
    return found


def test_every_top_level_package_has_a_layer() -> None:
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert names <= set(LAYERS), sorted(names - set(LAYERS))


def test_no_new_arrow_points_upward() -> None:
    found = wrong_arrows()
    new = {k: v for k, v in found.items() if k not in KNOWN}
    assert not new, new


def test_known_wrong_arrows_are_still_there_or_get_removed_from_the_list() -> None:
    fixed = set(KNOWN) - set(wrong_arrows())
    assert not fixed, f"fixed, remove from KNOWN: {sorted(fixed)}"


def test_knowledge_does_not_import_the_context_layer() -> None:
    """Units sit below both (cdshooks/units.py); knowledge/ reads no FHIR context."""
    offenders = [p for p in (PACKAGE / "knowledge").rglob("*.py") if any(_top(t) == "context" for t in _imports(p))]
    assert not offenders, offenders


def test_the_walker_sees_a_real_upward_import(tmp_path: Path) -> None:
    probe = PACKAGE / "knowledge" / "codes.py"
    assert "cdshooks.units" in _imports(probe)
    assert any(t.startswith("cdshooks.rules") for t in _imports(PACKAGE / "cards" / "render.py"))
