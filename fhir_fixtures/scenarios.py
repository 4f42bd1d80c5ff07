"""The fixture scenarios and their hand-written goldens (clinical-rules.md §7 is the backbone).

Sizes used repeatedly (Mosteller BSA, unrounded):
  CHILD 8 y, 26 kg, 128 cm -> 0.9615 m2      ADULT 40 y, 80 kg, 175 cm -> 1.9720 m2
Dose goldens: ordered within 10% of the rule -> no card; 15-22% off -> `warning` (outside the
10% tolerance, below the 25% "far above" line); over an absolute cap -> `critical`.
"""

from __future__ import annotations

from datetime import timedelta

from fixture_model import (
    CONTINUOUS, DAILY, DAILY_5, DX, ONCE, ORDER, Q21D, WEEKLY, Order, Scenario, born, bsa, card, dose_values,
)

CHILD = dict(birth=born(8), weight=(26.0, "kg"), height=(128.0, "cm"))
ADULT = dict(birth=born(40), sex="male", weight=(80.0, "kg"), height=(175.0, "cm"))
INTERACTION = ("interaction",)
# Mosteller BSA of the sizes above, computed here (not by the service): the dose goldens' basis
BSA_CHILD, BSA_ADULT = bsa(128.0, 26.0), bsa(175.0, 80.0)
LB_KG, IN_CM = 0.45359237, 2.54  # UCUM [lb_av] and [in_i]
BSA_66LB_48IN = bsa(48 * IN_CM, 66 * LB_KG)  # T19/T20: 29.94 kg, 121.92 cm -> 1.0069 m2
# T40: 11 x 24.04 mg + 9.62 mg given = 274.06 mg = 285.0 mg/m2; + 24 mg ordered = 310.0 mg/m2 of 300
CUMULATIVE_DAUNO = {
    "limit": {"value": 300.0, "tolerance": 0.0},
    "prior_total": {"value": round((11 * 24.04 + 9.62) / BSA_CHILD, 2), "tolerance": 0.05},
    "projected_total": {"value": round((11 * 24.04 + 9.62 + 24.0) / BSA_CHILD, 2), "tolerance": 0.05},
    "bsa.value": {"value": round(BSA_CHILD, 6), "tolerance": 0.0005},
}


def vcr(dose: float, route: str = "iv") -> Order:
    return Order("vincristine", dose, "mg", route, ONCE)


def pair(drug: str, label: str, base: dict, good: Order, bad: Order, why: str, rule: str, values: dict, **extra) -> list[Scenario]:
    """A drug of seed Tables 1-2 at a correct dose (no card) and a wrong dose (`warning` from `rule`,
    with the expected/ordered numbers `values` computed by hand from the rule table)."""
    return [
        Scenario(f"dose.{drug}.{label}-correct", f"{drug}: dose within 10% of the rule", why, orders=[good], sign=[], **base, **extra),
        Scenario(f"dose.{drug}.{label}-wrong", f"{drug}: dose 15-22% off the rule", why, orders=[bad],
                 sign=[card("dose", "warning", drug, rule=rule, values=values)], **base, **extra),
    ]


