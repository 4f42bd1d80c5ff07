"""SP rows (both sides of every stated boundary), missing-data, T38, §7 regressions, false alarms."""

from __future__ import annotations

import pytest

from cdshooks.cards.overrides import reasons_for
from cdshooks.knowledge.populations import population_knowledge
from cdshooks.rules.pharmacogenomics import thiopurine_tpmt_nudt15
from cdshooks.rules.populations import special_populations
from cdshooks.rules.registry import RuleSettings

from ddi_factory import administration, lab, make_ctx, order
from support.rendered import run_rendered


def pop(ctx, kb, settings=None):
    return run_rendered(special_populations, ctx, kb, settings)


def pgx(ctx, kb, settings=None):
    return run_rendered(thiopurine_tpmt_nudt15, ctx, kb, settings)


def by_topic(findings, topic):
    return [f for f in findings if f.topic == topic]


def test_all_30_sp_rows_exist(kb):
    ids = {r.id.split(".")[0] for r in population_knowledge(kb).rows}
    assert ids == {f"SP-{n:02d}" for n in range(1, 31)}


PEG = dict(value=2500, unit="[iU]/m2", route="intravenous")


@pytest.mark.parametrize("times,expected", [(3.0, []), (3.01, ["warning"]), (10.0, ["warning"]), (10.01, ["critical"])])
def test_pegaspargase_bilirubin_uln_boundaries_label_wins(kb, times, expected):
    ctx = make_ctx(age_years=10, weight=30, height=135, targets=[order("MedicationRequest/p", "pegaspargase", **PEG)],
                   labs=[lab("bilirubin_total", round(1.0 * times, 4), "mg/dL", uln=1.0)])
    found = by_topic(pop(ctx, kb), "population")
    assert [f.indicator for f in found] == expected
    if expected:
        assert "label" in found[0].citation and ">=3x" in found[0].citation


def test_t25_t26_messages(kb):
    ctx = make_ctx(age_years=10, weight=30, height=135, targets=[order("MedicationRequest/p", "pegaspargase", **PEG)],
                   labs=[lab("bilirubin_total", 4.0, "mg/dL", uln=1.0)])
    assert "hold until bilirubin <=1.5x ULN" in pop(ctx, kb)[0].summary
    ctx = make_ctx(age_years=10, weight=30, height=135, targets=[order("MedicationRequest/p", "pegaspargase", **PEG)],
                   labs=[lab("bilirubin_total", 11.0, "mg/dL", uln=1.0)])
    assert "discontinue (>10x ULN)" in pop(ctx, kb)[0].summary


DAUNO = dict(value=45, unit="mg/m2", route="intravenous")
GOOD_LABS = [lab("bilirubin_total", 0.5, "mg/dL", uln=1.2), lab("creatinine", 0.8, "mg/dL", uln=1.1), lab("lvef", 62, "%"),
             lab("bilirubin_direct", 0.1, "mg/dL"), lab("egfr", 95, "mL/min/{1.73_m2}")]


def _labs(**over):
    keep = [l for l in GOOD_LABS if l.key not in over]
    return keep + [lab(k, v, u) for k, (v, u) in over.items()]


@pytest.mark.parametrize("creat,expected", [(3.0, []), (3.01, ["warning"])])
def test_daunorubicin_creatinine_3_boundary(kb, creat, expected):
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/d", "daunorubicin", **DAUNO)], labs=_labs(creatinine=(creat, "mg/dL")))
    assert [f.indicator for f in by_topic(pop(ctx, kb), "population")] == expected


def test_regression_adult_creatinine_35_full_dose_daunorubicin_warning_with_update(kb):
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/d", "daunorubicin", **DAUNO)], labs=_labs(creatinine=(3.5, "mg/dL")))
    (f,) = by_topic(pop(ctx, kb), "population")
    assert f.indicator == "warning" and f.rule_id == "population.SP-08.50pct"
    (s,) = f.suggestions
    action = s.actions[0]
    assert action.type == "update" and action.resource_id == "MedicationRequest/d"
    assert action.resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 22.5
    reasons = reasons_for(f.topic, f.override)  # the dose-reduction codes of cards/overrides.py
    assert [c.code for c in reasons] == ["already-reduced", "lab-not-current", "protocol-specified", "other"]
    assert all(c.system == "urn:all-cds:override-reason" and c.display for c in reasons)


def test_daunorubicin_already_reduced_is_info_without_suggestion(kb):
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/d", "daunorubicin", value=22.5, unit="mg/m2")], labs=_labs(creatinine=(3.5, "mg/dL")))
    (f,) = by_topic(pop(ctx, kb), "population")
    assert f.indicator == "info" and f.suggestions == ()


