"""Fast paths of the context readers give exactly what the general readers give, on any JSON.

Each reader that reads a resource as sent, or shares a reading between resources of equal content,
is held here to the general path (every resource conformed by `entries`, each read alone) on
resources spoiled at random paths with any JSON value (and NaN / Infinity, which Python's json
accepts and orjson writes as null).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from cdshooks.context.fhir import as_sent, entries, is_object, parse_date, raw_entries
from cdshooks.context.administrations import ReadMemo, plain_administration, read_administration, read_administrations
from cdshooks.context.medications import OrderMemo, read_order, route_of
from cdshooks.context.observations import body_measurement, body_series, read_labs, read_observations
from cdshooks.knowledge.codes import SNOMED, codes_view
from cdshooks.knowledge.drugs import drugs_view
from ctx_fhirdata import LOINC, UCUM, bundle, med_request, obs, qty, rx
from support.mutation import json_value, paths, put

ORDER = UPPER = date(2024, 3, 10)
ODD = st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -0.0, 2**70, "", " ", "null", None,
                       "2024-03-05", "mg", "kg", UCUM, LOINC, SNOMED, "29463-7", "6690-2", "47625008", "final", "completed"])
VALUE = st.one_of(ODD, json_value)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# resourceType spoiled to a type `read.conform` knows, or to no type at all: the general readers
# (the references here) are defined over conformed resources of the types they read
RESOURCE_TYPE = st.sampled_from([5, None, [], {}, "Patient", "Observation", "MedicationAdministration", "MedicationRequest"])


@st.composite
def spoiled(draw: st.DrawFn, bases: list[dict[str, Any]], n: int = 3) -> list[dict[str, Any]]:
    """Copies of `bases`, each with up to `n` paths (below the resource) set to any value."""
    out = []
    for base in bases:
        resource = copy.deepcopy(base)
        for _ in range(draw(st.integers(0, n))):
            where = draw(st.sampled_from([p for p in paths(resource) if p]))
            put(resource, where, copy.deepcopy(draw(RESOURCE_TYPE if where == ("resourceType",) else VALUE)))
        out.append(resource)
    return out


def _entries(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return entries(bundle(*resources))


# -- administrations: as sent + one memo of (drug, route, dose) per distinct content ---------------

IV = {"coding": [{"system": SNOMED, "code": "47625008", "display": "Intravenous route"}]}
ADMINS = [
    {"resourceType": "MedicationAdministration", "id": f"a{n}", "status": "completed", "effectiveDateTime": f"2024-03-0{n}",
     "medicationCodeableConcept": rx(code), "dosage": {"route": IV, "dose": qty(dose, unit)}}
    for n, (code, dose, unit) in enumerate([("11202", 1.5, "mg"), ("11202", 1.5, "mg"), ("11202", 2, "mL"),
                                            ("103", 50, "mg"), ("103", 1, "{tbl}")], start=1)
]


@FAST
@given(data=st.data())
def test_administrations_through_the_memo_equal_each_read_alone(kb, data):
    drugs, codes = drugs_view(kb), codes_view(kb)
    admins = data.draw(spoiled(ADMINS + ADMINS[:2]))
    memo = ReadMemo()
    fast = [read_administration(r, drugs, codes, {}, memo) for r in as_sent(raw_entries(bundle(*admins)), plain_administration)]
    alone = [read_administration(r, drugs, codes, {}) for r in _entries(admins)]
    assert fast == alone


REFERENCED = {"resourceType": "MedicationAdministration", "id": "ref1", "status": "in-progress",
              "effectivePeriod": {"start": "2024-03-02T10:00:00Z"}, "medicationReference": {"reference": "#m1"},
              "contained": [{"resourceType": "Medication", "id": "m1", "code": rx("11202")}],
              "dosage": {"route": IV, "dose": qty(1.5, "mg")}}
PERIOD = {"resourceType": "MedicationAdministration", "id": "p1", "status": "completed", "effectivePeriod": {"start": "2024-03-03"},
          "medicationCodeableConcept": rx("103"), "dosage": {"dose": qty(50, "mg")}}


def _each_alone(admins, drugs, codes):
    """The general path: every resource conformed by `entries`, each read alone, newest first."""
    read = [read_administration(r, drugs, codes, {}) for r in _entries(admins) if r.get("resourceType") == "MedicationAdministration"]
    return tuple(sorted((a for a in read if a), key=lambda a: a.date, reverse=True))


@FAST
@given(data=st.data())
def test_administrations_read_in_one_pass_as_sent_equal_each_read_alone(kb, data):
    drugs, codes = drugs_view(kb), codes_view(kb)
    admins = data.draw(spoiled(ADMINS + ADMINS[:2] + [REFERENCED, PERIOD, PERIOD]))
    assert read_administrations(raw_entries(bundle(*admins)), drugs, codes, {}) == _each_alone(admins, drugs, codes)


@FAST
@given(data=st.data())
def test_administrations_read_with_readings_kept_between_requests_equal_each_read_alone(kb, data):
    """What administrations give, kept between requests (`memo.given_readings`, as build_context
    reads them): a later request with equal content gets what reading each alone gives."""
    from cdshooks.context.memo import given_readings

    drugs, codes = drugs_view(kb), codes_view(kb)
    admins = data.draw(spoiled(ADMINS + ADMINS[:2] + [REFERENCED, PERIOD, PERIOD]))
    alone = _each_alone(admins, drugs, codes)
    for _ in range(2):  # two requests: the second reads from what the first kept
        sent = raw_entries(bundle(*copy.deepcopy(admins)))
        assert read_administrations(sent, drugs, codes, {}, ReadMemo(given_readings.table(drugs, codes))) == alone


def test_one_pass_never_shares_between_elements_conform_reads_differently(kb):
    """The as-sent memo keys on the sent bytes: NaN and null (both written null) conform alike
    where they are read; a string and a number, an object and an array, never share."""
    drugs, codes = drugs_view(kb), codes_view(kb)
    variants = []
    for route in ({"coding": [{"system": SNOMED, "code": float("nan")}]}, {"coding": [{"system": SNOMED, "code": None}]},
                  {"coding": [{"system": SNOMED, "code": 47625008}]}, {"coding": [{"system": SNOMED, "code": "47625008"}]},
                  {"coding": {"system": SNOMED, "code": "47625008"}}, [IV], None, float("inf")):
        admin = copy.deepcopy(ADMINS[0])
        admin["dosage"]["route"] = route
        variants.append(admin)
    for dose in (qty(float("nan"), "mg"), qty(None, "mg"), qty("1.5", "mg"), qty(1.5, "mg"), qty(1.5, ["mg"])):
        admin = copy.deepcopy(ADMINS[0])
        admin["dosage"]["dose"] = dose
        variants.append(admin)
    for n, admin in enumerate(variants):
        admin["effectiveDateTime"] = f"2024-03-{n + 1:02d}"
    for order in (variants, variants[::-1]):
        assert read_administrations(raw_entries(bundle(*order)), drugs, codes, {}) == _each_alone(order, drugs, codes)


def test_memo_never_shares_between_nan_and_null(kb):
    """orjson writes NaN as null: a route code NaN is spelled 'system|nan', a null one is absent."""
    drugs, codes = drugs_view(kb), codes_view(kb)
    base = ADMINS[0]
    nan = copy.deepcopy(base)
    nan["dosage"]["route"] = {"coding": [{"system": SNOMED, "code": float("nan")}]}
    null = copy.deepcopy(base)
    null["dosage"]["route"] = {"coding": [{"system": SNOMED, "code": None}]}
    for first, second in ((nan, null), (null, nan)):
        memo = ReadMemo()
        got = [read_administration(r, drugs, codes, {}, memo) for r in (first, second)]
        assert got == [read_administration(r, drugs, codes, {}) for r in (first, second)]
    assert read_administration(nan, drugs, codes, {}).route != read_administration(null, drugs, codes, {}).route


# -- orders: routes and schedules read once per distinct content (OrderMemo) -----------------------

DAILY = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}
WEEKLY = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk", "boundsPeriod": {"start": "2024-03-10"}}, "code": {"text": "QW"}}
ORDERS = [med_request(f"o{n}", med=rx(code), dose={"doseQuantity": qty(dose, "mg")}, route=route, timing=timing)
          for n, (code, dose, route, timing) in enumerate([("11202", 1.5, IV, WEEKLY), ("103", 50, None, DAILY),
                                                           ("103", 50, IV, DAILY), ("11202", 2, IV, WEEKLY)])]


@FAST
@given(data=st.data())
def test_orders_read_with_one_memo_equal_each_read_alone(kb, data):
    drugs, codes = drugs_view(kb), codes_view(kb)
    orders = data.draw(spoiled(ORDERS + ORDERS[:2]))
    read = _entries(orders)  # as the builder reads orders: conformed
    memo = OrderMemo()
    assert [read_order(r, drugs, codes, {}, is_draft=True, memo=memo) for r in read] == \
        [read_order(r, drugs, codes, {}, is_draft=True) for r in read]


@FAST
@given(data=st.data())
def test_orders_read_again_in_a_later_request_equal_each_read_alone(kb, data):
    """The readings shared between requests (`memo.order_readings`): a second request with the
    same orders (its own memo, its own parsed resources) gets what reading each alone gives, with
    its own resource objects in them; draft and active readings never stand in for each other."""
    drugs, codes = drugs_view(kb), codes_view(kb)
    orders = data.draw(spoiled(ORDERS + ORDERS[:2]))
    for is_draft in (True, False, True):
        read = _entries(copy.deepcopy(orders))  # a new request: equal content, new objects
        got = [read_order(r, drugs, codes, {}, is_draft=is_draft, memo=OrderMemo()) for r in read]
        assert got == [read_order(r, drugs, codes, {}, is_draft=is_draft) for r in read]
        assert all(o.resource is r and o.is_draft is is_draft for o, r in zip(got, read))


def test_shared_order_readings_are_per_knowledge_view_and_bounded(kb):
    from cdshooks.context.memo import order_readings
    from cdshooks.knowledge.drugs import DrugTable

    drugs, codes = drugs_view(kb), codes_view(kb)
    other = DrugTable(kb.table("drugs"))  # another knowledge view: its own table
    assert order_readings.table(drugs, codes) is order_readings.table(drugs, codes)
    assert order_readings.table(other, codes) is not order_readings.table(drugs, codes)
    table = order_readings.table(other, codes)
    for n in range(order_readings.max_entries + 5):
        order_readings.put(table, n.to_bytes(4, "big"), n)
    assert len(table) <= order_readings.max_entries
    key = order_readings.key(ORDERS[0], b"draft")
    assert key is not None and key != order_readings.key(ORDERS[0], b"active")
    assert order_readings.key({**ORDERS[0], "x": float("nan")}, b"draft") is None  # written as null: never keyed


def test_order_memo_never_shares_between_nan_and_null(kb):
    """orjson writes NaN as null; read as sent, a periodUnit NaN is kept and a null one is absent."""
    drugs, codes = drugs_view(kb), codes_view(kb)
    nan, null = copy.deepcopy(ORDERS[1]), copy.deepcopy(ORDERS[1])
    nan["dosageInstruction"][0]["timing"] = {"repeat": {"frequency": 1, "period": 1, "periodUnit": float("nan")}}
    null["dosageInstruction"][0]["timing"] = {"repeat": {"frequency": 1, "period": 1, "periodUnit": None}}
    for pair in ((nan, null), (null, nan)):
        memo = OrderMemo()
        assert [read_order(r, drugs, codes, {}, is_draft=True, memo=memo) for r in pair] == \
            [read_order(r, drugs, codes, {}, is_draft=True) for r in pair]
    assert read_order(nan, drugs, codes, {}, is_draft=True).timing != read_order(null, drugs, codes, {}, is_draft=True).timing


# -- observations: one scan, plain labs read as sent ----------------------------------------------

LABS = [
    obs("wbc", "6690-2", qty(3.1, "10*3/uL"), "2024-03-04"),
    obs("wbc2", "6690-2", qty(2.9, "10*3/uL"), "2024-03-01T08:00:00Z"),
    obs("bili", "1975-2", qty(17.1, "umol/L"), "2024-03-04", referenceRange=[{"high": qty(20, "umol/L")}]),
    # reference ranges as labs carry them: both bounds (another unit), one object for the array, a
    # bound in a unit that does not convert, two ranges (the first is read)
    obs("creat", "2160-0", qty(0.5, "mg/dL"), "2024-03-04", referenceRange=[{"low": qty(27, "umol/L"), "high": qty(62, "umol/L")}]),
    obs("alt", "1742-6", qty(40, "U/L"), "2024-03-03", referenceRange={"low": qty(5, "U/L"), "high": qty(45, "U/L")}),
    obs("k", "2823-3", qty(4.1, "mmol/L"), "2024-03-03", referenceRange=[{"high": qty(5.5, "kg")}, {"high": qty(5, "mmol/L")}]),
    obs("mrd", None, qty(0.01, "%"), "2024-03-02", text="MRD day 29 flow cytometry"),
    obs("w-in-labs", "29463-7", qty(29.5, "kg"), "2024-03-05"),
    # as EHRs send them: every Quantity field present (read in one call), and a period instead of a dateTime
    obs("plt", "777-3", qty(210, "10*3/uL", unit="10*3/uL"), "2024-03-04T06:00:00Z"),
    obs("plt2", "777-3", qty(190.5, "10*9/L", unit="10*3/uL"), "2024-03-03T06:00:00Z"),
    {k: v for k, v in obs("anc", "751-8", qty(1.2, "10*3/uL", unit="10*3/uL"), "").items() if k != "effectiveDateTime"}
    | {"effectivePeriod": {"start": "2024-03-02T06:00:00Z"}},
]
BODY = [obs("w", "29463-7", qty(30, "kg"), "2024-03-06"), obs("h", "8302-2", qty(130, "cm"), "2024-03-06"),
        obs("w-old", "29463-7", qty(31, "kg"), "2024-01-06")]


@FAST
@given(data=st.data())
def test_observations_read_in_one_scan_equal_the_general_readers(kb, data):
    codes = codes_view(kb)
    body, others = data.draw(spoiled(BODY)), data.draw(spoiled(LABS))
    reading = read_observations(raw_entries(bundle(*body)), raw_entries(bundle(*others)), codes, ORDER, UPPER)
    body_c, others_c = _entries(body), _entries(others)
    weight = body_measurement("weight", body_c + others_c, codes, ORDER, UPPER)
    height = body_measurement("height", body_c + others_c, codes, ORDER, UPPER)
    assert (reading.weight, reading.height) == (weight[0], height[0])
    assert reading.gaps == tuple(weight[1] + height[1])
    assert reading.labs == read_labs(others_c, codes, ORDER, UPPER)
    assert list(reading.labs.series) == list(read_labs(others_c, codes, ORDER, UPPER).series)  # key order too
    assert reading.weights == body_series("weight", body_c + others_c, codes, UPPER)
    assert reading.heights == body_series("height", body_c + others_c, codes, UPPER)


def test_reference_ranges_of_equal_bytes_are_shared_only_when_the_bytes_decide(kb):
    """`_ranges_plain` remembers a range by its JSON bytes: NaN and Infinity (written as null), a
    null, a subclass of dict or str (written as their base kind) and a 2**70 are each read alone."""
    class Sub(dict):
        pass

    class Text(str):
        pass

    codes = codes_view(kb)
    bounds = [None, float("nan"), float("inf"), 5, 5.0, True, "5", 2**70, Sub(qty(5, "mmol/L")), qty(5, Text("mmol/L"))]
    others = []
    for n, high in enumerate(bounds * 2):
        bound = high if isinstance(high, dict) else {"value": high, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"}
        others.append(obs(f"k{n}", "2823-3", qty(4.0 + n, "mmol/L"), f"2024-03-0{1 + n % 9}", referenceRange=[{"high": bound}]))
    reading = read_observations([], raw_entries(bundle(*others)), codes, ORDER, UPPER)
    general = read_labs(_entries(others), codes, ORDER, UPPER)
    assert reading.labs == general
    assert [r.reference_high for r in reading.labs.series["potassium"]] == [r.reference_high for r in general.series["potassium"]]


# -- is_object: isinstance(value, Mapping) without the abc machinery ----------------------------

class _Frozen(Mapping):  # a Mapping that is not a dict, as a caller (not JSON) may pass
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


@given(value=st.one_of(VALUE, st.builds(_Frozen, st.dictionaries(st.text(max_size=3), json_value, max_size=2)),
                       st.builds(MappingProxyType, st.dictionaries(st.text(max_size=3), json_value, max_size=2))))
def test_is_object_answers_what_isinstance_mapping_answers(value):
    assert is_object(value) == isinstance(value, Mapping)


def test_a_route_code_of_another_json_kind_matches_nothing(kb):
    """Found by the hypothesis test above: a SNOMED route coding whose code is a list (unhashable)
    raised TypeError in `route_of` for a caller that reads a resource without conforming it."""
    codes = codes_view(kb)
    for code in ([], ["47625008"], {"x": 1}):
        route = route_of({"coding": [{"system": SNOMED, "code": code, "display": "Intravenous route"}]}, codes)
        assert route is not None and route.kind is None  # only a string code is looked up: not recognized, never an exception
        assert route.text == "Intravenous route"


# -- raw_entries: the resources of a Bundle in one C-level pass when every entry is plain --------

def _raw_entries_reference(entry: Any) -> list[Any]:
    """What raw_entries gave for a Bundle's `entry` list before its one-pass shortcut."""
    return [r for e in entry if isinstance(e, Mapping) and isinstance(r := e.get("resource"), Mapping)]


