"""build_context: order date, age, weight/height/BSA windows and units, labs, facts, phase."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cdshooks.context.builder import age_at, build_context
from ctx_fhirdata import ICD, SNOMED, bundle, med_request, obs, patient, qty, rx

NOW = datetime(2024, 3, 10, 12, 0)
ORDER = med_request("vcr", med=rx("11202", "vincristine"), dose={"doseQuantity": qty(1.5, "mg")})


def build(prefetch, drafts=(ORDER,), selections=None, kb=None, now=NOW, **kw):
    return build_context(prefetch, patient_id="p1", draft_orders=bundle(*drafts) if drafts else None,
                         selections=selections, kb=kb, now=now, **kw)


def body(*observations):
    return {"patient": patient(), "bodyMeasurements": bundle(*observations)}


def weight(value, when="2024-03-01", code="kg", **kw):
    return obs("w-" + when + str(value), "29463-7", qty(value, code, **kw) if value is not None else None, when)


def height(value, when="2024-03-01", code="cm", **kw):
    return obs("h-" + when + str(value), "8302-2", qty(value, code, **kw), when)


# -- age ---------------------------------------------------------------------------------

@pytest.mark.parametrize("birth,at,years,months,days", [
    (date(2023, 3, 10), date(2024, 3, 10), 1, 12, 366),   # exactly 1 y (leap year in between)
    (date(2023, 3, 11), date(2024, 3, 10), 0, 11, 365),   # one day short of 1 y
    (date(2023, 3, 12), date(2024, 3, 10), 0, 11, 364),   # 364 days
    (date(2014, 3, 10), date(2024, 3, 10), 10, 120, 3653),  # exactly 10 y
    (date(2014, 3, 11), date(2024, 3, 10), 9, 119, 3652),
    (date(2003, 3, 10), date(2024, 3, 10), 21, 252, 7671),  # exactly 21 y
    (date(2003, 3, 11), date(2024, 3, 10), 20, 251, 7670),
])
def test_age_boundaries(birth, at, years, months, days):
    age = age_at(birth, at)
    assert (age.years, age.months, age.days) == (years, months, days)


def test_leap_day_birthday_counts_on_march_first_in_common_years():
    born = date(2020, 2, 29)
    assert age_at(born, date(2021, 2, 28)).years == 0
    assert age_at(born, date(2021, 3, 1)).years == 1
    assert age_at(born, date(2024, 2, 29)).years == 4
    assert age_at(born, date(2024, 2, 28)).years == 3


def test_age_at_order_date_from_authored_on(kb):
    order = med_request("a", med=rx("11202"), authored="2024-03-01")
    ctx = build({"patient": patient("2014-03-02")}, drafts=(order,), kb=kb)
    assert ctx.order_date == date(2024, 3, 1)
    assert ctx.age.years == 9  # turns 10 the day after the order
    ctx = build({"patient": patient("2014-03-01")}, drafts=(order,), kb=kb)
    assert ctx.age.years == 10


def test_order_date_is_earliest_target_else_today(kb):
    a = med_request("a", med=rx("11202"), authored="2024-03-05")
    b = med_request("b", med=rx("6851"), authored="2024-03-07")
    assert build({}, drafts=(a, b), kb=kb).order_date == date(2024, 3, 5)
    assert build({}, drafts=(a, b), selections=["MedicationRequest/b"], kb=kb).order_date == date(2024, 3, 7)
    c = med_request("c", med=rx("11202"), authored=None)
    assert build({}, drafts=(c,), kb=kb).order_date == NOW.date()


@pytest.mark.parametrize("birth,expected_birth", [("2014", date(2014, 12, 31)), ("2014-02", date(2014, 2, 28))])
def test_partial_birth_date_is_uncertain_and_youngest(kb, birth, expected_birth):
    ctx = build({"patient": patient(birth)}, kb=kb)
    assert ctx.birth_date == expected_birth
    assert ctx.age.uncertain is True
    assert ctx.gaps_for("age") and "partial" in ctx.gaps_for("age")[0].reason


def test_missing_birth_date_gives_no_age_and_a_gap(kb):
    ctx = build({"patient": patient(None)}, kb=kb)
    assert ctx.age is None and ctx.gaps_for("age")


def test_age_at_diagnosis_from_onset_else_recorded(kb):
    cond = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": SNOMED, "code": "277572006"}]}, "onsetDateTime": "2019-06-14",
            "recordedDate": "2019-07-01"}
    ctx = build({"patient": patient("2015-06-15"), "conditions": bundle(cond)}, kb=kb)
    assert ctx.diagnosis_date == date(2019, 6, 14) and ctx.age_at_diagnosis.years == 3
    del cond["onsetDateTime"]
    ctx = build({"patient": patient("2015-06-15"), "conditions": bundle(cond)}, kb=kb)
    assert ctx.diagnosis_date == date(2019, 7, 1) and ctx.age_at_diagnosis.years == 4


# -- weight / height / BSA ---------------------------------------------------------------

def test_weight_window_30_days_in_31_out(kb):
    ctx = build(body(weight(20, "2024-02-09")), kb=kb)  # 30 days before 2024-03-10
    assert ctx.weight.value == 20 and ctx.weight.date == date(2024, 2, 9)
    ctx = build(body(weight(20, "2024-02-08")), kb=kb)  # 31 days
    assert ctx.weight is None
    gap = ctx.gaps_for("weight")[0]
    assert gap.since == date(2024, 2, 8) and "30 days" in gap.reason


def test_latest_weight_wins_and_future_or_preliminary_ignored(kb):
    prelim = obs("wp", "29463-7", qty(99, "kg"), "2024-03-09", status="preliminary")
    ctx = build(body(weight(20, "2024-03-01"), weight(21, "2024-03-05"), prelim), kb=kb)
    assert ctx.weight.value == 21


def test_lb_and_in_give_bsa(kb):
    ctx = build(body(weight(66, code="[lb_av]"), height(48, code="[in_i]")), kb=kb)
    assert ctx.weight.value == pytest.approx(29.937, abs=1e-3) and ctx.weight.original == "66 [lb_av]"
    assert ctx.height.value == pytest.approx(121.92)
    assert ctx.bsa.value == pytest.approx(1.01, abs=0.01)
    assert ctx.bsa.formula == "Mosteller" and ctx.bsa.weight.date == date(2024, 3, 1)


def test_bsa_mosteller_unrounded(kb):
    ctx = build(body(weight(25), height(120)), kb=kb)
    assert ctx.bsa.value == pytest.approx((120 * 25 / 3600) ** 0.5, rel=1e-12)


@pytest.mark.parametrize("q,why", [
    (qty(20, None), "no UCUM unit"),
    (qty(20, "kilo"), "not a supported UCUM"),
    (qty(20, "kg", system="http://example.org/units"), "not UCUM"),
    (qty(20, None, system=None, unit="kilograms"), "no UCUM unit"),
])
def test_weight_without_usable_unit_is_a_gap(kb, q, why):
    ctx = build(body(obs("w1", "29463-7", q, "2024-03-01"), height(120)), kb=kb)
    assert ctx.weight is None and ctx.bsa is None
    assert any(why in g.reason for g in ctx.gaps_for("weight"))
    assert ctx.gaps_for("bsa")


def test_unit_text_accepted_only_without_system_and_exact_ucum(kb):
    ctx = build(body(obs("w1", "29463-7", qty(20, None, system=None, unit="kg"), "2024-03-01")), kb=kb)
    assert ctx.weight.value == 20


@pytest.mark.parametrize("value,code,usable", [
    (0.3, "kg", True), (0.29, "kg", False), (400, "kg", True), (401, "kg", False), (250, "g", False),
])
def test_implausible_weight(kb, value, code, usable):
    ctx = build(body(weight(value, code=code)), kb=kb)
    assert (ctx.weight is not None) is usable
    if not usable:
        assert "implausible" in ctx.gaps_for("weight")[0].reason


@pytest.mark.parametrize("value,usable", [(20, True), (19.9, False), (250, True), (251, False)])
def test_implausible_height(kb, value, usable):
    ctx = build(body(height(value)), kb=kb)
    assert (ctx.height is not None) is usable


def test_newer_unusable_weight_falls_back_to_older_valid_one_with_gap(kb):
    bad = obs("wbad", "29463-7", qty(44, "mcg"), "2024-03-09")
    ctx = build(body(bad, weight(20, "2024-03-01")), kb=kb)
    assert ctx.weight.value == 20
    assert ctx.gaps_for("weight")[0].source == "Observation/wbad"


def test_no_weight_at_all(kb):
    ctx = build({"patient": patient()}, kb=kb, missing_prefetch=frozenset({"bodyMeasurements"}))
    assert ctx.weight is None and ctx.gaps_for("weight") and ctx.gaps_for("prefetch:bodyMeasurements")
    assert ctx.missing_prefetch == frozenset({"bodyMeasurements"})


# -- labs --------------------------------------------------------------------------------

def test_lab_converted_with_uln_and_newest_first(kb):
    rr = [{"high": qty(20.5, "umol/L")}]
    old = obs("b1", "14631-6", qty(17.1, "umol/L"), "2024-03-05", referenceRange=rr)
    new = obs("b2", "1975-2", qty(3.6, "mg/dL"), "2024-03-09", referenceRange=[{"high": qty(1.2, "mg/dL")}])
    ctx = build({"observations": bundle(old, new)}, kb=kb)
    series = ctx.labs["bilirubin_total"]
    assert [r.source for r in series] == ["Observation/b2", "Observation/b1"]
    assert series[1].value == pytest.approx(1.0, rel=2e-3) and series[1].unit == "mg/dL"
    assert series[1].reference_high == pytest.approx(20.5 / 17.1, rel=2e-3)
    assert ctx.lab("bilirubin_total").times_uln == pytest.approx(3.0)


def test_lab_window_7_days_in_8_out_is_a_gap_but_history_is_kept(kb):
    ctx = build({"observations": bundle(obs("c", "2160-0", qty(0.5, "mg/dL"), "2024-03-03"))}, kb=kb)
    assert ctx.lab("creatinine").value == 0.5
    ctx = build({"observations": bundle(obs("c", "2160-0", qty(0.5, "mg/dL"), "2024-03-02"))}, kb=kb)
    # history is kept (rules apply their own windows); the stale newest value is recorded as a gap
    assert ctx.lab("creatinine").date == date(2024, 3, 2) and ctx.gaps_for("lab:creatinine")[0].since == date(2024, 3, 2)


def test_counts_canonical_per_microliter_and_unknown_unit_gap(kb):
    ctx = build({"observations": bundle(obs("w", "6690-2", qty(52, "10*9/L"), "2024-03-09"),
                                        obs("a", "751-8", qty(0.4, "cells"), "2024-03-09"))}, kb=kb)
    assert ctx.lab("wbc").value == pytest.approx(52000) and ctx.lab("wbc").unit == "/uL"
    assert ctx.lab("anc") is None and ctx.gaps_for("lab:anc")


def test_pgx_phenotype_and_genotype(kb):
    gene = lambda hgnc: [{"code": {"coding": [{"system": "http://loinc.org", "code": "48018-6"}]},
                          "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org", "code": hgnc}]}}]
    tpmt = obs("t", "84413-4", None, "2020-01-01", component=gene("HGNC:12014"),
               valueCodeableConcept={"coding": [{"system": "http://loinc.org", "code": "LA10317-8"}]})
    nudt = obs("n", "84413-4", None, "2020-01-01", component=gene("HGNC:23063"), valueCodeableConcept={"text": "*1/*3"})
    ctx = build({"observations": bundle(tpmt, nudt)}, kb=kb)
    assert ctx.lab("tpmt_phenotype").code_value == "intermediate"
    assert ctx.lab("nudt15_genotype").code_value == "*1/*3" and ctx.lab("nudt15_phenotype") is None


def test_pregnancy_observation_becomes_fact(kb):
    preg = obs("pr", "82810-3", None, "2024-03-08", valueCodeableConcept={"coding": [{"system": "http://loinc.org", "code": "LA15173-0"}]})
    ctx = build({"observations": bundle(preg)}, kb=kb)
    assert ctx.has_fact("pregnant") and ctx.lab("pregnancy_status").code_value == "positive"
    preg["valueCodeableConcept"]["coding"][0]["code"] = "LA26683-5"
    ctx = build({"observations": bundle(preg)}, kb=kb)
    assert not ctx.has_fact("pregnant") and ctx.lab("pregnancy_status").code_value == "negative"


@pytest.mark.parametrize("text,timepoint", [
    ("MRD by flow cytometry, day 29", "day29"), ("Minimal residual disease (end of induction)", "end_of_induction"),
    ("B-ALL MRD", None), ("measurable residual disease day 8", "day8"),
])
def test_mrd_identified_by_text(kb, text, timepoint):
    ctx = build({"observations": bundle(obs("m", None, qty(0.01, "%"), "2024-01-05", text=text))}, kb=kb)
    mrd = ctx.lab("mrd")
    assert mrd.value == 0.01 and mrd.identified_by == "text" and mrd.timepoint == timepoint
    assert (ctx.lab(f"mrd_{timepoint}") is not None) is (timepoint is not None)


def test_text_not_mentioning_mrd_is_ignored(kb):
    ctx = build({"observations": bundle(obs("m", None, qty(0.01, "%"), "2024-01-05", text="hemoglobin A1c"))}, kb=kb)
    assert ctx.lab("mrd") is None


# -- facts and phase --------------------------------------------------------------------

def _cond(cid, system, code, clinical="active", verification="confirmed"):
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]},
            "code": {"coding": [{"system": system, "code": code}]}}


def test_conditions_to_facts_with_status_filters(kb):
    conds = bundle(_cond("a", SNOMED, "723889003"), _cond("b", ICD, "Q909"), _cond("c", ICD, "K85.90", clinical="resolved"),
                   _cond("d", SNOMED, "77386006", verification="refuted"), _cond("e", SNOMED, "999999"))
    ctx = build({"conditions": conds}, kb=kb)
    assert {"all", "b-precursor", "ph-positive", "down-syndrome"} == set(ctx.facts)
    assert ctx.facts["down-syndrome"][0].code == f"{ICD}|Q909"


def test_condition_category_as_object_quirk(kb):
    c = _cond("a", SNOMED, "41040004")
    c["category"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}
    assert build({"conditions": bundle(c, with_type=False)}, kb=kb).has_fact("down-syndrome")


@pytest.mark.parametrize("title,phase", [
    ("Induction (AALL1731)", "induction"), ("Interim Maintenance I", "interim-maintenance"),
    ("Delayed intensification", "delayed-intensification"), ("Re-induction block", "reinduction"),
    ("Maintenance cycle 3", "maintenance"), ("Consolidation", "consolidation"), ("Follow-up", None),
])
def test_phase_from_careplan(kb, title, phase):
    cp = {"resourceType": "CarePlan", "id": "cp", "status": "active", "intent": "plan",
          "subject": {"reference": "Patient/p1"}, "title": title}
    ctx = build({"carePlans": bundle(cp)}, kb=kb)
    assert ctx.phase == phase and (ctx.phase_source == "CarePlan/cp") is (phase is not None)
