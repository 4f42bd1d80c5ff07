"""regimen.*: RA checks with a positive and a negative case each; phase unknown -> missing-data.phase."""

from __future__ import annotations

from cdshooks.rules.registry import iter_findings

import pytest

from cdshooks.rules import regimen
from support.cards import Rendered

R = Rendered(regimen)  # rules yield Verdicts; the tests read the rendered cards


def ids(fn, ctx, kb, settings):
    return {(x.rule_id, x.indicator) for x in iter_findings([fn], ctx, kb, settings)}


def test_t08_ph_positive_no_tki(f, kb, settings):
    ctx = f.make_ctx(age_years=45, facts=("all", "b-precursor", "ph-positive"), targets=[f.order("cyclophosphamide"), f.order("vincristine")])
    out = list(R.ph_positive_tki(ctx, kb, settings))
    assert [(x.rule_id, x.indicator) for x in out] == [("regimen.ph-positive.no-tki", "warning")]
    assert "Ph+ ALL: add a TKI" in out[0].summary
    with_tki = f.make_ctx(age_years=45, facts=("all", "b-precursor", "ph-positive"), targets=[f.order("vincristine")], active=[f.order("dasatinib", draft=False)])
    assert ids(R.ph_positive_tki, with_tki, kb, settings) == set()


def test_t09_pediatric_imatinib(f, kb, settings):
    ctx = f.make_ctx(age_years=8, facts=("all", "b-precursor", "ph-positive"), targets=[f.order("imatinib", route="oral")])
    out = list(R.ph_positive_tki(ctx, kb, settings))
    assert ("regimen.ph-positive.pediatric-imatinib", "info") in {(x.rule_id, x.indicator) for x in out}
    assert any("dasatinib preferred in pediatric Ph+ ALL" in x.summary for x in out)
    adult = f.make_ctx(age_years=18, facts=("all", "b-precursor", "ph-positive"), targets=[f.order("imatinib", route="oral")])
    assert ids(R.ph_positive_tki, adult, kb, settings) == set()


def test_t10_blinatumomab_t_all_critical(f, kb, settings):
    ctx = f.make_ctx(age_years=30, facts=("all", "t-all", "relapse"), targets=[f.order("blinatumomab")])
    out = list(R.targeted_lineage(ctx, kb, settings))
    assert [(x.rule_id, x.indicator) for x in out] == [("regimen.blinatumomab.lineage", "critical")]
    assert "CD19" in out[0].summary and "B-lineage" in out[0].summary
    ok = f.make_ctx(age_years=30, facts=("all", "b-precursor"), labs=[f.lab("cd19", None, None, code="positive")], targets=[f.order("blinatumomab")])
    assert ids(R.targeted_lineage, ok, kb, settings) == set()


def test_blinatumomab_cd19_unknown_warning(f, kb, settings):
    ctx = f.make_ctx(age_years=30, facts=("all", "b-precursor"), targets=[f.order("blinatumomab")])
    assert ids(R.targeted_lineage, ctx, kb, settings) == {("regimen.blinatumomab.lineage", "warning")}


@pytest.mark.parametrize("drug,rule_id,marker,level", [
    ("tisagenlecleucel", "regimen.car-t.lineage", "cd19", "critical"),
    ("inotuzumab-ozogamicin", "regimen.inotuzumab.lineage", "cd22", "warning"),
])
def test_antigen_negative(f, kb, settings, drug, rule_id, marker, level):
    neg = f.make_ctx(age_years=20, labs=[f.lab(marker, None, None, code="negative")], targets=[f.order(drug)])
    pos = f.make_ctx(age_years=20, labs=[f.lab(marker, None, None, code="positive")], targets=[f.order(drug)])
    assert ids(R.targeted_lineage, neg, kb, settings) == {(rule_id, level)}
    assert ids(R.targeted_lineage, pos, kb, settings) == set()


def test_t11_rituximab_cd20_negative(f, kb, settings):
    ctx = f.make_ctx(age_years=7, facts=("all", "mature-b"), labs=[f.lab("cd20", None, None, code="negative")], targets=[f.order("rituximab")])
    out = list(R.targeted_lineage(ctx, kb, settings))
    assert [(x.rule_id, x.indicator) for x in out] == [("regimen.rituximab.cd20", "warning")] and "CD20-negative" in out[0].summary
    pos = f.make_ctx(age_years=7, facts=("all", "mature-b"), labs=[f.lab("cd20", None, None, code="positive")], targets=[f.order("rituximab")])
    assert ids(R.targeted_lineage, pos, kb, settings) == set()


