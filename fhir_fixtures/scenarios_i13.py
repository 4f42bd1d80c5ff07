"""Issue 13 (clinical corrections from a pharmacist's review): one scenario per boundary side.

Goldens are written by hand from the corrected rule, each naming its exact rule id. Item numbers
refer to issue 13; sources are in the knowledge rows the rule id leads to.
"""

from __future__ import annotations

from datetime import timedelta

from typing import Any

from fixture_model import DAILY, DX, LOINC, ONCE, ORDER, UCUM, WEEKLY, Order, Scenario, born, card, _category, _cc

ADULT = dict(birth=born(45), sex="male", weight=(80.0, "kg"), height=(175.0, "cm"))
CHILD = dict(birth=born(8), weight=(26.0, "kg"), height=(128.0, "cm"))
DOSE = ("dose", "dose-limit", "route", "schedule")
OLD_LABS = ORDER - timedelta(days=5)  # baseline TLS labs older than TLS-1's 3-day window (body size still current)



def pregnancy_status(days_before: int, pregnant: bool) -> dict[str, Any]:
    answer = ("LA15173-0", "Pregnant") if pregnant else ("LA26683-5", "Not pregnant")
    return {"resourceType": "Observation", "status": "final", "category": _category("social-history", "Social History"),
            "code": _cc(LOINC, "82810-3", "Pregnancy status"), "effectiveDateTime": (ORDER - timedelta(days=days_before)).isoformat(),
            "valueCodeableConcept": _cc(LOINC, *answer)}


def wbc_at(days_from_dx: int, value: float) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "category": _category("laboratory", "Laboratory"),
            "code": _cc(LOINC, "6690-2", "Leukocytes [#/volume] in Blood by Automated count"),
            "effectiveDateTime": (DX + timedelta(days=days_from_dx)).isoformat(),
            "valueQuantity": {"value": value, "unit": "/uL", "system": UCUM, "code": "/uL"}}


