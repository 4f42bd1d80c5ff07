"""Issue 13 (clinical corrections from a pharmacist's review): one scenario per boundary side.

Goldens are written by hand from the corrected rule, each naming its exact rule id. Item numbers
refer to issue 13; sources are in the knowledge rows the rule id leads to.
"""

from __future__ import annotations

from datetime import timedelta

from fixture_model import DAILY, ONCE, ORDER, WEEKLY, Order, Scenario, born, card

ADULT = dict(birth=born(45), sex="male", weight=(80.0, "kg"), height=(175.0, "cm"))
CHILD = dict(birth=born(8), weight=(26.0, "kg"), height=(128.0, "cm"))
DOSE = ("dose", "dose-limit", "route", "schedule")
OLD_LABS = ORDER - timedelta(days=5)  # baseline TLS labs older than TLS-1's 3-day window (body size still current)

SCENARIOS: list[Scenario] = [
    # -- item 2: protocol dose bands and TLS reminders need an ALL diagnosis ---------------------------
    Scenario("scope.methotrexate.adult-no-all-weekly-15mg", "adult, no ALL diagnosis, weekly oral methotrexate 15 mg",
             "issue 13 item 2: dosing.json scope ALL (seed Table 1 oral maintenance 20 mg/m2 is an ALL protocol dose)",
             **ADULT, diagnosis=None, dx_wbc=None, phase=None, measured=OLD_LABS,
             orders=[Order("methotrexate-oral", 15.0, "mg", "po", WEEKLY), Order("vincristine", 1.5, "mg", "iv", ONCE, status="active")],
             sign=[], sign_topics=DOSE, view=[], view_topics=("monitoring",)),
    Scenario("scope.methotrexate.adult-all-weekly-15mg", "adult ALL, weekly oral methotrexate 15 mg (20 mg/m2 x 1.97 m2 = 39 mg)",
             "issue 13 item 2 (other side): dose.methotrexate.oral-weekly applies with an ALL diagnosis",
             **ADULT, phase=None, measured=OLD_LABS,
             orders=[Order("methotrexate-oral", 15.0, "mg", "po", WEEKLY), Order("vincristine", 1.5, "mg", "iv", ONCE, status="active")],
             sign=[card("dose", "warning", "methotrexate", "dose.methotrexate.oral-weekly")], sign_topics=DOSE,
             view=[card("monitoring", "warning", prefix="monitoring.tls.baseline-labs")], view_topics=("monitoring",)),
    Scenario("scope.vincristine.adult-no-all-3mg-cap", "adult, no ALL diagnosis, vincristine 3 mg",
             "issue 13 item 2: the per-dose cap is label-level (scope any) and applies to every patient",
             **ADULT, diagnosis=None, dx_wbc=None, phase=None, orders=[Order("vincristine", 3.0, "mg", "iv", ONCE)],
             sign=[card("dose-limit", "critical", "vincristine", "dose-limit.vincristine.per-dose-cap")], sign_topics=DOSE),
    Scenario("scope.mature-b.icd-c91a0-risk", "mature B-ALL coded ICD-10-CM C91.A0 only: risk card says mature B, NCI not applicable",
             "issue 13 item 2: mature B-ALL = ICD-10-CM C91.A0 (terminology.json); SNOMED 118617000 is Burkitt lymphoma",
             **CHILD, diagnosis="mature-b", phase="Induction", orders=[Order("vincristine", 1.4, "mg", "iv", ONCE)], sign=[],
             view=[card("risk-group", "info", prefix="risk.group", contains="mature B lineage: NCI risk not applicable")], view_topics=("risk-group",)),
    # -- item 4: TLS baseline reminder only at the start of cytoreduction ------------------------------
    Scenario("tls.methotrexate.oral-weekly-phase-unknown", "ALL child, phase unknown, weekly oral methotrexate, no baseline TLS labs",
             "issue 13 item 4: monitoring.tls.baseline-labs not_starting (oral methotrexate is maintenance, seed)",
             **CHILD, phase=None, measured=OLD_LABS, orders=[Order("methotrexate-oral", 20.0, "mg", "po", WEEKLY)],
             sign=[], sign_topics=("monitoring",)),
    Scenario("tls.mercaptopurine.daily-phase-unknown", "ALL child, phase unknown, daily mercaptopurine, no baseline TLS labs",
             "issue 13 item 4: mercaptopurine never starts cytoreduction", **CHILD, phase=None, measured=OLD_LABS,
             orders=[Order("mercaptopurine", 50.0, "mg", "po", DAILY)], sign=[], sign_topics=("monitoring",)),
    Scenario("tls.vincristine.first-course-phase-unknown", "ALL child, phase unknown, first vincristine, no baseline TLS labs",
             "issue 13 item 4 (other side): a first cytoreductive course gets the TLS-1 reminder", **CHILD, phase=None, measured=OLD_LABS,
             orders=[Order("vincristine", 1.4, "mg", "iv", ONCE)],
             sign=[card("monitoring", "warning", prefix="monitoring.tls.baseline-labs")], sign_topics=("monitoring",)),
]
