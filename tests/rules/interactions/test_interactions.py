"""DDI-01..35 (+36..40): one positive and one negative case each, context severity, merging, T35/T36/T39."""

from __future__ import annotations

import pytest

from cdshooks.knowledge.interactions import interaction_knowledge
from cdshooks.rules.interactions import drug_interactions
from cdshooks.rules.registry import RuleSettings

from ddi_factory import administration, make_ctx, order
from support.rendered import run_rendered


def run(ctx, kb, settings=None):
    return run_rendered(drug_interactions, ctx, kb, settings)


LOW_MTX = dict(value=20, unit="mg/m2", route="oral", weekly=True)
# (rule, agent, agent dose kwargs, interacting drug, expected indicator in the default context)
CASES = [
    ("DDI-01", "methotrexate", LOW_MTX, "ibuprofen", "warning"),
    ("DDI-02", "methotrexate", LOW_MTX, "omeprazole", "info"),
    ("DDI-03", "methotrexate", LOW_MTX, "amoxicillin", "warning"),
    ("DDI-04", "methotrexate", LOW_MTX, "trimethoprim", "warning"),
    ("DDI-05", "methotrexate", LOW_MTX, "probenecid", "warning"),
    ("DDI-06", "methotrexate", LOW_MTX, "nitrous-oxide", "critical"),
    ("DDI-07", "methotrexate", LOW_MTX, "folic-acid", "warning"),
    ("DDI-09", "mercaptopurine", dict(value=75, unit="mg/m2", per_day=1), "allopurinol", "critical"),
    ("DDI-10", "mercaptopurine", dict(value=75, unit="mg/m2", per_day=1), "warfarin", "warning"),
    ("DDI-11", "vincristine", dict(value=1.4, unit="mg/m2"), "voriconazole", "critical"),
    ("DDI-12", "vincristine", dict(value=1.4, unit="mg/m2"), "rifampin", "warning"),
    ("DDI-13", "vincristine", dict(value=1.4, unit="mg/m2"), "phenytoin", "warning"),
    ("DDI-14", "vincristine", dict(value=1.4, unit="mg/m2"), "pegaspargase", "info"),
    ("DDI-15", "doxorubicin", dict(value=25, unit="mg/m2"), "carbamazepine", "warning"),
    ("DDI-16", "daunorubicin", dict(value=25, unit="mg/m2"), "trastuzumab", "warning"),
    ("DDI-17", "dasatinib", dict(value=140, unit="mg", per_day=1), "posaconazole", "critical"),
    ("DDI-18", "dasatinib", dict(value=140, unit="mg", per_day=1), "rifampin", "warning"),
    ("DDI-19", "dasatinib", dict(value=140, unit="mg", per_day=1), "famotidine", "warning"),
    ("DDI-20", "dasatinib", dict(value=140, unit="mg", per_day=1), "calcium-carbonate", "warning"),
    ("DDI-21", "dasatinib", dict(value=140, unit="mg", per_day=1), "warfarin", "warning"),
    ("DDI-22", "imatinib", dict(value=600, unit="mg", per_day=1), "carbamazepine", "warning"),
    ("DDI-23", "imatinib", dict(value=600, unit="mg", per_day=1), "ketoconazole", "warning"),
    ("DDI-24", "imatinib", dict(value=600, unit="mg", per_day=1), "warfarin", "warning"),
    ("DDI-25", "ponatinib", dict(value=45, unit="mg", per_day=1), "itraconazole", "critical"),
    ("DDI-26", "ponatinib", dict(value=45, unit="mg", per_day=1), "phenobarbital", "warning"),
    # issue 13 item 11: info unless a recent QTc is prolonged or potassium is low (tests/rules/clinical/test_alert_fatigue.py)
    ("DDI-27", "inotuzumab-ozogamicin", dict(value=0.8, unit="mg/m2"), "levofloxacin", "info"),
    ("DDI-28", "cyclophosphamide", dict(value=1000, unit="mg/m2"), "lisinopril", "warning"),
    ("DDI-29", "cytarabine", dict(value=75, unit="mg/m2"), "digoxin", "info"),
    ("DDI-30", "pegaspargase", dict(value=2500, unit="[iU]/m2"), "dexamethasone", "info"),
    ("DDI-31", "pegaspargase", dict(value=2500, unit="[iU]/m2"), "levonorgestrel", "warning"),
    ("DDI-32", "nelarabine", dict(value=650, unit="mg/m2"), "pentostatin", "critical"),
    ("DDI-33", "rituximab", dict(value=375, unit="mg/m2"), "cisplatin", "warning"),
    ("DDI-34", "blinatumomab", dict(value=28, unit="ug"), "varicella-vaccine", "warning"),
    ("DDI-35", "clofarabine", dict(value=52, unit="mg/m2"), "gentamicin", "warning"),
    ("DDI-36", "methotrexate", LOW_MTX, "glipizide", "warning"),
]