def text_med(name: str, dose: float, unit: str, route: tuple[str, str], days_before: int = 10, rxnorm: str | None = None) -> dict[str, Any]:
    """An active MedicationRequest: a verified RxNorm ingredient code, or (none verified, e.g. febuxostat) the name only."""
    med = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": rxnorm, "display": name}], "text": name} if rxnorm else {"text": name}
    return {"resourceType": "MedicationRequest", "status": "active", "intent": "order", "medicationCodeableConcept": med,
            "authoredOn": (ORDER - timedelta(days=days_before)).isoformat(), "requester": {"reference": "Practitioner/fixture-oncologist"},
            "dosageInstruction": [{"text": f"{dose:g} {unit} daily", "timing": {"repeat": DAILY}, "route": _cc("http://snomed.info/sct", *route),
                                   "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}]}]}


def condition(code: str, display: str, days_before: int) -> dict[str, Any]:
    return {"resourceType": "Condition", "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
            "verificationStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
            "code": _cc("http://snomed.info/sct", code, display), "onsetDateTime": (ORDER - timedelta(days=days_before)).isoformat()}


def qtc(ms: float) -> dict[str, Any]:
    # category 'exam': the observations prefetch asks for laboratory, social-history and exam (not procedure)
    return {"resourceType": "Observation", "status": "final", "category": _category("exam", "Exam"),
            "code": _cc(LOINC, "8636-3", "QT interval corrected"), "effectiveDateTime": (ORDER - timedelta(days=2)).isoformat(),
            "valueQuantity": {"value": ms, "unit": "ms", "system": UCUM, "code": "ms"}}


PO, IV, SC = ("26643006", "Oral route"), ("47625008", "Intravenous route"), ("34206005", "Subcutaneous route")
IA = ("interaction",)

def breastfeeding(answer: dict[str, Any], days_before: int = 2) -> dict[str, Any]:
    """LOINC 63895-7 (UNVERIFIED in terminology.json; its answer list has no verified codes)."""
    return {"resourceType": "Observation", "status": "final", "category": _category("social-history", "Social History"),
            "code": _cc(LOINC, "63895-7", "Breastfeeding status"), "effectiveDateTime": (ORDER - timedelta(days=days_before)).isoformat(),
            "valueCodeableConcept": answer}


WOMAN = dict(birth=born(30), weight=(60.0, "kg"), height=(165.0, "cm"), phase="Maintenance")
POP = ("population",)

SCENARIOS: list[Scenario] = [
    # -- item 2: protocol dose bands and TLS reminders need an ALL diagnosis ---------------------------
    Scenario("scope.methotrexate.adult-no-all-weekly-15mg", "adult, no ALL diagnosis, weekly oral methotrexate 15 mg",
             "issue 13 item 2: dosing.json scope ALL (seed Table 1 oral maintenance 20 mg/m2 is an ALL protocol dose)",
             **ADULT, diagnosis=None, dx_wbc=None, expected_gaps=("all-condition",), phase=None, measured=OLD_LABS,
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
             **ADULT, diagnosis=None, dx_wbc=None, expected_gaps=("all-condition",), phase=None, orders=[Order("vincristine", 3.0, "mg", "iv", ONCE)],
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
    # -- item 1: the latest pregnancy status decides, within a stated currency window -----------------------
    Scenario("pregnancy.old-positive-recent-negative.methotrexate", "positive pregnancy status 400 d ago, 'not pregnant' 3 d ago, weekly methotrexate",
             "issue 13 item 1: populations.json status_currency (latest status decides; later negative overrides)",
             **WOMAN, extra=[pregnancy_status(400, True), pregnancy_status(3, False)],
             orders=[Order("methotrexate-oral", 20.0, "mg", "po", WEEKLY)], sign=[], sign_topics=POP),
    Scenario("pregnancy.positive-30d.methotrexate", "positive pregnancy status exactly 30 d ago (inside the window)",
             "issue 13 items 1 and 5: current positive -> SP-01 label warning", **WOMAN, extra=[pregnancy_status(30, True)],
             orders=[Order("methotrexate-oral", 20.0, "mg", "po", WEEKLY)], sign=[card("population", "warning", "methotrexate", "population.SP-01")], sign_topics=POP),
    Scenario("pregnancy.positive-31d.methotrexate", "positive pregnancy status 31 d ago and nothing later",
             "issue 13 item 1: outside the 30-day window -> 'confirm current status' warning, not silence", **WOMAN, extra=[pregnancy_status(31, True)],
             orders=[Order("methotrexate-oral", 20.0, "mg", "po", WEEKLY)],
             sign=[card("population", "warning", "methotrexate", "population.SP-01.status-not-current")], sign_topics=POP),
    Scenario("pregnancy.male-positive-status.methotrexate", "administrative gender male with a current positive pregnancy status",
             "issue 13 item 1: administrative gender does not suppress recorded pregnancy", **{**WOMAN, "sex": "male"}, extra=[pregnancy_status(3, True)],
             orders=[Order("methotrexate-oral", 20.0, "mg", "po", WEEKLY)], sign=[card("population", "warning", "methotrexate", "population.SP-01")], sign_topics=POP),
    Scenario("pregnancy.female-no-evidence.methotrexate", "woman 30 y, no pregnancy evidence, weekly methotrexate",
             "issue 13 item 1: administrative gender alone creates no pregnancy card (false-alarm check)", **WOMAN,
             orders=[Order("methotrexate-oral", 20.0, "mg", "po", WEEKLY)], sign=[], sign_topics=POP),
    # -- item 5: SP-01 wording and grade per label ------------------------------------------------------
    Scenario("pregnancy.no-all.methotrexate-weekly", "pregnant woman, no ALL diagnosis, weekly methotrexate 15 mg",
             "issue 13 item 5: methotrexate label: contraindicated in pregnancy for non-neoplastic disease", **{**WOMAN, "phase": None},
             diagnosis=None, dx_wbc=None, expected_gaps=("all-condition",), extra=[pregnancy_status(3, True)], orders=[Order("methotrexate-oral", 15.0, "mg", "po", WEEKLY)],
             sign=[card("population", "critical", "methotrexate", "population.SP-01", "non-neoplastic")], sign_topics=POP),
    Scenario("pregnancy.all.cyclophosphamide", "pregnant ALL patient, cyclophosphamide", "issue 13 item 5: cyclophosphamide label: embryo-fetal toxicity warning",
             **{**WOMAN, "phase": "Consolidation"}, extra=[pregnancy_status(3, True)], orders=[Order("cyclophosphamide", 1000.0, "mg", "iv", ONCE)],
             sign=[card("population", "warning", "cyclophosphamide", "population.SP-01")], sign_topics=POP),
    # -- item 3: presenting WBC in a window around the diagnosis date -----------------------------------
    Scenario("risk.presenting-wbc.2d-before-dx-high", "age 5 y, WBC 60,000 two days BEFORE the recorded diagnosis date",
             "issue 13 item 3: risk.json NCI-WBC-WINDOW-BEFORE (7 d) -> NCI high risk", birth=born(5, 0, DX), weight=(18.0, "kg"), height=(110.0, "cm"),
             dx_wbc=None, extra=[wbc_at(-2, 60000)], orders=[Order("vincristine", 1.1, "mg", "iv", ONCE)], sign=[],
             view=[card("risk-group", "info", prefix="risk.group", contains="NCI high risk")], view_topics=("risk-group",)),
    Scenario("risk.presenting-wbc.8d-before-dx-unassigned", "age 5 y, only WBC is 8 days before the diagnosis date",
             "issue 13 item 3 (other side): outside the 7-day window -> NCI risk cannot be assigned", birth=born(5, 0, DX), weight=(18.0, "kg"),
             height=(110.0, "cm"), dx_wbc=None, extra=[wbc_at(-8, 60000)], orders=[Order("vincristine", 1.1, "mg", "iv", ONCE)], sign=[],
             view=[card("risk-group", "info", prefix="risk.group", contains="NCI risk cannot be assigned")], view_topics=("risk-group",)),
    # -- item 8: febuxostat with mercaptopurine (label contraindication) ------------------------------
    Scenario("interaction.mercaptopurine.febuxostat", "maintenance mercaptopurine with active febuxostat",
             "issue 13 item 8: interactions.json DDI-41 (febuxostat label section 4)", **CHILD, phase="Maintenance", tpmt="normal",
             extra=[text_med("febuxostat", 40.0, "mg", PO)], expected_gaps=("rxnorm",),
             # febuxostat: no verified RxNorm code (expected gap)
             orders=[Order("mercaptopurine", 50.0, "mg", "po", DAILY)],
             sign=[card("interaction", "critical", "mercaptopurine", "interaction.DDI-41")], sign_topics=IA),
    # -- item 10: G-CSF with cyclophosphamide is supportive care (false-alarm check) ---------------------
    Scenario("interaction.cyclophosphamide.filgrastim-info", "adult hyper-CVAD cyclophosphamide with active filgrastim",
             "issue 13 item 10: DDI-28 member_severity G-CSF info (Kantarjian 2000 hyper-CVAD)", **ADULT, phase="Induction",
             extra=[text_med("filgrastim", 480.0, "ug", SC, 1)], expected_gaps=("rxnorm",),
             # filgrastim: no verified RxNorm code (expected gap)
             orders=[Order("cyclophosphamide", 600.0, "mg", "iv", ONCE)],
             sign=[card("interaction", "info", "cyclophosphamide", "interaction.DDI-28")], sign_topics=IA),
    # -- item 11: inotuzumab + QT list: info unless QT risk shown ----------------------------------------
    Scenario("interaction.inotuzumab.ondansetron-info", "inotuzumab with active ondansetron, no QTc or electrolyte problem",
             "issue 13 item 11: DDI-27 info by default (false-alarm check)", **ADULT, diagnosis="b-all-relapse", phase="Reinduction",
             extra=[text_med("ondansetron", 8.0, "mg", IV, 1, rxnorm="26225")], orders=[Order("inotuzumab-ozogamicin", 1.6, "mg", "iv", ONCE)],
             sign=[card("interaction", "info", "inotuzumab-ozogamicin", "interaction.DDI-27")], sign_topics=IA),
    Scenario("interaction.inotuzumab.ondansetron-qtc-480", "inotuzumab with ondansetron and QTc 480 ms two days ago",
             "issue 13 item 11 (other side): prolonged QTc (> 470 ms) -> warning", **ADULT, diagnosis="b-all-relapse", phase="Reinduction",
             extra=[qtc(480.0), text_med("ondansetron", 8.0, "mg", IV, 1, rxnorm="26225")], orders=[Order("inotuzumab-ozogamicin", 1.6, "mg", "iv", ONCE)],
             sign=[card("interaction", "warning", "inotuzumab-ozogamicin", "interaction.DDI-27")], sign_topics=IA),
    # -- item 13: pancreatitis is critical only with prior asparaginase therapy -------------------------
    Scenario("population.pegaspargase.pancreatitis-no-prior", "pancreatitis recorded, no asparaginase ever given, pegaspargase",
             "issue 13 item 13: SP-28 warning without prior L-asparaginase therapy (false-alarm check)", **CHILD,
             extra=[condition("75694006", "Pancreatitis (disorder)", 60)], orders=[Order("pegaspargase", 2400.0, "[iU]", "iv", ONCE)],
             sign=[card("population", "warning", "pegaspargase", "population.SP-28")], sign_topics=POP),
    Scenario("population.pegaspargase.pancreatitis-after-asparaginase", "pancreatitis after a recorded pegaspargase dose, pegaspargase again",
             "issue 13 item 13 (other side): Oncaspar label section 4 contraindication -> critical", **CHILD,
             extra=[condition("75694006", "Pancreatitis (disorder)", 20)], administrations=[("pegaspargase", ORDER - timedelta(days=30), 2400.0, "[iU]", "iv")],
             orders=[Order("pegaspargase", 2400.0, "[iU]", "iv", ONCE)],
             sign=[card("population", "critical", "pegaspargase", "population.SP-28")], sign_topics=POP),
    # -- item 12: RA-08 anthracycline in NCI SR induction is protocol-dependent --------------------------
    Scenario("regimen.nci-standard.daunorubicin-bfm-induction-info", "NCI SR B-ALL 6 y, AIEOP-BFM induction with daunorubicin",
             "issue 13 item 12: BFM induction includes an anthracycline for every risk group (seed): RA-08 info (false-alarm check)",
             birth=born(6, 0, DX), weight=(21.0, "kg"), height=(116.0, "cm"), dx_wbc=12000, phase="Induction (AIEOP-BFM ALL 2017)",
             orders=[Order("daunorubicin", 20.5, "mg", "iv", WEEKLY), Order("methotrexate-it", 12.0, "mg", "it", ONCE)],
             sign=[card("regimen", "info", "daunorubicin", "regimen.nci-sr.anthracycline-induction")], sign_topics=("regimen",)),
    # -- item 7: cumulative doxorubicin 400 mg/m2 with cyclophosphamide; daunorubicin counts x 0.6 ------
    Scenario("cumulative.doxorubicin.cyclophosphamide-401", "adult, prior doxorubicin 341 mg/m2, doxorubicin 60 mg/m2 with cyclophosphamide",
             "issue 13 item 7: doxorubicin label 400 mg/m2 with concomitant cardiotoxic therapy (cyclophosphamide)", **ADULT, phase="Induction",
             administrations=[("doxorubicin", ORDER - timedelta(days=30), 341.0, "mg/m2", "iv")],
             orders=[Order("doxorubicin", 118.3, "mg", "iv", ONCE), Order("cyclophosphamide", 1183.0, "mg", "iv", ONCE)],
             sign=[card("cumulative-dose", "critical", "doxorubicin", "cumulative.doxorubicin.cardiotoxic")], sign_topics=("cumulative-dose",)),
    Scenario("cumulative.doxorubicin.no-cyclophosphamide-401", "same doxorubicin total (401 mg/m2) without any cyclophosphamide",
             "issue 13 item 7 (other side): 550 mg/m2 applies; 401 < 90% -> no card", **ADULT, phase="Induction",
             administrations=[("doxorubicin", ORDER - timedelta(days=30), 341.0, "mg/m2", "iv")],
             orders=[Order("doxorubicin", 118.3, "mg", "iv", ONCE)], sign=[], sign_topics=("cumulative-dose",)),
    # -- item 6: cyclophosphamide 40-50 mg/kg is a course -------------------------------------------------
    Scenario("dose.cyclophosphamide.1000mg-m2-single-child", "child 26 kg, cyclophosphamide 1,000 mg/m2 (961 mg = 37 mg/kg) once",
             "issue 13 item 6: a standard single protocol dose; only a course total above 50 mg/kg is flagged (false-alarm check)",
             **CHILD, phase="Consolidation", orders=[Order("cyclophosphamide", 961.5, "mg", "iv", ONCE)], sign=[], sign_topics=DOSE),
    Scenario("dose.cyclophosphamide.course-62mg-kg", "child 26 kg, cyclophosphamide 540 mg on days -2, -1 and 540 mg today (1,620 mg = 62 mg/kg)",
             "issue 13 item 6 (other side): course total > 50 mg/kg -> dose.cyclophosphamide.course-total (soft row: warning)",
             **CHILD, phase="Consolidation",
             administrations=[("cyclophosphamide", ORDER - timedelta(days=2), 540.0, "mg", "iv"), ("cyclophosphamide", ORDER - timedelta(days=1), 540.0, "mg", "iv")],
             orders=[Order("cyclophosphamide", 540.0, "mg", "iv", ONCE)],
             sign=[card("dose", "warning", "cyclophosphamide", "dose.cyclophosphamide.course-total")], sign_topics=DOSE),
    # -- item 9: duplicate same-day vincristine; HD-MTX in plain mg with no BSA --------------------------
    Scenario("schedule.vincristine.two-drafts-same-day", "two vincristine 1.4 mg drafts signed together for the same day",
             "issue 13 item 9: schedule.vincristine.weekly check_other_drafts (seed Table 1 weekly)", **CHILD,
             orders=[Order("vincristine", 1.4, "mg", "iv", ONCE), Order("vincristine", 1.4, "mg", "iv", ONCE)],
             sign=[card("schedule", "warning", "vincristine", "schedule.vincristine.weekly")], sign_topics=DOSE),
    Scenario("missing.height.methotrexate-iv-5000mg", "IV methotrexate 5,000 mg in plain mg, no height (no BSA), no leucovorin",
             "issue 13 item 9: missing-data.hdmtx-bsa instead of a silent pass (HDMTX-1)", **{**CHILD, "height": None}, phase="Consolidation", expected_gaps=("height",),
             orders=[Order("methotrexate-iv", 5000.0, "mg", "iv", ONCE)],
             sign=[card("missing-data", "warning", "methotrexate", "missing-data.hdmtx-bsa")], sign_topics=("missing-data", "monitoring")),
    # -- item 13 clean side and item 14: breastfeeding read from a verified code, or from text (said) ----
    Scenario("population.pegaspargase.no-pancreatitis-clean", "pegaspargase, no pancreatitis, thrombosis or hemorrhage recorded",
             "issue 13 item 13: no SP-28 card without the recorded event (false-alarm check)", **CHILD,
             orders=[Order("pegaspargase", 2400.0, "[iU]", "iv", ONCE)], sign=[], sign_topics=POP),
    Scenario("lactation.snomed-breastfeeding.vincristine", "breastfeeding status answered with SNOMED 866041003, vincristine",
             "issue 13 item 14: verified SNOMED finding read as 'breastfeeding' -> SP-03", **{**WOMAN, "phase": "Consolidation"},
             extra=[breastfeeding(_cc("http://snomed.info/sct", "866041003", "Mother currently breastfeeding (situation)"))],
             orders=[Order("vincristine", 1.4, "mg", "iv", ONCE)], sign=[card("population", "warning", "vincristine", "population.SP-03")], sign_topics=POP),
    Scenario("lactation.text-no.vincristine", "breastfeeding status answered in text 'No', vincristine",
             "issue 13 item 14: a text negative is read (no verified negative code) -> no SP-03 card (false-alarm check)", **{**WOMAN, "phase": "Consolidation"},
             extra=[breastfeeding({"text": "No"})], orders=[Order("vincristine", 1.4, "mg", "iv", ONCE)], sign=[], sign_topics=POP),
]

