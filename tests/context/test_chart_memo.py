"""A chart's Observations read once for every request that re-sends them (`memo.ChartReadings`).

Held to the general path: whatever was seen before, a request gets exactly what
`read_observations` gives its own lists; a chart is digested only from its second sighting; a
changed chart, another order date, NaN against null and what is not plain JSON never share.
"""

from __future__ import annotations

import copy
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import orjson
from hypothesis import given, strategies as st

import test_fast_paths as fast
from cdshooks.context.builder import _conformed, build_context
from cdshooks.context.fhir import conformed
from cdshooks.context.fhir import raw_entries
from cdshooks.context.administrations import read_administrations
from cdshooks.context.memo import ChartReadings, ChartTable, chart_readings, given_lists, settled_lists
from cdshooks.context.observations import read_observations
from cdshooks.knowledge.codes import codes_view
from cdshooks.knowledge.drugs import drugs_view
from ctx_fhirdata import bundle, obs, qty

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from workload import chart_request  # noqa: E402

ORDER = UPPER = fast.ORDER
TAG = b"observations test"


def _read(table, body, others, codes, order=ORDER, tag=TAG):
    """As the builder reads a request's Observations through the table."""
    return table.read((body, others), tag, lambda: read_observations(body, others, codes, order, UPPER),
                      lambda r: r.again())


def _same(got, body, others, codes, order=ORDER):
    assert got.labs.series._series == {}  # its own lazy series: nothing built by another request
    alone = read_observations(body, others, codes, order, UPPER)
    assert got == alone
    assert list(got.labs.series) == list(alone.labs.series)  # key order too


def _request(body, others):
    """A new request with this content: its own parsed objects, as the route gives them."""
    return raw_entries(orjson.loads(orjson.dumps(bundle(*body)))), raw_entries(orjson.loads(orjson.dumps(bundle(*others))))