@pytest.mark.parametrize("rid,agent,dose,other,expected", CASES, ids=[c[0] for c in CASES])
def test_pair_rule_fires_with_expected_severity(kb, rid, agent, dose, other, expected):
    ctx = make_ctx(targets=[order("MedicationRequest/a", agent, **dose)], active=[order("MedicationRequest/b", other, draft=False)])
    findings = run(ctx, kb)
    assert len(findings) == 1, findings
    f = findings[0]
    assert rid in f.inputs["rules"]
    assert f.indicator == expected
    assert f.topic == "interaction"
    assert agent.replace("-", " ") in f.summary.lower() and other in f.summary.lower() and len(f.summary) < 140  # generic name first, capitalised
    assert f.orders == ("MedicationRequest/a",)
    assert f.citation and "Mechanism" in f.detail


@pytest.mark.parametrize("rid,agent,dose,other,expected", CASES, ids=[c[0] for c in CASES])
def test_pair_rule_negative(kb, rid, agent, dose, other, expected):
    """The ALL agent with an unrelated drug, and the interacting drug with an unrelated agent: no card."""
    ctx = make_ctx(targets=[order("MedicationRequest/a", agent, **dose)], active=[order("MedicationRequest/b", "mesna", draft=False)])
    assert run(ctx, kb) == []
    ctx = make_ctx(targets=[order("MedicationRequest/a", "rasburicase", value=0.2, unit="mg/kg")],
                   active=[order("MedicationRequest/b", other, draft=False)])
    assert run(ctx, kb) == []


def test_every_ddi_rule_01_to_35_is_in_the_data(kb):
    ids = {r.id for r in interaction_knowledge(kb).rules}
    assert {f"DDI-{n:02d}" for n in range(1, 36)} <= ids


# Every drug-drug interaction named in seed Tables 3-4, with one concrete member drug each.
SEED_TABLES = [
    ("cyclophosphamide", ["atazanavir", "lisinopril", "natalizumab", "paclitaxel", "hydrochlorothiazide", "zidovudine", "doxorubicin", "cytarabine",
                          "pentostatin", "trastuzumab", "filgrastim", "sargramostim", "amphotericin-b", "indomethacin", "azathioprine", "busulfan",
                          "etanercept", "metronidazole", "tamoxifen", "warfarin", "cyclosporine", "succinylcholine"]),
    ("cytarabine", ["beta-acetyldigoxin", "gentamicin"]),
    ("doxorubicin", ["trastuzumab", "ketoconazole", "rifampin", "quinidine", "verapamil"]),
    ("mercaptopurine", ["allopurinol", "warfarin"]),
    ("methotrexate", ["tetracycline", "amoxicillin", "warfarin", "probenecid", "trimethoprim", "aspirin", "ibuprofen", "ketoconazole", "omeprazole",
                      "salsalate", "gentamicin", "nitrous-oxide", "folic-acid"]),
    ("pegaspargase", ["prednisone", "dexamethasone"]),
    ("vincristine", ["phenytoin", "itraconazole", "carbamazepine"]),
    ("dasatinib", ["aluminum-hydroxide", "famotidine", "pantoprazole", "rifampin", "clarithromycin"]),
    ("imatinib", ["warfarin", "phenytoin", "ketoconazole"]),
    ("inotuzumab-ozogamicin", ["ondansetron"]),
    ("ponatinib", ["rifampin", "voriconazole"]),
    ("rituximab", ["cisplatin"]),
]


@pytest.mark.parametrize("agent,others", SEED_TABLES, ids=[s[0] for s in SEED_TABLES])
def test_seed_tables_3_4_interactions_are_encoded(kb, agent, others):
    ik = interaction_knowledge(kb)
    missing = [o for o in others if not ik.matches(agent, o)]
    assert missing == []


