"""`_stratify.diagnostic_wbc` and `first_on_or_after` read only dates to choose the one WBC they
use, so over a lazy `LabSeries` (`oldest`) they build just that result; they answer exactly what
the round-4 code answered by sorting the whole built series (kept here as the reference)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from cdshooks.context.labs import LabSeries
from cdshooks.context.model import Administration, LabResult, PatientContext
from cdshooks.knowledge import load_knowledge
from cdshooks.knowledge.risk import format_number, risk_view
from cdshooks.rules._stratify import diagnostic_wbc, first_cytoreductive_day, first_on_or_after, value_in

KB = load_knowledge()
RK = risk_view(KB)
DX = date(2025, 1, 10)


def reference_diagnostic_wbc(ctx: PatientContext, rk, kb):
    """diagnostic_wbc as written in round 4 (the whole series sorted, then filtered)."""
    if ctx.diagnosis_date is None:
        return None, None, "no diagnosis date recorded (needed to find the WBC at diagnosis)"
    before, after = rk.criterion("NCI-WBC-WINDOW-BEFORE"), rk.criterion("NCI-WBC-WINDOW")
    dx = ctx.diagnosis_date
    started = first_cytoreductive_day(ctx, kb) if kb is not None else None
    series = sorted(ctx.labs.get("wbc") or (), key=lambda lab: lab.date)
    window = [lab for lab in series if before.holds((dx - lab.date).days) and after.holds((lab.date - dx).days)]
    pre = [lab for lab in window if started is None or lab.date <= started]
    span = f"{format_number(before.value or 0)} days before to {format_number(after.value or 0)} days after the diagnosis date {dx.isoformat()}"
    if not pre:
        if window:
            return window[0], None, (
                f"every WBC from {span} is after the first cytoreductive administration ({started.isoformat() if started else '?'}): on treatment, not used"
            )
        later = next((lab for lab in series if lab.date > dx), None)
        if later is not None:
            return later, None, f"no WBC from {span}; the first after it is from {later.date.isoformat()} (likely on treatment, not used)"
        return None, None, f"no WBC recorded from {span}"
    lab = pre[0]
    value = value_in(lab, "/uL")
    if value is None:
        return lab, None, f"the WBC of {lab.date.isoformat()} has no usable unit"
    return lab, value, None


def _entries(drawn):
    out = []
    for i, (shift, plain, unit) in enumerate(drawn):
        day = DX + timedelta(days=shift)
        if plain:  # what observations.read_observations keeps of a plain quantity lab (labs.Plain)
            out.append(("wbc", day, "Observation", f"w{i}", 12.5 + i, 1000.0, 1.0, "/uL", "10*3/uL"))
        else:
            out.append(LabResult("wbc", day, f"Observation/r{i}", 9000.0 + i, unit, original="9 x"))
    return out


wbc = st.lists(st.tuples(st.integers(-40, 60), st.booleans(), st.sampled_from(["/uL", "10*3/uL", "%", None])), max_size=12)


@settings(max_examples=300, deadline=None)
@given(drawn=wbc, dx=st.none() | st.just(DX), started=st.none() | st.integers(-10, 20), prebuilt=st.booleans(),
       start=st.none() | st.integers(-40, 60))
def test_lazy_choice_equals_the_sorted_scan(drawn, dx, started, prebuilt, start) -> None:
    admins = () if started is None else (Administration("MedicationAdministration/a", ("vincristine",), DX + timedelta(days=started)),)
    entries = _entries(drawn)
    lazy = LabSeries({"wbc": list(entries)} if entries else {})
    built = LabSeries({"wbc": list(entries)} if entries else {})
    if prebuilt:
        lazy.get("wbc")
    common = dict(patient_id="p", order_date=DX + timedelta(days=70), now=datetime(2025, 3, 21, tzinfo=timezone.utc), diagnosis_date=dx,
                  administrations=admins)
    fast = PatientContext(labs=lazy, **common)
    plain = PatientContext(labs=dict(built.items()), **common)  # a plain mapping of built series
    assert diagnostic_wbc(fast, RK, KB) == reference_diagnostic_wbc(plain, RK, KB) == diagnostic_wbc(plain, RK, KB)
    on = None if start is None else DX + timedelta(days=start)
    expected = next((lab for lab in sorted(plain.labs.get("wbc") or (), key=lambda lab: lab.date) if on is None or lab.date >= on), None)
    assert first_on_or_after(fast, "wbc", on) == expected == first_on_or_after(plain, "wbc", on)
