"""Orders as EHRs send them (issue 10): product names parsed, tablet counts and volumes turned into
amounts through the product's strength, Medication references, implied routes, timing codes."""

from __future__ import annotations

from datetime import datetime

import pytest

from cdshooks.context.builder import build_context
from cdshooks.context.units import convert, is_count
from cdshooks.knowledge.drugs import drugs_view
from ctx_fhirdata import RXNORM, bundle, med_request, qty, rx

NOW = datetime(2024, 3, 10, 12, 0)


def one(order, kb, *extra, medications=None, prefetch=None):
    ctx = build_context(prefetch or {}, patient_id="p1", draft_orders=bundle(order, *extra), selections=None, kb=kb,
                        now=NOW, medications=medications)
    return ctx.draft_orders[0]


# -- product names --------------------------------------------------------------------------

@pytest.mark.parametrize("name,ingredient,strength,form,volume", [
    ("mercaptopurine 50 MG Oral Tablet", "mercaptopurine", (50.0, "mg", "{tablet}"), "Oral Tablet", None),
    ("Methotrexate 2.5 MG Oral Tablet", "Methotrexate", (2.5, "mg", "{tablet}"), "Oral Tablet", None),
    ("1 ML vincristine sulfate 1 MG/ML Injection", "vincristine sulfate", (1.0, "mg", "mL"), "Injection", 1.0),
    ("5 ML pegaspargase 750 UNT/ML Injection", "pegaspargase", (750.0, "[iU]", "mL"), "Injection", 5.0),
    ("mercaptopurine 20 MG/ML Oral Suspension", "mercaptopurine", (20.0, "mg", "mL"), "Oral Suspension", None),
    ("mercaptopurine 50 mg tab", "mercaptopurine", (50.0, "mg", "{tablet}"), "Oral Tablet", None),
    ("dexamethasone 4 MG Oral Tablet [Decadron]", "dexamethasone", (4.0, "mg", "{tablet}"), "Oral Tablet", None),
    ("blinatumomab 0.035 MG Injection [Blincyto]", "blinatumomab", None, "Injection", None),  # per vial: no usable strength
    ("cyclophosphamide 500 MG Injection", "cyclophosphamide", None, "Injection", None),
    ("VinCRIStine (liposomal) 2.25 mg/m2", "VinCRIStine (liposomal)", None, None, None),  # a dose, not a strength
    ("sulfamethoxazole 800 MG / trimethoprim 160 MG Oral Tablet", "sulfamethoxazole", None, "Oral Tablet", None),  # two strengths
    ("methotrexate 25 MG per 2 ML", "methotrexate", None, None, None),  # no form: what the 25 mg is per is unknown
    ("vincristine 1 MG/2 ML Injection", "vincristine", None, "Injection", None),  # per 2 mL is not per mL
])
def test_product_name_parsing(kb, name, ingredient, strength, form, volume):
    parsed = drugs_view(kb).parse_name(name)
    assert parsed is not None and parsed.ingredient == ingredient
    got = (parsed.strength.value, parsed.strength.unit, parsed.strength.per) if parsed.strength else None
    assert got == strength
    assert (parsed.dose_form.name if parsed.dose_form else None) == form
    assert parsed.volume_ml == volume


@pytest.mark.parametrize("code,strength,form,route", [
    ("197931", "50 mg/tablet", "Oral Tablet", "oral"), ("105585", "2.5 mg/tablet", "Oral Tablet", "oral"),
    ("1863343", "1 mg/mL", "Injection", None), ("1536484", "20 mg/mL", "Oral Suspension", "oral"),
    ("311625", None, "Injection", None),
])
def test_verified_product_rows_carry_strength_and_form(kb, code, strength, form, route):
    product = drugs_view(kb).product(code)
    assert product is not None and product.dose_form.name == form and product.dose_form.route == route
    assert (str(product.strength) if product.strength else None) == strength
    assert "knowledge base" in product.source


def test_count_units_are_their_own_dimension():
    for code in ("{pill}", "{tbl}", "{tablet}", "{tab}", "{capsule}"):
        assert is_count(code) and convert(2, code, "{tablet}") == 2.0
    assert not is_count("mg") and not is_count("{pill}/d") and not is_count("{beats}")
    with pytest.raises(ValueError):
        convert(1, "{pill}", "mg")


# -- count x strength, volume x concentration -------------------------------------------------

