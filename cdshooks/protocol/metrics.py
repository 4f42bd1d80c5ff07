"""Prometheus metrics. Under gunicorn (several worker processes) `cdshooks serve` sets
PROMETHEUS_MULTIPROC_DIR so /metrics aggregates every worker."""

from __future__ import annotations

import os
from collections import Counter as _Tally
from typing import Any, Iterable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REQUESTS = Counter("cdshooks_requests_total", "CDS Hooks requests", ["endpoint", "service", "status"])
CARDS = Counter("cdshooks_cards_total", "Cards returned", ["service", "topic", "indicator"])
# Feedback outcomes by rule and override reason (issue 19). Labels stay bounded: a rule id only for a
# card we issued ("(unissued)" otherwise), a reason code only from our own override vocabulary.
FEEDBACK = Counter(
    "cdshooks_feedback_total", "Feedback outcomes received", ["service", "rule", "outcome", "reason"]
)
LATENCY = Histogram(
    "cdshooks_service_seconds",
    "Service call latency",
    ["service"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


_CHILDREN: dict[tuple[Any, tuple[str, ...]], Any] = {}


def labelled(metric: Any, *values: str) -> Any:
    """`metric.labels(*values)`, looked up once per process and label set.

    Why: `labels()` converts, locks and looks up on every call (~4 us, ~12 calls per service
    call). A child never changes once made (nothing here removes one), and under gunicorn's
    multiprocess mode its value still notices a fork by itself, so the cached child is the
    very object `labels()` returns. Label values are our own bounded vocabulary (service ids,
    topic codes, indicators, statuses), so the cache stays small."""
    key = (metric, values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


def count_cards(service_id: str, cards: Iterable[Mapping[str, Any]]) -> None:
    """CARDS{service, topic, indicator} up by one per card: one `inc(n)` per label set (same totals)."""
    tally = _Tally((card["source"]["topic"]["code"], card["indicator"]) for card in cards)
    for (topic, indicator), n in tally.items():
        labelled(CARDS, service_id, topic, indicator).inc(n)
