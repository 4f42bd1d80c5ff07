"""The per-request reading memo (context.administrations.ReadMemo): sharing an identification or a
route between resources of equal content gives exactly what reading each alone gives, and no memo
outlives the request that made it."""

from __future__ import annotations

import gc
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from cdshooks.context.builder import build_context
from cdshooks.context.fhir import entries
from cdshooks.context.administrations import ReadMemo, read_administration
from cdshooks.knowledge.codes import SNOMED, codes_view
from cdshooks.knowledge.drugs import drugs_view
from ctx_fhirdata import RXNORM, bundle, qty, rx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from workload import chart_request  # noqa: E402


def _admin(n, med=None, route=None, **extra):
    r = {"resourceType": "MedicationAdministration", "id": f"a{n}", "status": "completed",
         "effectiveDateTime": f"2024-03-{n % 27 + 1:02d}", "dosage": {"dose": qty(1.5, "mg")}}
    if med is not None:
        r["medicationCodeableConcept"] = med
    if route is not None:
        r["dosage"]["route"] = route
    r.update(extra)
    return r


IV = {"coding": [{"system": SNOMED, "code": "47625008"}]}
IT = {"coding": [{"system": SNOMED, "code": "72607000"}], "text": "intrathecal"}
ADMINS = [
    _admin(1, rx("11202"), IV), _admin(2, rx("11202"), IV), _admin(3, rx("11202"), IT),
    _admin(4, rx("11202", "Marqibo (vincristine liposomal)"), IV),  # look-alike guard: same code, other text
    _admin(5, {"text": "mercaptopurine 50 MG Oral Tablet"}), _admin(6, {"text": "mercaptopurine 50 MG Oral Tablet"}),
    _admin(7, {"text": "no such drug"}), _admin(8, rx("11202"), {"text": "IV"}),
    _admin(9, {"coding": [{"system": RXNORM, "code": "11202", "display": "vincristine"}]}, IV),
    _admin(10, rx("11202"), IV, medicationReference={"reference": "Medication/m1"}),
    _admin(11, None, IV, medicationReference={"reference": "#c1"},
           contained=[{"resourceType": "Medication", "id": "c1", "code": rx("105585")}]),
    _admin(12, None, IV, medicationReference={"reference": "#c1"},
           contained=[{"resourceType": "Medication", "id": "c1", "code": rx("11202")}]),
    _admin(13, {"coding": [{"system": RXNORM, "code": "11202", "extra": Decimal("1")}]}, IV),  # not plain JSON
    _admin(14, rx("11202"), {"coding": [{"system": SNOMED, "code": "47625008", "extra": Decimal("1")}]}),
]


def test_memo_gives_what_reading_each_resource_alone_gives(kb):
    drugs, codes = drugs_view(kb), codes_view(kb)
    included = {"Medication/m1": {"resourceType": "Medication", "id": "m1", "code": rx("103")}}
    admins = entries(bundle(*ADMINS))[:12] + ADMINS[12:]  # the last two are not plain JSON: as a caller may pass
    alone = [read_administration(r, drugs, codes, included) for r in admins]
    memo = ReadMemo()
    shared = [read_administration(r, drugs, codes, included, memo) for r in admins]
    shared_reversed = [read_administration(r, drugs, codes, included, ReadMemo()) for r in reversed(admins)][::-1]
    assert shared == alone == shared_reversed
    assert alone[0].drug_ids == ("vincristine",) and alone[2].route.kind == "intrathecal"
    assert alone[3].drug_ids != alone[0].drug_ids  # the look-alike text is its own content
    assert "mercaptopurine" in alone[9].drug_ids != alone[0].drug_ids  # the reference counts: never from the memo of its concept
    assert alone[10].drug_ids != alone[11].drug_ids  # contained Medications differ: not shared


def test_no_memo_outlives_its_request(kb):
    request = chart_request("order-sign", 150, date(2024, 3, 10))
    ctx = build_context(request["prefetch"], patient_id="bench-pt-1", draft_orders=request["context"]["draftOrders"],
                        selections=None, kb=kb, now=datetime(2024, 3, 10, 12, 0))
    assert len(ctx.administrations) > 10
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, ReadMemo)]


SPOILERS = [
    {"status": {"x": 1}}, {"status": None}, {"status": ["completed"]}, {"id": 5}, {"id": None}, {"resourceType": 5},
    {"effectiveDateTime": 20240301}, {"effectiveDateTime": None}, {"effectivePeriod": {"start": 5}}, {"effectivePeriod": "x"},
    {"effectivePeriod": {"start": "2024-03-02"}, "effectiveDateTime": None},
    {"medicationCodeableConcept": {"coding": {"system": RXNORM, "code": "11202"}}},
    {"medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": 11202}]}},
    {"medicationCodeableConcept": {"coding": [7, {"system": RXNORM, "code": "11202"}]}},
    {"medicationCodeableConcept": {"text": 5, "coding": [{"system": RXNORM, "code": "11202"}]}},
    {"medicationCodeableConcept": "vincristine"}, {"medicationCodeableConcept": None},
    {"dosage": [{"dose": qty(1.5, "mg")}]}, {"dosage": {"dose": {"value": "1.5", "code": "mg"}}},
    {"dosage": {"dose": {"value": 1e300, "system": "http://unitsofmeasure.org", "code": "mg"}}},
    {"dosage": {"dose": {"value": 1.5, "code": ["mg"]}}}, {"dosage": {"dose": qty(1.5, "mg"), "route": {"coding": [{"code": 5}]}}},
    {"dosage": {"dose": qty(1.5, "mg"), "route": "IV"}}, {"dosage": {"dose": qty(2, "mL")}}, {"dosage": None},
    {"__malformed__": ["x"]}, {"medicationReference": {"reference": "Medication/m1"}},
]


def test_administrations_read_as_sent_equal_their_conformed_copies(kb):
    """plain_administration may only keep a resource as sent when reading it gives what reading
    the copy `entries` makes gives; every spoiled element takes the conformed path."""
    from cdshooks.context.fhir import as_sent, raw_entries
    from cdshooks.context.administrations import plain_administration

    drugs, codes = drugs_view(kb), codes_view(kb)
    included = {"Medication/m1": {"resourceType": "Medication", "id": "m1", "code": rx("103")}}
    base = _admin(1, rx("11202"), IV)
    admins = [{**base, "id": f"s{n}", **spoiler} for n, spoiler in enumerate(SPOILERS)] + [base]
    sent = as_sent(raw_entries(bundle(*admins)), plain_administration)
    conformed = entries(bundle(*admins))
    assert len(sent) == len(conformed)
    for a, b in zip(sent, conformed):
        assert read_administration(a, drugs, codes, included, ReadMemo()) == read_administration(b, drugs, codes, included)
    assert sent[-1] is admins[-1]  # the plain one is read as sent, not copied
    assert sent[0] is not admins[0] and "status" not in sent[0]  # status {"x": 1}: conformed (dropped)
    assert any(r is a for r, a in zip(sent[:-1], admins)) and not all(r is a for r, a in zip(sent[:-1], admins))