def test_ddi08_intended_combination_suppressed_by_default_and_switchable(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/a", "mercaptopurine", value=75, unit="mg/m2", per_day=1)],
                   others=[order("MedicationRequest/b", "methotrexate", **LOW_MTX)])
    assert run(ctx, kb) == []
    on = run(ctx, kb, RuleSettings(enabled_soft_rules=frozenset({"interaction.DDI-08"})))
    assert [f.indicator for f in on] == ["info"] and on[0].inputs["rules"] == ["DDI-08"]
    assert set(on[0].orders) == {"MedicationRequest/a", "MedicationRequest/b"}


def test_ddi30_is_info_never_warning(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/a", "pegaspargase", value=2500, unit="[iU]/m2")],
                   others=[order("MedicationRequest/b", "prednisone", value=60, unit="mg/m2")])
    assert [f.indicator for f in run(ctx, kb)] == ["info"]


@pytest.mark.parametrize("mg_m2,expected", [(499, "warning"), (500, "critical")])
def test_ddi01_high_dose_boundary_500_mg_m2_inclusive(kb, mg_m2, expected):
    ctx = make_ctx(targets=[order("MedicationRequest/a", "ibuprofen", value=400, unit="mg")],
                   active=[order("MedicationRequest/m", "methotrexate", value=mg_m2, unit="mg/m2", route="intravenous", draft=False)])
    assert [f.indicator for f in run(ctx, kb)] == [expected]


def test_t39_hd_mtx_5g_m2_plus_ibuprofen_is_critical(kb):
    ctx = make_ctx(age_years=10, weight=30, height=135,
                   targets=[order("MedicationRequest/ibu", "ibuprofen", value=10, unit="mg/kg")],
                   others=[order("MedicationRequest/mtx", "methotrexate", value=5, unit="g/m2", route="intravenous")])
    (f,) = run(ctx, kb)
    assert f.indicator == "critical" and "NSAIDs with high-dose methotrexate" in f.summary
    assert set(f.orders) == {"MedicationRequest/ibu", "MedicationRequest/mtx"}


def test_hd_mtx_unknown_bsa_iv_is_treated_as_high_dose_and_says_so(kb):
    ctx = make_ctx(weight=None, height=None, targets=[order("MedicationRequest/a", "ibuprofen", value=400, unit="mg")],
                   active=[order("MedicationRequest/m", "methotrexate", value=2000, unit="mg", route="intravenous", draft=False)])
    (f,) = run(ctx, kb)
    assert f.indicator == "critical" and "could not tell whether methotrexate is high-dose" in f.detail


def test_ddi07_leucovorin_rescue_with_hd_mtx_no_card_but_folic_acid_still_warns(kb):
    mtx = order("MedicationRequest/m", "methotrexate", value=5000, unit="mg/m2", route="intravenous")
    assert run(make_ctx(targets=[mtx], others=[order("MedicationRequest/l", "leucovorin", value=15, unit="mg")]), kb) == []
    (f,) = run(make_ctx(targets=[mtx], active=[order("MedicationRequest/f", "folic-acid", value=1, unit="mg", draft=False)]), kb)
    assert f.indicator == "warning"


def test_t35_active_dasatinib_140_plus_voriconazole_is_critical(kb):
    ctx = make_ctx(age_years=45, targets=[order("MedicationRequest/vori", "voriconazole", value=200, unit="mg", per_day=2)],
                   active=[order("MedicationRequest/das", "dasatinib", value=140, unit="mg", per_day=1, draft=False)])
    (f,) = run(ctx, kb)
    assert f.indicator == "critical" and "reduce dasatinib" in f.summary and "40 mg" in f.summary
    assert f.orders == ("MedicationRequest/vori",) and f.drug == "dasatinib"


@pytest.mark.parametrize("age,dose,expected", [(45, 40, "warning"), (45, 41, "critical"), (12, 40, "critical"), (12, 20, "warning")])
def test_ddi17_dose_already_reduced(kb, age, dose, expected):
    ctx = make_ctx(age_years=age, targets=[order("MedicationRequest/das", "dasatinib", value=dose, unit="mg", per_day=1)],
                   active=[order("MedicationRequest/v", "voriconazole", draft=False)])
    assert [f.indicator for f in run(ctx, kb)] == [expected]


def test_t36_dasatinib_plus_omeprazole_warning(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/o", "omeprazole", value=20, unit="mg", per_day=1)],
                   active=[order("MedicationRequest/d", "dasatinib", value=140, unit="mg", per_day=1, draft=False)])
    (f,) = run(ctx, kb)
    assert f.indicator == "warning" and "not recommended" in f.summary and "antacid" in f.summary


