"""Reading each resource once: copy-on-write normalize, Observations read in one pass (same
results as the three-walk readers), and quirky Observations read as sent without a copy."""

from __future__ import annotations

import copy
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from cdshooks.context.builder import build_context
from cdshooks.context.fhir import as_list, codings, entries, normalize, raw_entries
from cdshooks.context.observations import body_measurement, body_series, read_labs, read_observations
from cdshooks.knowledge.codes import codes_view
from ctx_fhirdata import LOINC, UCUM, obs, qty

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from workload import chart_request  # noqa: E402

ORDER, UPPER = date(2024, 3, 10), date(2024, 3, 10)


def test_normalize_returns_the_same_object_when_nothing_needs_fixing():
    resource = obs("o1", "718-7", qty(9.1, "g/dL"), "2024-03-01", referenceRange=[{"high": qty(13, "g/dL")}])
    assert normalize(resource) is resource


def test_normalize_copies_only_the_path_to_a_fix_and_never_mutates_the_input():
    resource = obs("o1", "718-7", qty(9.1, "g/dL"), "2024-03-01", referenceRange={"high": qty(13, "g/dL")})
    resource["code"] = {"coding": {"system": LOINC, "code": "718-7"}}
    before = copy.deepcopy(resource)
    fixed = normalize(resource)
    assert resource == before
    assert fixed["referenceRange"] == [before["referenceRange"]]
    assert fixed["code"]["coding"] == [before["code"]["coding"]]
    assert fixed["valueQuantity"] is resource["valueQuantity"]  # untouched branch shared, not copied


def test_normalize_keeps_medication_administration_dosage_an_object():
    admin = {"resourceType": "MedicationAdministration", "dosage": {"dose": qty(1, "mg")}}
    assert normalize(admin)["dosage"] == {"dose": qty(1, "mg")}


def test_defensive_readers_accept_an_object_for_an_array():
    assert as_list({"a": 1}) == [{"a": 1}] and as_list([1]) == [1] and as_list("x") == [] and as_list(None) == []
    assert codings({"coding": {"system": LOINC, "code": "1"}}) == [{"system": LOINC, "code": "1"}]
    assert codings({"coding": "junk"}) == [] and codings(7) == []


def test_quirky_observation_is_read_as_sent_like_its_normalized_form(kb):
    codes = codes_view(kb)
    quirky = obs("o1", None, qty(9.1, "g/dL"), "2024-03-01", referenceRange={"low": qty(11, "g/dL"), "high": qty(15, "g/dL")})
    quirky["code"] = {"coding": {"system": LOINC, "code": "718-7"}}
    raw = read_labs([quirky], codes, ORDER, UPPER)
    fixed = read_labs([normalize(quirky)], codes, ORDER, UPPER)
    assert raw == fixed
    (result,) = raw.results
    assert (result.key, result.value, result.reference_low, result.reference_high) == ("hemoglobin", 9.1, 11.0, 15.0)


def _three_walks(body, others, codes):
    """The reference: every resource conformed and normalized by `entries`, then the readers."""
    body, others = entries({"resourceType": "Bundle", "entry": [{"resource": r} for r in body]}), \
        entries({"resourceType": "Bundle", "entry": [{"resource": r} for r in others]})
    weight = body_measurement("weight", body + others, codes, ORDER, UPPER)
    height = body_measurement("height", body + others, codes, ORDER, UPPER)
    return weight, height, read_labs(others, codes, ORDER, UPPER)


def _same_series(reading, body, others, codes):
    body, others = entries({"resourceType": "Bundle", "entry": [{"resource": r} for r in body]}), \
        entries({"resourceType": "Bundle", "entry": [{"resource": r} for r in others]})
    assert reading.weights == body_series("weight", body + others, codes, UPPER)
    assert reading.heights == body_series("height", body + others, codes, UPPER)


@pytest.mark.parametrize("hook,size", [("order-sign", 150), ("patient-view", 600)])
def test_one_pass_equals_three_walks_on_a_two_year_chart(kb, hook, size):
    codes = codes_view(kb)
    prefetch = chart_request(hook, size, ORDER)["prefetch"]
    body, others = raw_entries(prefetch["bodyMeasurements"]), raw_entries(prefetch["observations"])
    weight, height, labs = _three_walks(body, others, codes)
    reading = read_observations(body, others, codes, ORDER, UPPER)
    assert (reading.weight, reading.height, reading.labs) == (weight[0], height[0], labs)
    assert reading.gaps == tuple(weight[1] + height[1])
    assert reading.weight is not None and len(labs.results) > 100
    _same_series(reading, body, others, codes)
    assert len(reading.weights) > 1


