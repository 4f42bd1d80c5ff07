"""Garbage-collector settings for a process that serves requests, applied once the app is built.

Why: after start-up a worker holds tens of thousands of long-lived objects (knowledge base,
compiled schemas, fhir.resources model classes). Every full collection walked all of them, which
was most of the latency tail (bench/README.md). `gc.freeze()` moves everything alive at that
point into a permanent generation the collector never scans. A request allocates thousands of
short-lived containers that reference counting frees; with the default gen-0 threshold (700)
that alone triggered ~17 collections per large request, so the threshold is raised: the few
cycles a request makes (exception tracebacks) are still collected, just in fewer, cheap passes.

Called from every place that builds the app for serving: `cdshooks serve` (each gunicorn worker,
after `create_app`), `cdshooks.app:wsgi_app()` (a plain `gunicorn 'cdshooks.app:wsgi_app()'`).
"""

from __future__ import annotations

import gc

# (gen0, gen1, gen2): gen-0 passes every 20,000 net allocations instead of 700; older generations
# keep their default ratios. Measured in bench/ (GC collections per call and p95).
SERVING_THRESHOLDS = (20_000, 10, 10)


def tune_for_serving() -> None:
    """Collect start-up garbage, freeze what survives, and raise the gen-0 threshold."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
