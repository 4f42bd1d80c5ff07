"""conformant(r) may only say True when read.conform(r) would give r back unchanged."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

from cdshooks.context.conformant import conformant
from cdshooks.context.fhir import _ready, conformed, normalize
from cdshooks.context.read import MALFORMED, conform

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from workload import chart_request  # noqa: E402


def _resources(node):
    if isinstance(node, dict):
        if isinstance(node.get("resourceType"), str) and node["resourceType"] != "Bundle":
            yield node
        for value in node.values():
            yield from _resources(value)
    elif isinstance(node, list):
        for value in node:
            yield from _resources(value)


def _fixture_resources():
    for path in sorted((ROOT / "fhir_fixtures").glob("*/request-*.json")):
        yield from _resources(json.loads(path.read_text()))
    for hook in ("order-sign", "patient-view"):
        yield from _resources(chart_request(hook, 150))


def _agree(resource):
    claimed = conformant(resource)
    if claimed:
        assert conform(resource) == resource and MALFORMED not in conform(resource)
    return claimed


def test_sound_and_useful_on_every_fixture_and_bench_resource():
    results = [_agree(r) for r in _fixture_resources()]
    assert len(results) > 500
    assert sum(results) > 0.9 * len(results)  # almost every real resource is kept as sent


SPOILERS = [
    ("status", {"x": 1}), ("status", None), ("id", 5), ("subject", "Patient/1"), ("category", {"text": "x"}),
    ("code", {"coding": {"system": "s", "code": "c"}}), ("code", {"coding": [5]}), ("code", {"text": 5}),
    ("valueQuantity", {"value": float("inf")}), ("valueQuantity", {"value": 1e13}), ("valueQuantity", {"value": True}),
    ("valueQuantity", {"value": "1"}), ("dosageInstruction", {"text": "x"}), ("dosageInstruction", [{"timing": {"repeat": {"frequency": "2"}}}]),
    ("contained", [{"id": "m"}]), ("contained", [{"resourceType": "Medication", "code": {"coding": [{"code": 1}]}}]),
    ("extension", [{"url": "u", "valueString": None}]), ("unknownThing", {"deep": [None]}), (MALFORMED, ["x"]),
]


@pytest.mark.parametrize("key,value", SPOILERS, ids=[f"{k}={v!r}"[:40] for k, v in SPOILERS])
def test_every_spoiled_resource_is_sent_through_conform(key, value):
    for rtype in ("Observation", "MedicationRequest", "MedicationAdministration", "Condition", "Patient"):
        resource = {"resourceType": rtype, "id": "r1", key: copy.deepcopy(value)}
        assert not _agree(resource) or conform(resource) == resource


def test_too_deep_is_not_conformant():
    node: dict = {}
    deep = node
    for _ in range(40):
        deep["x"] = {}
        deep = deep["x"]
    assert not _agree({"resourceType": "Observation", "extension": [{"url": "u", "valueX": node}]})
    assert conformant({"resourceType": "Observation", "id": "o", "status": "final"})
    assert not conformant({"resourceType": 5}) and not conformant([]) and not conformant(None)


def _nest(depth, leaf, kind):
    node = leaf
    for _ in range(depth):
        node = {"x": node} if kind == "obj" else [node]
    return node


def _exact(resource):
    conformed = conform(resource)
    return conformed == resource and MALFORMED not in conformed


@pytest.mark.parametrize("depth", range(26, 36))
@pytest.mark.parametrize("leaf", ["s", 1, 2.5, True, None, {}, [], ["s"], {"y": None}])
@pytest.mark.parametrize("kind", ["obj", "list"])
def test_exactly_conform_verdict_at_the_depth_limit(depth, leaf, kind):
    """Either side of MAX_DEPTH, in elements we read and elements we do not, conformant says True
    exactly when conform gives the resource back unchanged (not only soundly)."""
    nested = _nest(depth, leaf, kind)
    for resource in (
        {"resourceType": "Observation", "id": "o", "extension": [{"url": "u", "valueX": nested}]},
        {"resourceType": "Observation", "id": "o", "unread": nested},
        {"resourceType": "CarePlan", "id": "c", "contained": [{"resourceType": "CarePlan", "instantiatesCanonical": ["a", "b"],
                                                                "activity": [{"detail": {"code": {"text": "t", "x": nested}}}]}]},
        {"resourceType": "MedicationRequest", "id": "m", "dosageInstruction": [{"timing": {"repeat": {"dayOfWeek": ["mon"], "x": nested}}}]},
    ):
        assert conformant(resource) == _exact(resource)


@pytest.mark.parametrize("number", [0, -1, 1e12, -1e12, 10**12, 10**12 + 1, 1.0000000000001e12, 10**400, float("nan"),
                                    float("inf"), -float("inf"), True, False, 2.5, "1", None, [1], {"v": 1}])
def test_exactly_conform_verdict_on_numbers(number):
    """Judged numbers (a Quantity value, a repeat frequency) and unjudged ones: conformant says
    True exactly when conform keeps the value as sent."""
    for resource in (
        {"resourceType": "Observation", "id": "o", "valueQuantity": {"value": number, "code": "mg"}},
        {"resourceType": "MedicationRequest", "id": "m", "dosageInstruction": [{"timing": {"repeat": {"frequency": number}}}]},
        {"resourceType": "Observation", "id": "o", "extension": [{"url": "u", "valueDecimal": number}]},
        {"resourceType": "Patient", "id": "p", "deceasedBoolean": number},
    ):
        assert conformant(resource) == _exact(resource)


# -- settled: conformant and already normalized, in one walk (fhir.conformed keeps it as sent) ------

def _reference(resource):
    fixed = conform(resource)
    return normalize(fixed) if fixed is not None else None


def _settled_agrees(resource):
    ready = _ready(resource)
    assert ready == _reference(resource)
    if ready is resource:  # kept as sent: conform and normalize would both have given it back
        assert MALFORMED not in conform(resource) and normalize(resource) is resource
    return ready is resource


def test_settled_is_sound_and_useful_on_every_fixture_and_bench_resource():
    results = [_settled_agrees(r) for r in _fixture_resources()]
    assert sum(results) > 0.9 * len(results)


@pytest.mark.parametrize("resource,kept", [
    ({"resourceType": "MedicationAdministration", "id": "a", "dosage": {"dose": {"value": 1, "code": "mg"}}}, True),
    ({"resourceType": "MedicationStatement", "id": "s", "category": {"text": "inpatient"}}, False),  # normalize wraps it
    ({"resourceType": "MedicationStatement", "id": "s", "dosage": {"text": "x"}}, False),  # conform wraps it
    ({"resourceType": "Observation", "id": "o", "extension": {"url": "u"}}, False),  # unjudged: normalize wraps it
    ({"resourceType": "Observation", "id": "o", "x": [{"y": {"coding": {"code": "c"}}}]}, False),  # deep, unjudged
    ({"resourceType": "Observation", "id": "o", "code": {"coding": [{"code": "c", "extension": {"url": "u"}}]}}, False),
    ({"resourceType": "CarePlan", "id": "c", "contained": [{"resourceType": "MedicationAdministration", "id": "m",
                                                             "dosage": {"text": "x"}}]}, True),
    ({"resourceType": "CarePlan", "id": "c", "contained": [{"resourceType": "MedicationAdministration", "id": "m",
                                                             "category": {"text": "x"}}]}, False),  # normalize wraps it
    ({"resourceType": "Observation", "id": "o", "code": {"coding": [{"code": "c"}]}, "extension": [{"url": "u"}]}, True),
])
def test_settled_only_where_normalize_changes_nothing(resource, kept):
    assert _settled_agrees(resource) is kept
    assert conformed([resource]) == [_reference(resource)]


@pytest.mark.parametrize("where,value", SPOILERS)
def test_settled_agrees_on_spoiled_resources(where, value):
    for base in list(_fixture_resources())[:60]:
        resource = copy.deepcopy(base)
        resource[where] = copy.deepcopy(value)
        _settled_agrees(resource)
