"""The ALL knowledge base: versioned data files, each validated by its JSON Schema at start-up.

    knowledge/data/<name>.json      the content (drugs, dosing, interactions, populations, ...)
    knowledge/schemas/<name>.schema.json   its schema (Draft 2020-12); every data file must have one
    knowledge/data/manifest.json    {"version": "..."} - the version goes on every card's source label

Every ``data/*.json`` is loaded (sorted by name); each table carries its own ``sources`` block.
Regimen templates (``data/regimens/*.json`` plus the site's CDSHOOKS_REGIMEN_DIR) are loaded into
the table ``regimen_templates`` by `knowledge.regimen_templates`, validated the same way.

`load_knowledge()` refuses to return a Knowledge whose files fail their schemas or cross-checks
(`KnowledgeError` names the file and the JSON path). Typed views for a family live next to the
rules that read them (e.g. `knowledge.drugs`); this module only loads and validates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from jsonschema import Draft202012Validator

from ..errors import KnowledgeError

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
SCHEMA_DIR = PACKAGE_DIR / "schemas"


@dataclass(frozen=True)
class Knowledge:
    version: str
    tables: Mapping[str, Any]  # file stem -> validated JSON content
    source_dir: Path
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def table(self, name: str) -> Any:
        try:
            return self.tables[name]
        except KeyError:
            raise KnowledgeError(f"knowledge table {name!r} is not loaded") from None

    def view(self, name: str, build: Callable[["Knowledge"], Any]) -> Any:
        """Memoize a typed view built from the raw tables (built once per Knowledge)."""
        try:
            return self._cache[name]  # the usual case: rules ask for their views dozens of times a call
        except KeyError:
            found = self._cache[name] = build(self)
            return found


# Cross-file checks registered by family modules: fn(knowledge) -> list of problems.
_CROSS_CHECKS: list[Callable[[Knowledge], list[str]]] = []


def cross_check(fn: Callable[[Knowledge], list[str]]) -> Callable[[Knowledge], list[str]]:
    _CROSS_CHECKS.append(fn)
    return fn


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise KnowledgeError(f"{path.name}: not valid JSON: {exc}") from None


def validate_table(name: str, data: Any, schema_dir: Path = SCHEMA_DIR) -> None:
    schema_path = schema_dir / f"{name}.schema.json"
    if not schema_path.exists():
        raise KnowledgeError(f"{name}.json: no schema {schema_path.name}; every knowledge file needs one")
    schema = _read_json(schema_path)
    Draft202012Validator.check_schema(schema)
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = first.json_path
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise KnowledgeError(f"{name}.json {where}: {first.message}{more}")


def load_knowledge(
    data_dir: Path | str | None = None, schema_dir: Path | str | None = None, regimen_dirs: Sequence[Path | str] = ()
) -> Knowledge:
    """Load and validate every table; regimen templates from data_dir/regimens plus `regimen_dirs` (site)."""
    from .regimen_templates import TABLE, load_template_table

    data_dir = Path(data_dir) if data_dir else DATA_DIR
    schema_dir = Path(schema_dir) if schema_dir else SCHEMA_DIR
    manifest_path = data_dir / "manifest.json"
    if not manifest_path.exists():
        raise KnowledgeError(f"knowledge manifest missing: {manifest_path}")
    manifest = _read_json(manifest_path)
    validate_table("manifest", manifest, schema_dir)
    tables: dict[str, Any] = {"manifest": manifest}
    for path in sorted(data_dir.glob("*.json")):
        name = path.stem
        if name == "manifest":
            continue
        data = _read_json(path)
        validate_table(name, data, schema_dir)
        tables[name] = data
    tables[TABLE] = load_template_table([data_dir / "regimens", *(Path(d) for d in regimen_dirs)], schema_dir)
    kb = Knowledge(version=manifest["version"], tables=tables, source_dir=data_dir)
    _import_views()
    problems = [p for check in _CROSS_CHECKS for p in check(kb)]
    if problems:
        raise KnowledgeError(f"knowledge cross-check failed: {problems[0]}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""))
    return kb


@lru_cache(maxsize=1)
def default_knowledge() -> Knowledge:
    """The packaged knowledge, loaded once per process."""
    return load_knowledge()


def knowledge_for(regimen_dir: Path | str | None) -> Knowledge:
    """The knowledge a service with this configuration uses: packaged, plus the site's regimen templates."""
    return _with_site_templates(str(regimen_dir)) if regimen_dir else default_knowledge()


@lru_cache(maxsize=4)
def _with_site_templates(regimen_dir: str) -> Knowledge:
    return load_knowledge(regimen_dirs=(regimen_dir,))


def _import_views() -> None:
    """Import typed-view modules of this package so their @cross_check functions register."""
    import importlib
    import pkgutil

    from .. import knowledge as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")


@cross_check
def unverified_rules_are_never_critical(kb: Knowledge) -> list[str]:
    """Policy: material marked UNVERIFIED becomes a soft rule, never a hard stop."""
    problems: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("status") == "unverified":
                for key in ("indicator", "severity"):
                    if node.get(key) == "critical":
                        problems.append(f"{where} ({node.get('id', '?')}): unverified rule with {key} critical")
            for k, v in node.items():
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    for name, table in kb.tables.items():
        walk(table, name)
    return problems