@pytest.mark.parametrize("bili,band", [(1.19, None), (1.2, "75pct"), (3.0, "75pct"), (3.01, "50pct")])
def test_daunorubicin_bilirubin_bands(kb, bili, band):
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/d", "daunorubicin", **DAUNO)], labs=_labs(bilirubin_total=(bili, "mg/dL")))
    found = by_topic(pop(ctx, kb), "population")
    assert [f.rule_id for f in found] == ([f"population.SP-07.{band}"] if band else [])


@pytest.mark.parametrize("bili,expected", [(1.19, None), (1.2, "population.SP-09.50pct"), (3.0, "population.SP-09.50pct"),
                                           (3.01, "population.SP-09.25pct"), (5.0, "population.SP-09.25pct"), (5.01, "population.SP-09.contraindicated")])
def test_doxorubicin_bilirubin_tiers(kb, bili, expected):
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/x", "doxorubicin", value=25, unit="mg/m2")], labs=_labs(bilirubin_total=(bili, "mg/dL")))
    found = by_topic(pop(ctx, kb), "population")
    assert [f.rule_id for f in found] == ([expected] if expected else [])
    if expected and expected.endswith("contraindicated"):
        assert found[0].indicator == "critical"


@pytest.mark.parametrize("direct,expected", [(3.0, []), (3.01, ["warning"])])
def test_vincristine_direct_bilirubin_3(kb, direct, expected):
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/v", "vincristine", value=1.4, unit="mg/m2")], labs=_labs(bilirubin_direct=(direct, "mg/dL")))
    assert [f.indicator for f in by_topic(pop(ctx, kb), "population")] == expected


def test_vincristine_no_direct_bilirubin_but_low_total_is_not_a_gap(kb):
    labs = [l for l in GOOD_LABS if l.key != "bilirubin_direct"]
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/v", "vincristine", value=1.4, unit="mg/m2")], labs=labs)
    assert pop(ctx, kb) == []


@pytest.mark.parametrize("egfr,expected", [(29.9, "no-data"), (30, "50pct"), (45, "50pct"), (60, "50pct"), (60.1, None)])
def test_clofarabine_renal_boundaries(kb, egfr, expected):
    ctx = make_ctx(age_years=15, weight=50, height=160, targets=[order("MedicationRequest/c", "clofarabine", value=52, unit="mg/m2")],
                   labs=_labs(egfr=(egfr, "mL/min/{1.73_m2}")))
    found = by_topic(pop(ctx, kb), "population")
    assert [f.rule_id for f in found] == ([f"population.SP-11.{expected}"] if expected else [])
    if expected:
        assert found[0].indicator == "warning"


@pytest.mark.parametrize("egfr,expected", [(49.9, ["warning"]), (50, [])])
def test_nelarabine_crcl_50(kb, egfr, expected):
    ctx = make_ctx(age_years=15, targets=[order("MedicationRequest/n", "nelarabine", value=650, unit="mg/m2")], labs=_labs(egfr=(egfr, "mL/min/{1.73_m2}")))
    assert [f.indicator for f in by_topic(pop(ctx, kb), "population")] == expected


@pytest.mark.parametrize("egfr,dose,expected", [(60, 600, None), (59, 600, "info"), (59, 800, "warning"), (39, 600, "warning"), (39, 300, "info"), (19, 300, "warning")])
def test_imatinib_renal_tiers(kb, egfr, dose, expected):
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/i", "imatinib", value=dose, unit="mg", per_day=1)], labs=_labs(egfr=(egfr, "mL/min/{1.73_m2}")))
    assert [f.indicator for f in by_topic(pop(ctx, kb), "population")] == ([expected] if expected else [])


def test_missing_and_stale_labs_become_one_missing_data_finding(kb):
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/d", "daunorubicin", **DAUNO)],
                   labs=[lab("creatinine", 0.8, "mg/dL", days_ago=8), lab("lvef", 60, "%")])
    found = pop(ctx, kb)
    (m,) = by_topic(found, "missing-data")
    assert m.rule_id == "missing-data.population-labs" and m.indicator == "warning"
    assert set(m.inputs["missing"]) == {"bilirubin_total", "creatinine"} and "older than 7 days" in m.detail
    assert by_topic(found, "population") == []


