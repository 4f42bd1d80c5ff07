"""Statistics and the printed report of bench/bench.py (kept apart so the runner stays short)."""

from __future__ import annotations

from typing import Any

# Targets of issue 15 (bench/README.md): in-process <= 5x the parse of the same body; under
# gunicorn on 2 cores, 1 client: p50 <= 5 ms + 5x the parse floor and p99 <= 50 ms; throughput
# >= 50% of the bare-Flask floor; the open loop at 100/s sustained with p99 <= 50 ms;
# growth <= 0.02 ms/resource.
TARGET_RATIO = 5.0
TARGET_P50_BASE_MS, TARGET_P50_PARSE_TIMES = 5.0, 5.0
TARGET_P99_MS = 50.0
TARGET_RPS_VS_FLOOR = 0.5
TARGET_GROWTH_MS = 0.02


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: every reported value was really observed)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return ordered[int(rank) - 1]


def _f(value: Any, width: int = 8, digits: int = 1) -> str:
    return f"{value:>{width}.{digits}f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"


def print_report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"\nALL CDS benchmark - {results['timestamp']} - {m['cpus']} CPUs, Python {m['python']}, "
          f"load average {m['load_average_at_start']} -> {m.get('load_average_at_end')}")
    ip = results.get("in_process")
    if ip:
        _print_in_process(ip)
    _print_http(results.get("http"), m["cpus"])


def _print_in_process(ip: dict[str, Any]) -> None:
    print(f"\n{'in-process (test client)':<24}{'res':>5}{'KiB':>5}   wall: {'parse':>6}{'handle':>8}{'p95':>7}{'ratio':>6}"
          f"   cpu: {'parse':>6}{'handle':>8}{'ratio':>6}{'cards':>6}")
    for r in ip["rows"]:
        print(f"{r['hook'] + ' ' + r['size']:<24}{r['resources']:>5}{r['kib']:>5}         {_f(r['parse_ms'], 6, 2)}"
              f"{_f(r['handle_ms'], 8, 2)}{_f(r['handle_p95_ms'], 7)}{_f(r['ratio'], 6)}        {_f(r['parse_cpu_ms'], 6, 2)}"
              f"{_f(r['handle_cpu_ms'], 8, 2)}{_f(r['cpu_ratio'], 6)}{r['cards']:>6}")
    print(f"target: ratio <= {TARGET_RATIO} for order-sign large")
    print("growth (CPU ms per added resource, least squares): "
          + ", ".join(f"{h} {g:.4f}" for h, g in ip["growth_ms_per_resource"].items())
          + f"   target <= {TARGET_GROWTH_MS}")
    npt = ip.get("new_patient")
    if npt:
        same = next((r for r in ip["rows"] if (r["hook"], r["size"]) == (npt["hook"], npt["size"])), None)
        print(f"{npt['hook']} {npt['size']}, a new patient every call (nothing remembered by content applies): "
              f"cpu handle {npt['handle_cpu_ms']:.2f} ms, ratio {npt['cpu_ratio']} "
              f"(same chart re-sent: {same['handle_cpu_ms'] if same else '-'} ms)")
    detail = ip.get("lab_detail")
    if detail:
        print(f"order-sign large, labs with referenceRange, interpretation and performer ({detail['kib']} KiB): "
              f"cpu parse {detail['parse_cpu_ms']:.2f}, handle {detail['handle_cpu_ms']:.2f} ms, ratio {detail['cpu_ratio']}")
    print("\norder-sign ~600 resources, stages (median ms): "
          + "; ".join(f"{k} {v:.2f}" for k, v in ip["stages"].items()))


def _print_cpu_ceiling(kind: str, run: dict[str, Any], floor_run: dict[str, Any], cpus: int) -> None:
    """What the measured CPU per call allows on this machine's cores, whatever the load was:
    throughput on a CPU-bound closed loop cannot exceed cores / (server + load generator CPU)."""
    parts = [run.get("server_cpu_ms_per_call"), run.get("client_cpu_ms_per_call"),
             floor_run.get("server_cpu_ms_per_call"), floor_run.get("client_cpu_ms_per_call")]
    if not all(isinstance(x, (int, float)) for x in parts) or not parts[0] + parts[1] or not parts[2] + parts[3]:
        return
    server, client, f_server, f_client = parts
    print(f"{kind}: CPU per call at 16 clients: server {server:.1f} ms + load generator {client:.1f} ms (floor "
          f"{f_server:.1f} + {f_client:.1f}); {cpus} cores cap it near {cpus * 1000 / (server + client):.0f} req/s "
          f"(floor {cpus * 1000 / (f_server + f_client):.0f}), {(f_server + f_client) / (server + client):.0%} of the floor")


