"""Validate our JSON against the official CDS Hooks logical models (FHIR-tools StructureDefinitions).

There is no official JSON Schema for CDS Hooks 2.0; the closest machine-readable definitions are
the logical models in vendor/cds-hooks-spec/logical-models/. This reads their differential
elements (cardinality, primitive type, required bindings) and checks a JSON instance against them.
The bound ValueSets were not copied with the models, so their codes are listed here from the spec.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

VALUESETS = {
    "CDSIndicator": {"info", "warning", "critical"},
    "CDSActionType": {"create", "update", "delete"},
    "CDSSelectionBehavior": {"at-most-one", "any"},
    "CDSLinkType": {"absolute", "smart"},
}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def load_model(spec: Path, name: str) -> list[dict[str, Any]]:
    path = spec / "logical-models" / f"StructureDefinition-{name}.json"
    sd = json.loads(path.read_text())
    return sd["differential"]["element"]


def _check_primitive(value: Any, type_code: str, where: str, errors: list[str]) -> None:
    if type_code in ("string", "markdown", "code", "url"):
        if not isinstance(value, str) or value == "":
            errors.append(f"{where}: expected non-empty {type_code}")
        elif type_code == "url" and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:|^[A-Za-z]+/[^/]+$", value):
            errors.append(f"{where}: not a url: {value!r}")
    elif type_code == "uuid":
        if not isinstance(value, str) or not _UUID.match(value):
            errors.append(f"{where}: expected a uuid")
    elif type_code == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{where}: expected boolean")
    elif type_code == "Coding":
        if not isinstance(value, dict) or not value.get("system") or not value.get("code"):
            errors.append(f"{where}: Coding needs system and code")
    elif type_code in ("Resource",):
        if not isinstance(value, dict) or "resourceType" not in value:
            errors.append(f"{where}: expected a FHIR resource")


def validate(instance: Any, elements: list[dict[str, Any]]) -> list[str]:
    root = elements[0]["path"]
    by_path = {e["path"]: e for e in elements}
    errors: list[str] = []

    def walk(obj: Any, path: str, where: str) -> None:
        children = [e for p, e in by_path.items() if p.rsplit(".", 1)[0] == path and p != path]
        if not isinstance(obj, dict):
            errors.append(f"{where}: expected an object")
            return
        known = {e["path"].rsplit(".", 1)[1] for e in children}
        for key in obj:
            if key not in known and key != "extension":
                errors.append(f"{where}.{key}: not in the logical model")
        for e in children:
            name = e["path"].rsplit(".", 1)[1]
            value = obj.get(name)
            if value is None:
                if (e.get("min") or 0) > 0:
                    errors.append(f"{where}.{name}: required")
                continue
            many = e.get("max") == "*"
            if path.endswith(".prefetch") or e["path"].endswith(".prefetch"):
                if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
                    errors.append(f"{where}.{name}: prefetch must map keys to template strings")
                continue
            items = value if many else [value]
            if many and not isinstance(value, list):
                errors.append(f"{where}.{name}: expected an array")
                continue
            if many and value == [] and not (path == root and name in ("cards", "services")):
                # the spec's one exception: {"cards": []} (and an empty discovery list) are valid
                errors.append(f"{where}.{name}: empty arrays must be omitted")
            types = [t.get("code") for t in e.get("type", [])]
            ref = e.get("contentReference")
            vs = (e.get("binding") or {}).get("valueSet", "").rsplit("/", 1)[-1]
            for i, item in enumerate(items):
                loc = f"{where}.{name}[{i}]" if many else f"{where}.{name}"
                if ref:
                    walk(item, ref.lstrip("#"), loc)
                elif types and types[0].startswith("http"):
                    walk(item, e["path"], loc)
                elif types:
                    _check_primitive(item, types[0], loc, errors)
                    if vs in VALUESETS and item not in VALUESETS[vs]:
                        errors.append(f"{loc}: {item!r} not in {vs}")

    walk(instance, root, "$")
    return errors