def test_lab_exactly_at_window_edge_is_used(kb):
    ctx = make_ctx(age_years=40, targets=[order("MedicationRequest/d", "daunorubicin", **DAUNO)], labs=_labs(creatinine=(3.5, "mg/dL")))
    ctx2 = make_ctx(age_years=40, targets=[order("MedicationRequest/d", "daunorubicin", **DAUNO)],
                    labs=[l for l in GOOD_LABS if l.key != "creatinine"] + [lab("creatinine", 3.5, "mg/dL", days_ago=7)])
    assert [f.rule_id for f in pop(ctx, kb)] == [f.rule_id for f in pop(ctx2, kb)] == ["population.SP-08.50pct"]


def test_pregnant_methotrexate_warning_with_all_critical_without(kb):
    # issue 13 item 5: the methotrexate label contraindicates pregnancy only for non-neoplastic disease;
    # for ALL it is an embryo-fetal toxicity warning. No ALL diagnosis recorded -> critical (confirm indication).
    orders = [order("MedicationRequest/m", "methotrexate", value=20, unit="mg/m2"), order("MedicationRequest/v", "vincristine", value=1.4, unit="mg/m2")]
    ctx = make_ctx(sex="female", facts=["pregnant", "all"], targets=orders, labs=GOOD_LABS)
    got = {f.drug: f.indicator for f in by_topic(pop(ctx, kb), "population")}
    assert got == {"methotrexate": "warning", "vincristine": "warning"}
    no_all = make_ctx(sex="female", facts=["pregnant"], targets=orders, labs=GOOD_LABS)
    got = {f.drug: f.indicator for f in by_topic(pop(no_all, kb), "population")}
    assert got == {"methotrexate": "critical", "vincristine": "warning"}


def test_pregnancy_status_observation_positive_counts(kb):
    ctx = make_ctx(sex="female", labs=GOOD_LABS + [lab("pregnancy_status", code="positive")],
                   targets=[order("MedicationRequest/c", "cyclophosphamide", value=1000, unit="mg/m2")])
    # issue 13 item 5: cyclophosphamide's label contraindications are hypersensitivity and outflow obstruction only
    assert [f.indicator for f in by_topic(pop(ctx, kb), "population")] == ["warning"]


def test_lactation_pegaspargase_three_months(kb):
    ctx = make_ctx(sex="male", facts=["lactating"], targets=[order("MedicationRequest/p", "pegaspargase", **PEG)], labs=GOOD_LABS)
    (f,) = by_topic(pop(ctx, kb), "population")
    assert f.rule_id == "population.SP-03" and "3 months" in f.detail


def test_female_reproductive_potential_pegaspargase(kb):
    ctx = make_ctx(sex="female", age_years=16, weight=55, height=160, targets=[order("MedicationRequest/p", "pegaspargase", **PEG)], labs=GOOD_LABS)
    (f,) = by_topic(pop(ctx, kb), "population")
    assert f.rule_id == "population.SP-04" and "non-hormonal" in f.summary and f.indicator == "warning"
    assert pop(ctx, kb, RuleSettings(disabled_rules=frozenset({"population.SP-04"}))) == []


def test_urinary_outflow_obstruction_cyclophosphamide_critical(kb):
    ctx = make_ctx(facts=["urinary-outflow-obstruction"], targets=[order("MedicationRequest/c", "cyclophosphamide", value=1000, unit="mg/m2")])
    assert [(f.rule_id, f.indicator) for f in pop(ctx, kb)] == [("population.SP-15", "critical")]


def test_urinary_retention_is_a_proxy_warning_silent_when_obstruction_is_recorded(kb):
    cyc = [order("MedicationRequest/c", "cyclophosphamide", value=1000, unit="mg/m2")]
    retention_only = make_ctx(facts=["urinary-retention"], targets=cyc)
    assert [(f.rule_id, f.indicator) for f in pop(retention_only, kb)] == [("population.SP-15.urinary-retention", "warning")]
    both = make_ctx(facts=["urinary-outflow-obstruction", "urinary-retention"], targets=cyc)
    assert [(f.rule_id, f.indicator) for f in pop(both, kb)] == [("population.SP-15", "critical")]


@pytest.mark.parametrize("fact,drug,rid", [("charcot-marie-tooth", "vincristine", "population.SP-29"),
                                           ("hepatic-failure", "pegaspargase", "population.SP-06.severe-hepatic-impairment")])
def test_contraindicating_history_is_critical(kb, fact, drug, rid):
    ctx = make_ctx(facts=[fact], targets=[order("MedicationRequest/x", drug, value=1.4, unit="mg/m2")], labs=GOOD_LABS)
    assert [(f.rule_id, f.indicator) for f in by_topic(pop(ctx, kb), "population")] == [(rid, "critical")]