@fast.FAST
@given(data=st.data())
def test_a_chart_sent_again_gets_what_reading_it_alone_gives(kb, data):
    codes = codes_view(kb)
    body, others = data.draw(fast.spoiled(fast.BODY)), data.draw(fast.spoiled(fast.LABS))
    table = ChartReadings().table(codes)
    readings = []
    for _ in range(4):  # first sighting, second (digested, kept), then read from the table
        sent = (copy.deepcopy(raw_entries(bundle(*body))), copy.deepcopy(raw_entries(bundle(*others))))
        got = _read(table, *sent, codes)
        _same(got, *sent, codes)
        readings.append(got)
    assert len({id(r.labs.series) for r in readings}) == 4  # never one request's series in another's
    try:
        keyable = b"null" not in orjson.dumps((body, others), option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        keyable = False
    assert len(table) == keyable  # the last two were answered from the table whenever it could key them


@fast.FAST
@given(data=st.data())
def test_a_changed_chart_is_never_answered_from_the_one_before(kb, data):
    """The same lengths and the same first and last resource (the same hint), anything in between
    changed: read as itself."""
    codes = codes_view(kb)
    body = fast.BODY
    others = data.draw(fast.spoiled(fast.LABS[:1])) + copy.deepcopy(fast.LABS[1:-1]) + data.draw(fast.spoiled(fast.LABS[-1:]))
    changed = others[:1] + data.draw(fast.spoiled(fast.LABS[1:-1])) + others[-1:]
    table = ChartReadings().table(codes)
    for _ in range(3):
        _read(table, *map(copy.deepcopy, (body, others)), codes)
    for sent in ((body, changed), (body, others), (body, changed)):
        sent = tuple(map(copy.deepcopy, sent))
        _same(_read(table, *sent, codes), *sent, codes)


def test_only_a_chart_seen_before_is_digested_and_kept(kb):
    codes = codes_view(kb)
    table = ChartReadings().table(codes)
    first = _request(fast.BODY, fast.LABS)
    _read(table, *first, codes)
    assert len(table.hints) == 1 and len(table) == 0  # a new patient: only its hint is remembered
    _read(table, *_request(fast.BODY, fast.LABS), codes)
    assert len(table) == 1  # seen again: digested and kept
    other = [obs("x", "6690-2", qty(3.1, "10*3/uL"), "2024-03-04")]
    _read(table, *_request(fast.BODY, other), codes)
    assert len(table.hints) == 2 and len(table) == 1


def test_another_order_date_or_view_is_another_reading(kb):
    codes = codes_view(kb)
    memo = ChartReadings()
    table = memo.table(codes)
    assert memo.table(codes) is table
    for _ in range(3):
        _read(table, *_request(fast.BODY, fast.LABS), codes)
    later = date(2024, 6, 1)
    for _ in range(3):  # the body measurement is stale by then: another reading, under another tag
        sent = _request(fast.BODY, fast.LABS)
        got = _read(table, *sent, codes, later, b"observations later")
        _same(got, *sent, codes, later)
        assert got.weight is None


def test_nan_and_null_and_what_is_not_plain_json_are_never_shared(kb):
    """orjson writes NaN and Infinity as null, a dict subclass as a dict: such charts are read alone."""
    class Sub(dict):
        pass

    codes = codes_view(kb)
    table = ChartReadings().table(codes)
    values = [None, float("nan"), float("inf"), None, float("nan")]
    for value in values * 2:
        others = [obs("a", "6690-2", qty(3.1, "10*3/uL"), "2024-03-04"), obs("b", "6690-2", qty(value, "10*3/uL"), "2024-03-03"),
                  obs("c", "6690-2", qty(2.1, "10*3/uL"), "2024-03-02")]
        _same(_read(table, [], others, codes), [], others, codes)
    assert len(table) == 0
    for n in range(4):
        others = [obs("a", "6690-2", qty(3.1, "10*3/uL"), "2024-03-04"), Sub(obs("b", "777-3", qty(9, "10*3/uL"), "2024-03-03")),
                  obs("c", "6690-2", qty(2.1, "10*3/uL"), "2024-03-02")]
        if n % 2:
            others[1] = dict(others[1])
        _same(_read(table, [], others, codes), [], others, codes)


def test_readings_kept_are_bounded(kb):
    codes = codes_view(kb)
    memo = ChartReadings(max_entries=3, max_hints=5, max_resources=7)
    table = memo.table(codes)
    for n in range(12):
        others = [obs(f"o{n}-{k}", "6690-2", qty(n, "10*3/uL"), "2024-03-04") for k in range(1 + n % 3)]
        for _ in range(2):
            _same(_read(table, [], others, codes), [], others, codes)
        assert len(table) <= 3 and len(table.hints) <= 5
        assert table.resources == sum(e[2] for e in table.readings.values()) <= 7
    big = [obs(f"big{k}", "6690-2", qty(k, "10*3/uL"), "2024-03-04") for k in range(8)]
    for _ in range(3):  # more resources than a table keeps: read every time
        _same(_read(table, [], big, codes), [], big, codes)
    assert table.resources <= 7 and len(table) >= 1


MEDICATION = {"resourceType": "Medication", "id": "m2", "code": fast.rx("11202")}
BY_REFERENCE = {**fast.REFERENCED, "id": "ref2", "medicationReference": {"reference": "Medication/m2"}, "contained": []}


@fast.FAST
@given(data=st.data(), medication=fast.spoiled([MEDICATION]))
def test_administrations_sent_again_get_what_reading_them_alone_gives(kb, data, medication):
    """As the builder reads them: the administrations and the Medications they may reference, one key."""
    drugs, codes = drugs_view(kb), codes_view(kb)
    admins = data.draw(fast.spoiled(fast.ADMINS + fast.ADMINS[:2] + [fast.REFERENCED, BY_REFERENCE, fast.PERIOD]))
    table = ChartReadings().table(drugs, codes)
    assert ChartReadings().table(codes, drugs) is not table
    for included in ({}, {"Medication/m2": medication[0]}, {}, {}, {"Medication/m2": medication[0]}, {"Medication/m2": medication[0]}):
        sent = copy.deepcopy(raw_entries(bundle(*admins)))
        included = copy.deepcopy(included)
        got = table.read((sent, [included]), b"administrations",
                         lambda: read_administrations(sent, drugs, codes, included), lambda r: r)
        assert got == read_administrations(sent, drugs, codes, included)
        if not included:
            assert got == fast._each_alone(admins, drugs, codes)


@fast.FAST
@given(data=st.data())
def test_resources_conformed_again_are_what_conforming_them_gives(data):
    """Which resources of a list are kept as sent, remembered (builder._conformed): the same
    resources, conformed and normalized, as `fhir.conformed` makes of that request's list."""
    resources = data.draw(fast.spoiled(fast.ORDERS + fast.ADMINS[:2] + [fast.REFERENCED]))
    for _ in range(4):
        sent = copy.deepcopy(raw_entries(bundle(*resources)))
        got = _conformed(sent)
        assert got == conformed(sent)
        assert [id(r) for r in got if any(r is s for s in sent)] == [id(r) for r in conformed(sent) if any(r is s for s in sent)]


def test_settled_lists_are_bounded():
    table = ChartTable(max_entries=2, max_hints=3, max_resources=100)
    for n in range(10):
        resources = [{"resourceType": "Patient", "id": f"p{n}"}]
        for _ in range(3):
            table.read((resources,), b"settled", lambda: (True,), lambda r: r)
    assert len(table) <= 2 and len(table.hints) <= 3


def test_built_contexts_of_a_chart_sent_again_equal_the_first(kb):
    """build_context through the process-wide table: every call on the benchmark chart equals the
    context built with the table emptied, and no call's lab series is another's."""
    request = chart_request("order-sign", 150, ORDER)
    now = datetime(2024, 3, 10, 12, tzinfo=timezone.utc)
    body = orjson.dumps(request)

    def build():
        sent = orjson.loads(body)
        return build_context(sent["prefetch"], patient_id="bench-pt-1", draft_orders=sent["context"]["draftOrders"],
                             selections=None, kb=kb, now=now)

    chart_readings.clear(), given_lists.clear(), settled_lists.clear()
    first = build()
    later = [build() for _ in range(3)]
    assert len(chart_readings.table(codes_view(kb))) == 1 and len(given_lists.table(drugs_view(kb), codes_view(kb))) == 1
    assert first.administrations and all(ctx.administrations == first.administrations for ctx in later)
    assert len(settled_lists) >= 3  # the active orders, conditions, draft orders, ...
    for ctx in later:
        assert ctx.labs is not first.labs and ctx.labs._series == {}
        assert ctx == first and list(ctx.labs) == list(first.labs)
    chart_readings.clear(), given_lists.clear()
