"""risk.group: NCI boundaries (T01-T06), COG day-29 MRD, BFM TP2, CNS status, adult, silence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cdshooks.rules.risk import risk_group
from support.rendered import run_rendered


def run(ctx, kb, settings):
    return run_rendered(risk_group, ctx, kb, settings)


def only(ctx, kb, settings):
    findings = run(ctx, kb, settings)
    assert len(findings) == 1
    card = findings[0]
    assert card.rule_id == "risk.group" and card.topic == "risk-group" and card.indicator == "info"
    assert len(card.summary) < 140
    return card


def test_t01_age_exactly_10y_is_high(f, kb, settings):
    ctx = f.make_ctx(age_years=10, labs=[f.lab("wbc", 20000, "/uL")])
    card = only(ctx, kb, settings)
    assert "NCI high risk: age ≥ 10 y" in card.summary
    assert "WBC" not in card.summary.split(";")[0]
    assert "NCI-3-age" in card.citation


def test_t02_9y364d_wbc_49999_is_standard(f, kb, settings):
    ctx = f.make_ctx(age_years=9, age_extra_days=364, labs=[f.lab("wbc", 49999, "/uL")])
    card = only(ctx, kb, settings)
    assert card.summary.startswith("NCI standard risk")
    assert "49,999" in card.detail


def test_t03_wbc_exactly_50000_is_high(f, kb, settings):
    card = only(f.make_ctx(age_years=5, labs=[f.lab("wbc", 50000, "/uL")]), kb, settings)
    assert "NCI high risk: WBC ≥ 50,000/µL" in card.summary


def test_t04_364_days_is_infant(f, kb, settings):
    ctx = f.make_ctx(age_years=0, age_extra_days=364, labs=[f.lab("wbc", 120000, "/uL")])
    card = only(ctx, kb, settings)
    assert card.summary.startswith("Infant ALL (age 364 d at diagnosis): NCI risk not applicable")
    assert "NCI high" not in card.summary


def test_t05_exactly_1y_is_standard(f, kb, settings):
    card = only(f.make_ctx(age_years=1, labs=[f.lab("wbc", 10000, "/uL")]), kb, settings)
    assert card.summary.startswith("NCI standard risk")


def test_t06_wbc_in_10e9_per_L_is_converted(f, kb, settings):
    card = only(f.make_ctx(age_years=4, labs=[f.lab("wbc", 50, "10*9/L")]), kb, settings)
    assert "WBC ≥ 50,000/µL" in card.summary
    assert card.inputs["NCI/Rome"]["wbc_at_diagnosis"]["value"] == pytest.approx(50000)


def test_wbc_49999_at_age_5_is_standard(f, kb, settings):
    card = only(f.make_ctx(age_years=5, labs=[f.lab("wbc", 49999, "/uL")]), kb, settings)
    assert card.summary.startswith("NCI standard risk")


def test_uses_first_wbc_at_diagnosis_not_todays(f, kb, settings):
    dx = f.ORDER_DATE - timedelta(days=40)
    labs = [f.lab("wbc", 80000, "/uL", on=dx + timedelta(days=1), n=1), f.lab("wbc", 3000, "/uL", on=f.ORDER_DATE, n=2),
            f.lab("wbc", 2000, "/uL", on=dx - timedelta(days=8), n=3)]  # issue 13 item 3: 8 d before is outside the 7-day pre-window
    card = only(f.make_ctx(age_years=5, dx=dx, labs=labs), kb, settings)
    assert "WBC ≥ 50,000/µL" in card.summary
    # the card names the result by value and date (no resource id in text); the inputs keep its source
    assert f"80,000/µL on {(dx + timedelta(days=1)).isoformat()}" in card.detail and "Observation/" not in card.detail
    assert card.inputs["NCI/Rome"]["wbc_at_diagnosis"]["source"] == "Observation/wbc-1"


def test_wbc_long_after_diagnosis_is_not_used(f, kb, settings):
    dx = f.ORDER_DATE - timedelta(days=40)
    card = only(f.make_ctx(age_years=5, dx=dx, labs=[f.lab("wbc", 3000, "/uL", on=dx + timedelta(days=8))]), kb, settings)
    assert card.summary.startswith("NCI risk cannot be assigned")
    assert "likely on treatment" in card.detail


def test_wbc_7_days_after_diagnosis_is_used(f, kb, settings):
    dx = f.ORDER_DATE - timedelta(days=40)
    card = only(f.make_ctx(age_years=5, dx=dx, labs=[f.lab("wbc", 3000, "/uL", on=dx + timedelta(days=7))]), kb, settings)
    assert card.summary.startswith("NCI standard risk")


def test_missing_wbc_under_10_cannot_assign(f, kb, settings):
    card = only(f.make_ctx(age_years=5), kb, settings)
    assert card.summary.startswith("NCI risk cannot be assigned: no WBC recorded")


def test_missing_wbc_age_10_still_high_by_age(f, kb, settings):
    card = only(f.make_ctx(age_years=10), kb, settings)
    assert card.summary.startswith("NCI high risk: age ≥ 10 y")
    assert "Missing: no WBC recorded" in card.detail


def test_t_all_nci_not_applicable(f, kb, settings):
    card = only(f.make_ctx(age_years=5, facts=("all", "t-all"), labs=[f.lab("wbc", 10000, "/uL")]), kb, settings)
    assert card.summary.startswith("T lineage: NCI risk not applicable (high-intensity therapy)")


def test_mature_b_nci_not_applicable(f, kb, settings):
    card = only(f.make_ctx(age_years=5, facts=("all", "mature-b"), labs=[f.lab("wbc", 10000, "/uL")]), kb, settings)
    assert "NCI risk not applicable" in card.summary


def test_lineage_unrecorded_is_provisional(f, kb, settings):
    card = only(f.make_ctx(age_years=5, facts=("all",), labs=[f.lab("wbc", 10000, "/uL")]), kb, settings)
    assert card.summary.startswith("NCI standard risk (if B-precursor)")


def test_cog_missing_day29_mrd_is_stated(f, kb, settings):
    card = only(f.make_ctx(age_years=12, labs=[f.lab("wbc", 10000, "/uL")]), kb, settings)
    assert card.summary == "NCI high risk: age ≥ 10 y; COG group cannot be assigned: no day-29 MRD recorded"


@pytest.mark.parametrize("value,word", [(0.01, "positive"), (0.0099, "negative")])
def test_cog_day29_mrd_boundary(f, kb, settings, value, word):
    labs = [f.lab("wbc", 10000, "/uL"), f.lab("mrd", value, "%", code="day29")]
    card = only(f.make_ctx(age_years=5, labs=labs), kb, settings)
    assert f"COG: day-29 MRD {word}" in card.summary


def test_cog_mrd_key_with_timepoint_and_factors(f, kb, settings):
    labs = [f.lab("wbc", 10000, "/uL"), f.lab("mrd", 0.5, "%", code="end_of_induction"), f.lab("chromosome_count", 43, None)]
    card = only(f.make_ctx(age_years=5, facts=("all", "b-precursor", "ph-positive"), labs=labs), kb, settings)
    assert "day-29 MRD positive" in card.summary
    assert "BCR-ABL1 (Ph+) (very-high)" in card.summary
    assert "Modal chromosome number 43 on 2025-03-01" in card.detail and "COG-HYPODIPLOID" in card.citation


def test_cog_44_chromosomes_not_hypodiploid(f, kb, settings):
    labs = [f.lab("wbc", 10000, "/uL"), f.lab("chromosome_count", 44, None)]
    card = only(f.make_ctx(age_years=5, labs=labs), kb, settings)
    assert "hypodiploidy" not in card.detail.replace("COG", "")


@pytest.mark.parametrize("csf_wbc,status", [(5, "CNS3"), (4, "CNS2")])
def test_cns_wbc_boundary_with_blasts(f, kb, settings, csf_wbc, status):
    labs = [f.lab("wbc", 10000, "/uL"), f.lab("csf_wbc", csf_wbc, "/uL"), f.lab("csf_blasts", None, None, code="positive")]
    card = only(f.make_ctx(age_years=5, labs=labs), kb, settings)
    assert status in card.summary
    assert card.inputs["CNS status"]["cns_status"] == status


def test_cns1_without_blasts_and_tlp(f, kb, settings):
    labs = [f.lab("wbc", 10000, "/uL"), f.lab("csf_wbc", 12, "/uL"), f.lab("csf_blasts", None, None, code="negative")]
    assert only(f.make_ctx(age_years=5, labs=labs), kb, settings).inputs["CNS status"]["cns_status"] == "CNS1"
    labs += [f.lab("csf_rbc", 10, "/uL")]
    labs[2] = f.lab("csf_blasts", None, None, code="positive")
    assert only(f.make_ctx(age_years=5, labs=labs), kb, settings).inputs["CNS status"]["cns_status"] == "TLP+"


def test_cns_blasts_unknown_cannot_assign(f, kb, settings):
    labs = [f.lab("wbc", 10000, "/uL"), f.lab("csf_wbc", 12, "/uL")]
    card = only(f.make_ctx(age_years=5, labs=labs), kb, settings)
    assert card.inputs["CNS status"]["cns_status"] is None
    assert "CSF blasts not recorded" in card.detail


@pytest.mark.parametrize("tp2,group", [(0.05, "MRD-HR"), (0.0499, "MRD-IR")])
def test_bfm_tp2_boundary(f, kb, settings, tp2, group):
    labs = [f.lab("wbc", 10000, "/uL"), f.lab("mrd", 0.2, "%", code="tp1", n=1), f.lab("mrd", tp2, "%", code="tp2", n=2)]
    card = only(f.make_ctx(age_years=5, labs=labs), kb, settings)
    assert f"BFM {group}" in card.detail or f"BFM {group}" in card.summary
    assert card.inputs["AIEOP-BFM (MRD)"]["tp2"]["value"] == pytest.approx(tp2)


def test_bfm_standard_when_both_negative(f, kb, settings):
    labs = [f.lab("wbc", 10000, "/uL"), f.lab("mrd", 0, "%", code="tp1", n=1), f.lab("mrd", 0, "%", code="tp2", n=2)]
    card = only(f.make_ctx(age_years=5, labs=labs), kb, settings)
    assert "BFM MRD-SR" in card.summary


def test_bfm_t_all_poor_prednisone_response(f, kb, settings):
    card = only(f.make_ctx(age_years=5, facts=("all", "t-all", "prednisone-poor-response")), kb, settings)
    assert "BFM high risk (T-ALL, poor prednisone response)" in card.summary


def test_adult_soft_wbc_threshold_both_sides(f, kb, settings):
    above = only(f.make_ctx(age_years=40, labs=[f.lab("wbc", 30001, "/uL")]), kb, settings)
    at = only(f.make_ctx(age_years=30, labs=[f.lab("wbc", 30000, "/uL")]), kb, settings)
    assert "WBC > 30,000/µL*" in above.summary and "age > 35 y*" in above.summary
    assert "UNVERIFIED" in above.detail
    assert "no poor-risk feature" in at.summary


def test_adult_soft_rule_can_be_switched_off(f, kb):
    from cdshooks.rules.registry import RuleSettings

    off = RuleSettings(disabled_rules=frozenset({"ADULT-WBC-B", "ADULT-AGE-35"}))
    card = only(f.make_ctx(age_years=40, labs=[f.lab("wbc", 90000, "/uL")]), kb, off)
    assert "WBC >" not in card.summary and "age >" not in card.summary


def test_adult_mrd_after_induction(f, kb, settings):
    labs = [f.lab("wbc", 5000, "/uL"), f.lab("mrd", 0.01, "%", code="end_of_induction")]
    card = only(f.make_ctx(age_years=25, labs=labs), kb, settings)
    assert "MRD-positive" in card.summary


def test_silent_without_all_diagnosis(f, kb, settings):
    ctx = f.make_ctx(age_years=5, facts=("down-syndrome",), labs=[f.lab("wbc", 90000, "/uL")])
    assert run(ctx, kb, settings) == []