def test_nelarabine_outside_t_all(f, kb, settings):
    b = f.make_ctx(age_years=12, targets=[f.order("nelarabine")])
    assert ids(R.targeted_lineage, b, kb, settings) == {("regimen.nelarabine.lineage", "warning")}
    t = f.make_ctx(age_years=12, facts=("all", "t-all", "relapse"), targets=[f.order("nelarabine")])
    assert ids(R.targeted_lineage, t, kb, settings) == {("regimen.nelarabine.rr-t-all", "info")}


def test_t12_mature_b_maintenance(f, kb, settings):
    targets = [f.order("mercaptopurine", route="oral"), f.order("methotrexate", route="oral", period_unit="wk")]
    ctx = f.make_ctx(age_years=9, facts=("all", "mature-b"), targets=targets, phase="maintenance")
    out = list(R.phase_dependent(ctx, kb, settings))
    assert ("regimen.mature-b.maintenance", "warning") in {(x.rule_id, x.indicator) for x in out}
    assert any("maintenance not recommended in mature b-all" in x.summary.lower() for x in out)
    b = f.make_ctx(age_years=9, facts=("all", "b-precursor"), targets=targets, phase="maintenance")
    assert "regimen.mature-b.maintenance" not in {x.rule_id for x in R.phase_dependent(b, kb, settings)}


def _induction(f, age=6, wbc=10000, drugs=("daunorubicin",), phase="induction", facts=("all", "b-precursor"), it=True, plan="COG AALL0932 induction"):
    targets = [f.order(d) for d in drugs] + ([f.order("methotrexate", ref="MedicationRequest/it", route="intrathecal")] if it else [])
    return f.make_ctx(age_years=age, facts=facts, labs=[f.lab("wbc", wbc, "/uL")], targets=targets, phase=phase, phase_text=plan)


def test_t07_anthracycline_in_nci_sr_induction(f, kb, settings):
    # issue 13 item 12: warning only when the plan names a COG-style protocol; otherwise info (BFM gives one to all)
    out = list(R.phase_dependent(_induction(f), kb, settings))
    assert {(x.rule_id, x.indicator) for x in out} == {("regimen.nci-sr.anthracycline-induction", "warning")}
    assert ids(R.phase_dependent, _induction(f, plan="AIEOP-BFM ALL 2017 induction"), kb, settings) == {("regimen.nci-sr.anthracycline-induction", "info")}
    assert ids(R.phase_dependent, _induction(f, plan="ALL induction"), kb, settings) == {("regimen.nci-sr.anthracycline-induction", "info")}
    assert "anthracycline not part of COG SR induction" in out[0].summary
    assert ids(R.phase_dependent, _induction(f, wbc=50000), kb, settings) == set()  # NCI HR: anthracycline expected
    assert ids(R.phase_dependent, _induction(f, phase="consolidation"), kb, settings) == set()


def test_nci_hr_without_anthracycline(f, kb, settings):
    assert ids(R.phase_dependent, _induction(f, age=10, drugs=("vincristine",)), kb, settings) == {("regimen.nci-hr.no-anthracycline-induction", "info")}


def test_t_all_without_anthracycline(f, kb, settings):
    ctx = _induction(f, drugs=("vincristine",), facts=("all", "t-all"))
    assert ids(R.phase_dependent, ctx, kb, settings) == {("regimen.t-all.no-anthracycline-induction", "info")}
    with_dauno = _induction(f, drugs=("vincristine", "daunorubicin"), facts=("all", "t-all"))
    assert ids(R.phase_dependent, with_dauno, kb, settings) == set()


def test_no_intrathecal_in_pediatric_induction(f, kb, settings):
    assert ids(R.phase_dependent, _induction(f, drugs=("vincristine",), it=False), kb, settings) == {("regimen.induction.no-intrathecal", "warning")}
    assert ids(R.phase_dependent, _induction(f, age=18, drugs=("vincristine",), it=False), kb, settings) == set()


def test_phase_unknown_yields_missing_data_not_guess(f, kb, settings):
    out = list(R.phase_dependent(_induction(f, phase=None, it=False), kb, settings))
    assert [(x.rule_id, x.topic, x.indicator) for x in out] == [("missing-data.phase", "missing-data", "warning")]
    # the checks that did not run: by id in the citation and inputs, in clinical words in the text (no row ids)
    assert "RA-08" in out[0].citation and "RA-11" in out[0].citation
    assert {"regimen.nci-sr.anthracycline-induction", "regimen.induction.no-intrathecal"} <= set(out[0].inputs["checks"])
    assert "CNS prophylaxis missing" in out[0].detail and "RA-" not in out[0].detail