def _print_http(http: dict[str, Any] | None, cpus: int) -> None:
    if not http:
        return
    kinds = http.get("kinds", ["floor", "service"])
    print(f"\nHTTP, gunicorn {http['workers']} workers, threads {http['threads']} (extra services: WxT), "
          f"order-sign {http['request_kib']} KiB")
    print(f"{'':<34}{'n':>6}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>8}   CPU ms/call: server, load generator")
    for clients in ("1", "4", "16"):
        for kind in kinds:
            run = http[kind]["closed"][clients]
            print(f"{kind + ' closed ' + clients + ' client(s)':<34}{run['n']:>6}{_f(run['p50_ms'])}{_f(run['p95_ms'])}"
                  f"{_f(run['p99_ms'])}{_f(run['rps'])}{_f(run.get('server_cpu_ms_per_call'), 10)}"
                  f"{_f(run.get('client_cpu_ms_per_call'))}")
    for kind in kinds:
        run = http[kind].get("closed_new_patient_1")
        if run:
            print(f"{kind + ' 1 client, new patients':<34}{run['n']:>6}{_f(run['p50_ms'])}{_f(run['p95_ms'])}"
                  f"{_f(run['p99_ms'])}{_f(run['rps'])}{_f(run.get('server_cpu_ms_per_call'), 10)}"
                  f"{_f(run.get('client_cpu_ms_per_call'))}")
    for kind in kinds:
        o = http[kind]["open"]
        print(f"{kind + ' open ' + format(o['rate'], 'g') + '/s':<34}{o['n']:>6}{_f(o['p50_ms'])}{_f(o['p95_ms'])}"
              f"{_f(o['p99_ms'])}{_f(o['achieved_rps'])}  late {o['late']}, unsent {o.get('unsent', 0)}")
    for kind in kinds:
        hh = http[kind]["health_during_16_clients"]
        print(f"{kind + ' /health under 16':<34}{hh['n']:>6}{_f(hh['p50_ms'])}{_f(hh['p95_ms'])}{_f(hh['p99_ms'])}"
              f"{'':>8}  failures {hh['failures']}")
    for kind in kinds:
        print(f"{kind} errors: {http[kind]['errors']} {http[kind]['first_errors']}")
    floor = http["floor"]
    parse = http.get("parse_floor_ms_before")
    for kind in [k for k in kinds if k != "floor"]:
        svc = http[kind]
        one = svc["closed"]["1"]
        between = one.get("parse_floor_ms_between_calls")  # sampled during this server's own 1-client run
        moment = between if between is not None else parse
        if moment is not None and one["p50_ms"]:
            p50_target = TARGET_P50_BASE_MS + TARGET_P50_PARSE_TIMES * moment
            where = "sampled between its calls" if between is not None else "before the HTTP phases"
            print(f"\n{kind}: p50 1 client {one['p50_ms']:.1f} ms (target <= {p50_target:.1f} = 5 ms + 5 x parse "
                  f"{moment:.2f} ms, {where}; before the HTTP phases {_f(parse, 0, 2).strip()}), p99 {one['p99_ms']:.1f} ms "
                  f"(target <= {TARGET_P99_MS:g}): {'met' if one['p50_ms'] <= p50_target and one['p99_ms'] <= TARGET_P99_MS else 'NOT met'}; "
                  f"p50 vs floor {one['p50_ms'] / floor['closed']['1']['p50_ms']:.2f}x")
        print(f"{kind}: throughput vs floor: " + ", ".join(
            f"{c} clients {svc['closed'][c]['rps'] / floor['closed'][c]['rps']:.0%}" for c in ("1", "4", "16")
            if floor["closed"][c]["rps"]) + f" (target >= {TARGET_RPS_VS_FLOOR:.0%})")
        _print_cpu_ceiling(kind, svc["closed"]["16"], floor["closed"]["16"], cpus)
        o = svc["open"]
        held = o["achieved_rps"] >= 0.98 * o["rate"] and not o["late"] and not o.get("unsent")
        print(f"{kind}: open loop {o['rate']:g}/s {'sustained' if held else 'NOT sustained'} "
              f"({o['achieved_rps']:g}/s achieved), p99 {_f(o['p99_ms'], 0)} ms (target: sustained, p99 <= {TARGET_P99_MS:g})")
    svc = http["service"]
    soak = svc.get("soak") or {}
    print(f"service worker RSS KiB: after warm-up {svc['rss_kib_after_warmup']}, after {soak.get('calls')} more calls "
          f"({soak.get('record', 'large')} record) {soak.get('rss_kib_after')}")
