"""Issue 10: orders as EHRs really send them, with goldens written from the rules.

Sandbox-shaped drafts (shared/reference/cdshooks-sandbox.md §3): medicationCodeableConcept = `text`
+ one RxNorm SCD coding, dose `{value, system UCUM, code "{pill}"}`, `timing.repeat` frequency/
period/periodUnit, no route, no dosageInstruction.text. (The sandbox's Bundle without `type` and
`category` as an object are not valid R4 and so cannot sit in a validated fixture bundle: they are
covered over HTTP in tests/rules/test_orders_as_sent.py.)

Sizes: CHILD20 = 8 y, 20 kg, 115.2 cm -> Mosteller BSA sqrt(115.2*20/3600) = 0.800 m2.
Rules used (knowledge/data/dosing.json, schedules.json, routes.json):
  dose.mercaptopurine.weight 1.5-2.5 mg/kg once daily -> 20 kg: 30-50 mg/day
  dose.methotrexate.oral-weekly 20 mg/m2 once weekly (oral) -> 0.80 m2: 16 mg per week
  schedule.methotrexate.oral-weekly: oral methotrexate at intervals < 7 d -> critical
  route.vincristine.iv-only; dose.vincristine.pediatric-bsa 1.5-2 mg/m2 (cap 2 mg)
Tolerance 10%, critical above +25% (RuleSettings defaults).
"""

from __future__ import annotations

from typing import Any, Callable

from fixture_model import DAILY, ONCE, RXNORM, WEEKLY, Order, Scenario, born, card, dose_values

CHILD20 = dict(birth=born(8), weight=(20.0, "kg"), height=(115.2, "cm"), phase="Maintenance")
CHILD26 = dict(birth=born(8), weight=(26.0, "kg"), height=(128.0, "cm"))  # BSA 0.9615 m2
DOSE_TOPICS = ("dose", "dose-limit", "route", "schedule")
GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"


def sandbox(count_code: str = "{pill}") -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Reshape a built draft the way the CDS Hooks Sandbox sends it: SCD coding + text only, no route,
    no dosage text, the dose a count of `{pill}`."""

    def edit(r: dict[str, Any]) -> dict[str, Any]:
        concept = r["medicationCodeableConcept"]
        r["medicationCodeableConcept"] = {"text": concept["text"], "coding": [{"system": RXNORM, "code": concept["coding"][0]["code"]}]}
        dosage = r["dosageInstruction"][0]
        dosage.pop("route", None)
        dosage.pop("text", None)
        dosage["doseAndRate"][0]["doseQuantity"]["code"] = count_code
        dosage["doseAndRate"][0]["doseQuantity"].pop("unit", None)
        r["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category", "code": "outpatient"}]}]
        return r

    return edit


def by_reference(med_id: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The draft names its drug only by medicationReference (no display): the Medication is elsewhere."""

    def edit(r: dict[str, Any]) -> dict[str, Any]:
        r = sandbox()(r)
        del r["medicationCodeableConcept"]
        r["medicationReference"] = {"reference": f"Medication/{med_id}"}
        return r

    return edit


def timing_code(code: str, route_text: str | None = "PO") -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(r: dict[str, Any]) -> dict[str, Any]:
        r = sandbox()(r)
        dosage = r["dosageInstruction"][0]
        dosage["timing"] = {"code": {"coding": [{"system": GTS, "code": code}], "text": code}}
        if route_text:
            dosage["route"] = {"text": route_text}
        return r

    return edit