def test_one_pass_equals_three_walks_with_reference_ranges_on_every_lab(kb):
    """As EHRs send labs: each with a reference range (kept as sent and read when a result is built)."""
    codes = codes_view(kb)
    prefetch = chart_request("order-sign", 150, ORDER)["prefetch"]
    body, others = raw_entries(prefetch["bodyMeasurements"]), raw_entries(prefetch["observations"])
    for n, lab in enumerate(others):
        q = lab.get("valueQuantity")
        if q:
            lab["referenceRange"] = [{"low": {**q, "value": n % 3}, "high": {**q, "value": 100 + n}}] if n % 4 else {"high": q}
    weight, height, labs = _three_walks(body, others, codes)
    reading = read_observations(body, others, codes, ORDER, UPPER)
    assert (reading.weight, reading.height, reading.labs) == (weight[0], height[0], labs)
    assert list(reading.labs.series) == list(labs.series)
    ranged = [r for r in labs.results if r.reference_high is not None]
    assert len(ranged) > 100 and any(r.reference_low for r in ranged)


def test_one_pass_equals_three_walks_on_edge_cases(kb):
    """Stale, future, implausible, unitless, non-final and duplicated Observations, both keys."""
    codes = codes_view(kb)
    body = [
        obs("w-future", "29463-7", qty(30, "kg"), "2024-04-01"),
        obs("w-prelim", "29463-7", qty(30, "kg"), "2024-03-09", status="preliminary"),
        obs("w-lb", "29463-7", qty(900, "[lb_av]"), "2024-03-08"),
        obs("w-nounit", "29463-7", qty(30), "2024-03-07"),
        obs("h-old", "8302-2", qty(130, "cm"), "2023-01-01"),
    ]
    others = [
        obs("w-ok", "29463-7", qty(29.5, "kg"), "2024-03-05"),
        obs("wbc", "6690-2", {"value": 3.1, "unit": "10*3/uL", "system": UCUM, "code": "10*3/uL"}, "2024-03-04"),
        obs("wbc-censored", "6690-2", {"value": 3.1, "comparator": "<", "system": UCUM, "code": "10*3/uL"}, "2024-03-03"),
        obs("bili-old", "1975-2", qty(0.4, "mg/dL"), "2023-06-01"),
        obs("mrd", None, qty(0.01, "%"), "2024-03-02", text="MRD day 29 flow cytometry"),
    ]
    others.append(others[1])
    weight, height, labs = _three_walks(body, others, codes)
    reading = read_observations(body, others, codes, ORDER, UPPER)
    assert (reading.weight, reading.height, reading.labs) == (weight[0], height[0], labs)
    assert reading.gaps == tuple(weight[1] + height[1])
    assert reading.weight.source == "Observation/w-ok" and reading.height is None
    _same_series(reading, body, others, codes)
    assert [m.source for m in reading.heights] == ["Observation/h-old"]


def test_builder_reads_a_prefetch_without_changing_it(kb):
    request = chart_request("order-sign", 150, ORDER)
    before = copy.deepcopy(request)
    ctx = build_context(request["prefetch"], patient_id="bench-pt-1", draft_orders=request["context"]["draftOrders"],
                        selections=None, kb=kb, now=datetime(2024, 3, 10, 12, 0))
    assert request == before
    assert ctx.weight is not None and ctx.bsa is not None and ctx.labs


def test_validation_memo_is_keyed_by_content_and_bounded():
    from decimal import Decimal

    from cdshooks.context.memo import ValidationMemo

    memo, calls = ValidationMemo(max_entries=2), []

    def compute(resource):
        calls.append(resource["id"])
        return [f"problem {resource['id']}"]

    a = {"resourceType": "Patient", "id": "a", "gender": "female"}
    assert memo.get(a, compute) == ("problem a",)
    assert memo.get({"gender": "female", "id": "a", "resourceType": "Patient"}, compute) == ("problem a",)  # key order
    assert memo.get(dict(a, gender="male"), compute) == ("problem a",) and calls == ["a", "a"]  # changed content
    memo.get({"resourceType": "Patient", "id": "b"}, compute)
    assert len(memo) == 2
    memo.get({"resourceType": "Patient", "id": "c", "x": Decimal("1")}, compute)  # not plain JSON: no memo
    assert len(memo) == 2 and calls[-1] == "c"


def test_validate_answers_from_the_memo_exactly_what_it_computed():
    from cdshooks.context.fhir import validate

    bad = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"coding": [{"system": 5}]}}
    first = validate(bad)
    assert first and first == validate(dict(bad))
    assert validate({"resourceType": "Patient", "id": "p"}) == []


