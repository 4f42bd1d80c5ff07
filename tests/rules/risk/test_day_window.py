"""_stratify.day_window (the presenting-WBC window as two date bounds) answers exactly what the
two threshold rows answer for every day: `before.holds((dx - day).days) and after.holds((day - dx).days)`."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings, strategies as st

from cdshooks.knowledge import load_knowledge
from cdshooks.knowledge.risk import Threshold, risk_view
from cdshooks.rules._stratify import day_window

OPS = st.sampled_from(["<", "<=", ">", ">="])
VALUES = st.one_of(st.integers(-4000, 4000), st.floats(-4000, 4000, allow_nan=False), st.sampled_from([0, 0.5, -0.5, 7, 7.0, 28.999]))
DAYS = st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 12, 31))


def row(op: str, value: float) -> Threshold:
    return Threshold(id="T", input="days", outcome="", citation="test", status="verified", op=op, value=value)


def reference(before: Threshold, after: Threshold, dx: date, day: date) -> bool:
    return before.holds((dx - day).days) and after.holds((day - dx).days)


@settings(max_examples=400, deadline=None)
@given(OPS, VALUES, OPS, VALUES, DAYS, st.lists(st.integers(-5000, 5000), min_size=1, max_size=12))
def test_window_equals_the_rows(bop: str, bval: float, aop: str, aval: float, dx: date, offsets: list[int]) -> None:
    before, after = row(bop, bval), row(aop, aval)
    test = day_window(before, after, dx)
    assert test is not None
    for off in offsets + [0, 1, -1, int(bval), -int(bval), int(aval), -int(aval)]:
        try:
            day = dx + timedelta(days=off)
        except OverflowError:
            continue
        assert test(day) == reference(before, after, dx, day), (bop, bval, aop, aval, dx, day)


def test_the_knowledge_rows_are_a_plain_window() -> None:
    rk = risk_view(load_knowledge())
    before, after = rk.criterion("NCI-WBC-WINDOW-BEFORE"), rk.criterion("NCI-WBC-WINDOW")
    dx = date(2024, 11, 1)
    test = day_window(before, after, dx)
    assert test is not None  # the fast path is the one the service takes
    for off in range(-60, 61):
        day = dx + timedelta(days=off)
        assert test(day) == reference(before, after, dx, day)
    assert any(test(dx + timedelta(days=o)) for o in range(-60, 61)) and not test(dx + timedelta(days=60))


def test_no_plain_range_or_outside_the_calendar_asks_the_rows() -> None:
    dx = date(2024, 11, 1)
    assert day_window(row("<=", 7), Threshold(id="N", input="", outcome="", citation="c", status="verified"), dx) is None
    assert day_window(row("<=", float("inf")), row("<=", 3), dx) is None
    assert day_window(row("<=", 10**10), row("<=", 3), dx) is None
    assert day_window(row("<=", True), row("<=", 3), dx) is None  # type: ignore[arg-type]
