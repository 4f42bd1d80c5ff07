"""Statistics and the printed table of bench/bench_service.py (kept apart so the runner stays short)."""

from __future__ import annotations

import statistics
from typing import Any

GOAL_P95_MS = 150.0  # our goal on the 2-core reference machine (sequential phase)
SPEC_TARGET_MS = 500.0  # CDS Hooks: "on the order of 500 ms"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: every reported value was really observed)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return ordered[int(rank) - 1]


def summarize(ms: list[float]) -> dict[str, Any]:
    """n, mean and nearest-rank percentiles in ms; None (JSON null, never NaN) when nothing was measured."""
    if not ms:
        return {"n": 0, "mean_ms": None, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "n": len(ms),
        "mean_ms": round(statistics.fmean(ms), 2),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }


def _ms(value: Any, width: int = 9, digits: int = 1) -> str:
    return f"{value:>{width}.{digits}f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"


def _row(name: str, stats: dict[str, Any], width: int = 52) -> str:
    return f"{name:<{width}}" + "".join(_ms(stats.get(k), digits=2) for k in ("mean_ms", "p50_ms", "p95_ms"))


def print_table(results: dict[str, Any]) -> None:
    w = results["workload"]
    m = results["machine"]
    print(f"\nALL CDS benchmark - {results['timestamp']} - {m['cpus']} CPUs, Python {m['python']}")
    print(f"workload: order-sign, {w['request_kib']} KiB body, {w['observations']} lab Observations, "
          f"{w['administrations']} MedicationAdministrations, {w['draft_orders']} draft orders")
    http = results.get("http") or {}
    if http:
        title = f"HTTP (gunicorn, {http['workers']} workers)"
        print(f"\n{title:<34}{'n':>6}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}{'req/s':>9}{'err':>5}")
        for name, run in http["runs"].items():
            cells = "".join(_ms(run[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
            print(f"{name:<34}{run['n']:>6}{cells}{_ms(run['throughput_rps'])}{run['errors']:>5}")
        first = next(iter(http["runs"].values()))
        print(f"cards per response: {first['cards_per_response']} {first['card_topics']}")
    profile = results.get("profile") or {}
    if profile:
        print(f"\n{'in-process stage (ms)':<52}{'mean':>9}{'p50':>9}{'p95':>9}")
        for name, stats in profile["stages"].items():
            print(_row(name, stats))
        gc_info = profile["gc"]
        print(_row("call_service with the cyclic GC disabled", gc_info["call_service_with_gc_disabled"]))
        print(f"GC collections per call (gen0, gen1, gen2): {gc_info['collections_per_call_by_generation']}")
        print(f"\n{'rule family alone (ms)':<52}{'mean':>9}{'p50':>9}{'p95':>9}")
        for name, stats in profile["rule_families"].items():
            print(_row(name, stats))
    verdict = results.get("goal")
    if verdict:
        print(f"\ngoal p95 < {GOAL_P95_MS:.0f} ms (sequential): {'MET' if verdict['met'] else 'NOT MET'} "
              f"({verdict['p95_ms']} ms); spec: 'on the order of {SPEC_TARGET_MS:.0f} ms'")
