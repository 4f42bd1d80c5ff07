"""`metrics.labelled` returns the very child `labels()` returns, and `metrics.count_cards`
moves CARDS exactly as one `labels(...).inc()` per card did (the per-card loop, kept here)."""

from __future__ import annotations

from cdshooks.protocol import metrics


def _card(topic: str, indicator: str) -> dict:
    return {"source": {"label": "x", "topic": {"code": topic}}, "indicator": indicator}


def _value(*labels: str) -> float:
    return metrics.CARDS.labels(*labels)._value.get()


def test_labelled_is_labels():
    for metric, labels in ((metrics.CARDS, ("svc-a", "t", "info")), (metrics.REQUESTS, ("service", "svc-a", "200")),
                           (metrics.LATENCY, ("svc-a",))):
        assert metrics.labelled(metric, *labels) is metric.labels(*labels)
        assert metrics.labelled(metric, *labels) is metrics.labelled(metric, *labels)
    assert metrics.labelled(metrics.CARDS, "svc-a", "t", "info") is not metrics.labelled(metrics.CARDS, "svc-a", "t", "warning")


def test_count_cards_moves_each_series_as_one_inc_per_card():
    cards = [_card("dose", "warning"), _card("dose", "warning"), _card("route", "critical"), _card("dose", "info"),
             _card("missing-data", "info"), _card("dose", "warning")]
    series = sorted({("svc-count", c["source"]["topic"]["code"], c["indicator"]) for c in cards} | {("svc-count", "route", "info")})
    before = {s: _value(*s) for s in series}
    metrics.count_cards("svc-count", cards)
    after_fast = {s: _value(*s) for s in series}
    for card in cards:  # the general path: what routes.py did before
        metrics.CARDS.labels("svc-count", card["source"]["topic"]["code"], card["indicator"]).inc()
    after_loop = {s: _value(*s) for s in series}
    assert {s: after_fast[s] - before[s] for s in series} == {s: after_loop[s] - after_fast[s] for s in series}
    assert after_fast[("svc-count", "dose", "warning")] - before[("svc-count", "dose", "warning")] == 3
    assert after_fast[("svc-count", "route", "info")] == before[("svc-count", "route", "info")]
    metrics.count_cards("svc-count", [])  # no cards: nothing moves
    assert {s: _value(*s) for s in series} == after_loop
