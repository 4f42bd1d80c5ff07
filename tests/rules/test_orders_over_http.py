"""Issue 10 over real HTTP: a sandbox-shaped request as the public CDS Hooks Sandbox builds it
(Bundle without `type`, `category` as an object, SCD coding only, `{pill}` counts, no route), a
referenced Medication read from a trusted loopback FHIR server, rounding of suggestions, and one
finding per card."""

from __future__ import annotations

import copy

import pytest
import requests

from cdshooks.config import TrustedIssuer
from cdshooks.rules.corrections import round_for_order
from cdshooks.knowledge.products import Strength
from cdshooks.context.model import Quantity
from cdshooks.rules.finding import Finding
from cdshooks.cards.merge import merge_missing_data
from support.requests import all_prefetch, default_prefetch, order_sign_request
from support.servers import fhir_server

SIGN = "/cds-services/all-order-sign"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def sandbox_draft(code: str, text: str, pills: float, repeat: dict | None = None, **extra) -> dict:
    """Exactly the shape of createFhirResource in the sandbox's medication-reducers.js (R4)."""
    draft = {
        "resourceType": "MedicationRequest", "id": "request-123", "status": "draft", "intent": "order",
        "subject": {"reference": "Patient/pt-1"}, "authoredOn": "2026-11-02",
        "category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category", "code": "community"}]},
        "medicationCodeableConcept": {"text": text, "coding": [{"system": RXNORM, "code": code}]},
        "dosageInstruction": [{
            "doseAndRate": [{"doseQuantity": {"value": pills, "system": "http://unitsofmeasure.org", "code": "{pill}"}}],
            "timing": {"repeat": repeat or {"frequency": 1, "period": 1, "periodUnit": "d"}},
        }],
        "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}},
    }
    draft.update(extra)
    return draft


def post(base: str, *drafts: dict, **kw) -> dict:
    kw.setdefault("prefetch", all_prefetch())  # an ALL patient: protocol dose bands apply (issue 13 item 2)
    body = order_sign_request(list(drafts), **kw)
    del body["context"]["draftOrders"]["type"]  # the sandbox's Bundle has no type
    response = requests.post(base + SIGN, json=body, timeout=20)
    assert response.status_code == 200, response.text
    return response.json()


def cards_of(answer: dict, topic: str) -> list[dict]:
    return [c for c in answer["cards"] if c["source"]["topic"]["code"] == topic]


def test_sandbox_daily_methotrexate_without_route_gets_the_critical_schedule_card_only(live_service):
    with live_service() as base:
        answer = post(base, sandbox_draft("105585", "Methotrexate 2.5 MG Oral Tablet", 1))
    schedule = cards_of(answer, "schedule")
    assert [c["extension"]["all-cds"]["ruleId"] for c in schedule] == ["schedule.methotrexate.oral-weekly"]
    assert schedule[0]["indicator"] == "critical"
    assert "1 {pill} × 2.5 mg/tablet = 2.5 mg" in schedule[0]["detail"]
    assert "implied by the dose form 'Oral Tablet'" in schedule[0]["detail"]
    assert not cards_of(answer, "dose")  # never "84% below the expected 16 mg once weekly"
    recognised = answer["extension"]["all-cds"]["orders"][0]
    assert recognised["identifiedBy"] == "rxnorm-product" and recognised["route"] == {"kind": "oral", "impliedBy": "dose form 'Oral Tablet'"}