def test_t37_mercaptopurine_full_dose_with_allopurinol_critical(kb):
    ctx = make_ctx(age_years=8, weight=26, height=128, labs=[],
                   targets=[order("MedicationRequest/mp", "mercaptopurine", value=75, unit="mg/m2", per_day=1)],
                   active=[order("MedicationRequest/allo", "allopurinol", value=100, unit="mg", draft=False)])
    (f,) = run(ctx, kb)
    assert f.indicator == "critical" and "1/3-1/4" in f.summary


@pytest.mark.parametrize("value,unit,expected", [(25, "mg/m2", "warning"), (25.5, "mg/m2", "critical"), (0.83, "mg/kg", "warning"), (0.9, "mg/kg", "critical")])
def test_ddi09_reduction_threshold_both_sides(kb, value, unit, expected):
    ctx = make_ctx(targets=[order("MedicationRequest/mp", "mercaptopurine", value=value, unit=unit, per_day=1)],
                   active=[order("MedicationRequest/allo", "allopurinol", draft=False)])
    assert [f.indicator for f in run(ctx, kb)] == [expected]


def test_ddi09_missing_weight_says_so_and_stays_critical(kb):
    ctx = make_ctx(weight=None, height=None, targets=[order("MedicationRequest/mp", "mercaptopurine", value=10, unit="mg", per_day=1)],
                   active=[order("MedicationRequest/allo", "allopurinol", draft=False)])
    (f,) = run(ctx, kb)
    assert f.indicator == "critical" and "no current weight" in f.detail


def test_ponatinib_45_plus_clarithromycin_critical_regression(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/c", "clarithromycin", value=500, unit="mg", per_day=2)],
                   active=[order("MedicationRequest/p", "ponatinib", value=45, unit="mg", per_day=1, draft=False)])
    (f,) = run(ctx, kb)
    assert f.indicator == "critical" and f.drug == "ponatinib"


def test_ddi14_warning_when_asparaginase_given_the_day_before(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/v", "vincristine", value=1.5, unit="mg/m2")],
                   active=[order("MedicationRequest/p", "pegaspargase", draft=False)], administrations=[administration("pegaspargase", 1)])
    assert [f.indicator for f in run(ctx, kb)] == ["warning"]


def test_combination_product_gives_one_merged_finding(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/m", "methotrexate", value=5000, unit="mg/m2", route="intravenous")],
                   active=[order("MedicationRequest/s", "sulfamethoxazole", "trimethoprim", draft=False)])
    (f,) = run(ctx, kb)
    assert f.indicator == "critical" and "DDI-04" in f.inputs["rules"] and "DDI-36" in f.inputs["rules"]


def test_two_rules_for_same_pair_merge_to_higher_severity(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/v", "vincristine", value=1.4, unit="mg/m2")],
                   active=[order("MedicationRequest/p", "fosphenytoin", draft=False)])
    (f,) = run(ctx, kb)
    assert set(f.inputs["rules"]) == {"DDI-12", "DDI-13"} and f.indicator == "warning"


def test_identified_by_name_counts_and_is_said(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/v", "vincristine", value=1.4, unit="mg/m2")],
                   active=[order("MedicationRequest/i", "itraconazole", draft=False, identified_by="name", display="Sporanox caps")])
    (f,) = run(ctx, kb)
    assert f.indicator == "critical" and "identified by name" in f.detail


def test_unidentified_medication_never_pairs(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/v", "vincristine", value=1.4, unit="mg/m2")],
                   active=[order("MedicationRequest/x", draft=False, identified_by=None, display="itraconazole?")])
    assert run(ctx, kb) == []


def test_false_alarm_unpaired_drugs(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/v", "vincristine", value=1.4, unit="mg/m2"), order("MedicationRequest/o", "ondansetron", value=8, unit="mg")],
                   active=[order("MedicationRequest/a", "acyclovir", draft=False), order("MedicationRequest/f", "fluconazole", draft=False)])
    assert run(ctx, kb) == []


def test_disabled_rule_produces_nothing(kb):
    ctx = make_ctx(targets=[order("MedicationRequest/a", "nelarabine", value=650, unit="mg/m2")], active=[order("MedicationRequest/b", "pentostatin", draft=False)])
    assert run(ctx, kb, RuleSettings(disabled_rules=frozenset({"interaction.DDI-32"}))) == []


def test_unverified_rules_never_critical(kb):
    for r in interaction_knowledge(kb).rules:
        if r.status == "unverified":
            assert r.severity != "critical" and all(w.severity != "critical" for w in r.when)