@pytest.mark.parametrize("code,value,unit,expected,expected_unit", [
    ("197931", 1, "{pill}", 50.0, "mg"), ("197931", 1.5, "{tbl}", 75.0, "mg"), ("197931", 3, "{tablet}", 150.0, "mg"),
    ("105585", 6, "{tab}", 15.0, "mg"), ("1863343", 1.4, "mL", 1.4, "mg"), ("240906", 3.3, "mL", 2475.0, "[iU]"),
    ("197931", 50, "mg", 50.0, "mg"),  # already an amount: unchanged
])
def test_dose_counts_and_volumes_become_amounts(kb, code, value, unit, expected, expected_unit):
    o = one(med_request("a", med=rx(code), dose={"doseQuantity": qty(value, unit)}), kb)
    q = o.dose.quantity
    assert q.unit == expected_unit and q.value == pytest.approx(expected)
    if unit != "mg":
        assert q.written is not None and q.written.value == value
        assert f"= {expected:g} " in q.derivation and "knowledge base" in q.derivation


def test_v3_orderable_form_tab_is_a_tablet_count(kb):
    dose = {"doseQuantity": {"value": 2, "unit": "TAB", "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm", "code": "TAB"}}
    o = one(med_request("a", med=rx("105585"), dose=dose), kb)
    assert o.dose.quantity.value == 5.0 and o.dose.quantity.unit == "mg"


def test_count_without_a_strength_stays_a_count_and_says_why(kb):
    o = one(med_request("a", med=rx("103"), dose={"doseQuantity": qty(1, "{pill}")}), kb)  # ingredient code only
    assert o.dose.quantity.unit == "{pill}"
    assert any("strength is not known" in p for p in o.problems)


def test_count_of_a_liquid_is_not_converted(kb):
    o = one(med_request("a", med=rx("1536484"), dose={"doseQuantity": qty(1, "{tablet}")}), kb)
    assert o.dose.quantity.unit == "{tablet}" and any("20 mg/mL" in p for p in o.problems)


def test_dose_range_high_end_is_derived_too(kb):
    o = one(med_request("a", med=rx("197931"), dose={"doseRange": {"low": qty(1, "{tbl}"), "high": qty(2, "{tbl}")}}), kb)
    assert o.dose.amount.value == 100.0 and o.dose.low.value == 50.0


def test_max_dose_per_period_is_read(kb):
    order = med_request("a", med=rx("197931"), dose={"doseQuantity": qty(1, "{tbl}")})
    order["dosageInstruction"][0]["maxDosePerPeriod"] = {"numerator": qty(2, "{tbl}"), "denominator": qty(1, "d")}
    amount, days = one(order, kb).dose.max_per_period
    assert amount.value == 100.0 and amount.unit == "mg" and days == 1.0


# -- identification from everything the order carries ------------------------------------------

def _med(mid, **kw):
    return {"resourceType": "Medication", "id": mid, **kw}


def test_medication_ingredient_strength_and_form(kb):
    med = _med("m1", code={"text": "compounded capsule"}, form={"text": "capsule"}, ingredient=[{
        "itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "103"}]},
        "strength": {"numerator": qty(25, "mg"), "denominator": qty(1, "{capsule}")}}])
    o = one(med_request("a", medicationReference={"reference": "#m1"}, contained=[med], dose={"doseQuantity": qty(2, "{capsule}")}), kb)
    assert o.drug_ids == ("mercaptopurine",) and o.identified_by == "medication-ingredient"
    assert o.dose.quantity.value == 50.0 and "ingredient.strength" in o.product.source
    assert o.route.kind == "oral" and o.route.implied_by == "dose form 'Oral Capsule'"


def test_medication_fetched_by_reference_is_used(kb):
    med = _med("mx", code=rx("197931", "mercaptopurine 50 MG Oral Tablet"))
    order = med_request("a", medicationReference={"reference": "Medication/mx"}, dose={"doseQuantity": qty(3, "{pill}")})
    o = one(order, kb, medications={"Medication/mx": med})
    assert o.drug_ids == ("mercaptopurine",) and o.dose.quantity.value == 150.0 and o.unresolved_medication is None


def test_medication_in_any_prefetch_bundle_is_used(kb):
    med = _med("my", code=rx("105585"))
    order = med_request("a", medicationReference={"reference": "Medication/my"})
    o = one(order, kb, prefetch={"observations": bundle(med)})
    assert o.drug_ids == ("methotrexate",)


def test_unresolved_medication_falls_back_to_reference_display(kb):
    order = med_request("a", medicationReference={"reference": "Medication/gone", "display": "mercaptopurine 50 MG Oral Tablet"},
                        dose={"doseQuantity": qty(1, "{pill}")})
    o = one(order, kb)
    assert o.drug_ids == ("mercaptopurine",) and o.identified_by == "name" and o.unresolved_medication == "Medication/gone"
    assert o.dose.quantity.value == 50.0 and "product name" in o.product.source


