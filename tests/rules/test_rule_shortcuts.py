"""Round 7 shortcuts in the rules and their knowledge lookups answer what the code they replace
answered (issue 15): the dose rule's per-row conversions kept per process (`dose._branch`, the old
one kept here verbatim), the schedule rule's newest past day without sorting every day, the
dosing view's per-table lookups, and `Knowledge.view`'s memo."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from cdshooks.context.model import Administration, Bsa, Measurement, PatientContext
from cdshooks.context.units import convert
from cdshooks.knowledge import Knowledge, default_knowledge
from cdshooks.knowledge.dosing import DoseRule, dosing_view, per_unit
from cdshooks.rules import dose, schedule
from cdshooks.rules._percall import per_call

from support.fixture_contexts import fixture_rule_calls

KB = default_knowledge()
VIEW = dosing_view(KB)
DAY = date(2026, 3, 1)


def old_branch(ctx: PatientContext, row: DoseRule, ordered: float) -> dose._Branch | None:  # rules/dose.py before round 7
    size = dose._size(ctx, row.basis)
    if size is None:
        return None
    unit = per_unit(row.amount_unit, row.basis)
    low = convert(row.low, row.dose_unit, unit) * size
    high = convert(row.high, row.dose_unit, unit) * size
    cap = convert(row.cap.value, row.cap.unit, row.amount_unit) if row.cap else None
    if cap is not None:
        low, high = min(low, cap), min(high, cap)
    return dose._Branch(row, low, high, cap, None if row.basis == "fixed" else size, ordered)


def _ctx(weight: float | None, bsa: float | None) -> PatientContext:
    w = Measurement(weight or 20.0, "kg", DAY, "Observation/w", "x kg")
    h = Measurement(110.0, "cm", DAY, "Observation/h", "110 cm")
    return PatientContext(
        patient_id="p", order_date=DAY, now=datetime(2026, 3, 1, 12, tzinfo=timezone.utc),
        weight=w if weight is not None else None, bsa=Bsa(bsa, "Mosteller", w, h) if bsa is not None else None,
    )


@settings(max_examples=150, deadline=None)
@given(weight=st.none() | st.floats(0.5, 150), bsa=st.none() | st.floats(0.1, 3), ordered=st.floats(0, 1e4))
def test_branch_is_the_conversion_it_keeps(weight: float | None, bsa: float | None, ordered: float) -> None:
    ctx = _ctx(weight, bsa)
    for row in VIEW.dose_rules:
        for _ in range(2):  # converted, then kept
            assert dose._branch(ctx, row, ordered) == old_branch(ctx, row, ordered), row.id


def test_branch_on_every_fixture_chart() -> None:
    for call in fixture_rule_calls():
        for row in dosing_view(call.kb).dose_rules:
            assert dose._branch(call.ctx, row, 12.5) == old_branch(call.ctx, row, 12.5), (call.name, row.id)


administration = st.builds(
    lambda i, back, status, drug: Administration(f"MedicationAdministration/a{i}", (drug,), DAY - timedelta(days=back), status=status),
    st.integers(0, 999), st.integers(-5, 40), st.sampled_from([None, "completed", "not-done", "stopped", "in-progress"]),
    st.sampled_from(["vincristine", "methotrexate"]),
)


@settings(max_examples=200, deadline=None)
@given(admins=st.lists(administration, max_size=20), back=st.integers(-3, 10))
def test_last_day_is_the_newest_past_day(admins: list[Administration], back: int) -> None:
    ctx = PatientContext(patient_id="p", order_date=DAY, now=datetime(2026, 3, 1, tzinfo=timezone.utc), administrations=tuple(admins))
    day = DAY - timedelta(days=back)
    for drug in ("vincristine", "methotrexate", "absent"):
        days = schedule._past_days(ctx, drug, day)
        with per_call():
            assert schedule._last_day(ctx, drug, day) == (days[0] if days else None)


def test_dosing_lookups_are_the_table_rows() -> None:
    drugs = {r.drug for r in VIEW.dose_rules + VIEW.label_limits + VIEW.schedule_rules} | {"absent"}
    for drug in drugs:
        assert VIEW.doses_for(drug) == VIEW._rows("dose", drug) == tuple(r for r in VIEW.dose_rules if r.drug == drug)
        assert VIEW.limits_for(drug) == VIEW._rows("limit", drug) == tuple(r for r in VIEW.label_limits if r.drug == drug)
        assert VIEW.schedules_for(drug) == VIEW._rows("schedule", drug) == tuple(r for r in VIEW.schedule_rules if r.drug == drug)
        assert VIEW.bases_for(drug) == {r.basis for r in VIEW.doses_for(drug)}


def test_a_view_is_built_once_and_a_failing_build_is_not_kept(tmp_path) -> None:
    kb = Knowledge(version="t", tables={}, source_dir=tmp_path)
    built: list[int] = []

    def build(k: Knowledge) -> object:
        built.append(1)
        if len(built) == 1:
            raise KeyError("first build fails")
        return object()

    try:
        kb.view("v", build)
    except KeyError as exc:
        assert "first build fails" in str(exc)
    first = kb.view("v", build)
    assert kb.view("v", build) is first and len(built) == 2


def old_special_populations(ctx, kb, settings):  # rules/populations.py special_populations before round 7, verbatim
    from cdshooks.knowledge.populations import population_knowledge
    from cdshooks.rules.populations import _EVALUATORS, _MISSING_ROW, _enabled, in_scope
    from cdshooks.rules.verdict import Verdict

    if not ctx.targets or "populations" not in kb.tables:
        return
    gaps: dict = {}
    items: dict = {}
    shown: dict = {}
    orders = {o.ref: o for o in ctx.targets}

    def missing(order, item, why, what):
        gaps.setdefault(order.ref, []).append(why)
        items.setdefault(order.ref, set()).add(item)
        shown.setdefault(order.ref, []).extend(what["gaps"])

    ordered = [d for o in ctx.targets for d in o.drug_ids]  # every evaluator speaks only of these (`_targets`)
    for row in population_knowledge(kb).population_rows_for(ordered):  # file order, population family only
        if not _enabled(row, settings) or not in_scope(row.scope, ctx, kb):
            continue
        yield from _EVALUATORS[type(row)](ctx, row, settings, missing, kb)
    for ref, reasons in gaps.items():
        order = orders[ref]
        drug = order.drug_ids[0] if order.drug_ids else None
        yield Verdict(row=_MISSING_ROW, topic="missing-data", indicator="warning", message="population-labs", drug=drug,
                      orders=(ref,) if order.is_draft else (), inputs={"missing": sorted(items[ref]), "reasons": reasons},
                      facts={"what": drug or order.display, "labs": sorted(items[ref]), "gaps": list({repr(g): g for g in shown[ref]}.values())})


def test_special_populations_as_before_on_every_fixture_chart() -> None:
    from cdshooks.rules.populations import special_populations

    found = 0
    for call in fixture_rule_calls():
        with per_call():
            new = list(special_populations(call.ctx, call.kb, call.settings))
        with per_call():
            old = list(old_special_populations(call.ctx, call.kb, call.settings))
        assert new == old, call.name
        found += len(new)
    assert found > 10
