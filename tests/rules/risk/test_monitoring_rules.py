"""monitoring.*: each rule with a positive and a negative case; TLS and LVEF boundaries."""

from __future__ import annotations

from cdshooks.rules.registry import iter_findings

from datetime import date, timedelta

import pytest

from cdshooks.context.model import Bsa, Measurement
from cdshooks.rules import monitoring
from support.cards import Rendered

M = Rendered(monitoring)  # rules yield Verdicts; the tests read the rendered cards

TLS_OK = dict(uric_acid=(5.0, "mg/dL"), potassium=(4.0, "mmol/L"), phosphate=(4.0, "mg/dL"), calcium=(9.0, "mg/dL"), creatinine=(0.5, "mg/dL"))


def ids(fn, ctx, kb, settings):
    return {(x.rule_id, x.indicator) for x in iter_findings([fn], ctx, kb, settings)}


def tls_labs(f, **over):
    values = {**TLS_OK, **over}
    return [f.lab(k, v, u) for k, (v, u) in values.items()]


def test_tls_baseline_missing_warning(f, kb, settings):
    ctx = f.make_ctx(targets=[f.order("vincristine")], phase="induction", labs=tls_labs(f)[:2])
    out = list(M.tumour_lysis(ctx, kb, settings))
    assert [(x.rule_id, x.indicator) for x in out] == [("monitoring.tls.baseline-labs", "warning")]
    assert "phosphate" in out[0].summary and "uric_acid" not in out[0].summary
    assert ids(M.tumour_lysis, f.make_ctx(targets=[f.order("vincristine")], phase="induction", labs=tls_labs(f)), kb, settings) == set()


def test_tls_baseline_older_than_3_days_is_missing(f, kb, settings):
    old = [f.lab(k, v, u, on=f.ORDER_DATE - timedelta(days=4)) for k, (v, u) in TLS_OK.items()]
    assert ("monitoring.tls.baseline-labs", "warning") in ids(M.tumour_lysis, f.make_ctx(targets=[f.order("vincristine")], phase="induction", labs=old), kb, settings)


@pytest.mark.parametrize("age,phosphate,expected", [(6, 6.5, True), (6, 6.4, False), (30, 4.5, True), (30, 4.4, False)])
def test_tls_laboratory_phosphate_boundary(f, kb, settings, age, phosphate, expected):
    labs = tls_labs(f, uric_acid=(8.0, "mg/dL"), phosphate=(phosphate, "mg/dL"))
    ctx = f.make_ctx(age_years=age, targets=[f.order("daunorubicin")], phase="induction", labs=labs)
    assert (("monitoring.tls.laboratory", "critical") in ids(M.tumour_lysis, ctx, kb, settings)) is expected


def test_tls_one_criterion_is_not_tls(f, kb, settings):
    ctx = f.make_ctx(targets=[f.order("daunorubicin")], phase="induction", labs=tls_labs(f, potassium=(6.0, "mmol/L")))
    assert ids(M.tumour_lysis, ctx, kb, settings) == set()
    ctx = f.make_ctx(targets=[f.order("daunorubicin")], phase="induction", labs=tls_labs(f, potassium=(6.0, "mmol/L"), calcium=(7.0, "mg/dL")))
    out = list(M.tumour_lysis(ctx, kb, settings))
    assert [(x.rule_id, x.indicator) for x in out] == [("monitoring.tls.laboratory", "critical")]
    assert "rasburicase" in out[0].summary


def test_rasburicase_g6pd(f, kb, settings):
    bad = f.make_ctx(facts=("all", "g6pd-deficiency"), targets=[f.order("rasburicase")])
    assert ids(M.rasburicase_g6pd, bad, kb, settings) == {("monitoring.tls.rasburicase-g6pd", "critical")}
    normal = f.make_ctx(labs=[f.lab("g6pd", None, None, code="normal")], targets=[f.order("rasburicase")])
    assert ids(M.rasburicase_g6pd, normal, kb, settings) == set()
    unknown = f.make_ctx(targets=[f.order("rasburicase")])
    assert ids(M.rasburicase_g6pd, unknown, kb, settings) == {("monitoring.tls.rasburicase-g6pd-unknown", "info")}


def test_crs_monitoring(f, kb, settings):
    out = list(M.cytokine_release(f.make_ctx(age_years=19, targets=[f.order("tisagenlecleucel")]), kb, settings))
    assert [(x.rule_id, x.indicator) for x in out] == [("monitoring.crs", "info")] and "tocilizumab must be available" in out[0].summary
    active = f.make_ctx(facts=("all", "crs"), targets=[f.order("blinatumomab")])
    assert ids(M.cytokine_release, active, kb, settings) == {("monitoring.crs.active", "warning")}
    assert ids(M.cytokine_release, f.make_ctx(targets=[f.order("vincristine")]), kb, settings) == set()


