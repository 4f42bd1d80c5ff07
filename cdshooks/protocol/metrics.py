"""Prometheus metrics. Under gunicorn (several worker processes) `cdshooks serve` sets
PROMETHEUS_MULTIPROC_DIR so /metrics aggregates every worker."""

from __future__ import annotations

import os

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
