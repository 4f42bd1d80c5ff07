"""`LabSeries.newest` (the newest result in a date range, building only that one) answers exactly
what scanning the built series newest first answers: `PatientContext.lab` and
`rules._stratify.latest_within` read it instead of building a whole two-year series."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cdshooks.context.builder import build_context
from cdshooks.context.labs import LabSeries
from cdshooks.context.model import LabResult, PatientContext
from cdshooks.rules._stratify import latest_within

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from workload import chart_request  # noqa: E402

DAY = date(2024, 3, 10)
KEYS = ["wbc", "potassium", "lvef"]


def _reference(series: tuple[LabResult, ...], since: date | None, on: date | None) -> LabResult | None:
    return next((lab for lab in series if (on is None or lab.date <= on) and (since is None or since <= lab.date)), None)


def _plain(key: str, day: date, i: int, value: float) -> tuple:
    return (key, day, "Observation", f"o{i}", value, 1.0, 1.0, "mmol/L", "mmol/L")


entry = st.tuples(st.sampled_from(KEYS), st.integers(0, 40), st.booleans(), st.floats(0.1, 500, allow_nan=False))
bound = st.none() | st.integers(-5, 45).map(lambda d: DAY - timedelta(days=d))


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(entry, max_size=30), since=bound, on=bound, prebuilt=st.booleans())
def test_newest_is_the_first_of_the_built_series_in_range(entries, since, on, prebuilt) -> None:
    grouped: dict[str, list] = {}
    for i, (key, back, plain, value) in enumerate(entries):  # same-day results: ties in reading order
        day = DAY - timedelta(days=back)
        grouped.setdefault(key, []).append(_plain(key, day, i, value) if plain else
                                           LabResult(key, day, f"Observation/r{i}", value, "mmol/L", original=f"{value} mmol/L"))
    lazy, built = LabSeries({k: list(v) for k, v in grouped.items()}), LabSeries({k: list(v) for k, v in grouped.items()})
    for key in KEYS + ["absent"]:
        if prebuilt:
            lazy.get(key)
        expected = _reference(built.get(key) or (), since, on)
        first = lazy.newest(key, since, on)
        assert first == expected
        lazy.get(key)  # asked again after the series is built: the same answer, the same object
        assert lazy.newest(key, since, on) is first
        assert lazy.newest(key) == (built[key][0] if key in built else None)


def test_context_readers_answer_as_before_on_a_two_year_chart(kb) -> None:
    request = chart_request("order-sign", 600, DAY)
    ctx = build_context(request["prefetch"], patient_id="bench-pt-1", draft_orders=request["context"]["draftOrders"],
                        selections=None, kb=kb, now=datetime(2024, 3, 10, 12, 0))
    assert isinstance(ctx.labs, LabSeries) and len(ctx.labs) > 10
    plain = PatientContext(patient_id=ctx.patient_id, order_date=ctx.order_date, now=ctx.now, labs=dict(ctx.labs.items()))
    fresh = build_context(request["prefetch"], patient_id="bench-pt-1", draft_orders=request["context"]["draftOrders"],
                          selections=None, kb=kb, now=datetime(2024, 3, 10, 12, 0))
    for key in list(ctx.labs) + ["absent"]:
        assert fresh.lab(key) == plain.lab(key)
        for days in (0, 1, 7, 30, 400):
            assert latest_within(fresh, key, days) == latest_within(plain, key, days), (key, days)
    assert fresh.labs._series == {}  # answered without building a series
