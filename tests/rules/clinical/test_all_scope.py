"""Issue 13 item 2: protocol rules need an ALL diagnosis; label-level safety applies to everyone.

Source: dosing.json/regimen.json/monitoring.json/populations.json rows carry `scope` ("ALL" = seed
protocol dose band, TLS reminder, regimen or phase check; "any" = label text: vincristine IV only,
daily methotrexate, per-dose caps, contraindications, interactions). Burkitt LYMPHOMA codes
(SNOMED 118617000, ICD-10-CM C83.70) are not mature B-ALL (ICD-10-CM C91.A0, terminology.json).
"""

from __future__ import annotations

WEEKLY = {"frequency": 1, "period": 1, "periodUnit": "wk"}
DAILY = {"frequency": 1, "period": 1, "periodUnit": "d"}


def adult(fx, *extra):
    return [fx.patient(45, "male"), *fx.body(80.0, 175.0), *extra]


def test_weekly_oral_methotrexate_without_all_gets_no_protocol_dose_card(run, fx):
    drafts = [fx.order("methotrexate-oral", 15, "mg", "po", WEEKLY)]
    _, no_all = run(adult(fx), drafts, ["dose"])
    assert no_all == []
    _, with_all = run(adult(fx, fx.all_dx()), drafts, ["dose"])  # 15 mg vs 20 mg/m2 x 1.97 m2 = 39 mg: far below
    assert {(f.rule_id, f.indicator) for f in with_all} == {("dose.methotrexate.oral-weekly", "warning")}


def test_label_level_checks_still_apply_without_all(run, fx):
    _, daily = run(adult(fx), [fx.order("methotrexate-oral", 15, "mg", "po", DAILY)], ["schedule"])
    assert fx.ids(daily) == {("schedule.methotrexate.oral-weekly", "critical")}
    _, cap = run(adult(fx), [fx.order("vincristine", 3.0, "mg")], ["dose", "dose-limit"])
    assert fx.ids(cap) == {("dose-limit.vincristine.per-dose-cap", "critical")}
    _, it = run(adult(fx), [fx.order("vincristine", 1.5, "mg", "it")], ["route"])
    assert any(f.topic == "route" and f.indicator == "critical" and f.drug == "vincristine" for f in it)
    _, below = run(adult(fx), [fx.order("vincristine", 1.0, "mg")], ["dose", "dose-limit"])
    assert below == []  # the 1.4 mg/m2 band is protocol dosing: not for a patient without ALL


def test_tls_reminder_on_patient_view_needs_all(run, fx):
    active = fx.order("vincristine", 1.5, "mg", status="active", authored=fx.ORDER - fx.days(1))
    _, no_all = run([fx.patient(8), *fx.body(), active], families=["monitoring"])
    assert not any(f.rule_id == "monitoring.tls.baseline-labs" for f in no_all)
    _, with_all = run([fx.patient(8), *fx.body(), fx.all_dx(), active], families=["monitoring"])
    assert ("monitoring.tls.baseline-labs", "warning") in fx.ids(with_all)


def test_regimen_protocol_checks_need_all_but_label_indications_do_not(run, fx):
    ph = fx.condition(fx.SCT, "425688002", "Philadelphia chromosome-positive acute lymphoblastic leukemia")
    _, with_all = run([fx.patient(8), *fx.body(), ph], [fx.order("vincristine", 1.5, "mg")], ["regimen"])
    assert ("regimen.ph-positive.no-tki", "warning") in fx.ids(with_all)
    rituximab = [fx.order("rituximab", 375, "mg/m2")]
    _, no_all = run([fx.patient(8), *fx.body()], rituximab, ["regimen"])
    assert no_all == []  # RA-06 'CD20 not recorded' is scope ALL (rituximab has many non-ALL indications)
    _, with_all = run([fx.patient(8), *fx.body(), fx.all_dx(), fx.careplan("Consolidation")], rituximab, ["regimen"])
    assert fx.ids(with_all) == {("regimen.rituximab.cd20", "info")}
    _, clofarabine = run(adult(fx), [fx.order("clofarabine", 52, "mg/m2")], ["regimen"])
    assert fx.ids(clofarabine) == {("regimen.clofarabine.label", "warning")}  # label indication: scope any


def test_burkitt_lymphoma_is_not_mature_b_all(run, fx):
    lymphoma = fx.condition(fx.SCT, "118617000", "Burkitt's lymphoma (disorder)")
    ctx, findings = run([fx.patient(8), *fx.body(), lymphoma, fx.wbc(20000, fx.ORDER - fx.days(14))], families=["risk-group"])
    assert ctx.has_fact("burkitt") and not ctx.has_fact("mature-b")
    assert findings == []  # no ALL diagnosis: no risk card
    icd_lymphoma = fx.condition(fx.ICD, "C83.70", "Burkitt lymphoma, unspecified site")
    ctx, _ = run([fx.patient(8), icd_lymphoma], families=["risk-group"])
    assert not ctx.has_fact("mature-b")
    leukemia = fx.condition(fx.ICD, "C91.A0", "Mature B-cell leukemia Burkitt-type not having achieved remission")
    ctx, findings = run([fx.patient(8), *fx.body(), leukemia, fx.wbc(20000, fx.ORDER - fx.days(14))], families=["risk-group"])
    assert ctx.has_fact("mature-b")
    assert [f.rule_id for f in findings] == ["risk.group"] and "mature B" in findings[0].summary


def test_label_dose_of_an_all_only_drug_applies_without_an_all_diagnosis(run, fx):
    # mercaptopurine's US label indication is ALL only: its 1.5-2.5 mg/kg/day is the label dose (scope any)
    _, findings = run([fx.patient(8), *fx.body()], [fx.order("mercaptopurine", 150, "mg", "po", DAILY)], ["dose"])
    assert [(f.rule_id, f.indicator) for f in findings if f.rule_id.startswith("dose.")] == [("dose.mercaptopurine.weight", "critical")]