def test_unresolved_medication_without_display_is_unidentified_and_says_why(kb):
    o = one(med_request("a", medicationReference={"reference": "Medication/gone"}), kb)
    assert o.drug_ids == () and o.unresolved_medication == "Medication/gone"
    assert any("Medication/gone could not be obtained" in p for p in o.problems)


@pytest.mark.parametrize("text,drug", [
    ("1 ML vincristine sulfate 1 MG/ML Injection", "vincristine"),
    ("vincristine sulfate liposome 5 MG/31 ML Injection", "vincristine-liposomal"),
    ("Erwinia asparaginase 10,000 UNT Injection", "asparaginase-erwinia"),
    ("calaspargase pegol-mknl 3750 UNT/5 ML Injection", "calaspargase-pegol"),
])
def test_look_alike_guard_holds_for_product_names(kb, text, drug):
    o = one(med_request("a", med={"text": text}), kb)
    assert o.drug_ids == (drug,)


def test_look_alike_text_on_a_product_code_drops_the_product_strength(kb):
    o = one(med_request("a", med=rx("1863343", "Marqibo vincristine sulfate liposome"), dose={"doseQuantity": qty(2, "mL")}), kb)
    assert o.drug_ids == ("vincristine-liposomal",)
    assert o.product is None or o.product.strength is None or "knowledge base" not in o.product.source


# -- route implied by the dose form ----------------------------------------------------------

def test_no_route_oral_tablet_implies_oral_injection_is_only_parenteral(kb):
    o = one(med_request("a", med=rx("105585")), kb)
    assert o.route.kind == "oral" and o.route.implied_by == "dose form 'Oral Tablet'"
    o = one(med_request("a", med=rx("1863343")), kb)
    assert o.route.kind is None and o.route.parenteral


def test_sent_route_wins_over_the_dose_form(kb):
    route = {"text": "IV push"}
    o = one(med_request("a", med=rx("1863343"), route=route), kb)
    assert o.route.kind == "intravenous" and o.route.implied_by is None


def test_as_needed_is_read(kb):
    order = med_request("a", med=rx("197931"))
    order["dosageInstruction"] = [{"asNeededBoolean": True}]
    assert one(order, kb).timing.as_needed


# -- any JSON kind anywhere: a data problem, never an exception -------------------------------------

_KINDS = [1, 2.5, "x", "", [], {}, None, [1], True, [{"x": 1}]]


def _contained_order():
    med = _med("m1", code={"coding": [{"system": RXNORM, "code": "103"}]}, form={"text": "tablet"}, ingredient=[{
        "itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "103"}]},
        "strength": {"numerator": qty(50, "mg"), "denominator": qty(1, "{tablet}")}}])
    order = med_request("a", medicationReference={"reference": "#m1", "display": "mercaptopurine 50 mg tablet"}, contained=[med],
                        dose={"doseQuantity": qty(1, "{pill}"), "doseRange": {"low": qty(1, "{pill}"), "high": qty(2, "{pill}")}},
                        timing={"code": {"coding": [{"code": "QD"}]}, "repeat": {"dayOfWeek": ["mon"]}})
    order["dosageInstruction"][0]["maxDosePerPeriod"] = {"numerator": qty(2, "{pill}"), "denominator": qty(1, "d")}
    order["dosageInstruction"][0]["asNeededCodeableConcept"] = {"text": "nausea"}
    return order


_PATHS = [
    ("medicationReference",), ("medicationReference", "reference"), ("contained",), ("contained", 0, "ingredient"),
    ("contained", 0, "ingredient", 0, "strength"), ("contained", 0, "ingredient", 0, "strength", "denominator"),
    ("contained", 0, "form"), ("dosageInstruction", 0, "doseAndRate"), ("dosageInstruction", 0, "doseAndRate", 0, "doseQuantity"),
    ("dosageInstruction", 0, "doseAndRate", 0, "doseRange"), ("dosageInstruction", 0, "maxDosePerPeriod"),
    ("dosageInstruction", 0, "maxDosePerPeriod", "denominator"), ("dosageInstruction", 0, "timing", "code"),
    ("dosageInstruction", 0, "timing", "repeat", "dayOfWeek"), ("dosageInstruction", 0, "route"),
]


@pytest.mark.parametrize("path", _PATHS, ids=[".".join(map(str, p)) for p in _PATHS])
def test_malformed_order_parts_never_raise(kb, path):
    for kind in _KINDS:
        order = _contained_order()
        node = order
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = kind
        for medications in (None, {"Medication/m1": {"resourceType": "Medication", "id": "m1", "ingredient": kind, "form": kind}}):
            o = one(order, kb, medications=medications)
            assert o.ref == "MedicationRequest/a"