SCENARIOS: list[Scenario] = [
    # -- NCI risk boundaries (patient-view), each with a correct vincristine order ------------------
    Scenario("risk.nci.age-10y0d-high", "dx age exactly 10 y 0 d, WBC 20,000 -> NCI high", "clinical-rules §7 T01 / §1.1 NCI-E1",
             birth=born(10, 0, DX), weight=(32.0, "kg"), height=(138.0, "cm"), dx_wbc=20000, orders=[vcr(1.6)], sign=[],
             view=[card("risk-group", "info", contains="NCI high risk", rule="risk.group", clinical=("NCI-3",))], select=True),
    Scenario("risk.nci.age-9y364d-wbc-49999-standard", "dx age 9 y 364 d, WBC 49,999 -> NCI standard", "clinical-rules §7 T02 / NCI-E2",
             birth=born(9, 364, DX), weight=(30.0, "kg"), height=(134.0, "cm"), dx_wbc=49999, orders=[vcr(1.6)], sign=[],
             view=[card("risk-group", "info", contains="NCI standard risk", rule="risk.group", clinical=("NCI-2",))]),
    Scenario("risk.nci.wbc-50000-high", "dx age 5 y, WBC exactly 50,000 -> NCI high", "clinical-rules §7 T03 / NCI-E3",
             birth=born(5, 0, DX), weight=(18.0, "kg"), height=(110.0, "cm"), dx_wbc=50000, orders=[vcr(1.1)], sign=[],
             view=[card("risk-group", "info", contains="NCI high risk", rule="risk.group", clinical=("NCI-3",))]),
    Scenario("risk.infant.age-364d", "age 364 days, WBC 120,000 -> infant ALL, NCI not applicable", "clinical-rules §7 T04 / NCI-E5, SP-17",
             birth=DX - timedelta(days=364), weight=(8.0, "kg"), height=(70.0, "cm"), dx_wbc=120000, orders=[vcr(0.4)], sign=[],
             view=[card("risk-group", "info", contains="Infant", rule="risk.group", clinical=("NCI-1",))]),
    Scenario("risk.nci.age-1y0d-standard", "dx age exactly 1 y 0 d, WBC 10,000 -> NCI standard", "clinical-rules §7 T05 / NCI-E4",
             birth=born(1, 0, DX), weight=(10.5, "kg"), height=(76.0, "cm"), dx_wbc=10000, orders=[vcr(0.7)], sign=[],
             view=[card("risk-group", "info", contains="NCI standard risk", rule="risk.group", clinical=("NCI-2",))]),
    Scenario("risk.nci.wbc-50x10e9-per-L-high", "age 4 y, WBC 50 x10^9/L (= 50,000/uL) -> NCI high", "clinical-rules §7 T06",
             birth=born(4, 0, DX), weight=(16.0, "kg"), height=(103.0, "cm"), dx_wbc=50.0, dx_wbc_unit="wbc_10e9", orders=[vcr(1.0)], sign=[],
             view=[card("risk-group", "info", contains="NCI high risk", rule="risk.group", clinical=("NCI-3",))]),
    # -- vincristine: route, cap, <=10 kg branch, unit conversion -----------------------------------
    Scenario("route.vincristine.intrathecal", "vincristine ordered intrathecal", "clinical-rules §7 T13; §2.1 vincristine 'IV only - fatal if given by other routes'",
             birth=born(6), weight=(20.0, "kg"), height=(115.0, "cm"), orders=[vcr(1.2, "it")], sign=[card("route", "critical", "vincristine", rule="route.vincristine.iv-only")], select=True),
    Scenario("dose.vincristine.adult-2.76mg-over-cap", "adult vincristine 1.4 mg/m2 = 2.76 mg", "clinical-rules §7 T14; §2.1 per-dose cap 2 mg",
             **ADULT, orders=[vcr(2.76)], select=True,
             # 1.4 mg/m2 x 1.972 m2 = 2.76 mg, capped: the expected dose is the 2 mg cap
             sign=[card("dose-limit", "critical", "vincristine", rule="dose-limit.vincristine.per-dose-cap",
                        values=dose_values(bsa_m2=BSA_ADULT, low=2.0, high=2.0, ordered=2.76))]),
    Scenario("dose.vincristine.adult-2mg-capped", "adult vincristine capped at 2 mg", "clinical-rules §7 T15", **ADULT, orders=[vcr(2.0)], sign=[]),
    Scenario("dose.vincristine.weight-10kg-in", "10.0 kg child, vincristine 0.68 mg (BSA dose) vs 0.05 mg/kg", "clinical-rules §7 T16 (<=10 kg branch inclusive)",
             birth=born(1, 200), weight=(10.0, "kg"), height=(75.0, "cm"), orders=[vcr(0.68)],
             # <=10 kg branch: 0.05 mg/kg x 10.0 kg = 0.5 mg (the BSA dose 0.68 mg is 36% above it)
             sign=[card("dose", "warning", "vincristine", rule="dose.vincristine.pediatric-weight",
                        values=dose_values(bsa_m2=bsa(75.0, 10.0), low=0.5, high=0.5, ordered=0.68))]),
    Scenario("dose.vincristine.weight-10kg-correct", "10.0 kg child, vincristine 0.5 mg", "clinical-rules §7 T17",
             birth=born(1, 200), weight=(10.0, "kg"), height=(75.0, "cm"), orders=[vcr(0.5)], sign=[]),
    Scenario("dose.vincristine.weight-10.1kg-out", "10.1 kg child, vincristine 0.69 mg (BSA branch)", "clinical-rules §7 T18 (>10 kg -> BSA branch)",
             birth=born(1, 200), weight=(10.1, "kg"), height=(76.0, "cm"), orders=[vcr(0.69)], sign=[]),
    Scenario("dose.vincristine.pounds-inches-correct", "66 lb / 48 in child, vincristine 1.5 mg", "clinical-rules §7 T19 (BSA 1.01 m2 after lb/in conversion)",
             birth=born(7), weight=(66.0, "[lb_av]"), height=(48.0, "[in_i]"), orders=[vcr(1.5)], sign=[]),
    Scenario("dose.vincristine.pounds-inches-3mg", "66 lb / 48 in child, vincristine 3.0 mg", "clinical-rules §7 T20",
             birth=born(7), weight=(66.0, "[lb_av]"), height=(48.0, "[in_i]"), orders=[vcr(3.0)],
             # T20 expects critical, "exceeds the 2 mg" (cap) AND "≈99% above calculated": the dose check's finding
             # (calculated 1.5 mg/m2 x 1.0069 m2 = 1.51 mg) rides on the cap card, one card per order and
             # problem (the separate dose card of the first golden would repeat the same finding)
             sign=[card("dose-limit", "critical", "vincristine", rule="dose-limit.vincristine.per-dose-cap",
                        contains=["exceeds the 2 mg", "99% above calculated"],
                        values=dose_values(bsa_m2=BSA_66LB_48IN, low=1.5 * BSA_66LB_48IN, high=2.0, ordered=3.0))]),
    Scenario("missing.weight.vincristine", "no body weight at all: dose cannot be checked", "contract: missing-data; clinical-rules §2.0",
             **{**CHILD, "weight": None}, orders=[vcr(1.4)], sign=[card("missing-data", "warning", "vincristine", rule="missing-data.dose-inputs")],
             sign_topics=("dose", "dose-limit", "missing-data"), expected_gaps=("weight",)),
    Scenario("missing.weight-stale.vincristine", "weight and height 45 days before the order (window 30 days)", "codes.json freshness_days weight/height 30",
             **CHILD, measured=ORDER - timedelta(days=45), orders=[vcr(1.4)], sign=[card("missing-data", "warning", "vincristine", rule="missing-data.dose-inputs")],
             sign_topics=("dose", "dose-limit", "missing-data"), expected_gaps=("weight-stale", "height-stale")),
    # -- methotrexate schedule ----------------------------------------------------------------------
    Scenario("schedule.methotrexate.oral-daily", "oral methotrexate 20 mg/m2 once DAILY in maintenance", "clinical-rules §7 T21; §2.1 methotrexate weekly, never daily",
             birth=born(12), weight=(40.0, "kg"), height=(150.0, "cm"), phase="Maintenance",
             orders=[Order("methotrexate-oral", 25.0, "mg", "po", DAILY)], sign=[card("schedule", "critical", "methotrexate", rule="schedule.methotrexate.oral-weekly")], select=True),
    Scenario("schedule.methotrexate.oral-weekly-correct", "oral methotrexate 20 mg/m2 once weekly", "clinical-rules §2.1 methotrexate (seed Table 1)",
             birth=born(12), weight=(40.0, "kg"), height=(150.0, "cm"), phase="Maintenance",
             orders=[Order("methotrexate-oral", 25.0, "mg", "po", WEEKLY)], sign=[]),
    # -- pegaspargase -------------------------------------------------------------------------------
    Scenario("dose.pegaspargase.age-21y0d-2000", "age exactly 21 y 0 d, pegaspargase 2,000 IU/m2", "clinical-rules §7 T22 (<=21 y: 2,500 IU/m2)",
             birth=born(21), weight=(65.0, "kg"), height=(170.0, "cm"), orders=[Order("pegaspargase", 3504.0, "[iU]", "iv", ONCE)],
             sign=[card("dose", "warning", "pegaspargase", rule="dose.pegaspargase.age-21-or-under",
                        values=dose_values(bsa_m2=bsa(170.0, 65.0), low=2500 * bsa(170.0, 65.0), high=2500 * bsa(170.0, 65.0), ordered=3504.0))]),
    Scenario("dose.pegaspargase.age-22y0d-2500", "age 22 y 0 d, pegaspargase 2,500 IU/m2", "clinical-rules §7 T23 (>21 y: 2,000 IU/m2)",
             birth=born(22), weight=(65.0, "kg"), height=(170.0, "cm"), orders=[Order("pegaspargase", 4380.0, "[iU]", "iv", ONCE)],
             sign=[card("dose", "warning", "pegaspargase", rule="dose.pegaspargase.over-21",
                        values=dose_values(bsa_m2=bsa(170.0, 65.0), low=2000 * bsa(170.0, 65.0), high=2000 * bsa(170.0, 65.0), ordered=4380.0))]),
    Scenario("dose.pegaspargase.child-correct", "child pegaspargase 2,500 IU/m2", "clinical-rules §2.1 pegaspargase", **CHILD,
             orders=[Order("pegaspargase", 2400.0, "[iU]", "iv", ONCE)], sign=[]),
    Scenario("schedule.pegaspargase.interval-10d", "pegaspargase given 10 days ago", "clinical-rules §7 T24 (no more often than every 14 days)",
             birth=born(10), weight=(32.0, "kg"), height=(138.0, "cm"), orders=[Order("pegaspargase", 2769.0, "[iU]", "iv", ONCE)],
             administrations=[("pegaspargase", ORDER - timedelta(days=10), 2769.0, "[iU]", "iv")], sign=[card("schedule", "critical", "pegaspargase", rule="schedule.pegaspargase.14-day-interval")]),
    Scenario("population.pegaspargase.bilirubin-4xuln", "total bilirubin 4.8 mg/dL (ULN 1.2 = 4x)", "clinical-rules §7 T25; SP-06",
             birth=born(10), weight=(32.0, "kg"), height=(138.0, "cm"), labs={"bilirubin_total": 4.8},
             orders=[Order("pegaspargase", 2769.0, "[iU]", "iv", ONCE)], sign=[card("population", "warning", "pegaspargase", rule="population.SP-06.bilirubin.hold", clinical=("SP-06",))], sign_topics=("population",)),
    Scenario("population.pegaspargase.bilirubin-11xuln", "total bilirubin 13.2 mg/dL (11x ULN)", "clinical-rules §7 T26; SP-06",
             birth=born(10), weight=(32.0, "kg"), height=(138.0, "cm"), labs={"bilirubin_total": 13.2},
             orders=[Order("pegaspargase", 2769.0, "[iU]", "iv", ONCE)], sign=[card("population", "critical", "pegaspargase", rule="population.SP-06.bilirubin.discontinue", clinical=("SP-06",))], sign_topics=("population",)),
    # -- blinatumomab, CAR-T, dasatinib ---------------------------------------------------------------
    Scenario("dose.blinatumomab.weight-45kg-bsa-based", "exactly 45.0 kg, blinatumomab 5 ug/m2/day (7 ug/day)", "clinical-rules §7 T27 (>=45 kg: fixed 9 ug/day)",
             birth=born(14), weight=(45.0, "kg"), height=(160.0, "cm"), diagnosis="b-all-relapse", phase="Reinduction blinatumomab cycle 1 day 1",
             orders=[Order("blinatumomab", 7.0, "ug", "iv", CONTINUOUS, rate=(7.0, "ug/d"))],
             sign=[card("dose", "warning", "blinatumomab", rule="dose.blinatumomab.fixed-step1",
                        values=dose_values(bsa_m2=bsa(160.0, 45.0), low=9.0, high=9.0, ordered=7.0))]),
    Scenario("dose.blinatumomab.weight-44.9kg-28ug", "44.9 kg, blinatumomab 28 ug/day on cycle 1 day 8", "clinical-rules §7 T28 (<45 kg: 15 ug/m2/day)",
             birth=born(14), weight=(44.9, "kg"), height=(150.0, "cm"), diagnosis="b-all-relapse", phase="Reinduction blinatumomab cycle 1 day 8",
             orders=[Order("blinatumomab", 28.0, "ug", "iv", CONTINUOUS, rate=(28.0, "ug/d"))],
             # <45 kg: 15 ug/m2/day x 1.3678 m2 = 20.5 ug/day
             sign=[card("dose", "warning", "blinatumomab", rule="dose.blinatumomab.bsa",
                        values=dose_values(bsa_m2=bsa(150.0, 44.9), low=15 * bsa(150.0, 44.9), high=15 * bsa(150.0, 44.9), ordered=28.0))]),
    Scenario("dose.blinatumomab.adult-28ug-correct", "adult 80 kg, blinatumomab 28 ug/day (cycle 2)", "clinical-rules §2.1 blinatumomab",
             **ADULT, diagnosis="b-all-relapse", phase="Consolidation blinatumomab cycle 2",
             orders=[Order("blinatumomab", 28.0, "ug", "iv", CONTINUOUS, rate=(28.0, "ug/d"))], sign=[]),
    Scenario("dose.tisagenlecleucel.weight-50kg-per-kg-in", "exactly 50.0 kg, tisagenlecleucel 2.0e8 cells (4.0e6/kg)", "clinical-rules §7 T29 (<=50 kg per-kg branch)",
             birth=born(19), weight=(50.0, "kg"), height=(165.0, "cm"), diagnosis="b-all-relapse", phase=None,
             orders=[Order("tisagenlecleucel", 2.0e8, "{cells}", "iv", ONCE)], sign=[]),
    Scenario("dose.tisagenlecleucel.per-kg-over-50kg", "60 kg, tisagenlecleucel 2.0e8 cells/kg", "clinical-rules §7 T30; §8 item 1 (label wins: total, not per kg)",
             birth=born(19), weight=(60.0, "kg"), height=(170.0, "cm"), diagnosis="b-all-relapse", phase=None,
             orders=[Order("tisagenlecleucel", 2.0e8, "{cells}/kg", "iv", ONCE)],
             # >50 kg: 0.1-2.5 x 10^8 cells in total; ordered 2.0e8/kg x 60 kg = 1.2e10
             sign=[card("dose", "critical", "tisagenlecleucel", rule="dose.tisagenlecleucel.total",
                        values=dose_values(low=1.0e7, high=2.5e8, ordered_absolute=2.0e8 * 60))]),
    Scenario("population.tisagenlecleucel.age-26y", "age 26 y, 70 kg, tisagenlecleucel 1.0e8 cells", "clinical-rules §7 T31; SP-20",
             birth=born(26), weight=(70.0, "kg"), height=(175.0, "cm"), diagnosis="b-all-relapse", phase=None,
             orders=[Order("tisagenlecleucel", 1.0e8, "{cells}", "iv", ONCE)],
             sign=[card("population", "warning", "tisagenlecleucel", rule="population.SP-20", clinical=("SP-20",))],
             sign_topics=("dose", "dose-limit", "route", "schedule", "population")),
    Scenario("dose.brexucabtagene.adult-120kg-over-max", "120 kg adult, brexucabtagene 1.2e8 cells", "clinical-rules §7 T32 (maximum 1e8)",
             birth=born(50), sex="male", weight=(120.0, "kg"), height=(185.0, "cm"), diagnosis="b-all-relapse", phase=None,
             orders=[Order("brexucabtagene-autoleucel", 1.2e8, "{cells}", "iv", ONCE)],
             # 2 x 10^6/kg x 120 kg = 2.4e8, above the 1 x 10^8 maximum: expected = the maximum
             sign=[card("dose-limit", "critical", "brexucabtagene-autoleucel", rule="dose-limit.brexucabtagene-autoleucel.max",
                        values=dose_values(low=1.0e8, high=1.0e8, ordered=1.2e8))]),
    Scenario("dose.brexucabtagene.adult-80kg-correct", "80 kg adult, brexucabtagene 8.0e7 cells (1e6/kg)", "clinical-rules §2.1 brexucabtagene",
             **ADULT, diagnosis="b-all-relapse", phase=None, orders=[Order("brexucabtagene-autoleucel", 8.0e7, "{cells}", "iv", ONCE)], sign=[]),
    Scenario("dose.dasatinib.weight-45kg-70mg", "Ph+ child exactly 45.0 kg, dasatinib 70 mg", "clinical-rules §7 T33 (>=45 kg: 100 mg)",
             birth=born(14), weight=(45.0, "kg"), height=(160.0, "cm"), diagnosis="ph-all",
             orders=[Order("dasatinib", 70.0, "mg", "po", DAILY)],
             sign=[card("dose", "warning", "dasatinib", rule="dose.dasatinib.pediatric-45kg", values=dose_values(low=100.0, high=100.0, ordered=70.0))]),
    Scenario("dose.dasatinib.child-26kg-correct", "Ph+ child 26 kg, dasatinib 60 mg", "clinical-rules §2.1 dasatinib (20-<30 kg: 60 mg)",
             **CHILD, diagnosis="ph-all", orders=[Order("dasatinib", 60.0, "mg", "po", DAILY)], sign=[]),
    Scenario("population.dasatinib.weight-9.5kg-tablets", "Ph+ toddler 14 months, 9.5 kg, dasatinib 40 mg tablets", "clinical-rules §7 T34; SP-24",
             birth=born(1, 60), weight=(9.5, "kg"), height=(76.0, "cm"), diagnosis="ph-all",
             orders=[Order("dasatinib", 40.0, "mg", "po", DAILY)],
             sign=[card("population", "warning", "dasatinib", rule="dose.dasatinib.under-10kg", clinical=("SP-24",))], sign_topics=("population",)),
    # -- interactions ---------------------------------------------------------------------------------
    Scenario("interaction.dasatinib.voriconazole", "adult on dasatinib 140 mg; voriconazole ordered", "clinical-rules §7 T35; DDI-17",
             **ADULT, diagnosis="ph-all", phase="Consolidation",
             orders=[Order("voriconazole", 200.0, "mg", "po", {"frequency": 2, "period": 1, "periodUnit": "d"}),
                     Order("dasatinib-140", 140.0, "mg", "po", DAILY, status="active")],
             sign=[card("interaction", "critical", "dasatinib", rule="interaction.DDI-17", clinical=("DDI-17",))], sign_topics=INTERACTION, select=True),
    Scenario("interaction.dasatinib.omeprazole", "adult on dasatinib; omeprazole 20 mg ordered", "clinical-rules §7 T36; DDI-19",
             **ADULT, diagnosis="ph-all", phase="Consolidation",
             orders=[Order("omeprazole", 20.0, "mg", "po", DAILY), Order("dasatinib-140", 140.0, "mg", "po", DAILY, status="active")],
             sign=[card("interaction", "warning", "dasatinib", rule="interaction.DDI-19", clinical=("DDI-19",))], sign_topics=INTERACTION),
    Scenario("interaction.mercaptopurine.allopurinol", "on allopurinol, TPMT normal, full-dose mercaptopurine", "clinical-rules §7 T37; DDI-09",
             **CHILD, phase="Maintenance", tpmt="normal",
             orders=[Order("mercaptopurine", 75.0, "mg", "po", DAILY), Order("allopurinol", 100.0, "mg", "po", DAILY, status="active")],
             sign=[card("interaction", "critical", "mercaptopurine", rule="interaction.DDI-09", clinical=("DDI-09",))], sign_topics=("interaction", "pharmacogenomics")),
    Scenario("pgx.mercaptopurine.tpmt-poor", "TPMT poor metabolizer, mercaptopurine 75 mg/m2", "clinical-rules §7 T38; SP-19",
             **CHILD, phase="Maintenance", tpmt="poor", orders=[Order("mercaptopurine", 75.0, "mg", "po", DAILY)],
             sign=[card("pharmacogenomics", "critical", "mercaptopurine", rule="pharmacogenomics.SP-19.poor", clinical=("SP-19",))], sign_topics=("pharmacogenomics",)),
    Scenario("interaction.methotrexate-hd.ibuprofen", "HD-MTX 5 g/m2 today with ibuprofen 10 mg/kg", "clinical-rules §7 T39; DDI-01",
             **CHILD, phase="Consolidation",
             orders=[Order("methotrexate-iv", 4808.0, "mg", "iv", ONCE), Order("ibuprofen", 260.0, "mg", "po", {"frequency": 3, "period": 1, "periodUnit": "d"})],
             sign=[card("interaction", "critical", "methotrexate", rule="interaction.DDI-01", clinical=("DDI-01",))], sign_topics=INTERACTION),
    Scenario("interaction.ponatinib.clarithromycin", "ponatinib 45 mg with clarithromycin, no dose reduction", "clinical-rules §7 regression; DDI-25",
             **ADULT, diagnosis="ph-all", comorbid=("ph-relapse",), phase="Reinduction",
             orders=[Order("clarithromycin", 500.0, "mg", "po", {"frequency": 2, "period": 1, "periodUnit": "d"}),
                     Order("ponatinib", 45.0, "mg", "po", DAILY, status="active")],
             sign=[card("interaction", "critical", "ponatinib", rule="interaction.DDI-25", clinical=("DDI-25",))], sign_topics=INTERACTION),
    Scenario("interaction.methotrexate.sulfamethoxazole-trimethoprim", "maintenance oral MTX with TMP-SMX prophylaxis", "clinical-rules DDI-04 (low dose: warning)",
             birth=born(12), weight=(40.0, "kg"), height=(150.0, "cm"), phase="Maintenance",
             orders=[Order("methotrexate-oral", 25.0, "mg", "po", WEEKLY),
                     Order("sulfamethoxazole-trimethoprim", 160.0, "mg", "po", {"frequency": 2, "period": 1, "periodUnit": "d", "dayOfWeek": ["sat", "sun"]}, status="active")],
             sign=[card("interaction", "warning", "methotrexate", rule="interaction.DDI-04", clinical=("DDI-04",))], sign_topics=INTERACTION),
    Scenario("interaction.vincristine.itraconazole", "vincristine with itraconazole (strong CYP3A4 azole)", "clinical-rules DDI-11 (azoles: critical)",
             **CHILD, orders=[vcr(1.4), Order("itraconazole", 130.0, "mg", "po", {"frequency": 2, "period": 1, "periodUnit": "d"}, status="active")],
             sign=[card("interaction", "critical", "vincristine", rule="interaction.DDI-11", clinical=("DDI-11",))], sign_topics=INTERACTION),
    Scenario("interaction.mercaptopurine.warfarin", "mercaptopurine with warfarin", "clinical-rules DDI-10",
             **CHILD, phase="Maintenance", tpmt="normal",
             orders=[Order("mercaptopurine", 50.0, "mg", "po", DAILY), Order("warfarin", 2.0, "mg", "po", DAILY, status="active")],
             sign=[card("interaction", "warning", "mercaptopurine", rule="interaction.DDI-10", clinical=("DDI-10",))], sign_topics=INTERACTION),
    Scenario("interaction.vincristine.phenytoin", "vincristine with phenytoin", "clinical-rules DDI-13",
             **CHILD, orders=[vcr(1.4), Order("phenytoin", 100.0, "mg", "po", {"frequency": 2, "period": 1, "periodUnit": "d"}, status="active")],
             sign=[card("interaction", "warning", "vincristine", rule="interaction.DDI-12", clinical=("DDI-12", "DDI-13"))], sign_topics=INTERACTION),
    # -- cumulative, regimen, populations -----------------------------------------------------------
    Scenario("cumulative.daunorubicin.child-310mg-m2", "prior daunorubicin 285 mg/m2 + 25 mg/m2 ordered", "clinical-rules §7 T40 (child >=2 y: 300 mg/m2)",
             **CHILD, administrations=[("daunorubicin", DX - timedelta(days=400 - 7 * i), 24.04, "mg", "iv") for i in range(11)]
             + [("daunorubicin", DX - timedelta(days=300), 9.62, "mg", "iv")],
             orders=[Order("daunorubicin", 24.0, "mg", "iv", ONCE)], sign=[card("cumulative-dose", "critical", "daunorubicin", rule="cumulative.daunorubicin.child", clinical=("SP-16",),
                                     values=CUMULATIVE_DAUNO)],
             sign_topics=("cumulative-dose", "dose")),
    Scenario("regimen.blinatumomab.t-all", "R/R T-ALL adult, blinatumomab 28 ug/day", "clinical-rules §7 T10; RA-03",
             **ADULT, diagnosis="t-all", comorbid=("t-all-relapse",), phase="Reinduction",
             orders=[Order("blinatumomab", 28.0, "ug", "iv", CONTINUOUS, rate=(28.0, "ug/d"))],
             sign=[card("regimen", "critical", "blinatumomab", rule="regimen.blinatumomab.lineage", clinical=("RA-03",))], sign_topics=("regimen",)),
    Scenario("regimen.ph-positive.adult-no-tki", "Ph+ adult 45 y, hyper-CVAD-type induction without a TKI", "clinical-rules §7 T08; RA-01",
             birth=born(45), sex="male", weight=(80.0, "kg"), height=(175.0, "cm"), diagnosis="ph-all",
             orders=[Order("cyclophosphamide", 592.0, "mg", "iv", {"frequency": 2, "period": 1, "periodUnit": "d", "count": 6}),
                     vcr(2.0), Order("doxorubicin", 98.6, "mg", "iv", ONCE), Order("dexamethasone", 40.0, "mg", "po", DAILY),
                     Order("methotrexate-it", 12.0, "mg", "it", ONCE)],
             sign=[card("regimen", "warning", rule="regimen.ph-positive.no-tki", clinical=("RA-01",))], sign_topics=("regimen",)),
    Scenario("regimen.ph-positive.child-imatinib", "Ph+ child 8 y, 25 kg, imatinib 340 mg/m2", "clinical-rules §7 T09; RA-02",
             birth=born(8), weight=(25.0, "kg"), height=(128.0, "cm"), diagnosis="ph-all", phase="Consolidation",
             orders=[Order("imatinib", 320.0, "mg", "po", DAILY)], sign=[card("regimen", "info", "imatinib", rule="regimen.ph-positive.pediatric-imatinib", clinical=("RA-02",))],
             sign_topics=("regimen", "dose")),
    Scenario("regimen.nci-standard.daunorubicin-induction", "NCI SR B-ALL 6 y, COG induction with daunorubicin", "clinical-rules §7 T07; RA-08",
             # issue 13 item 12: RA-08 is a warning only when the plan names a COG-style protocol, so the plan now
             # says so (this scenario is a COG induction); the BFM/unnamed side is scenarios_i13 regimen.nci-standard.*
             birth=born(6, 0, DX), weight=(21.0, "kg"), height=(116.0, "cm"), dx_wbc=12000, phase="Induction (COG AALL0932)",
             orders=[Order("daunorubicin", 20.5, "mg", "iv", WEEKLY), Order("methotrexate-it", 12.0, "mg", "it", ONCE)],
             sign=[card("regimen", "warning", "daunorubicin", rule="regimen.nci-sr.anthracycline-induction", clinical=("RA-08",))], sign_topics=("regimen",)),
    Scenario("regimen.mature-b.maintenance", "mature B-ALL 9 y, maintenance 6-MP + weekly MTX", "clinical-rules §7 T12; RA-07",
             birth=born(9), weight=(28.0, "kg"), height=(132.0, "cm"), diagnosis="mature-b", phase="Maintenance",
             orders=[Order("mercaptopurine", 75.0, "mg", "po", DAILY), Order("methotrexate-oral", 20.0, "mg", "po", WEEKLY)],
             sign=[card("regimen", "warning", rule="regimen.mature-b.maintenance", clinical=("RA-07",))], sign_topics=("regimen",)),
    Scenario("population.pregnant.methotrexate", "pregnant adult, oral methotrexate", "clinical-rules §7 regression; SP-01",
             birth=born(30), weight=(60.0, "kg"), height=(165.0, "cm"), comorbid=("pregnant",), pregnancy_obs=True, phase="Maintenance",
             # issue 13 item 5: SP-01 is the label's embryo-fetal toxicity WARNING for an ALL patient (the methotrexate
             # label contraindicates pregnancy only for non-neoplastic disease): was critical
             orders=[Order("methotrexate-oral", 32.5, "mg", "po", WEEKLY)],
             sign=[card("population", "warning", "methotrexate", rule="population.SP-01", clinical=("SP-01",))],
             sign_topics=("population", "dose", "schedule", "route")),
    Scenario("population.cyclophosphamide.urinary-obstruction", "urinary outflow obstruction, cyclophosphamide", "clinical-rules §7 regression; SP-15",
             **ADULT, comorbid=("urinary-obstruction",), orders=[Order("cyclophosphamide", 1000.0, "mg", "iv", ONCE)],
             sign=[card("population", "critical", "cyclophosphamide", rule="population.SP-15", clinical=("SP-15",))], sign_topics=("population",)),
    Scenario("population.daunorubicin.renal-creatinine-3.5", "adult creatinine 3.5 mg/dL, full-dose daunorubicin 45 mg/m2", "clinical-rules §7 regression; SP-08",
             **ADULT, comorbid=("ckd4",), labs={"creatinine": 3.5}, orders=[Order("daunorubicin", 88.7, "mg", "iv", DAILY)],
             sign=[card("population", "warning", "daunorubicin", rule="population.SP-08.50pct", clinical=("SP-08",))], sign_topics=("population",)),
    Scenario("population.doxorubicin.hepatic-bilirubin-6", "bilirubin 6.0 mg/dL (severe), doxorubicin", "clinical-rules SP-09 (>5 mg/dL contraindicated)",
             **ADULT, comorbid=("liver-disease",), labs={"bilirubin_total": 6.0}, orders=[Order("doxorubicin", 98.6, "mg", "iv", Q21D)],
             sign=[card("population", "critical", "doxorubicin", rule="population.SP-09.contraindicated", clinical=("SP-09",))], sign_topics=("population",)),
    Scenario("population.down-syndrome.vincristine", "Down syndrome child, vincristine at the rule dose", "clinical-rules §1.6, SP-18 (dose rule unchanged)",
             **CHILD, comorbid=("down-syndrome",), orders=[vcr(1.4)], sign=[]),
    Scenario("route.cytarabine.intrathecal-correct", "intrathecal cytarabine (allowed route)", "clinical-rules §2.1 cytarabine routes IV, SC, IT",
             **CHILD, orders=[Order("cytarabine", 70.0, "mg", "it", ONCE)], sign=[], sign_topics=("route",)),
    Scenario("dose.cyclophosphamide.child-correct", "cyclophosphamide 11.5 mg/kg weekly", "clinical-rules §2.1 cyclophosphamide (b) 10-15 mg/kg q7-10 d",
             **CHILD, orders=[Order("cyclophosphamide", 300.0, "mg", "iv", WEEKLY)], sign=[]),
    *pair("clofarabine", "child-52mg-m2", dict(**CHILD, diagnosis="b-all-relapse", phase="Reinduction"),
          Order("clofarabine", 50.0, "mg", "iv", DAILY_5), Order("clofarabine", 60.0, "mg", "iv", DAILY_5), "clinical-rules §2.1 clofarabine 52 mg/m2/day x5",
          "dose.clofarabine.bsa", dose_values(bsa_m2=BSA_CHILD, low=52 * BSA_CHILD, high=52 * BSA_CHILD, ordered=60.0)),
    *pair("daunorubicin", "child-25mg-m2", dict(**CHILD, dx_wbc=60000),
          Order("daunorubicin", 24.0, "mg", "iv", WEEKLY), Order("daunorubicin", 29.0, "mg", "iv", WEEKLY), "clinical-rules §2.1 daunorubicin child >=2 y 25 mg/m2",
          "dose.daunorubicin.pediatric-bsa", dose_values(bsa_m2=BSA_CHILD, low=25 * BSA_CHILD, high=25 * BSA_CHILD, ordered=29.0)),
    *pair("doxorubicin", "adult-40-75mg-m2", ADULT,
          Order("doxorubicin", 100.0, "mg", "iv", Q21D), Order("doxorubicin", 177.0, "mg", "iv", Q21D), "clinical-rules §2.1 doxorubicin 40-75 mg/m2 q21 d",
          "dose.doxorubicin.bsa", dose_values(bsa_m2=BSA_ADULT, low=40 * BSA_ADULT, high=75 * BSA_ADULT, ordered=177.0)),
    *pair("mercaptopurine", "child-1.5-2.5mg-kg", dict(**CHILD, phase="Maintenance", tpmt="normal"),
          Order("mercaptopurine", 50.0, "mg", "po", DAILY), Order("mercaptopurine", 80.0, "mg", "po", DAILY), "clinical-rules §2.1 mercaptopurine 1.5-2.5 mg/kg/day",
          "dose.mercaptopurine.weight", dose_values(low=1.5 * 26.0, high=2.5 * 26.0, ordered=80.0)),
    *pair("nelarabine", "child-650mg-m2", dict(**CHILD, diagnosis="t-all", comorbid=("t-all-relapse",), phase="Reinduction"),
          Order("nelarabine", 625.0, "mg", "iv", DAILY_5), Order("nelarabine", 750.0, "mg", "iv", DAILY_5), "clinical-rules §2.1 nelarabine pediatric 650 mg/m2/day x5",
          "dose.nelarabine.pediatric", dose_values(bsa_m2=BSA_CHILD, low=650 * BSA_CHILD, high=650 * BSA_CHILD, ordered=750.0)),
    *pair("imatinib", "child-340mg-m2", dict(birth=born(8), weight=(25.0, "kg"), height=(128.0, "cm"), diagnosis="ph-all", phase="Consolidation"),
          Order("imatinib", 320.0, "mg", "po", DAILY), Order("imatinib", 390.0, "mg", "po", DAILY), "clinical-rules §2.1 imatinib pediatric 340 mg/m2/day",
          "dose.imatinib.pediatric-bsa", dose_values(bsa_m2=bsa(128.0, 25.0), low=340 * bsa(128.0, 25.0), high=340 * bsa(128.0, 25.0), ordered=390.0)),
    *pair("inotuzumab-ozogamicin", "adult-0.8mg-m2-day1", dict(**ADULT, diagnosis="b-all-relapse", phase="Reinduction inotuzumab cycle 1 day 1"),
          Order("inotuzumab-ozogamicin", 1.6, "mg", "iv", ONCE), Order("inotuzumab-ozogamicin", 1.9, "mg", "iv", ONCE), "clinical-rules §2.1 inotuzumab cycle 1 day 1 0.8 mg/m2",
          "dose.inotuzumab-ozogamicin.day1", dose_values(bsa_m2=BSA_ADULT, low=0.8 * BSA_ADULT, high=0.8 * BSA_ADULT, ordered=1.9)),
    *pair("rituximab", "child-375mg-m2", dict(birth=born(9), weight=(28.0, "kg"), height=(132.0, "cm"), diagnosis="mature-b"),
          Order("rituximab", 380.0, "mg", "iv", ONCE), Order("rituximab", 450.0, "mg", "iv", ONCE), "clinical-rules §2.1 rituximab pediatric 375 mg/m2",
          "dose.rituximab.bsa", dose_values(bsa_m2=bsa(132.0, 28.0), low=375 * bsa(132.0, 28.0), high=375 * bsa(132.0, 28.0), ordered=450.0)),
    *pair("ponatinib", "adult-45mg", dict(**ADULT, diagnosis="ph-all", comorbid=("ph-relapse",), phase="Reinduction"),
          Order("ponatinib", 45.0, "mg", "po", DAILY), Order("ponatinib", 54.0, "mg", "po", DAILY), "clinical-rules §2.1 ponatinib R/R 45 mg daily",
          "dose.ponatinib.fixed", dose_values(low=45.0, high=45.0, ordered=54.0)),
]
from scenarios_i17 import SCENARIOS as _i17  # noqa: E402  (order verification, issue 17)

SCENARIOS += _i17

from scenarios_i13 import SCENARIOS as _i13  # noqa: E402  (issue 13 clinical corrections)

SCENARIOS += _i13

from scenarios_i10 import SCENARIOS as _i10  # noqa: E402  (issue 10: orders as EHRs send them)
SCENARIOS += _i10

from scenarios_i14 import SCENARIOS as _i14  # noqa: E402  (regimen templates, issue 14)

SCENARIOS += _i14
