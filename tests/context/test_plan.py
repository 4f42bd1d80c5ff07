"""CarePlan -> TreatmentPlan: regimen named three ways, course and day from period or activity,
ambiguity and gaps reported with the field that would let us check, any JSON type tolerated."""

from __future__ import annotations

from datetime import date

import pytest

from cdshooks.context.model import Administration
from cdshooks.context.plan import read_plan
from cdshooks.knowledge import load_knowledge
from cdshooks.knowledge.regimen_templates import template_library
from support.regimens import write_site_dir

ORDER_DATE = date(2026, 11, 2)


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    site = write_site_dir(tmp_path_factory.mktemp("site"))
    return template_library(load_knowledge(regimen_dirs=(site,)))


def careplan(cid="cp1", status="active", **fields):
    return {"resourceType": "CarePlan", "id": cid, "status": status, "intent": "plan", "subject": {"reference": "Patient/p1"}, **fields}


def test_no_careplan_naming_a_regimen_is_no_plan(lib):
    assert read_plan([careplan(title="ALL Induction", period={"start": "2026-10-21"})], lib, ORDER_DATE) is None
    assert read_plan([], lib, ORDER_DATE) is None


@pytest.mark.parametrize("fields, named_by", [
    ({"instantiatesCanonical": ["urn:all-cds:PlanDefinition/hyper-cvad|2000"], "title": "Course 3"}, "instantiatesCanonical"),
    ({"instantiatesCanonical": ["https://ehr.example/fhir/PlanDefinition/hyper-cvad"], "title": "course 3"}, "instantiatesCanonical"),
    ({"identifier": [{"system": "urn:x", "value": "hyper-cvad"}], "title": "Cycle 3"}, "identifier"),
    ({"title": "Hyper-CVAD course 3"}, "title"),
])
def test_regimen_course_and_day_from_period_start(lib, fields, named_by):
    plan = read_plan([careplan(period={"start": "2026-10-30"}, **fields)], lib, ORDER_DATE)
    assert plan is not None and plan.usable, plan
    assert (plan.regimen, plan.named_by, plan.phase, plan.course) == ("hyper-cvad", named_by, "course-a", 3)
    assert (plan.course_start, plan.day, plan.start_from) == (date(2026, 10, 30), 4, "CarePlan.period.start")


def test_site_identifier_and_block_number(lib):
    cp = careplan(identifier=[{"system": "https://hospital.example/protocols", "value": "SVD-1"}], title="Block 2", period={"start": "2026-11-01"})
    plan = read_plan([cp], lib, ORDER_DATE)
    assert (plan.regimen, plan.phase, plan.day) == ("site-vcr-dex", "block-2", 2)


def test_current_course_from_the_activity_covering_the_order_date(lib):
    activities = [
        {"detail": {"status": "completed", "description": "Course 1 (A)", "scheduledPeriod": {"start": "2026-09-14", "end": "2026-10-04"}}},
        {"detail": {"status": "in-progress", "description": "Course 2 (B)", "scheduledPeriod": {"start": "2026-10-05"}}},
        {"detail": {"status": "in-progress", "code": {"text": "Hyper-CVAD course 3"}, "scheduledPeriod": {"start": "2026-10-27"}}},
        {"detail": {"status": "cancelled", "description": "Course 4", "scheduledPeriod": {"start": "2026-11-01"}}},
    ]
    cp = careplan(instantiatesCanonical=["urn:all-cds:PlanDefinition/hyper-cvad"], title="Hyper-CVAD", period={"start": "2026-09-14"}, activity=activities)
    given = (Administration("MedicationAdministration/a1", ("vincristine",), date(2026, 10, 30)),
             Administration("MedicationAdministration/a0", ("vincristine",), date(2026, 10, 15)))
    plan = read_plan([cp], lib, ORDER_DATE, given)
    assert (plan.phase, plan.course, plan.course_start, plan.day) == ("course-a", 3, date(2026, 10, 27), 7)
    assert plan.start_from == "CarePlan.activity[2].detail.scheduledPeriod.start"
    assert [a.ref for a in plan.given] == ["MedicationAdministration/a1"]


