"""Route and schedule cards read by a prescriber: every message the rules can name, rendered from
its template through the real rules (no fixture reaches some of them: adult nelarabine the day
after, an undated second pegaspargase order, a clofarabine 6th day, a route note, no frequency).

Each card: summary under 140 characters with the generic name first and the number that matters;
no resource reference or rule id in summary or detail; the detail says what to do.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from support.dose_orders import ORDER_DATE, given, med, only, patient, run

from cdshooks.context.model import Route
from cdshooks.rules.registry import RuleSettings
from cdshooks.rules.route import route_allowed
from cdshooks.rules.schedule import schedule_pattern

NOTE_ON = RuleSettings(enabled_soft_rules=frozenset({"route.cytarabine.intrathecal-preservative-free"}))
_FIVE_PRIOR = [given("clofarabine", ORDER_DATE - timedelta(days=d), 52, "mg/m2", n=d) for d in range(1, 6)]
_UNDATED = replace(med("pegaspargase", 2500, "[iU]/m2", ref="MedicationRequest/o2"), authored_on=None, status="active")


def _odd_route():
    o = med("vincristine", 1.5, "mg")
    return replace(o, route=Route(None, "urn:x|99", "into the vein-ish"))


CASES = {
    # message: (rule, context, settings, words the card must carry)
    "too-frequent": (schedule_pattern, lambda: patient(orders=[med("mercaptopurine", 25, "mg", route="oral", code="BID")]), None,
                     ["Mercaptopurine oral ordered twice daily", "once daily"]),
    "given-too-recently": (schedule_pattern, lambda: patient(orders=[med("pegaspargase", 2500, "[iU]/m2")],
                           administrations=[given("pegaspargase", ORDER_DATE - timedelta(days=10), 2500, "[iU]/m2")]), None,
                           ["10 days", (ORDER_DATE - timedelta(days=10)).isoformat(), (ORDER_DATE + timedelta(days=4)).isoformat()]),
    "other-order-undated": (schedule_pattern, lambda: patient(orders=[med("pegaspargase", 2500, "[iU]/m2")], others=[_UNDATED]), None,
                            ["no date", "every 14 days"]),
    "too-many-days": (schedule_pattern, lambda: patient(orders=[med("clofarabine", 52, "mg/m2", code="QD")], administrations=_FIVE_PRIOR), None,
                      ["day 6", "at most 5"]),
    "adult-too-frequent": (schedule_pattern, lambda: patient(years=30, weight=70, height=175, orders=[med("nelarabine", 1500, "mg/m2", code="QD", count=5)]),
                           None, ["Nelarabine", "daily", "days 1, 3 and 5", "30 years"]),
    "adult-given-too-recently": (schedule_pattern, lambda: patient(years=30, weight=70, height=175, orders=[med("nelarabine", 1500, "mg/m2", code="QOD")],
                                 administrations=[given("nelarabine", ORDER_DATE - timedelta(days=1), 1500, "mg/m2")]), None,
                                 ["the day before", (ORDER_DATE + timedelta(days=1)).isoformat()]),
    "timing-unknown": (schedule_pattern, lambda: patient(orders=[med("methotrexate", 20, "mg/m2", route="oral")]), None,
                       ["schedule could not be checked", "once weekly"]),
    "note": (route_allowed, lambda: patient(orders=[med("cytarabine", 30, "mg", route="intrathecal")]), NOTE_ON, ["preservative-free"]),
    "route-unknown": (route_allowed, lambda: patient(orders=[_odd_route()]), None, ["into the vein-ish", "intravenous"]),
}


@pytest.mark.parametrize("message", sorted(CASES))
def test_every_route_and_schedule_message_reads_as_a_clinician_writes(kb, message):
    fn, ctx, settings, words = CASES[message]
    f = only(run(fn, ctx(), kb, settings))
    assert f.message == message
    assert len(f.summary) < 140 and f.summary[:1].isupper() and f.summary.lower().startswith(f.drug.split("-")[0])
    text = f.summary + "\n" + f.detail
    assert not re.search(r"MedicationRequest/|Medication/", text), text
    assert f.rule_id not in text and "rule_row" not in text
    assert "**What to do:**" in f.detail
    for w in words:
        assert w in text, (w, text)
