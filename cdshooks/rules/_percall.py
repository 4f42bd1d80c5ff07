"""Per-call memo for one `run_rules` call, and the record indexes several rules share through it.

Why: a chart two years into therapy carries hundreds of administrations; eight rules each scanned
all of them for their few drugs on every request. `run_rules` opens one memo for its call
(`per_call()`); a helper below builds its index on first use and every later rule of the same call
reads it. The memo is dropped when the call ends, so nothing about a patient outlives the request
(knowledge-only indexes live on the knowledge views instead). Outside `run_rules` (a test running
one rule) the helpers compute directly and answer the same. A memo entry holds its argument, so
an id cannot be reused by another object while the call runs. The leading underscore keeps the
registry from importing this module as a rule family.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from ..context.model import Administration, PatientContext

T = TypeVar("T")
_DRUG_IDS = attrgetter("drug_ids")
_MEMO: ContextVar[dict[Any, Any] | None] = ContextVar("cdshooks_rules_memo", default=None)


@contextmanager
def per_call() -> Iterator[None]:
    """One memo for the rules of one call (per thread and per call, never shared)."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def memoized(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn(*objects)`, pure in its arguments (the context, an order), computed once per call and
    per argument identity (not equality: two equal orders are two orders)."""

    @wraps(fn)
    def once(*args: Any) -> T:
        memo = _MEMO.get()
        if memo is None:
            return fn(*args)
        key = (fn, *map(id, args))
        hit = memo.get(key)
        if hit is not None:
            # The entry holds its arguments (hit[0]) alive, so no other object can have their ids
            # while the memo lives: a key found is these very objects (tests/rules/test_percall.py).
            return hit[1]  # type: ignore[no-any-return]
        value = fn(*args)
        memo[key] = (args, value)
        return value

    return once


@memoized
def _positions(ctx: "PatientContext") -> dict[str, tuple[int, ...]]:
    """Drug id -> positions in ctx.administrations (ascending) of the administrations naming it.

    Grouped by the administrations' drug-id tuples first (a two-year chart names the same few
    drugs hundreds of times: one dict step per administration instead of one per drug it names),
    then each distinct tuple's drugs get its positions. (A C-level sort + groupby of the positions
    was measured slower: tuple comparisons cost more than the dict steps.)"""
    groups: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)  # its missing-key step is C (~20% of this loop)
    try:
        for i, ids in enumerate(map(_DRUG_IDS, ctx.administrations)):
            groups[ids].append(i)
    except TypeError:  # an unhashable drug_ids (not a tuple of ids): one drug at a time
        return _positions_by_drug(ctx)
    found: dict[str, list[int]] = {}
    merged: set[str] = set()  # drugs with positions from more than one tuple: re-sorted
    for ids, positions in groups.items():
        for drug in (ids if len(ids) < 2 else dict.fromkeys(ids)):  # one drug (the usual) needs no de-duplication
            if drug in found:
                found[drug] += positions
                merged.add(drug)
            else:
                found[drug] = positions if len(ids) == 1 else list(positions)
    return {drug: tuple(sorted(ps)) if drug in merged else tuple(ps) for drug, ps in found.items()}


def _positions_by_drug(ctx: "PatientContext") -> dict[str, tuple[int, ...]]:
    """`_positions` one administration and drug at a time (its definition, and its fallback)."""
    found: dict[str, list[int]] = {}
    for i, a in enumerate(ctx.administrations):
        ids = a.drug_ids
        for drug in (ids if len(ids) < 2 else dict.fromkeys(ids)):
            if drug in found:
                found[drug].append(i)
            else:
                found[drug] = [i]
    return {drug: tuple(ps) for drug, ps in found.items()}


def given_with(ctx: "PatientContext", drugs: Iterable[str]) -> tuple["Administration", ...]:
    """The administrations naming any of `drugs`, in ctx.administrations order (newest first):
    exactly `[a for a in ctx.administrations if set(a.drug_ids) & set(drugs)]`."""
    positions = _positions(ctx)
    hits = [positions[d] for d in dict.fromkeys(drugs) if d in positions]
    if not hits:
        return ()
    pick = ctx.administrations.__getitem__
    if len(hits) == 1:
        return tuple(map(pick, hits[0]))
    return tuple(map(pick, sorted(set().union(*hits))))


@memoized
def all_medications(ctx: "PatientContext") -> tuple[Any, ...]:
    """`ctx.all_medications()` (a new tuple each time it is asked), once per call: a dozen rules ask."""
    return ctx.all_medications()
