"""The per-call memo (rules/_percall.py): its index answers what the scan it replaces answered,
it lives exactly as long as one run_rules call, and never answers for another context."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from cdshooks.context.model import Administration, PatientContext
from cdshooks.rules import _percall
from cdshooks.rules._percall import given_with, memoized, per_call

DRUGS = ["methotrexate", "vincristine", "pegaspargase", "daunorubicin", "doxorubicin", "mercaptopurine", "cytarabine"]
DAY = date(2026, 3, 1)


def ctx_with(admins: list[Administration]) -> PatientContext:
    return PatientContext(patient_id="p", order_date=DAY, now=datetime(2026, 3, 1, 12, tzinfo=timezone.utc), administrations=tuple(admins))


administration = st.builds(
    lambda i, ids, back, status: Administration(f"MedicationAdministration/a{i}", tuple(ids), DAY - timedelta(days=back), status=status),
    st.integers(0, 10_000), st.lists(st.sampled_from(DRUGS + ["unknown-drug"]), max_size=3), st.integers(0, 700),
    st.sampled_from([None, "completed", "not-done", "entered-in-error"]),
)


@settings(max_examples=200, deadline=None)
@given(admins=st.lists(administration, max_size=40), wanted=st.lists(st.sampled_from(DRUGS + ["absent"]), max_size=4))
def test_given_with_is_the_filter_it_replaces(admins: list[Administration], wanted: list[str]) -> None:
    ctx = ctx_with(admins)
    expected = tuple(a for a in ctx.administrations if set(a.drug_ids) & set(wanted))
    assert given_with(ctx, wanted) == expected  # no memo open: computed directly
    with per_call():
        assert given_with(ctx, wanted) == expected
        assert given_with(ctx, frozenset(wanted)) == expected  # any iterable of ids, the index reused
        assert all(x is y for x, y in zip(given_with(ctx, wanted), expected))  # the same objects, not copies


def test_memo_lives_for_one_call_and_one_context() -> None:
    calls: list[int] = []

    @memoized
    def count(ctx: PatientContext) -> int:
        calls.append(1)
        return len(ctx.administrations)

    a, b = ctx_with([]), ctx_with([Administration("MedicationAdministration/x", ("vincristine",), DAY)])
    assert a == ctx_with([]) and a is not ctx_with([])
    count(a), count(a)
    assert len(calls) == 2  # outside a call: nothing remembered
    with per_call():
        assert (count(a), count(a), count(b), count(b)) == (0, 0, 1, 1)
        assert len(calls) == 4  # once per context, by identity
        assert count(ctx_with([])) == 0 and len(calls) == 5  # an equal but different context is not a hit
    assert _percall._MEMO.get() is None  # dropped when the call ends
    count(a)
    assert len(calls) == 6


def test_nested_calls_do_not_share_or_leak() -> None:
    seen: list[str] = []

    @memoized
    def mark(ctx: PatientContext) -> str:
        seen.append(ctx.patient_id)
        return ctx.patient_id

    ctx = ctx_with([])
    with per_call():
        mark(ctx)
        with per_call():  # e.g. a rule that runs the engine again: its own memo
            mark(ctx)
        mark(ctx)
        outer = _percall._MEMO.get()
        assert outer is not None and len(outer) == 1
    assert seen == ["p", "p"]


def test_memo_of_two_and_three_arguments_hits_only_the_same_objects() -> None:
    calls: list[tuple[int, ...]] = []

    @memoized
    def pair(ctx: PatientContext, other: object, *more: object) -> int:
        calls.append((id(ctx), id(other), *map(id, more)))
        return len(calls)

    ctx, x, y = ctx_with([]), object(), object()
    with per_call():
        assert pair(ctx, x) == pair(ctx, x) == 1
        assert pair(ctx, y) == 2 and pair(ctx_with([]), x) == 3  # another second or first argument: computed
        assert pair(ctx, x, y) == pair(ctx, x, y) == 4 and pair(ctx, y, x) == 5
    assert len(calls) == 5


@settings(max_examples=200, deadline=None)
@given(admins=st.lists(administration, max_size=60))
def test_grouped_positions_equal_one_drug_at_a_time(admins: list[Administration]) -> None:
    ctx = ctx_with(admins)
    assert _percall._positions(ctx) == _percall._positions_by_drug(ctx)  # key order aside (given_with reads by key)


def test_positions_of_unhashable_drug_ids_fall_back() -> None:
    admins = [Administration("MedicationAdministration/a", ("vincristine",), DAY),
              Administration("MedicationAdministration/b", ["vincristine", "vincristine"], DAY)]  # type: ignore[arg-type]
    ctx = ctx_with(admins)
    assert _percall._positions(ctx) == _percall._positions_by_drug(ctx) == {"vincristine": (0, 1)}
    mixed = ctx_with([Administration("MedicationAdministration/a", ("vincristine",), DAY),
                      Administration("MedicationAdministration/b", (None,), DAY)])  # type: ignore[arg-type]  # not comparable
    assert _percall._positions(mixed) == _percall._positions_by_drug(mixed) == {"vincristine": (0,), None: (1,)}


def test_a_dropped_argument_cannot_lend_its_id_to_another() -> None:
    @memoized
    def first(values: list[int]) -> int:
        return values[0]

    with per_call():
        for i in range(2000):  # each list is dropped by the caller at once; the memo keeps it alive
            assert first([i]) == i
        assert first.__wrapped__([7]) == 7