def test_down_syndrome_info_and_hd_mtx_warning(kb):
    # SP-18 is an ALL-protocol row (scope "ALL", issue 13 item 2): an ALL diagnosis is recorded
    low = make_ctx(age_years=6, weight=20, height=115, facts=["down-syndrome", "all"], targets=[order("MedicationRequest/v", "vincristine", value=1.5, unit="mg/m2")], labs=GOOD_LABS)
    assert [f.indicator for f in by_topic(pop(low, kb), "population")] == ["info"]
    hd = make_ctx(age_years=6, weight=20, height=115, facts=["down-syndrome", "all"], targets=[order("MedicationRequest/m", "methotrexate", value=5, unit="g/m2")], labs=GOOD_LABS)
    assert [f.indicator for f in by_topic(pop(hd, kb), "population")] == ["warning"]


@pytest.mark.parametrize("years,expected", [(25, []), (26, ["warning"])])
def test_t31_tisagenlecleucel_age_25_vs_26(kb, years, expected):
    ctx = make_ctx(age_years=years, targets=[order("MedicationRequest/t", "tisagenlecleucel", value=1e8, unit="{cells}")])
    found = pop(ctx, kb)
    assert [f.indicator for f in found] == expected
    if expected:
        assert "up to 25 years" in found[0].summary


@pytest.mark.parametrize("days,expected", [(364, {"population.SP-17", "population.SP-24"}), (365, set())])
def test_infant_364_vs_365_days_dasatinib(kb, days, expected):
    # SP-17 (infant protocol dosing) is scope "ALL" (issue 13 item 2): ALL recorded here, and without it only SP-24 (label) remains
    ctx = make_ctx(age_years=None, age_days=days, weight=9.5, height=75, facts=["all"], targets=[order("MedicationRequest/d", "dasatinib", value=40, unit="mg", per_day=1)])
    assert {f.rule_id for f in pop(ctx, kb)} == expected
    no_all = make_ctx(age_years=None, age_days=days, weight=9.5, height=75, targets=[order("MedicationRequest/d", "dasatinib", value=40, unit="mg", per_day=1)])
    assert {f.rule_id for f in pop(no_all, kb)} == expected - {"population.SP-17"}


@pytest.mark.parametrize("years,expected", [(0, ["population.SP-22"]), (1, []), (21, []), (22, ["population.SP-22"])])
def test_clofarabine_label_age_1_to_21(kb, years, expected):
    ctx = make_ctx(age_years=years, age_days=400 if years == 1 else (200 if years == 0 else None), weight=50, height=160, labs=GOOD_LABS,
                   targets=[order("MedicationRequest/c", "clofarabine", value=52, unit="mg/m2")])
    assert [f.rule_id for f in pop(ctx, kb) if f.rule_id != "population.SP-17"] == expected


@pytest.mark.parametrize("years,expected", [(17, ["warning"]), (18, [])])
def test_brexucabtagene_adults_only(kb, years, expected):
    ctx = make_ctx(age_years=years, targets=[order("MedicationRequest/b", "brexucabtagene-autoleucel", value=1e8, unit="{cells}")])
    assert [f.indicator for f in pop(ctx, kb)] == expected


@pytest.mark.parametrize("months,expected", [(5, {"population.SP-25", "population.SP-17", "population.SP-26"}), (6, {"population.SP-17", "population.SP-26"})])
def test_rituximab_6_months(kb, months, expected):
    ctx = make_ctx(age_years=0, age_days=months * 31, age_months=months, weight=7, height=65, facts=["all"],
                   targets=[order("MedicationRequest/r", "rituximab", value=375, unit="mg/m2")])
    assert {f.rule_id for f in pop(ctx, kb)} == expected


def test_rituximab_hbv_screen(kb):
    ctx = make_ctx(age_years=10, weight=30, height=135, targets=[order("MedicationRequest/r", "rituximab", value=375, unit="mg/m2")],
                   labs=[lab("hbsag", code="negative", days_ago=20), lab("anti_hbc", code="negative", days_ago=20)])
    assert pop(ctx, kb) == []
    ctx = make_ctx(age_years=10, weight=30, height=135, targets=[order("MedicationRequest/r", "rituximab", value=375, unit="mg/m2")])
    (f,) = pop(ctx, kb)
    assert f.rule_id == "population.SP-26" and "HBsAg" in f.summary


