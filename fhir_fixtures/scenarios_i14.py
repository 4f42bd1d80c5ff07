"""Plan-based dose scenarios (issue 14): orders judged against the regimen template for the
patient's course and day, read from the CarePlan. Goldens written by hand from the templates:

ADULT 40 y, 80 kg, 175 cm -> BSA 1.9720 m2 (Mosteller)      BIG 40 y, 100 kg, 170 cm -> 2.1731 m2
hyper-CVAD (knowledge/data/regimens/hyper-cvad.json, Kantarjian 2000), tolerance ±10%, critical > +25%:
  course A day 1-3 cyclophosphamide 300 mg/m2 x 1.9720 = 591.6 -> 592 mg (1 mg rounding);
      ±10% = 532.8-651.2 mg; +25% = 740 mg          (BIG: 651.9 -> 652 mg)
  course A day 4 doxorubicin 50 mg/m2 -> 98.6 -> 99 mg; vincristine 2 mg days 4, 11; dexamethasone 40 mg days 1-4, 11-14
  course B day 1 methotrexate 1 g/m2 -> 1,972 mg; methylprednisolone 50 mg twice daily days 1-3
  course B day 2-3 cytarabine 3 g/m2 -> 5,916 -> 5,920 mg (10 mg rounding), age < 60 y; >= 60 y 1 g/m2 (UNVERIFIED row)
all-maintenance-pulses (seed Table 1), 28-day cycle: vincristine 1.4 mg/m2 = 2.76 -> capped 2 mg day 1;
  methotrexate 20 mg/m2 -> 39.44 -> 39 mg days 1, 8, 15, 22; mercaptopurine 1.5-2.5 mg/kg = 120-200 mg daily.
A plan match silences the label-range card of the same order (cyclophosphamide BIG: label 8-25 mg/kg
branch says 650 mg is 19% low); label limits (caps) are never silenced.
"""

from __future__ import annotations

from datetime import timedelta

from fixture_model import DAILY, ONCE, ORDER, WEEKLY, Order, Scenario, born, card

ADULT = dict(birth=born(40), sex="male", weight=(80.0, "kg"), height=(175.0, "cm"))
BIG = dict(birth=born(40), sex="male", weight=(100.0, "kg"), height=(170.0, "cm"))
OLDER = dict(birth=born(62), sex="male", weight=(80.0, "kg"), height=(175.0, "cm"))
TOPICS = ("dose", "dose-limit", "route", "schedule", "regimen", "missing-data")
BID = {"frequency": 2, "period": 1, "periodUnit": "d"}
HCVAD = "urn:all-cds:PlanDefinition/hyper-cvad"
SRC = "Kantarjian 2000 JCO 18:547 via knowledge/data/regimens/hyper-cvad.json"
SEED = "seed maintenance text + Table 1 via knowledge/data/regimens/all-maintenance-pulses.json"


def start(day: int) -> str:
    """Course start making ORDER day `day` of the course (day 1 = start)."""
    return (ORDER - timedelta(days=day - 1)).isoformat()


def hcvad(course: int, day: int) -> dict:
    return {"instantiatesCanonical": [HCVAD], "title": f"Hyper-CVAD course {course}", "period": {"start": start(day)}}


def pulses(day: int) -> dict:
    return {"title": "ALL maintenance pulses", "period": {"start": start(day)}}


def plan(sid: str, title: str, source: str, base: dict, careplan: dict, orders: list[Order], sign: list, **extra) -> Scenario:
    return Scenario(f"plan.{sid}", title, source, **base, phase=None, careplan=careplan, orders=orders, sign=sign, sign_topics=TOPICS, **extra)


def cyc(mg: float) -> Order:
    return Order("cyclophosphamide", mg, "mg", "iv", BID)


CYC = "plan.dose.hyper-cvad.a.cyclophosphamide"