def test_phase_alias_and_single_phase_template(lib):
    plan = read_plan([careplan(title="Hyper-CVAD maintenance (POMP)", period={"start": "2026-10-01"})], lib, ORDER_DATE)
    assert (plan.phase, plan.day) == ("maintenance", 33)
    plan = read_plan([careplan(instantiatesCanonical="urn:all-cds:PlanDefinition/all-maintenance-pulses", period={"start": "2026-10-06"})], lib, ORDER_DATE)
    assert plan.usable and plan.phase == "maintenance" and plan.day == 28


@pytest.mark.parametrize("cps, field", [
    ([careplan(title="Hyper-CVAD", period={"start": "2026-10-30"})], "CarePlan.title"),
    ([careplan(title="Hyper-CVAD course 3")], "CarePlan.period.start"),
    ([careplan(title="Hyper-CVAD course 9", period={"start": "2026-10-30"})], "course 9 is not a course"),
    ([careplan(title="Hyper-CVAD course A, course B", period={"start": "2026-10-30"})], "more than one phase"),
    ([careplan(title="Hyper-CVAD course 3", period={"start": "2026-11-05"})], "after the order date"),
    ([careplan(title="Hyper-CVAD course 3", period={"start": "2026-10-30"}), careplan("cp2", title="ALL maintenance pulses", period={"start": "2026-10-01"})], "more than one regimen"),
    ([careplan(title="Hyper-CVAD course 3", period={"start": "2026-10-30"}), careplan("cp2", title="Hyper-CVAD course 2", period={"start": "2026-10-01"})], "CarePlan.period covers"),
    ([careplan(instantiatesCanonical=["https://ehr.example/PlanDefinition/cog-aall0932"], period={"start": "2026-10-30"})], "CDSHOOKS_REGIMEN_DIR"),
    ([careplan(title="Hyper-CVAD", activity=[{"detail": {"description": "course 1", "scheduledPeriod": {"start": "2026-10-30"}}},
                                              {"detail": {"description": "course 2", "scheduledPeriod": {"start": "2026-10-30"}}}])], "scheduledPeriod"),
])
def test_unreadable_plans_say_which_field_would_let_us_check(lib, cps, field):
    plan = read_plan(cps, lib, ORDER_DATE)
    assert plan is not None and not plan.usable
    assert any(field in p for p in plan.problems), plan.problems


def test_inactive_careplans_are_ignored(lib):
    plan = read_plan([careplan(status="completed", title="Hyper-CVAD course 1", period={"start": "2026-09-01"}),
                      careplan("cp2", title="Hyper-CVAD course 3", period={"start": "2026-10-30"})], lib, ORDER_DATE)
    assert plan.usable and plan.source == "CarePlan/cp2"


JUNK = [None, True, 3, 2.5, "x", [], {}, [None, 1, "a"], {"start": 5}, [{"detail": 7}], [{"detail": {"scheduledPeriod": "2026"}}]]


@pytest.mark.parametrize("field", ["instantiatesCanonical", "identifier", "title", "description", "period", "activity", "status", "resourceType"])
@pytest.mark.parametrize("junk", JUNK, ids=[type(j).__name__ + str(n) for n, j in enumerate(JUNK)])
def test_any_json_type_anywhere_never_raises(lib, field, junk):
    cp = careplan(title="Hyper-CVAD course 3", period={"start": "2026-10-30"})
    cp[field] = junk
    plan = read_plan([cp, junk, {"resourceType": "CarePlan", "status": "active", "title": junk}], lib, ORDER_DATE)
    assert plan is None or isinstance(plan.problems, tuple)


@pytest.mark.parametrize("title, kind", [("Hyper-CVAD course 1", "induction"), ("Hyper-CVAD course 3", "consolidation"),
                                         ("Hyper-CVAD course 2", "consolidation"), ("Hyper-CVAD POMP", "maintenance")])
def test_template_phase_gives_the_treatment_phase(lib, title, kind):
    assert read_plan([careplan(title=title, period={"start": "2026-10-30"})], lib, ORDER_DATE).treatment_phase == kind