@pytest.mark.parametrize("value", [
    "2024-03-01", "2024-03-01T08:00:00+01:00", "2024-02-30", "2024-3-01", "2024", "2024-03", "20240301",
    "2024-W01-1", "٢٠٢٤-٠٣-٠١", " 2024-03-01", "2024-03-01x", "", 5, None,
])
def test_effective_date_fast_path_agrees_with_parse_date(value):
    from cdshooks.context.fhir import parse_date
    from cdshooks.context.observations import effective_date

    assert effective_date({"effectiveDateTime": value}) == parse_date(value)


HOSTILE = [
    {"status": {"x": 1}}, {"status": ["final"]}, {"effectiveDateTime": 20240301}, {"id": 5},
    {"code": {"coding": [{"system": "http://loinc.org", "code": 6690}]}},
    {"code": {"coding": {"system": "http://loinc.org", "code": "6690-2"}}},
    {"code": {"coding": [7, {"system": "http://loinc.org", "code": "6690-2"}]}},
    {"code": "6690-2"}, {"valueQuantity": {"value": "3.1", "unit": "10*3/uL"}},
    {"valueQuantity": {"value": 1e300, "system": "http://unitsofmeasure.org", "code": "10*3/uL"}},
    {"valueQuantity": {"value": True}}, {"valueQuantity": [1]}, {"valueQuantity": {"value": 3.1, "code": ["x"]}},
    {"referenceRange": {"high": {"value": 11, "system": "http://unitsofmeasure.org", "code": "10*3/uL"}}},
    {"referenceRange": [{"high": {"value": "11"}}]}, {"referenceRange": True},
    {"effectivePeriod": {"start": 5}}, {"effectivePeriod": "2024"}, {"status": None}, {"resourceType": 5},
]


@pytest.mark.parametrize("n", range(len(HOSTILE)))
def test_hostile_observations_read_as_entries_would_conform_them(kb, n):
    codes = codes_view(kb)
    base = obs("wbc", "6690-2", {"value": 3.1, "system": UCUM, "code": "10*3/uL"}, "2024-03-04")
    bad = dict(base, **HOSTILE[n])
    weight = obs("w", "29463-7", qty(30, "kg"), "2024-03-05", **HOSTILE[n])
    body, others = [weight], [bad, base]
    w, h, labs = _three_walks(body, others, codes)
    reading = read_observations(body, others, codes, ORDER, UPPER)
    assert (reading.weight, reading.height, reading.labs) == (w[0], h[0], labs)
    assert reading.gaps == tuple(w[1] + h[1])
    _same_series(reading, body, others, codes)


PLAIN_VARIANTS = [
    {"value": 3}, {"value": 0}, {"value": -2.5}, {"value": 1e12}, {"value": 1.0000001e12}, {"value": float("nan")},
    {"value": float("inf")}, {"value": True}, {"value": "3.1"}, {"value": None}, {"comparator": "<"}, {"comparator": ""},
    {"comparator": None}, {"system": None, "unit": "10*3/uL"}, {"system": None, "code": None, "unit": "10*3/uL"},
    {"system": None, "code": None, "unit": "K/uL"}, {"code": "mcg"}, {"code": "mg/dL"}, {"code": "10*9/L"},
    {"code": "/uL"}, {"system": "http://example.org/units"}, {"code": 5}, {"unit": ["x"]}, {"code": ""},
]


@pytest.mark.parametrize("n", range(len(PLAIN_VARIANTS)))
def test_labs_read_as_sent_equal_the_general_reader(kb, n):
    """The straight-line reader of plain quantity labs (read_observations) gives what the general
    one (read_labs over conformed resources) gives, on every value, comparator and unit shape."""
    codes = codes_view(kb)
    value = dict({"value": 3.1, "unit": "10*3/uL", "system": UCUM, "code": "10*3/uL"}, **PLAIN_VARIANTS[n])
    labs = [obs("wbc", "6690-2", value, "2024-03-04"), obs("bili", "1975-2", qty(17.1, "umol/L"), "2024-03-04"),
            obs("plt", "777-3", qty(150, "10*3/uL"), "2024-03-04T10:00:00Z")]
    no_id = dict(labs[0]); del no_id["id"]
    null_id = dict(labs[0], id=None)
    others = labs + [no_id, null_id]
    _, _, reference = _three_walks([], others, codes)
    assert read_observations([], others, codes, ORDER, UPPER).labs == reference