def test_cns3_intensification(f, kb, settings):
    labs = [f.lab("wbc", 10000, "/uL"), f.lab("csf_wbc", 6, "/uL"), f.lab("csf_blasts", None, None, code="positive")]
    ctx = f.make_ctx(age_years=6, labs=labs, targets=[f.order("vincristine"), f.order("methotrexate", ref="MedicationRequest/it", route="intrathecal")], phase="induction")
    assert ("regimen.cns3.intensification", "info") in ids(R.phase_dependent, ctx, kb, settings)
    labs[2] = f.lab("csf_blasts", None, None, code="negative")
    ctx = f.make_ctx(age_years=6, labs=labs, targets=[f.order("vincristine"), f.order("methotrexate", ref="MedicationRequest/it", route="intrathecal")], phase="induction")
    assert ids(R.phase_dependent, ctx, kb, settings) == set()


@pytest.mark.parametrize("age,expected", [(65, True), (64, False)])
def test_elderly_intensive(f, kb, settings, age, expected):
    ctx = f.make_ctx(age_years=age, targets=[f.order("cyclophosphamide"), f.order("vincristine"), f.order("doxorubicin")])
    assert (("regimen.elderly.intensive", "info") in ids(R.label_indications, ctx, kb, settings)) is expected


@pytest.mark.parametrize("drug,age", [("tisagenlecleucel", 26), ("brexucabtagene-autoleucel", 17)])
def test_car_t_label_age_is_left_to_the_population_family(f, kb, settings, drug, age):
    """One card per finding: CAR-T label ages are population SP-20/SP-21, not a second regimen card."""
    ctx = f.make_ctx(age_years=age, targets=[f.order(drug)])
    assert not any(rule_id.startswith("regimen.car-t") for rule_id, _ in ids(R.label_indications, ctx, kb, settings))


@pytest.mark.parametrize("age,facts,expected", [(21, ("all", "relapse"), False), (22, ("all", "relapse"), True), (10, ("all",), True)])
def test_clofarabine_label(f, kb, settings, age, facts, expected):
    ctx = f.make_ctx(age_years=age, facts=facts, targets=[f.order("clofarabine")])
    assert (("regimen.clofarabine.label", "warning") in ids(R.label_indications, ctx, kb, settings)) is expected


def test_ponatinib_without_ph(f, kb, settings):
    assert ("regimen.ponatinib.indication", "warning") in ids(R.label_indications, f.make_ctx(age_years=50, targets=[f.order("ponatinib", route="oral")]), kb, settings)
    ph = f.make_ctx(age_years=50, facts=("all", "ph-positive"), targets=[f.order("ponatinib", route="oral")])
    assert ids(R.label_indications, ph, kb, settings) == set()


def test_asparaginase_hypersensitivity(f, kb, settings):
    ctx = f.make_ctx(age_years=8, facts=("all", "asparaginase-hypersensitivity"), targets=[f.order("pegaspargase")])
    assert ("regimen.asparaginase.hypersensitivity", "critical") in ids(R.label_indications, ctx, kb, settings)
    erwinia = f.make_ctx(age_years=8, facts=("all", "asparaginase-hypersensitivity"), targets=[f.order("asparaginase-erwinia")])
    assert ids(R.label_indications, erwinia, kb, settings) == set()


def test_blinatumomab_mrd_positive_adult(f, kb, settings):
    yes = f.make_ctx(age_years=40, labs=[f.lab("mrd", 0.1, "%", code="end_of_induction")], targets=[f.order("blinatumomab")])
    no = f.make_ctx(age_years=40, labs=[f.lab("mrd", 0.09, "%", code="end_of_induction")], targets=[f.order("blinatumomab")])
    assert ("regimen.blinatumomab.mrd-positive", "info") in ids(R.label_indications, yes, kb, settings)
    assert ids(R.label_indications, no, kb, settings) == set()


def test_down_syndrome_intensity(f, kb, settings):
    assert ("regimen.down-syndrome.intensity", "info") in ids(R.label_indications, f.make_ctx(facts=("all", "down-syndrome"), targets=[f.order("daunorubicin")]), kb, settings)
    assert ids(R.label_indications, f.make_ctx(targets=[f.order("daunorubicin")]), kb, settings) == set()


def test_patient_view_uses_active_medications(f, kb, settings):
    ctx = f.make_ctx(age_years=45, facts=("all", "b-precursor", "ph-positive"), active=[f.order("vincristine", draft=False)])
    assert ids(R.ph_positive_tki, ctx, kb, settings) == {("regimen.ph-positive.no-tki", "warning")}


def test_silent_without_all_diagnosis(f, kb, settings):
    ctx = f.make_ctx(age_years=6, facts=(), targets=[f.order("vincristine")], phase=None)
    assert list(R.phase_dependent(ctx, kb, settings)) == []