def _ino_admins(f, n):
    return [f.Administration(ref=f"MedicationAdministration/{i}", drug_ids=("inotuzumab-ozogamicin",), date=f.ORDER_DATE - timedelta(days=7 * (n - i))) for i in range(n)]


@pytest.mark.parametrize("prior,expected", [(6, True), (5, False)])
def test_inotuzumab_hsct_cycle_3(f, kb, settings, prior, expected):
    ctx = f.make_ctx(age_years=40, facts=("all", "hsct-planned"), targets=[f.order("inotuzumab-ozogamicin")], administrations=_ino_admins(f, prior))
    assert (("monitoring.inotuzumab.hsct-cycles", "warning") in ids(M.inotuzumab_liver, ctx, kb, settings)) is expected


def test_inotuzumab_lfts_and_vod(f, kb, settings):
    high = f.make_ctx(age_years=40, labs=[f.lab("bilirubin_total", 1.6, "mg/dL", uln=1.0)], targets=[f.order("inotuzumab-ozogamicin")])
    assert ids(M.inotuzumab_liver, high, kb, settings) == {("monitoring.inotuzumab.lfts", "warning")}
    edge = f.make_ctx(age_years=40, labs=[f.lab("bilirubin_total", 1.5, "mg/dL", uln=1.0)], targets=[f.order("inotuzumab-ozogamicin")])
    assert ids(M.inotuzumab_liver, edge, kb, settings) == set()
    vod = f.make_ctx(age_years=40, facts=("all", "hepatic-vod"), targets=[f.order("inotuzumab-ozogamicin")])
    assert ids(M.inotuzumab_liver, vod, kb, settings) == {("monitoring.inotuzumab.vod", "critical")}


def test_pegaspargase_bilirubin_is_left_to_population_sp06(f, kb, settings):
    ctx = f.make_ctx(age_years=10, labs=[f.lab("bilirubin_total", 11.0, "mg/dL", uln=1.0)], targets=[f.order("pegaspargase")])
    assert ids(M.pegaspargase_stop, ctx, kb, settings) == set()


def test_pegaspargase_stop_facts_and_lipase(f, kb, settings):
    # issue 13 item 13: recorded pancreatitis is population SP-28 (critical only with prior asparaginase): one card per finding
    assert ids(M.pegaspargase_stop, f.make_ctx(facts=("all", "pancreatitis"), targets=[f.order("pegaspargase")]), kb, settings) == set()
    assert ids(M.pegaspargase_stop, f.make_ctx(facts=("all", "asparaginase-hypersensitivity"), targets=[f.order("pegaspargase")]), kb, settings) == {("monitoring.pegaspargase.stop", "critical")}
    assert ids(M.pegaspargase_stop, f.make_ctx(facts=("all", "thrombosis"), targets=[f.order("pegaspargase")]), kb, settings) == {("monitoring.pegaspargase.hold", "warning")}
    lip = f.make_ctx(labs=[f.lab("lipase", 181, "U/L", uln=60)], targets=[f.order("pegaspargase")])
    assert ids(M.pegaspargase_stop, lip, kb, settings) == {("monitoring.pegaspargase.lipase", "warning")}
    assert ids(M.pegaspargase_stop, f.make_ctx(targets=[f.order("pegaspargase")]), kb, settings) == set()


def test_lvef(f, kb, settings):
    none = f.make_ctx(targets=[f.order("daunorubicin")])
    assert ids(M.anthracycline_lvef, none, kb, settings) == {("monitoring.anthracycline.lvef-missing", "warning")}
    stale = f.make_ctx(labs=[f.lab("lvef", 60, "%", on=f.ORDER_DATE - timedelta(days=91))], targets=[f.order("daunorubicin")])
    assert ids(M.anthracycline_lvef, stale, kb, settings) == {("monitoring.anthracycline.lvef-missing", "warning")}
    day90 = f.make_ctx(labs=[f.lab("lvef", 50, "%", on=f.ORDER_DATE - timedelta(days=90))], targets=[f.order("daunorubicin")])
    assert ids(M.anthracycline_lvef, day90, kb, settings) == set()
    low = f.make_ctx(labs=[f.lab("lvef", 49, "%")], targets=[f.order("doxorubicin")])
    assert ids(M.anthracycline_lvef, low, kb, settings) == {("monitoring.anthracycline.lvef-low", "warning")}  # unverified threshold: soft


def _bsa(value):
    day = date(2025, 3, 1)
    return Bsa(value=value, formula="Mosteller", weight=Measurement(30, "kg", date=day, source="Observation/w", original="30 kg"), height=Measurement(120, "cm", date=day, source="Observation/h", original="120 cm"))