@pytest.mark.parametrize("age,lvef,expected", [(10, None, ["population.SP-16"]), (10, 95, ["population.SP-16"]), (10, 30, []), (40, None, []), (65, None, ["population.SP-16"]), (64, None, [])])
def test_anthracycline_lvef_in_children_and_elderly_when_switched_on(kb, age, lvef, expected):
    """SP-16 is off by default (monitoring LVEF-1 carries the card and the age note); switched on it keeps its bands."""
    labs = [l for l in GOOD_LABS if l.key != "lvef"] + ([lab("lvef", 60, "%", days_ago=lvef)] if lvef is not None else [])
    ctx = make_ctx(age_years=age, weight=30 if age < 18 else 70, height=135 if age < 18 else 175, labs=labs,
                   targets=[order("MedicationRequest/d", "daunorubicin", value=25 if age < 18 else 45, unit="mg/m2")])
    assert pop(ctx, kb) == []
    on = RuleSettings(enabled_soft_rules=frozenset({"population.SP-16"}))
    assert [f.rule_id for f in pop(ctx, kb, on)] == expected


def test_nelarabine_after_intrathecal_chemo(kb):
    ctx = make_ctx(age_years=15, labs=GOOD_LABS, targets=[order("MedicationRequest/n", "nelarabine", value=650, unit="mg/m2")],
                   administrations=[administration("methotrexate", 20, route="intrathecal")])
    assert [f.rule_id for f in pop(ctx, kb)] == ["population.SP-30"]


def test_false_alarm_healthy_non_pregnant_adult(kb):
    ctx = make_ctx(age_years=35, sex="male", labs=GOOD_LABS, targets=[order("MedicationRequest/v", "vincristine", value=1.4, unit="mg/m2"),
                                                                      order("MedicationRequest/d", "daunorubicin", **DAUNO),
                                                                      order("MedicationRequest/p", "pegaspargase", value=2000, unit="[iU]/m2")])
    assert pop(ctx, kb) == []


# -- pharmacogenomics -------------------------------------------------------------------------
MP = dict(value=75, unit="mg/m2", per_day=1)


def test_t38_tpmt_poor_full_dose_critical(kb):
    ctx = make_ctx(age_years=8, weight=26, height=128, labs=[lab("tpmt_phenotype", code="poor", days_ago=300)],
                   targets=[order("MedicationRequest/mp", "mercaptopurine", **MP)])
    (f,) = pgx(ctx, kb)
    assert f.indicator == "critical" and "≤10% of standard dose" in f.summary and f.topic == "pharmacogenomics"


@pytest.mark.parametrize("value,expected", [(7.5, "warning"), (7.6, "critical")])
def test_poor_metabolizer_10pct_threshold(kb, value, expected):
    ctx = make_ctx(labs=[lab("nudt15_phenotype", code="poor")], targets=[order("MedicationRequest/mp", "mercaptopurine", value=value, unit="mg/m2", per_day=1)])
    assert [f.indicator for f in pgx(ctx, kb)] == [expected]


def test_worse_gene_decides_and_intermediate_is_warning(kb):
    ctx = make_ctx(labs=[lab("tpmt_phenotype", code="normal"), lab("nudt15_phenotype", code="intermediate")],
                   targets=[order("MedicationRequest/mp", "mercaptopurine", **MP)])
    (f,) = pgx(ctx, kb)
    assert f.indicator == "warning" and "30-80%" in f.summary and "NUDT15" in f.summary


def test_normal_metabolizer_no_card_and_unknown_is_info_soft(kb):
    normal = make_ctx(labs=[lab("tpmt_phenotype", code="normal"), lab("nudt15_phenotype", code="normal")], targets=[order("MedicationRequest/mp", "mercaptopurine", **MP)])
    assert pgx(normal, kb) == []
    unknown = make_ctx(targets=[order("MedicationRequest/mp", "mercaptopurine", **MP)])
    (f,) = pgx(unknown, kb)
    assert f.indicator == "info" and "TPMT/NUDT15 status not recorded" in f.summary
    assert pgx(unknown, kb, RuleSettings(disabled_rules=frozenset({"pharmacogenomics.SP-19.unknown"}))) == []


def test_poor_metabolizer_dose_in_mg_without_weight_is_critical_and_says_why(kb):
    ctx = make_ctx(weight=None, height=None, labs=[lab("tpmt_phenotype", code="poor")],
                   targets=[order("MedicationRequest/mp", "mercaptopurine", value=5, unit="mg", per_day=1)])
    (f,) = pgx(ctx, kb)
    assert f.indicator == "critical" and "no current weight" in f.detail


def test_pgx_ignores_other_drugs(kb):
    ctx = make_ctx(labs=[lab("tpmt_phenotype", code="poor")], targets=[order("MedicationRequest/v", "vincristine", value=1.4, unit="mg/m2")])
    assert pgx(ctx, kb) == []