ENTRY = st.one_of(VALUE, st.fixed_dictionaries({"resource": VALUE}),
                  st.fixed_dictionaries({"resource": st.just({"resourceType": "Observation", "id": "o"})}),
                  st.fixed_dictionaries({"fullUrl": st.just("x")}),
                  st.builds(lambda r: _Frozen({"resource": r}), st.just({"resourceType": "Patient"})),
                  st.builds(lambda r: {"resource": _Frozen(r)}, st.just({"resourceType": "Patient"})))


@given(entry=st.lists(ENTRY, max_size=6))
def test_raw_entries_lists_the_resources_the_defensive_reading_lists(entry):
    got = raw_entries({"resourceType": "Bundle", "entry": entry})
    want = _raw_entries_reference(entry)
    assert len(got) == len(want) and all(a is b for a, b in zip(got, want))


@given(text=st.one_of(st.text(max_size=14), st.from_regex(r"\A\d{4}(-\d{2}(-\d{2})?)?.{0,16}\Z"),
                      st.dates().map(lambda d: d.isoformat() + "T08:00:00Z")))
def test_parse_date_reads_only_the_first_ten_characters(text):
    """read_administrations parses each day once per call, keyed by a date string's first ten
    characters: that is all parse_date reads."""
    assert parse_date(text) == parse_date(text[:10])
