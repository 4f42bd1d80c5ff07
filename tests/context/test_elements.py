"""`elements.model_validate` (each top-level element validated once per distinct bytes) decides
exactly what `cls.model_validate` decides: the same problems, in the same order, for valid and
invalid resources, whether the elements were remembered before or not.

The resources are every resource of every fixture request (what EHR-shaped orders, labs and
conditions look like here) and hypothesis mutations of them: any element replaced by any JSON
value, removed, or nulled, at any depth.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import ValidationError

from cdshooks.context import elements, fhir

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"


def _resources() -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("resourceType"), str) and node["resourceType"] != "Bundle":
                found.setdefault(json.dumps(node, sort_keys=True), node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(FIXTURES.glob("*/request-*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return [found[k] for k in sorted(found)]


RESOURCES = _resources()


def old_validate(resource: dict[str, Any]) -> list[str]:
    """`fhir._validate` as it was before elements.py (verbatim but for the one call)."""
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return ["resource has no resourceType"]
    dropped = [f"invalid FHIR {p}" for p in fhir.problems_of(resource)]
    if dropped:
        return dropped
    try:
        cls = fhir.model_class(rtype)
    except (ImportError, AttributeError, ValueError):
        return [f"unknown resourceType {rtype[:40]!r}"]
    try:
        cls.model_validate(fhir.without_marker(resource))
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"invalid FHIR {rtype}: {loc or '(root)'}: {err.get('msg', 'invalid')}")
        more = len(exc.errors()) - 5
        if more > 0:
            problems.append(f"... and {more} more validation errors")
        return problems
    except Exception as exc:
        return [f"invalid FHIR {rtype}: {type(exc).__name__}"]
    return []


def test_the_fixtures_hold_resources_with_elements_to_remember() -> None:
    kinds = {r["resourceType"] for r in RESOURCES}
    assert {"MedicationRequest", "Observation", "Condition", "Patient"} <= kinds
    assert len(RESOURCES) > 100


def test_every_fixture_resource_decides_the_same_cold_and_remembered() -> None:
    elements.clear()
    for _ in range(2):  # first with nothing remembered, then with every element remembered
        for resource in RESOURCES:
            assert fhir._validate(resource) == old_validate(resource), resource.get("id")


def test_an_element_shared_by_two_resources_is_validated_once() -> None:
    elements.clear()
    order = next(r for r in RESOURCES if r["resourceType"] == "MedicationRequest" and r.get("dosageInstruction"))
    other = copy.deepcopy(order)
    other["subject"] = {"reference": "Patient/someone-else"}
    assert fhir._validate(order) == [] and fhir._validate(other) == []
    keys = [k for k in elements._VALIDATED if k[0].__name__ == "Dosage"]
    assert len(keys) == len({json.dumps(d) for d in order["dosageInstruction"]})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6) | st.sampled_from(["", " x ", "mg", "2024-13-40", "draft", "http://loinc.org"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["value", "code", "system", "unit", "text", "coding", "reference", "timing", "repeat", "id", "extension", "url"]),
        inner, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, prefix + (i,))
    return out


@st.composite
def mutated(draw: Any) -> dict[str, Any]:
    resource = copy.deepcopy(draw(st.sampled_from(RESOURCES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(resource) if p[0] != "resourceType"]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = resource
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "remove", "null"]))
        if action == "remove":
            del parent[path[-1]]
        else:
            parent[path[-1]] = None if action == "null" else draw(JSON)
    return resource


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(mutated(), min_size=1, max_size=4), st.booleans())
def test_mutated_resources_decide_the_same_as_whole_validation(batch: list[dict[str, Any]], remembered: bool) -> None:
    if not remembered:
        elements.clear()
    for resource in batch + batch:  # the second pass meets every element remembered
        assert fhir._validate(resource) == old_validate(resource)


def test_not_plain_json_and_nulls_are_validated_in_place() -> None:
    from decimal import Decimal

    elements.clear()
    order = next(r for r in RESOURCES if r["resourceType"] == "MedicationRequest" and r.get("dosageInstruction"))
    odd = copy.deepcopy(order)
    odd["dosageInstruction"][0]["sequence"] = Decimal("1")
    odd["medicationCodeableConcept"] = {"text": None}
    assert fhir._validate(odd) == old_validate(odd)
    assert not any(k[1].count(b"null") for k in elements._VALIDATED)
    assert all(b"sequence" not in k[1] for k in elements._VALIDATED if k[0].__name__ == "Dosage")


def test_contained_resources_are_never_replaced() -> None:
    fields = elements._element_fields(fhir.model_class("MedicationRequest"))
    assert "contained" not in fields and "dosageInstruction" in fields and "subject" in fields
    assert not any(key.startswith("_") for key in fields)


@pytest.mark.parametrize("size", [3])
def test_a_full_table_is_emptied_not_grown(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(elements, "MAX_ELEMENTS", size)
    elements.clear()
    cls = fhir.model_class("Reference")
    for i in range(10):
        elements._validated(cls, {"reference": f"Patient/p{i}"})
        assert len(elements._VALIDATED) <= size