SCENARIOS: list[Scenario] = [
    # -- hyper-CVAD course A ------------------------------------------------------------------------------
    plan("hyper-cvad.a-day1-clean", "course 1 day 1 as planned: cyclophosphamide 590 mg q12h, dexamethasone 40 mg", SRC, ADULT, hcvad(1, 1),
         [cyc(590.0), Order("dexamethasone", 40.0, "mg", "po", DAILY)], []),
    plan("hyper-cvad.a-day1-cyclophosphamide-652mg", "cyclophosphamide 652 mg = +10.1% over the plan's 592 mg", SRC, ADULT, hcvad(1, 1),
         [cyc(652.0)], [card("dose", "warning", "cyclophosphamide", CYC, "above the Course A day 1 dose")]),
    plan("hyper-cvad.a-day1-cyclophosphamide-532mg", "cyclophosphamide 532 mg = -10.1% under the plan's 592 mg", SRC, ADULT, hcvad(1, 1),
         [cyc(532.0)], [card("dose", "warning", "cyclophosphamide", CYC, "below the Course A day 1 dose")]),
    plan("hyper-cvad.a-day1-cyclophosphamide-741mg", "cyclophosphamide 741 mg = +25.2%: critical", SRC, ADULT, hcvad(1, 1),
         [cyc(741.0)], [card("dose", "critical", "cyclophosphamide", CYC)]),
    plan("hyper-cvad.a-day1-big-label-silenced", "100 kg adult: cyclophosphamide 650 mg follows the plan (652 mg); the label 8-25 mg/kg card is not shown",
         SRC, BIG, hcvad(3, 1), [cyc(650.0)], []),
    plan("hyper-cvad.a-day2-cyclophosphamide-third-dose", "day 2: both q12h doses already given, a third ordered", SRC, ADULT, hcvad(1, 2),
         [cyc(592.0)], [card("schedule", "warning", "cyclophosphamide", "plan.already-given.hyper-cvad.a.cyclophosphamide", "already given")],
         administrations=[("cyclophosphamide", ORDER, 592.0, "mg", "iv"), ("cyclophosphamide", ORDER, 592.0, "mg", "iv")]),
    plan("hyper-cvad.a-day4-clean", "course 3 day 4 as planned: doxorubicin 99 mg, vincristine 2 mg, dexamethasone 40 mg", SRC, ADULT, hcvad(3, 4),
         [Order("doxorubicin", 99.0, "mg", "iv", ONCE), Order("vincristine", 2.0, "mg", "iv", ONCE), Order("dexamethasone", 40.0, "mg", "po", DAILY)], []),
    plan("hyper-cvad.a-day5-vincristine", "vincristine 2 mg on day 5 (planned days 4 and 11)", SRC, ADULT, hcvad(1, 5),
         [Order("vincristine", 2.0, "mg", "iv", ONCE)],
         [card("regimen", "warning", "vincristine", "plan.not-in-plan.hyper-cvad.course-a", "not in today's plan")]),
    plan("hyper-cvad.a-day1-hd-methotrexate", "course 1 (A) day 1: methotrexate 1,970 mg IV = the course B dose", SRC, ADULT, hcvad(1, 1),
         [Order("methotrexate-iv", 1970.0, "mg", "iv", ONCE)],
         [card("dose", "warning", "methotrexate", "plan.other-phase.hyper-cvad.b.methotrexate-total", "matches the Course B dose")]),
    # -- hyper-CVAD course B ------------------------------------------------------------------------------
    plan("hyper-cvad.b-day1-clean", "course 2 day 1 as planned: methotrexate 1,970 mg, methylprednisolone 50 mg q12h", SRC, ADULT, hcvad(2, 1),
         [Order("methotrexate-iv", 1970.0, "mg", "iv", ONCE), Order("methylprednisolone", 50.0, "mg", "iv", BID)], []),
    plan("hyper-cvad.b-day1-dexamethasone", "course 2 (B) day 1: dexamethasone 40 mg = the course A dose", SRC, ADULT, hcvad(2, 1),
         [Order("dexamethasone", 40.0, "mg", "po", DAILY)],
         [card("dose", "warning", "dexamethasone", "plan.other-phase.hyper-cvad.a.dexamethasone", "matches the Course A dose")]),
    plan("hyper-cvad.b-day2-cytarabine-clean", "course 4 day 2: cytarabine 5,900 mg q12h (plan 5,920 mg)", SRC, ADULT, hcvad(4, 2),
         [Order("cytarabine", 5900.0, "mg", "iv", BID)], []),
    plan("hyper-cvad.b-day2-cytarabine-age-62", "62-year-old: cytarabine 5,900 mg vs the 1 g/m2 row for >= 60 y (unverified row: warning)", SRC, OLDER, hcvad(2, 2),
         [Order("cytarabine", 5900.0, "mg", "iv", BID)],
         [card("dose", "warning", "cytarabine", "plan.dose.hyper-cvad.b.cytarabine-60y", "above the Course B day 2 dose")]),
    # -- the seed's maintenance pattern --------------------------------------------------------------------
    plan("maintenance-pulses.day1-clean", "cycle day 1 as planned: vincristine 2 mg, methotrexate 40 mg weekly, mercaptopurine 150 mg daily", SEED, ADULT, pulses(1),
         [Order("vincristine", 2.0, "mg", "iv", ONCE), Order("methotrexate-oral", 40.0, "mg", "po", WEEKLY), Order("mercaptopurine", 150.0, "mg", "po", DAILY)], []),
    plan("maintenance-pulses.day36-deviations", "cycle 2 day 8: methotrexate 45 mg (+15%), mercaptopurine 100 mg (-17%), vincristine (day 1 only)", SEED, ADULT, pulses(36),
         [Order("methotrexate-oral", 45.0, "mg", "po", WEEKLY), Order("mercaptopurine", 100.0, "mg", "po", DAILY), Order("vincristine", 2.0, "mg", "iv", ONCE)],
         [card("dose", "warning", "methotrexate", "plan.dose.all-maintenance-pulses.methotrexate", "above the Maintenance cycle day 8 dose"),
          card("dose", "warning", "mercaptopurine", "plan.dose.all-maintenance-pulses.mercaptopurine", "below the Maintenance cycle day 8 dose"),
          card("regimen", "warning", "vincristine", "plan.not-in-plan.all-maintenance-pulses.maintenance", "not in today's plan")]),
    # -- plans we cannot read: missing-data, and the label rules as before ---------------------------------
    plan("hyper-cvad.unreadable-no-course", "CarePlan names hyper-CVAD but no course: label rules only", SRC, BIG,
         {"instantiatesCanonical": [HCVAD], "title": "Hyper-CVAD", "period": {"start": start(1)}}, [cyc(650.0)],
         [card("missing-data", "warning", None, "missing-data.plan", "Treatment plan not readable"),
          card("dose", "warning", "cyclophosphamide", "dose.cyclophosphamide.divided-course")]),
    plan("unknown-regimen", "CarePlan instantiates a PlanDefinition we have no template for", "CarePlan.instantiatesCanonical unknown", ADULT,
         {"instantiatesCanonical": ["https://hospital.example/fhir/PlanDefinition/site-protocol-7"], "title": "Site protocol 7", "period": {"start": start(1)}},
         [Order("doxorubicin", 99.0, "mg", "iv", ONCE)],
         [card("missing-data", "info", None, "missing-data.plan", "Treatment plan not readable")]),
]