def test_sandbox_tablet_count_dose_card_shows_the_derivation_and_a_tablet_suggestion(live_service):
    with live_service() as base:
        answer = post(base, sandbox_draft("197931", "mercaptopurine 50 MG Oral Tablet", 3))
    (dose,) = cards_of(answer, "dose")
    assert dose["indicator"] == "critical" and "150 mg" in dose["summary"]
    assert "3 tab × 50 mg/tablet = 150 mg" in dose["detail"]  # the dose card writes the UCUM {pill} as "tab"
    (suggestion,) = dose["suggestions"]
    assert suggestion["label"] == "Change mercaptopurine dose to 1 tablet (50 mg)"
    q = suggestion["actions"][0]["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert q["value"] == 1.0 and q["code"] == "{pill}"  # the EHR's own count unit, not mg
    assert "whole or half units" in dose["detail"]


def test_referenced_medication_is_read_from_the_trusted_fhir_server(live_service):
    med = {"resourceType": "Medication", "id": "med-6mp", "code": {"coding": [{"system": RXNORM, "code": "197931"}], "text": "mercaptopurine 50 MG Oral Tablet"}}
    draft = sandbox_draft("197931", "x", 3)
    del draft["medicationCodeableConcept"]
    draft["medicationReference"] = {"reference": "Medication/med-6mp"}
    with fhir_server([med]) as fhir:
        issuer = (TrustedIssuer(iss="https://ehr.example.org", jwks={"keys": []}, fhir_servers=(fhir.base_url,)),)
        with live_service(trusted_issuers=issuer) as base:
            answer = post(base, draft, prefetch=all_prefetch(), fhir_server=fhir.base_url, token="t")
            untrusted = post(base, draft, prefetch=all_prefetch(), fhir_server="http://127.0.0.1:9/fhir", token="t")
        assert "/fhir/Medication/med-6mp" in {r.path for r in fhir.requests}
    assert [c["indicator"] for c in cards_of(answer, "dose")] == ["critical"]
    # never fetched from a server the configuration does not trust: the order says it was not checked
    missing = [c for c in cards_of(untrusted, "missing-data") if c["extension"]["all-cds"]["ruleId"] == "missing-data.order-medication"]
    assert len(missing) == 1 and "Medication/med-6mp" not in missing[0]["summary"]
    assert untrusted["extension"]["all-cds"]["orders"][0]["recognised"] is False


def test_fhir_server_without_the_medication_gives_the_missing_data_card(live_service):
    draft = sandbox_draft("197931", "x", 3)
    del draft["medicationCodeableConcept"]
    draft["medicationReference"] = {"reference": "Medication/absent", "display": ""}
    with fhir_server([]) as fhir:
        issuer = (TrustedIssuer(iss="https://ehr.example.org", jwks={"keys": []}, fhir_servers=(fhir.base_url,)),)
        with live_service(trusted_issuers=issuer) as base:
            answer = post(base, draft, prefetch=all_prefetch(), fhir_server=fhir.base_url, token="t")
    ids = [c["extension"]["all-cds"]["ruleId"] for c in answer["cards"]]
    assert "missing-data.order-medication" in ids


def test_antiemetic_and_unchosen_drafts_stay_silent(live_service):
    ondansetron = sandbox_draft("0", "ondansetron 4 MG Oral Tablet", 1, id="r-ond")
    unchosen = {"resourceType": "MedicationRequest", "id": "r-new", "status": "draft", "subject": {"reference": "Patient/pt-1"}}
    with live_service() as base:
        answer = post(base, ondansetron, unchosen)  # an ALL patient, as in practice
    about = [c for c in answer["cards"] if set(c["extension"]["all-cds"]["orders"]) & {"MedicationRequest/r-ond", "MedicationRequest/r-new"}]
    # order rules (dose, route, schedule, never-silent) say nothing; the regimen family's phase check
    # still counts an antiemetic as "an order under review" (reported as a separate issue)
    assert [c for c in about if c["extension"]["all-cds"]["ruleId"] != "missing-data.phase" and c["source"]["topic"]["code"] != "regimen"] == []
    assert not any("MedicationRequest/r-new" in c["extension"]["all-cds"]["orders"] for c in answer["cards"])
    listed = {o["order"]: o["recognised"] for o in answer["extension"]["all-cds"]["orders"]}
    assert listed == {"MedicationRequest/r-ond": True, "MedicationRequest/r-new": False}


# -- rounding a corrected dose to what can be given ------------------------------------------------

@pytest.mark.parametrize("target,low,high,strength,expected", [
    (50, 30, 50, Strength(50, "mg", "{tablet}"), 1.0),       # 1 tablet
    (40, 30, 50, Strength(50, "mg", "{tablet}"), 1.0),       # 0.8 -> 1 (0.5 = 25 mg is out of range)
    (40, 30, 50, Strength(20, "mg", "{tablet}"), 2.0),       # 2 x 20 mg
    (16, 14.4, 17.6, Strength(2.5, "mg", "{tablet}"), 6.5),  # 6.4 tablets -> 6.5 (16.25 mg in range)
    (1.44, 1.44, 1.92, Strength(1, "mg", "mL"), 1.5),         # 1.44 mL -> 1.4 is below 1.44, so 1.5 mL
    (12, 10, 12, Strength(50, "mg", "{tablet}"), None),       # no half tablet of 50 mg fits 10-12 mg
])
def test_round_for_order_stays_inside_the_range(target, low, high, strength, expected):
    written = Quantity(1, "{pill}")
    rounded = round_for_order(target, low, high, "mg", written, strength)
    if expected is None:
        assert rounded is None
        return
    assert rounded.value == expected and low - 1e-9 <= rounded.amount <= high + 1e-9


def test_round_for_order_mass_dose():
    rounded = round_for_order(1.5437, 1.44, 1.92, "mg", None, None)
    # the rounding is facts now (the dose template writes the sentence): kept inside 1.44-1.92 mg
    assert rounded.value == 1.54 and (rounded.step, rounded.low, rounded.high, rounded.unit) == ("written", 1.44, 1.92, "mg")


# -- one finding, one card -------------------------------------------------------------------------

def _md(rule: str, summary: str, drug: str | None = "vincristine") -> Finding:
    return Finding(rule_id=rule, topic="missing-data", indicator="warning", summary=summary, detail=rule, citation="c",
                   orders=("MedicationRequest/a",), drug=drug)


def test_missing_data_of_one_order_share_a_card_only_when_the_summary_names_all():
    short = merge_missing_data([_md("a", "vincristine: dose could not be checked – needs BSA"),
                                _md("b", "vincristine: route could not be checked – no route")])
    assert len(short) == 1 and short[0].summary == "vincristine: dose could not be checked – needs BSA; route could not be checked – no route"
    long = [_md("a", "vincristine: dose could not be checked – needs body weight, height and body surface area (all stale)"),
            _md("b", "vincristine: route could not be checked – an injection with no route (IV, IM, SC or intrathecal)")]
    split = merge_missing_data(copy.deepcopy(long))
    assert [f.rule_id for f in split] == ["a", "b"] and not any("more)" in f.summary for f in split)


# -- timing codes (HL7 v3 GTSAbbreviation) and free-text sigs ---------------------------------------

@pytest.mark.parametrize("code,days", [
    ("QD", 1.0), ("qd", 1.0), ("BID", 0.5), ("TID", 1 / 3), ("QID", 0.25), ("QOD", 2.0), ("WK", 7.0), ("Q1W", 7.0),
    ("Q4H", 1 / 6), ("AM", 1.0), ("MO", 30.0), ("once weekly", 7.0), ("Q3W", 21.0),
    ("QXD", None), ("", None), (None, None), ("Q5W", None),
])
def test_gts_codes(code, days):
    from cdshooks.rules._dose_common import code_interval_days

    assert code_interval_days(code) == (pytest.approx(days) if days else None)


def test_text_only_sig_boundaries():
    from cdshooks.context.model import Dose, MedicationOrder, Route, Timing
    from cdshooks.rules._dose_common import text_only_sig

    base = dict(ref="MedicationRequest/a", resource={}, drug_ids=("mercaptopurine",), identified_by="name", display="x")
    assert text_only_sig(MedicationOrder(**base, dosage_text="1 tab nightly"))
    assert text_only_sig(MedicationOrder(**base, dosage_text="1 tab nightly", route=Route("oral", implied_by="dose form 'Oral Tablet'")))
    assert not text_only_sig(MedicationOrder(**base))  # no text at all: the dose rule's own missing-data card
    assert not text_only_sig(MedicationOrder(**base, dosage_text="t", dose=Dose(quantity=Quantity(50, "mg"))))
    assert not text_only_sig(MedicationOrder(**base, dosage_text="t", timing=Timing(code="QD")))
    assert not text_only_sig(MedicationOrder(**base, dosage_text="t", route=Route("oral", "sct|26643006")))


def test_max_dose_per_period_above_the_range_is_a_dose_warning(live_service):
    draft = sandbox_draft("197931", "mercaptopurine 50 MG Oral Tablet", 1)
    draft["dosageInstruction"][0]["maxDosePerPeriod"] = {
        "numerator": {"value": 2, "system": "http://unitsofmeasure.org", "code": "{pill}"},
        "denominator": {"value": 1, "system": "http://unitsofmeasure.org", "code": "d"}}
    within = copy.deepcopy(draft)
    within["dosageInstruction"][0]["maxDosePerPeriod"]["numerator"]["value"] = 1
    with live_service() as base:
        answer = post(base, draft)
        clean = post(base, within)
    (dose,) = cards_of(answer, "dose")
    assert dose["indicator"] == "warning" and "100 mg per day" in dose["summary"]
    assert "2 tab × 50 mg/tablet = 100 mg" in dose["detail"]
    assert cards_of(clean, "dose") == []


def test_scaled_suggestions_give_half_tablets_or_none():
    from cdshooks.context.model import MedicationOrder
    from cdshooks.rules._order_doses import scaled_resource

    def order(value, code):
        resource = {"resourceType": "MedicationRequest", "id": "a", "dosageInstruction": [
            {"doseAndRate": [{"doseQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": code}}]}]}
        return MedicationOrder(ref="MedicationRequest/a", resource=resource, drug_ids=("mercaptopurine",), identified_by="name", display="x")

    def dose(r):
        return r["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] if r else None

    assert dose(scaled_resource(order(3, "{pill}"), 1 / 3)) == 1.0
    assert dose(scaled_resource(order(2, "{pill}"), 0.75)) == 1.5
    assert dose(scaled_resource(order(1, "{pill}"), 1 / 3)) is None  # 0.33 tablet: no half-tablet step near it
    assert dose(scaled_resource(order(2.5, "mL"), 1 / 3)) == 0.8
    assert dose(scaled_resource(order(75, "mg"), 1 / 3)) == 25.0
