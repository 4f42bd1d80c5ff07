"""Lazy lab series (context.labs.LabSeries): the same results, order and gaps as building every
result at once, built only for the keys a rule reads, and never shared between contexts."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from cdshooks.context.builder import build_context
from cdshooks.context.fhir import entries
from cdshooks.context.labs import LabSeries, read_labs
from cdshooks.knowledge.codes import codes_view

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from workload import chart_request  # noqa: E402

DAY = date(2024, 3, 10)


def _context(kb, size=150):
    request = chart_request("order-sign", size, DAY)
    return request, build_context(request["prefetch"], patient_id="bench-pt-1", draft_orders=request["context"]["draftOrders"],
                                  selections=None, kb=kb, now=datetime(2024, 3, 10, 12, 0))


def _eager(kb, request):
    """Every result built at once by the general reader over conformed resources, grouped by key."""
    reading = read_labs(entries(request["prefetch"]["observations"]), codes_view(kb), DAY, DAY)
    grouped: dict = {}
    for result in reading.results:
        grouped[result.key] = grouped.get(result.key, ()) + (result,)
    return grouped


def test_lazy_series_equal_the_eager_ones_key_by_key_in_order(kb):
    request, ctx = _context(kb)
    eager = _eager(kb, request)
    assert isinstance(ctx.labs, LabSeries) and len(eager) > 10
    assert list(ctx.labs) == list(eager) and len(ctx.labs) == len(eager)
    for key, series in eager.items():
        assert ctx.labs[key] == series
        assert [r.date for r in series] == sorted((r.date for r in series), reverse=True)
    assert ctx.labs == eager and dict(ctx.labs.items()) == eager


def test_only_the_keys_read_are_built_and_each_once(kb):
    _, ctx = _context(kb)
    assert ctx.labs._series == {}  # nothing built by the builder itself
    assert "wbc" in ctx.labs and "no-such-lab" not in ctx.labs and ctx.labs._series == {}  # `in` builds nothing
    first = ctx.lab("wbc")  # the newest only (LabSeries.newest): no series built for it
    assert first is not None and ctx.labs._series == {}
    assert ctx.labs["wbc"][0] == first and list(ctx.labs._series) == ["wbc"]
    assert ctx.labs.get("wbc") is ctx.labs["wbc"]  # built once, then the same tuple
    assert ctx.labs.get("no-such-lab") is None and ctx.lab("no-such-lab") is None
    with pytest.raises(KeyError):
        ctx.labs["no-such-lab"]


def test_series_are_never_shared_between_contexts(kb):
    request, one = _context(kb)
    _, other = _context(kb)
    assert one.labs is not other.labs
    one.labs.get("wbc")
    assert other.labs._series == {}
    assert one.labs == other.labs == _eager(kb, request)
