"""Pharmacist-style verification rules (rules/verification.py, knowledge/data/verification.json).

Every context is built from FHIR JSON by the real context builder with the packaged knowledge,
so a wrong band in the data file, a wrong weight series or a wrong rule fails here. Each
threshold is tested on both sides; each rule has a clean counterpart that gives no card.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from cdshooks.context.builder import build_context
from cdshooks.rules.registry import RuleSettings, run_rules
from support.rendered import with_text

ORDER = date(2026, 11, 2)
RXNORM, LOINC, UCUM, SCT = "http://www.nlm.nih.gov/research/umls/rxnorm", "http://loinc.org", "http://unitsofmeasure.org", "http://snomed.info/sct"
ROUTES = {"iv": ("47625008", "Intravenous route"), "it": ("72607000", "Intrathecal route"), "po": ("26643006", "Oral route")}
DRUGS = {
    "vincristine": ("1863354", "2 ML vincristine sulfate 1 MG/ML Injection"),
    "methotrexate-it": ("1946772", "methotrexate 25 MG/ML Injectable Solution"),
    "mercaptopurine": ("197931", "mercaptopurine 50 MG Oral Tablet"),
    "cytarabine": ("249364", "20 ML cytarabine 100 MG/ML Injection"),
    "daunorubicin": ("309650", "4 ML daunorubicin 5 MG/ML Injection"),
    "doxorubicin": ("1790099", "10 ML doxorubicin hydrochloride 2 MG/ML Injection"),
}
ALL_CONDITION = {  # precursor B-ALL (verified SNOMED CT code), onset before every date used here
    "resourceType": "Condition", "id": "dx", "subject": {"reference": "Patient/p1"}, "onsetDateTime": "2026-01-05",
    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
    "code": {"coding": [{"system": SCT, "code": "277572006", "display": "Precursor B-cell acute lymphoblastic leukemia"}]},
}
FAMILIES = ("dose", "route", "schedule", "missing-data", "cumulative-dose")


def _born(years: float, at: date = ORDER) -> str:
    return (at - timedelta(days=round(years * 365.25))).isoformat()


def _obs(oid: str, loinc: str, value: float, unit: str, when: date) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"coding": [{"system": LOINC, "code": loinc}]},
            "effectiveDateTime": when.isoformat(), "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def _order(oid: str, drug: str, dose: float, unit: str, route: str, *, text: str | None = None, method: str | None = None,
           note: str | None = None, display: str | None = None) -> dict[str, Any]:
    code, shown = DRUGS[drug]
    dosage: dict[str, Any] = {"route": {"coding": [{"system": SCT, "code": ROUTES[route][0], "display": ROUTES[route][1]}]},
                              "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}],
                              "timing": {"repeat": {"count": 1}}}
    if text:
        dosage["text"] = text
    if method:
        dosage["method"] = {"text": method}
    r: dict[str, Any] = {"resourceType": "MedicationRequest", "id": oid, "status": "draft", "intent": "order",
                         "subject": {"reference": "Patient/p1"}, "authoredOn": ORDER.isoformat(),
                         "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": display or shown}], "text": display or shown},
                         "dosageInstruction": [dosage]}
    if note:
        r["note"] = [{"text": note}]
    return r


def _given(aid: str, drug: str, dose: float, unit: str, route: str, when: date) -> dict[str, Any]:
    code, shown = DRUGS[drug]
    return {"resourceType": "MedicationAdministration", "id": aid, "status": "completed", "subject": {"reference": "Patient/p1"},
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": shown}]},
            "effectiveDateTime": when.isoformat(),
            "dosage": {"route": {"coding": [{"system": SCT, "code": ROUTES[route][0]}]}, "dose": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}}


def _cards(kb: Any, drafts: list[dict], *, years: float = 8, weights: list[tuple[float, date]] = ((26.0, ORDER - timedelta(days=3)),),
           height: float = 128.0, given: list[dict] = ()) -> list:
    body = [_obs(f"w{i}", "29463-7", w, "kg", d) for i, (w, d) in enumerate(weights)]
    body += [_obs(f"h{i}", "8302-2", height, "cm", d) for i, (_, d) in enumerate(weights)]
    prefetch = {
        "patient": {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": _born(years)},
        "bodyMeasurements": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in body]},
        "medicationAdministrations": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in given]},
        "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": ALL_CONDITION}]},
    }
    ctx = build_context(prefetch, patient_id="p1", draft_orders={"resourceType": "Bundle", "entry": [{"resource": r} for r in drafts]},
                        selections=None, kb=kb, now=datetime(2026, 11, 2, 9, tzinfo=timezone.utc))
    return run_rules(ctx, kb, RuleSettings(), FAMILIES)


def _ids(findings: list, prefix: str) -> list[tuple[str, str]]:
    return [(f.rule_id, f.indicator) for f in findings if f.rule_id.startswith(prefix)]


# -- intrathecal methotrexate by age --------------------------------------------------------

@pytest.mark.parametrize("years,dose,expected", [
    (0.5, 6, []), (0.5, 8, [("IT-01", "warning")]),            # < 1 y: 6 mg
    (1.5, 8, []), (1.5, 10, [("IT-01", "warning")]),           # 1 y: 8 mg
    (2.5, 10, []), (2.5, 8, [("IT-01", "warning")]),           # 2 y: 10 mg (below is also a card)
    (6, 12, []), (6, 12.6, []), (6, 12.7, [("IT-01", "warning")]),  # 3-8 y: 12 mg, 5% tolerance (12.6 inside)
    (6, 15, [("IT-01", "warning")]),                           # 15 mg is the 9 y+ dose
    (10, 15, []), (10, 12, []), (10, 16, [("IT-01", "warning")]),   # 9 y+: 12-15 mg
    (40, 12, []), (40, 30, [("IT-01", "warning")]),
])
def test_intrathecal_methotrexate_dose_bands(kb, years, dose, expected) -> None:
    found = _cards(kb, [_order("o1", "methotrexate-it", dose, "mg", "it")], years=years)
    assert _ids(found, "IT-01") == expected
    if expected:
        card = with_text(next(f for f in found if f.rule_id == "IT-01"))  # the rule yields a Verdict
        assert card.summary.lower().startswith("methotrexate intrathecal") and len(card.summary) < 140
        assert card.inputs["ordered_mg"] == dose


def test_intrathecal_band_edge_is_the_birthday(kb) -> None:
    # 2 years 363 days -> 10 mg band; 3 years 0 days -> 12 mg band
    just_under = _cards(kb, [_order("o1", "methotrexate-it", 12, "mg", "it")], years=3 - 3 / 365.25)
    on_birthday = _cards(kb, [_order("o1", "methotrexate-it", 12, "mg", "it")], years=3.003)
    assert _ids(just_under, "IT-01") == [("IT-01", "warning")]
    assert _ids(on_birthday, "IT-01") == []


def test_intravenous_methotrexate_is_not_judged_by_intrathecal_bands(kb) -> None:
    assert _ids(_cards(kb, [_order("o1", "methotrexate-it", 100, "mg", "iv")]), "IT-") == []


def test_preserved_methotrexate_intrathecal_is_critical_and_preservative_free_is_clean(kb) -> None:
    preserved = _cards(kb, [_order("o1", "methotrexate-it", 12, "mg", "it", display="methotrexate 25 MG/ML Injection (with preservative, benzyl alcohol)")])
    assert _ids(preserved, "IT-PF") == [("IT-PF-01", "critical")]
    clean = _cards(kb, [_order("o1", "methotrexate-it", 12, "mg", "it", display="methotrexate 25 MG/ML Injection, preservative-free")])
    assert _ids(clean, "IT-PF") == []
    unknown = _cards(kb, [_order("o1", "methotrexate-it", 12, "mg", "it")])
    assert _ids(unknown, "IT-PF") == []


# -- weight change since the last dose ------------------------------------------------------

LAST = ORDER - timedelta(days=21)


@pytest.mark.parametrize("years,then,now,expected", [
    (8, 26.0, 26.0, []),                                  # unchanged: clean
    (8, 26.0, 27.3, []),                                  # +5.0% child: not more than 5%
    (8, 26.0, 27.4, [("VER-WT-01", "warning")]),          # +5.4% child
    (8, 26.0, 24.6, [("VER-WT-01", "warning")]),          # -5.4% child
    (30, 80.0, 88.0, []),                                 # +10.0% adult: not more than 10%
    (30, 80.0, 88.1, [("VER-WT-01", "warning")]),         # +10.1% adult
    (30, 80.0, 84.5, []),                                 # +5.6% adult: child threshold does not apply
])
def test_weight_change_since_last_dose(kb, years, then, now, expected) -> None:
    found = _cards(kb, [_order("o1", "vincristine", 1.5 if years < 18 else 2.0, "mg", "iv")], years=years,
                   weights=[(now, ORDER - timedelta(days=2)), (then, LAST - timedelta(days=1))],
                   height=128.0 if years < 18 else 175.0, given=[_given("a1", "vincristine", 1.5, "mg", "iv", LAST)])
    assert _ids(found, "VER-WT") == expected
    if expected:
        card = with_text(next(f for f in found if f.rule_id == "VER-WT-01"))  # the rule yields a Verdict
        assert card.inputs["weight_then"]["value"] == then and card.inputs["last_dose_date"] == LAST.isoformat()
        assert "BSA then" in card.detail


def test_weight_change_needs_a_previous_dose(kb) -> None:
    found = _cards(kb, [_order("o1", "vincristine", 1.5, "mg", "iv")], weights=[(30.0, ORDER - timedelta(days=2)), (26.0, LAST)])
    assert _ids(found, "VER-WT") == []


# -- dose change from the last administration ----------------------------------------------

def test_dose_change_unchanged_protocol_dose_is_clean(kb) -> None:
    # 26 kg / 128 cm -> BSA 0.9615 m2; 1.44 mg = 1.5 mg/m2 both times
    found = _cards(kb, [_order("o1", "vincristine", 1.44, "mg", "iv")], given=[_given("a1", "vincristine", 1.44, "mg", "iv", LAST)],
                   weights=[(26.0, ORDER - timedelta(days=2)), (26.0, LAST)])
    assert _ids(found, "VER-DC") == []


@pytest.mark.parametrize("last_mg,now_mg,expected", [
    (1.44, 1.58, []),                                     # +9.7%: rounding
    (1.44, 1.60, [("VER-DC-01", "info")]),                # +11.1%, 1.66 mg/m2 still within the 1.5-2 mg/m2 rule: info
    (1.44, 1.29, [("VER-DC-01", "info")]),                # -10.4% reduction: info
    (1.44, 1.30, []),                                     # -9.7%
    (1.0, 1.9, [("VER-DC-01", "info")]),                  # +90% but 1.98 mg/m2 is inside the 1.5-2 mg/m2 rule: info
    (1.0, 2.2, [("VER-DC-01", "warning")]),               # 2.29 mg/m2, above the rule's 2 mg/m2 + 10%: warning
])
def test_dose_change_from_last(kb, last_mg, now_mg, expected) -> None:
    found = _cards(kb, [_order("o1", "vincristine", now_mg, "mg", "iv")], given=[_given("a1", "vincristine", last_mg, "mg", "iv", LAST)],
                   weights=[(26.0, ORDER - timedelta(days=2)), (26.0, LAST)])
    assert _ids(found, "VER-DC") == expected


def test_dose_rise_with_a_stated_reason_is_info(kb) -> None:
    found = _cards(kb, [_order("o1", "vincristine", 2.2, "mg", "iv", note="dose re-escalated after neuropathy resolved")],
                   given=[_given("a1", "vincristine", 1.0, "mg", "iv", LAST)], weights=[(26.0, ORDER - timedelta(days=2)), (26.0, LAST)])
    assert _ids(found, "VER-DC") == [("VER-DC-01", "info")]


def test_dose_change_compares_the_same_route_only(kb) -> None:
    found = _cards(kb, [_order("o1", "methotrexate-it", 12, "mg", "it")], given=[_given("a1", "methotrexate-it", 1000, "mg", "iv", LAST)])
    assert _ids(found, "VER-DC") == []


def test_dose_change_uses_the_bsa_of_the_day_of_the_last_dose(kb) -> None:
    # last: 1.0 mg at 16 kg/128 cm (BSA 0.754) = 1.33 mg/m2; now 1.44 mg at 26 kg (BSA 0.9615) = 1.50 mg/m2 (+13%)
    found = _cards(kb, [_order("o1", "vincristine", 1.44, "mg", "iv")], given=[_given("a1", "vincristine", 1.0, "mg", "iv", LAST)],
                   weights=[(26.0, ORDER - timedelta(days=2)), (16.0, LAST)])
    card = next(f for f in found if f.rule_id == "VER-DC-01")
    assert card.inputs["last_per_size"] == pytest.approx(1.0 / (128 * 16 / 3600) ** 0.5, rel=1e-3)


# -- vinca alkaloids ----------------------------------------------------------------------

@pytest.mark.parametrize("method,text,expected", [
    ("IV push", None, [("VER-VINCA-01", "warning")]),
    (None, "give by slow IV injection from a syringe", [("VER-VINCA-01", "warning")]),
    ("Infusion", "in 25 mL sodium chloride 0.9% minibag over 10 minutes", []),
    (None, None, []),
])
def test_vinca_by_minibag_only(kb, method, text, expected) -> None:
    found = _cards(kb, [_order("o1", "vincristine", 1.4, "mg", "iv", method=method, text=text)])
    assert _ids(found, "VER-VINCA-01") == expected


def test_vinca_and_intrathecal_orders_together_get_one_info_card(kb) -> None:
    found = _cards(kb, [_order("o1", "vincristine", 1.4, "mg", "iv"), _order("o2", "methotrexate-it", 12, "mg", "it")])
    cards = [f for f in found if f.rule_id == "VER-VINCA-02"]
    assert [(c.indicator, c.orders) for c in cards] == [("info", ("MedicationRequest/o1", "MedicationRequest/o2"))]
    alone = _cards(kb, [_order("o1", "vincristine", 1.4, "mg", "iv"), _order("o2", "methotrexate-it", 100, "mg", "iv")])
    assert _ids(alone, "VER-VINCA-02") == []


def test_verification_rows_load_with_citations(kb) -> None:
    from cdshooks.knowledge.verification import verification_view

    view = verification_view(kb)
    rows = [*view.intrathecal.values(), *view.preservative_free.values(), view.weight_change, view.dose_change,
            view.vinca_minibag, view.vinca_apart, view.bsa_cap]
    assert all(r.citation and r.id for r in rows)
    assert all(r.indicator_above != "critical" for r in view.intrathecal.values() if not r.verified)


# -- cumulative anthracycline: each past dose with the BSA of its day ------------------------

def test_cumulative_uses_the_bsa_of_each_past_dose(kb) -> None:
    # 9 x 25 mg daunorubicin given at 20 kg / 128 cm (BSA 0.8433 m2) = 266.8 mg/m2; this order 25 mg at
    # 26 kg (BSA 0.9615) = 26.0 -> 292.8 mg/m2 = 97.6% of the child limit 300 -> warning. With today's BSA for
    # the past doses it would be 260 mg/m2 (86.7%, no card): the card proves which BSA was used.
    past = [_given(f"a{i}", "daunorubicin", 25, "mg", "iv", ORDER - timedelta(days=200 - 7 * i)) for i in range(9)]
    found = _cards(kb, [_order("o1", "daunorubicin", 25, "mg", "iv")], given=past,
                   weights=[(26.0, ORDER - timedelta(days=2)), (20.0, ORDER - timedelta(days=220))])
    cards = [with_text(f) for f in found if f.topic == "cumulative-dose"]
    assert [(c.indicator, c.drug) for c in cards] == [("warning", "daunorubicin")]
    assert "BSA 0.84 m²" in cards[0].detail


def test_cumulative_says_when_it_falls_back_to_todays_bsa(kb) -> None:
    past = [_given(f"a{i}", "daunorubicin", 30, "mg", "iv", ORDER - timedelta(days=100 - 7 * i)) for i in range(9)]
    found = _cards(kb, [_order("o1", "daunorubicin", 25, "mg", "iv")], given=past)  # weights only from 3 days ago
    cards = [with_text(f) for f in found if f.topic == "cumulative-dose"]
    assert cards and "current BSA 0.96 m² (no earlier weight/height)" in cards[0].detail


# -- an adult under-dose that matches a BSA capped at 2.0 m2 ----------------------------------

def _adult_doxorubicin(kb, dose_mg: float) -> list:
    # 110 kg / 180 cm -> BSA 2.345 m2; doxorubicin adult 40-75 mg/m2 (dosing.json)
    return _cards(kb, [_order("o1", "doxorubicin", dose_mg, "mg", "iv")], years=40, weights=[(110.0, ORDER - timedelta(days=2))], height=180.0)


def test_under_dose_matching_a_capped_bsa_is_named_in_the_dose_card(kb) -> None:
    # 40 mg/m2 x 2.0 m2 = 80 mg; the branch low end for 2.345 m2 is 93.8 mg
    card = with_text(next(f for f in _adult_doxorubicin(kb, 80) if f.topic == "dose"))  # the dose card yields a Verdict
    assert card.inputs["matches_capped_bsa_m2"] == 2.0
    assert "BSA capped at 2 m²" in card.detail


def test_under_dose_not_matching_a_capped_bsa_says_nothing_about_caps(kb) -> None:
    card = with_text(next(f for f in _adult_doxorubicin(kb, 60) if f.topic == "dose"))  # 25.6 mg/m2: far below even a capped BSA
    assert "matches_capped_bsa_m2" not in card.inputs and "capped at 2" not in card.detail
