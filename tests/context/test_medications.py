"""Medication identification paths, look-alike guards, dose/route/timing reading, quirks."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cdshooks.context.builder import build_context
from ctx_fhirdata import RXNORM, SNOMED, bundle, med_request, qty, rx

NOW = datetime(2024, 3, 10, 12, 0)


def ctx_for(*orders, prefetch=None, selections=None, kb):
    return build_context(prefetch or {}, patient_id="p1", draft_orders=bundle(*orders), selections=selections, kb=kb, now=NOW)


def one(order, kb, **kw):
    return ctx_for(order, kb=kb, **kw).draft_orders[0]


# -- identification paths ----------------------------------------------------------------

def test_by_rxnorm_ingredient(kb):
    o = one(med_request("a", med=rx("11202")), kb)
    assert o.drug_ids == ("vincristine",) and o.identified_by == "rxnorm-ingredient" and o.is_draft


def test_by_rxnorm_product_scd_and_sbd(kb):
    o = one(med_request("a", med=rx("105585", "methotrexate 2.5 MG Oral Tablet")), kb)
    assert o.drug_ids == ("methotrexate",) and o.identified_by == "rxnorm-product"
    o = one(med_request("b", med=rx("1597267")), kb)  # blinatumomab 0.035 MG Injection [Blincyto]
    assert o.drug_ids == ("blinatumomab",) and o.identified_by == "rxnorm-product"


def test_combination_min_code_resolves_to_both_ingredients(kb):
    o = one(med_request("a", med=rx("10831")), kb)
    assert o.drug_ids == ("sulfamethoxazole", "trimethoprim")


def test_by_contained_medication_ingredient(kb):
    order = med_request("a", medicationReference={"reference": "#m1"}, contained=[{
        "resourceType": "Medication", "id": "m1", "code": {"text": "compounded oral suspension"},
        "ingredient": [{"itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "103"}]}}]}])
    o = one(order, kb)
    assert o.drug_ids == ("mercaptopurine",) and o.identified_by == "medication-ingredient"


def test_by_included_medication_code(kb):
    med = {"resourceType": "Medication", "id": "m9", "code": {"coding": [{"system": RXNORM, "code": "3639"}]}}
    order = med_request("a", medicationReference={"reference": "Medication/m9"})
    ctx = build_context({}, patient_id="p1", draft_orders=bundle(order, med), selections=None, kb=kb, now=NOW)
    assert ctx.draft_orders[0].drug_ids == ("doxorubicin",)
    assert ctx.draft_orders[0].identified_by == "rxnorm-ingredient"


@pytest.mark.parametrize("text,drug", [
    ("Vincristine sulfate 1 mg/mL injection", "vincristine"), ("Oncaspar", "pegaspargase"),
    ("Blincyto 35 mcg vial", "blinatumomab"), ("Kymriah suspension", "tisagenlecleucel"),
    ("Tecartus", "brexucabtagene-autoleucel"), ("Sprycel 20 mg", "dasatinib"), ("Gleevec", "imatinib"),
    ("Iclusig", "ponatinib"), ("Besponsa", "inotuzumab-ozogamicin"), ("Rituxan", "rituximab"),
    ("Clolar", "clofarabine"), ("Arranon", "nelarabine"), ("Purixan 20 mg/mL", "mercaptopurine"),
    ("Trexall", "methotrexate"), ("Xatmep", "methotrexate"), ("Otrexup", "methotrexate"), ("Vincasar PFS", "vincristine"),
    ("Elitek", "rasburicase"), ("Actemra", "tocilizumab"), ("Asparlas", "calaspargase-pegol"), ("Rylaze", "asparaginase-erwinia"),
    ("Erwinaze", "asparaginase-erwinia"), ("Marqibo", "vincristine-liposomal"),
])
def test_by_name_or_brand(kb, text, drug):
    o = one(med_request("a", med={"text": text}), kb)
    assert o.drug_ids == (drug,) and o.identified_by == "name"


@pytest.mark.parametrize("text,drug", [
    ("vinCRIStine sulfate LIPOSOME injection", "vincristine-liposomal"),
    ("VinCRIStine (liposomal) 2.25 mg/m2", "vincristine-liposomal"),
    ("asparaginase Erwinia chrysanthemi (recombinant)-rywn", "asparaginase-erwinia"),
    ("Erwinia asparaginase", "asparaginase-erwinia"),
    ("calaspargase pegol-mknl", "calaspargase-pegol"),
    ("pegylated liposomal doxorubicin", "doxorubicin-liposomal"),
    ("levoleucovorin calcium", "levoleucovorin"),
])
def test_look_alikes_by_name_never_resolve_to_the_conventional_drug(kb, text, drug):
    o = one(med_request("a", med={"text": text}), kb)
    assert o.drug_ids == (drug,)
    assert "vincristine" not in o.drug_ids and "pegaspargase" not in o.drug_ids


@pytest.mark.parametrize("code,text,drug", [
    ("11202", "Marqibo (vincristine sulfate liposome injection)", "vincristine-liposomal"),
    ("34132", "Asparlas (calaspargase pegol)", "calaspargase-pegol"),
    ("34132", "Rylaze", "asparaginase-erwinia"),
    ("1156", "asparaginase Erwinia chrysanthemi", "asparaginase-erwinia"),
])
def test_look_alike_guard_overrides_a_conventional_code(kb, code, text, drug):
    o = one(med_request("a", med=rx(code, text)), kb)
    assert o.drug_ids == (drug,)
    assert any("look-alike" in p for p in o.problems)


def test_plain_asparaginase_is_native_e_coli_not_pegaspargase(kb):
    assert one(med_request("a", med={"text": "asparaginase"}), kb).drug_ids == ("asparaginase-e-coli",)
    assert one(med_request("a", med={"text": "PEG-asparaginase"}), kb).drug_ids == ("pegaspargase",)


def test_unidentified_order_is_kept_with_problem_and_gap(kb):
    ctx = ctx_for(med_request("a", med={"text": "investigational agent XYZ"}), kb=kb)
    o = ctx.draft_orders[0]
    assert o.drug_ids == () and o.identified_by is None and o.problems
    assert ctx.gaps_for("order:MedicationRequest/a")


def test_unverified_codes_are_not_shipped(kb):
    # 213040 (Oncaspar SBD?) and 2561251 (Rylaze) are UNVERIFIED in terminology.json
    assert one(med_request("a", med=rx("213040")), kb).drug_ids == ()
    assert one(med_request("a", med=rx("2561251")), kb).drug_ids == ()


# -- dose, route, timing -----------------------------------------------------------------

def test_dose_quantity_route_timing(kb):
    o = one(med_request("a", med=rx("6851"), dose={"doseQuantity": qty(20, "mg/m2")},
                        route={"coding": [{"system": SNOMED, "code": "26643006"}]},
                        timing={"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk", "dayOfWeek": ["mon"],
                                           "boundsPeriod": {"start": "2024-03-11", "end": "2024-06-01"}},
                                "code": {"coding": [{"code": "WK"}], "text": "weekly"}}), kb)
    assert o.dose.quantity.value == 20 and o.dose.quantity.unit == "mg/m2"
    assert o.route.kind == "oral" and o.route.code == f"{SNOMED}|26643006"
    t = o.timing
    assert t.interval_days == 7 and t.day_of_week == ("mon",) and t.code == "WK"
    assert t.bounds_start == date(2024, 3, 11) and t.bounds_end == date(2024, 6, 1)


def test_dose_range_amount_is_high_end(kb):
    o = one(med_request("a", med=rx("103"), dose={"doseRange": {"low": qty(50, "mg"), "high": qty(75, "mg")}}), kb)
    assert o.dose.quantity is None and o.dose.low.value == 50 and o.dose.amount.value == 75


def test_rate_quantity(kb):
    o = one(med_request("a", med=rx("1597258"), dose={"rateQuantity": qty(28, "ug/d")}), kb)
    assert o.dose.rate.value == 28 and o.dose.rate.unit == "ug/d"


def test_dose_and_rate_as_object_quirk(kb):
    order = med_request("a", med=rx("11202"))
    order["dosageInstruction"] = {"doseAndRate": {"doseQuantity": qty(1.4, "mg")}, "route": {"text": "IV"}}
    o = one(order, kb)
    assert o.dose.quantity.value == pytest.approx(1.4) and o.route.kind == "intravenous"
    assert not any("invalid FHIR" in p for p in o.problems)


def test_non_ucum_dose_unit_is_unusable_not_guessed(kb):
    o = one(med_request("a", med=rx("1597258"), dose={"doseQuantity": qty(28, None, system=None, unit="mcg")}), kb)
    assert o.dose is None and any("dose" in p.lower() for p in o.problems)


@pytest.mark.parametrize("route,kind", [
    ({"text": "IT"}, "intrathecal"), ({"text": "Intrathecal"}, "intrathecal"), ({"text": "intraventricular"}, "intraventricular"),
    ({"text": "by mouth"}, "oral"), ({"text": "PO"}, "oral"), ({"text": "IM"}, "intramuscular"), ({"text": "subcut"}, "subcutaneous"),
    ({"coding": [{"system": SNOMED, "code": "72607000", "display": "Intradermal route"}]}, "intrathecal"),  # code wins over display
    ({"coding": [{"system": "urn:local", "code": "IV"}]}, "intravenous"),
    ({"text": "nebulized"}, None),
    # conflicting codings (IV vs IT) are not resolved by guessing: the route is "not recognized"
    ({"coding": [{"system": SNOMED, "code": "47625008"}, {"system": "urn:local", "code": "IT"}]}, None),
])
def test_routes(kb, route, kind):
    o = one(med_request("a", med=rx("11202"), route=route), kb)
    assert o.route.kind == kind


def test_invalid_draft_order_kept_with_problems(kb):
    order = med_request("a", med=rx("11202"), dose={"doseQuantity": qty(1.5, "mg")})
    order["authoredOn"] = {"not": "a date"}
    order["subject"] = "Patient/p1"
    ctx = ctx_for(order, kb=kb)
    o = ctx.draft_orders[0]
    assert o.drug_ids == ("vincristine",) and o.dose.quantity.value == 1.5
    assert any("invalid FHIR MedicationRequest" in p for p in o.problems)


def test_targets_follow_selections(kb):
    a = med_request("a", med=rx("11202"))
    b = med_request("b", med=rx("6851"))
    ctx = ctx_for(a, b, selections=["MedicationRequest/b"], kb=kb)
    assert [o.ref for o in ctx.targets] == ["MedicationRequest/b"] and len(ctx.draft_orders) == 2
    assert [o.ref for o in ctx_for(a, b, kb=kb).targets] == ["MedicationRequest/a", "MedicationRequest/b"]


def test_active_medications_and_administrations(kb):
    active = med_request("x", med={"text": "Bactrim DS"}, status="active", authored="2024-02-01")
    stopped = med_request("y", med=rx("519"), status="stopped")
    unknown = med_request("z", med={"text": "multivitamin"}, status="active")
    given = {"resourceType": "MedicationAdministration", "id": "g1", "status": "completed",
             "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": rx("34132"),
             "effectivePeriod": {"start": "2024-03-01T09:00:00Z"},
             "dosage": {"dose": qty(3750, "[iU]"), "route": {"text": "IV"}}}
    not_given = dict(given, id="g2", status="not-done")
    prefetch = {"medicationRequests": bundle(active, stopped, unknown),
                "medicationAdministrations": bundle(given, not_given)}
    ctx = ctx_for(med_request("a", med=rx("6851")), prefetch=prefetch, kb=kb)
    assert [m.ref for m in ctx.active_medications] == ["MedicationRequest/x"]
    assert ctx.active_medications[0].drug_ids == ("sulfamethoxazole", "trimethoprim")
    assert len(ctx.administrations) == 1
    adm = ctx.administrations[0]
    assert adm.drug_ids == ("pegaspargase",) and adm.date == date(2024, 3, 1) and adm.dose.unit == "[iU]"
    assert adm.route.kind == "intravenous"