def text_only(text: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(r: dict[str, Any]) -> dict[str, Any]:
        r["dosageInstruction"] = [{"text": text}]
        return r

    return edit


def dose_range(low: float, high: float) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """doseRange low-high of the same unit instead of doseQuantity."""

    def edit(r: dict[str, Any]) -> dict[str, Any]:
        r = sandbox()(r)
        dar = r["dosageInstruction"][0]["doseAndRate"][0]
        q = dar.pop("doseQuantity")
        dar["doseRange"] = {"low": {**q, "value": low}, "high": {**q, "value": high}}
        return r

    return edit


def name_only(text: str, route_text: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """No code at all: the product name as text, the route as EHR text ("IV push", "intrathecal")."""

    def edit(r: dict[str, Any]) -> dict[str, Any]:
        r["medicationCodeableConcept"] = {"text": text}
        r["dosageInstruction"][0]["route"] = {"text": route_text}
        return r

    return edit


def contained_suspension(r: dict[str, Any]) -> dict[str, Any]:
    """A compounded product: a contained Medication with an ingredient code, its strength and form."""
    del r["medicationCodeableConcept"]
    r["contained"] = [{"resourceType": "Medication", "id": "susp", "code": {"text": "mercaptopurine oral suspension (pharmacy compounded)"},
                       "form": {"text": "oral suspension"},
                       "ingredient": [{"itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "103", "display": "mercaptopurine"}]},
                                       "strength": {"numerator": {"value": 20, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
                                                    "denominator": {"value": 1, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}}}]}]
    r["medicationReference"] = {"reference": "#susp"}
    r["dosageInstruction"][0].pop("route", None)
    return r


def no_route(r: dict[str, Any]) -> dict[str, Any]:
    r["dosageInstruction"][0].pop("route", None)
    return r


def _mp(n: float, edit=None) -> Order:
    return Order("mercaptopurine", n, "{pill}", "po", DAILY, edit=edit or sandbox())


def _mtx(n: float, timing: dict[str, Any], edit=None) -> Order:
    return Order("methotrexate-oral", n, "{pill}", "po", timing, edit=edit or sandbox())


MEDICATION_6MP = {"resourceType": "Medication", "id": "i10-med-6mp", "status": "active",
                  "code": {"coding": [{"system": RXNORM, "code": "197931", "display": "mercaptopurine 50 MG Oral Tablet"}],
                           "text": "mercaptopurine 50 MG Oral Tablet"}}

SCENARIOS: list[Scenario] = [
    # -- tablet counts x product strength (SCD 197931 mercaptopurine 50 MG Oral Tablet) -------------
    Scenario("sandbox.mercaptopurine.1x50mg-daily-20kg-clean", "sandbox order: 1 {pill} of mercaptopurine 50 mg daily, 20 kg child",
             "issue 10 clean counterpart; dose.mercaptopurine.weight 1.5-2.5 mg/kg = 30-50 mg; 1 x 50 mg = 50 mg in range",
             **CHILD20, orders=[_mp(1)], sign=[], select=True),
    Scenario("sandbox.mercaptopurine.3x50mg-daily-20kg", "sandbox order: 3 {pill} of mercaptopurine 50 mg daily, 20 kg child",
             "dose.mercaptopurine.weight: 3 x 50 mg = 150 mg vs 30-50 mg, +200% -> critical",
             **CHILD20, orders=[_mp(3)], sign=[card("dose", "critical", "mercaptopurine", "dose.mercaptopurine.weight", "150 mg",
                       values=dose_values(low=30.0, high=50.0, ordered_absolute=150.0))]),  # high end 3 x 50 mg
    # -- daily oral methotrexate with no route: the dose form says oral -----------------------------
    Scenario("sandbox.methotrexate.1x2.5mg-daily-no-route", "sandbox order: 1 {pill} of methotrexate 2.5 mg DAILY, no route",
             "schedule.methotrexate.oral-weekly (oral implied by 'Oral Tablet') -> critical; per week 7 x 2.5 = 17.5 mg vs 16 mg (+9%): no dose card",
             **CHILD20, orders=[_mtx(1, DAILY)], sign=[card("schedule", "critical", "methotrexate", "schedule.methotrexate.oral-weekly")], select=True),
    Scenario("sandbox.methotrexate.6x2.5mg-weekly-bsa-0.80-clean", "sandbox order: 6 {pill} of methotrexate 2.5 mg once weekly, BSA 0.80 m2",
             "issue 10 clean counterpart; 6 x 2.5 = 15 mg vs 20 mg/m2 x 0.80 = 16 mg (-6%, within 10%)",
             **CHILD20, orders=[_mtx(6, WEEKLY)], sign=[]),
    Scenario("sandbox.methotrexate.4x2.5mg-daily-no-route", "sandbox order: 4 {pill} (10 mg) of methotrexate DAILY",
             "one finding, one card: daily instead of weekly is the critical schedule card; no dose card per dose (would invite more) or per week (same error)",
             **CHILD20, orders=[_mtx(4, DAILY)], sign=[card("schedule", "critical", "methotrexate", "schedule.methotrexate.oral-weekly")]),
    Scenario("sandbox.mercaptopurine.1x50mg-every-2-days-20kg", "mercaptopurine 1 x 50 mg every other day, 20 kg child",
             "like with like: 50 mg every 2 d = 25 mg per day vs 30-50 mg/day (-17%) -> dose warning; no schedule card (not more often than daily)",
             **CHILD20, orders=[Order("mercaptopurine", 1, "{pill}", "po", {"frequency": 1, "period": 2, "periodUnit": "d"}, edit=sandbox())],
             sign=[card("dose", "warning", "mercaptopurine", "dose.mercaptopurine.weight", "25 mg per day")]),
    # -- timing codes (HL7 v3 GTSAbbreviation) --------------------------------------------------------
    Scenario("timing.methotrexate.gts-qd", "methotrexate 1 tablet, timing.code QD, route text 'PO'",
             "QD = every day (GTSAbbreviation) -> schedule.methotrexate.oral-weekly critical; per week 17.5 vs 16 mg: no dose card",
             **CHILD20, orders=[_mtx(1, DAILY, timing_code("QD"))], sign=[card("schedule", "critical", "methotrexate", "schedule.methotrexate.oral-weekly")]),
    Scenario("timing.methotrexate.gts-wk-clean", "methotrexate 6 tablets, timing.code WK, route text 'PO'",
             "WK = weekly (GTSAbbreviation); 15 mg vs 16 mg: no card", **CHILD20, orders=[_mtx(6, WEEKLY, timing_code("WK"))], sign=[]),
    # -- per-m2 written in the order --------------------------------------------------------------
    Scenario("perm2.methotrexate.24mg-m2-weekly", "oral methotrexate written as 24 mg/m2 once weekly",
             "24 mg/m2 x 0.80 m2 = 19.2 mg vs 16 mg: +20% -> warning", **CHILD20,
             orders=[Order("methotrexate-oral", 24.0, "mg/m2", "po", WEEKLY)], sign=[card("dose", "warning", "methotrexate", "dose.methotrexate.oral-weekly")]),
    Scenario("perm2.methotrexate.20mg-m2-weekly-clean", "oral methotrexate written as 20 mg/m2 once weekly", "20 mg/m2 exactly: no card",
             **CHILD20, orders=[Order("methotrexate-oral", 20.0, "mg/m2", "po", WEEKLY)], sign=[]),
    # -- per-kg written in the order; doseRange (the high end is checked) ---------------------------
    Scenario("perkg.mercaptopurine.2mg-kg-daily-clean", "mercaptopurine written as 2 mg/kg once daily, 20 kg", "2 mg/kg x 20 kg = 40 mg in 30-50 mg: no card",
             **CHILD20, orders=[Order("mercaptopurine", 2.0, "mg/kg", "po", DAILY)], sign=[]),
    Scenario("perkg.mercaptopurine.3.5mg-kg-daily", "mercaptopurine written as 3.5 mg/kg once daily, 20 kg",
             "3.5 mg/kg x 20 kg = 70 mg vs 50 mg: +40% -> critical", **CHILD20,
             orders=[Order("mercaptopurine", 3.5, "mg/kg", "po", DAILY)], sign=[card("dose", "critical", "mercaptopurine", "dose.mercaptopurine.weight", "70 mg",
                       values=dose_values(low=30.0, high=50.0, ordered=3.5, ordered_absolute=70.0))]),  # 1.5-2.5 mg/kg x 20 kg
    Scenario("range.mercaptopurine.1-3-tablets-daily", "mercaptopurine doseRange 1-3 {pill} of 50 mg daily, 20 kg",
             "doseRange: the high end 3 x 50 = 150 mg is checked vs 30-50 mg: +200% -> critical", **CHILD20,
             orders=[Order("mercaptopurine", 1, "{pill}", "po", DAILY, edit=dose_range(1, 3))],
             sign=[card("dose", "critical", "mercaptopurine", "dose.mercaptopurine.weight", "150 mg",
                       values=dose_values(low=30.0, high=50.0, ordered_absolute=150.0))]),  # high end 3 x 50 mg
    # -- volume x concentration; injection with no route -------------------------------------------
    Scenario("volume.vincristine.1.5ml-no-route", "vincristine 1.5 mL of 1 mg/mL Injection, no route",
             "1.5 mL x 1 mg/mL = 1.5 mg in 1.44-1.92 mg (no dose card); 'Injection' is parenteral, not IV vs IT -> missing-data route card",
             **CHILD26, orders=[Order("vincristine", 1.5, "mL", "iv", ONCE, edit=no_route)],
             sign=[card("missing-data", "warning", "vincristine", "missing-data.route")], sign_topics=DOSE_TOPICS + ("missing-data",)),
    # -- names and EHR route text, no codes; a contained Medication with ingredient.strength ----------
    Scenario("name.vincristine.product-name-iv-infusion-clean", "'1 ML vincristine sulfate 1 MG/ML Injection' as text only, 1.5 mL, route text 'IV infusion'",
             "name -> vincristine, strength 1 mg/mL parsed from the name: 1.5 mL = 1.5 mg in 1.44-1.92 mg; 'IV infusion' = intravenous: no card "
             "('IV push' would rightly get VER-VINCA-01, minibag only)",
             **CHILD26, orders=[Order("vincristine", 1.5, "mL", "iv", ONCE, edit=name_only("1 ML vincristine sulfate 1 MG/ML Injection", "IV infusion"))],
             sign=[], sign_topics=DOSE_TOPICS + ("missing-data",), expected_gaps=("rxnorm",)),
    Scenario("name.vincristine.route-text-intrathecal", "vincristine by name, route text 'intrathecal'",
             "route.vincristine.iv-only: intrathecal -> critical", **CHILD26,
             orders=[Order("vincristine", 1.5, "mL", "iv", ONCE, edit=name_only("vincristine sulfate 1 MG/ML Injection", "intrathecal"))],
             sign=[card("route", "critical", "vincristine", "route.vincristine.iv-only")], expected_gaps=("rxnorm",)),
    Scenario("medication.mercaptopurine.contained-20mg-ml-2.5ml-clean", "contained Medication: mercaptopurine 20 mg/mL suspension, 2.5 mL daily",
             "Medication.ingredient (RxNorm 103) + strength 20 mg/mL: 2.5 mL = 50 mg in 30-50 mg; form 'oral suspension' implies oral: no card",
             **CHILD20, orders=[Order("mercaptopurine", 2.5, "mL", "po", DAILY, edit=contained_suspension)], sign=[],
             sign_topics=DOSE_TOPICS + ("missing-data",)),
    # -- free-text directions only ----------------------------------------------------------------
    Scenario("sig.mercaptopurine.text-only", "mercaptopurine with only free-text directions",
             "never a silent pass: one missing-data card quotes the text; no separate dose/route/schedule card",
             **CHILD20, orders=[Order("mercaptopurine", 50.0, "mg", "po", DAILY, edit=text_only("1 tab by mouth nightly"))],
             sign=[card("missing-data", "warning", "mercaptopurine", "missing-data.sig-text-only", "1 tab by mouth nightly")],
             sign_topics=DOSE_TOPICS + ("missing-data",)),
    # -- a referenced Medication only the FHIR server has -----------------------------------------
    Scenario("medref.mercaptopurine.3x50mg-fetched", "draft references Medication/{id} that only the FHIR server holds; 3 x 50 mg",
             "prefetch variant: the Medication cannot be had -> missing-data.order-medication; no-prefetch variant: fetched, 150 mg vs 30-50 mg -> critical",
             **CHILD20, resources=[MEDICATION_6MP], orders=[_mp(3, by_reference("i10-med-6mp"))],
             sign=[card("missing-data", "warning", None, "missing-data.order-medication")],
             sign_noprefetch=[card("dose", "critical", "mercaptopurine", "dose.mercaptopurine.weight")],
             sign_topics=DOSE_TOPICS + ("missing-data",)),
]