@pytest.mark.parametrize("dose,unit,expected", [(500, "mg/m2", True), (499, "mg/m2", False), (5, "g/m2", True)])
def test_hdmtx_without_leucovorin(f, kb, settings, dose, unit, expected):
    ctx = f.make_ctx(targets=[f.order("methotrexate", dose=dose, unit=unit)])
    assert (("monitoring.hdmtx.no-leucovorin", "critical") in ids(M.leucovorin_rescue, ctx, kb, settings)) is expected


def test_hdmtx_mg_with_bsa_and_leucovorin_present(f, kb, settings):
    ctx = f.make_ctx(targets=[f.order("methotrexate", dose=500, unit="mg")], bsa=_bsa(1.0))
    assert ids(M.leucovorin_rescue, ctx, kb, settings) == {("monitoring.hdmtx.no-leucovorin", "critical")}
    ok = f.make_ctx(targets=[f.order("methotrexate", dose=500, unit="mg"), f.order("leucovorin")], bsa=_bsa(1.0))
    assert ids(M.leucovorin_rescue, ok, kb, settings) == set()


def test_leucovorin_intrathecal_is_left_to_the_route_family(f, kb, settings):
    assert ids(M.leucovorin_rescue, f.make_ctx(targets=[f.order("leucovorin", route="intrathecal")]), kb, settings) == set()


def test_tls_baseline_with_unknown_phase_only_at_the_start_of_cytoreduction(f, kb, settings):
    from datetime import timedelta

    from cdshooks.context.model import Administration

    first = f.make_ctx(targets=[f.order("vincristine")], phase=None)
    assert ("monitoring.tls.baseline-labs", "warning") in ids(M.tumour_lysis, first, kb, settings)
    given = Administration(ref="MedicationAdministration/a1", drug_ids=("vincristine",), date=f.ORDER_DATE - timedelta(days=7))
    later = f.make_ctx(targets=[f.order("vincristine")], phase=None, administrations=[given])
    assert ("monitoring.tls.baseline-labs", "warning") not in ids(M.tumour_lysis, later, kb, settings)
    # issue 13 item 4: in induction the reminder belongs to its START - a cytoreductive dose 7 days
    # before (day 8 of induction) means it has started; 8 days before is outside the start window
    in_induction = f.make_ctx(targets=[f.order("vincristine")], phase="induction", administrations=[given])
    assert ("monitoring.tls.baseline-labs", "warning") not in ids(M.tumour_lysis, in_induction, kb, settings)
    older = Administration(ref="MedicationAdministration/a1", drug_ids=("vincristine",), date=f.ORDER_DATE - timedelta(days=8))
    restart = f.make_ctx(targets=[f.order("vincristine")], phase="induction", administrations=[older])
    assert ("monitoring.tls.baseline-labs", "warning") in ids(M.tumour_lysis, restart, kb, settings)


@pytest.mark.parametrize("age,noted", [(10, True), (17, True), (18, False), (64, False), (65, True)])
def test_missing_lvef_card_names_the_pediatric_and_elderly_risk(f, kb, settings, age, noted):
    ctx = f.make_ctx(age_years=age, targets=[f.order("daunorubicin")])
    (card,) = [x for x in M.anthracycline_lvef(ctx, kb, settings)]
    assert card.rule_id == "monitoring.anthracycline.lvef-missing"
    assert ("SP-16" in card.citation) is noted  # provenance in the citation, not a row id in the text
    assert ("pediatric and elderly" in card.detail) is noted


def test_crs_reminder_is_one_card_for_every_crs_agent(f, kb, settings):
    """Issue 16: one monitoring info card per topic - two CRS agents ordered give one reminder naming both."""
    ctx = f.make_ctx(age_years=19, targets=[f.order("blinatumomab"), f.order("tisagenlecleucel")])
    (card,) = list(M.cytokine_release(ctx, kb, settings))
    assert (card.rule_id, card.indicator) == ("monitoring.crs", "info")
    assert card.orders == ("MedicationRequest/blinatumomab", "MedicationRequest/tisagenlecleucel") and card.drug is None
    assert card.summary.startswith("Blinatumomab and tisagenlecleucel: monitor for CRS")
    active = f.make_ctx(age_years=19, facts=("all", "crs"), targets=[f.order("blinatumomab"), f.order("tisagenlecleucel")])
    assert [(x.rule_id, x.drug) for x in M.cytokine_release(active, kb, settings)] == [
        ("monitoring.crs.active", "blinatumomab"), ("monitoring.crs.active", "tisagenlecleucel")]
