"""A replay's tallies -> one JSON-able dict -> a text table or a self-contained HTML page.

Rates: order-sign rules are per 100 orders signed; patient-view rules per 100 patients (a chart
opened once per patient). "Interrupting" = a call with at least one warning or critical card, the
figure the alert-fatigue literature tracks. Every view is built from `summarize`, so the text, the
JSON and the HTML page cannot disagree.
"""

from __future__ import annotations

import html
from typing import Any

from .engine import ReplayResult, RuleTally, Tally

INDICATORS = ("critical", "warning", "info")
COLOURS = {"critical": "#b3261e", "warning": "#c77700", "info": "#1a73e8"}
TOP_DRUGS = 3


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _per(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _overall(t: Tally, orders: int) -> dict[str, Any]:
    calls = t.calls["order-sign"]
    return {
        "orderSignCalls": calls,
        "ordersSigned": orders,
        "orderSignCards": t.cards["order-sign"],
        "cardsPerOrderSignCall": round(t.cards["order-sign"] / calls, 3) if calls else None,
        "cardsPer100Orders": _per(t.cards["order-sign"], orders),
        "callsWithCardsPct": _pct(t.calls_with_cards["order-sign"], calls),
        "interruptingCallsPct": _pct(t.interrupting_calls["order-sign"], calls),
        "indicatorMix": {i: t.indicators[i] for i in INDICATORS},
        "patientViewCalls": t.calls["patient-view"],
        "patientViewCards": t.cards["patient-view"],
        "silenced": t.silenced,
    }


def _rule(rt: RuleTally | None, orders: int, patients: int) -> dict[str, Any]:
    if rt is None:
        return {"cards": 0, "per100": 0.0, "indicators": {i: 0 for i in INDICATORS}, "patients": 0, "topDrugs": []}
    base = orders if rt.hook == "order-sign" else patients
    return {
        "cards": rt.cards,
        "per100": _per(rt.cards, base),
        "indicators": {i: rt.indicators[i] for i in INDICATORS},
        "patients": len(rt.patients),
        "topDrugs": [[d, n] for d, n in sorted(rt.drugs.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_DRUGS]],
    }


def summarize(result: ReplayResult) -> dict[str, Any]:
    policy = result.with_policy
    keys = set(result.shipped.rules) | (set(policy.rules) if policy else set())
    rules = []
    for hook, rid in sorted(keys, key=lambda k: (k[0] != "order-sign", -(result.shipped.rules[k].cards if k in result.shipped.rules else 0), k[1])):
        shipped = result.shipped.rules.get((hook, rid))
        after = policy.rules.get((hook, rid)) if policy else None
        topic = (shipped or after).topic  # type: ignore[union-attr]
        rules.append({
            "ruleId": rid, "hook": hook, "topic": topic, "per": "100 orders" if hook == "order-sign" else "100 patients",
            "asShipped": _rule(shipped, result.orders, result.patients),
            "withPolicy": _rule(after, result.orders, result.patients) if policy else None,
        })
    return {
        "source": result.source,
        "kind": result.kind,
        "knowledgeVersion": result.knowledge_version,
        "sitePolicy": result.policy_version,
        "patients": result.patients,
        "orders": result.orders,
        "seconds": round(result.seconds, 1),
        "overall": {"asShipped": _overall(result.shipped, result.orders), "withPolicy": _overall(policy, result.orders) if policy else None},
        "rules": rules,
        "errors": result.errors,
    }


# -- text -----------------------------------------------------------------------------------------


def _mix(r: dict[str, Any]) -> str:
    return "/".join(str(r["indicators"][i]) for i in INDICATORS)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def render_text(summary: dict[str, Any]) -> str:
    two = summary["sitePolicy"] is not None
    o, p = summary["overall"]["asShipped"], summary["overall"]["withPolicy"]
    lines = [
        f"Replay of {summary['source']} ({summary['kind']}): {summary['patients']} patients, {summary['orders']} orders signed, "
        f"knowledge {summary['knowledgeVersion']}" + (f", site policy {summary['sitePolicy']}" if two else ""),
        "",
        f"{'overall':34} {'as shipped':>12}" + (f" {'with policy':>12}" if two else ""),
    ]
    for label, key in (("order-sign calls", "orderSignCalls"), ("cards per order-sign call", "cardsPerOrderSignCall"),
                       ("cards per 100 orders", "cardsPer100Orders"), ("calls with any card %", "callsWithCardsPct"),
                       ("calls interrupting (warn/crit) %", "interruptingCallsPct"), ("patient-view cards", "patientViewCards"),
                       ("silenced by policy", "silenced")):
        lines.append(f"{label:34} {_num(o[key]):>12}" + (f" {_num(p[key]):>12}" if two else ""))
    lines.append(f"{'indicator mix crit/warn/info':34} {'/'.join(str(o['indicatorMix'][i]) for i in INDICATORS):>12}"
                 + (f" {'/'.join(str(p['indicatorMix'][i]) for i in INDICATORS):>12}" if two else ""))
    lines.append("")
    head = f"{'rule id':44} {'hook':12} {'per 100':>8} {'crit/warn/info':>14} {'patients':>8}"
    if two:
        head += f" {'policy /100':>11} {'policy mix':>12}"
    lines += [head + "  top drugs", "-" * len(head)]
    for r in summary["rules"]:
        s, w = r["asShipped"], r["withPolicy"]
        row = f"{r['ruleId'][:44]:44} {r['hook']:12} {_num(s['per100']):>8} {_mix(s):>14} {s['patients']:>8}"
        if two:
            row += f" {_num(w['per100']):>11} {_mix(w):>12}"
        lines.append(row + "  " + ", ".join(f"{d} ({n})" for d, n in s["topDrugs"]))
    if summary["errors"]:
        lines += ["", f"{len(summary['errors'])} call(s) could not be replayed:"] + [f"  {e}" for e in summary["errors"][:20]]
    return "\n".join(lines) + "\n"


# -- HTML -----------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#202124;max-width:70em}
h1{font-size:1.4em} h2{font-size:1.1em;margin:1.6em 0 .4em}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}
.rule{margin:.4em 0 1em;padding:.4em .6em;border-left:3px solid #ccc}
.rule h3{font-size:1em;margin:0;font-family:monospace}
.meta{color:#5f6368;font-size:.9em}
.legend span{display:inline-block;margin-right:1em} .legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
"""


def _bar_svg(rule: dict[str, Any], scale: float) -> str:
    """One small SVG per rule: a stacked bar (critical, warning, info) per column."""
    columns = [("as shipped", rule["asShipped"])] + ([("with policy", rule["withPolicy"])] if rule["withPolicy"] else [])
    width, label_w, row_h = 600, 90, 22
    parts = [f'<svg class="chart" role="img" width="{width}" height="{row_h * len(columns) + 4}" xmlns="http://www.w3.org/2000/svg">']
    for n, (label, col) in enumerate(columns):
        y = 2 + n * row_h
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{label}</text>')
        x = float(label_w)
        per_card = (col["per100"] or 0.0) / col["cards"] if col["cards"] else 0.0
        for ind in INDICATORS:
            count = col["indicators"][ind]
            if not count:
                continue
            w = max(1.0, count * per_card * scale)
            parts.append(f'<rect class="bar {ind}" data-column="{label}" data-count="{count}" x="{x:.1f}" y="{y}" width="{w:.1f}" '
                         f'height="{row_h - 6}" fill="{COLOURS[ind]}"><title>{ind}: {count}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 15}" font-size="12">{_num(col["per100"])} per {rule["per"]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(summary: dict[str, Any]) -> str:
    esc = html.escape
    two = summary["sitePolicy"] is not None
    o, p = summary["overall"]["asShipped"], summary["overall"]["withPolicy"]
    top: dict[str, float] = {}  # one scale per hook: per 100 orders and per 100 patients are different units
    for r in summary["rules"]:
        for col in (r["asShipped"], r["withPolicy"] or {}):
            top[r["hook"]] = max(top.get(r["hook"], 1.0), col.get("per100") or 0.0)
    rows = []
    for label, key in (("Order-sign calls", "orderSignCalls"), ("Cards per order-sign call", "cardsPerOrderSignCall"),
                       ("Cards per 100 orders", "cardsPer100Orders"), ("Calls interrupting (warning/critical) %", "interruptingCallsPct"),
                       ("Patient-view cards", "patientViewCards"), ("Silenced by policy", "silenced")):
        rows.append(f"<tr><td>{label}</td><td>{_num(o[key])}</td>" + (f"<td>{_num(p[key])}</td>" if two else "") + "</tr>")
    sections = []
    hook = None
    for r in summary["rules"]:
        if r["hook"] != hook:
            hook = r["hook"]
            sections.append(f"<h2>{esc(hook)} rules (per {esc(r['per'])})</h2>")
        s = r["asShipped"]
        drugs = ", ".join(f"{esc(d)} ({n})" for d, n in s["topDrugs"]) or "-"
        sections.append(
            f'<div class="rule" data-rule="{esc(r["ruleId"])}"><h3>{esc(r["ruleId"])}</h3>'
            f'<div class="meta">{esc(r["hook"])} · topic {esc(r["topic"])} · {s["cards"]} cards · {s["patients"]} patients · '
            f'critical/warning/info {_mix(s)} · top drugs: {drugs}</div>{_bar_svg(r, 320.0 / top[r["hook"]])}</div>'
        )
    policy_note = f", site policy <b>{esc(summary['sitePolicy'])}</b>" if two else ""
    legend = "".join(f'<span><i style="background:{COLOURS[i]}"></i>{i}</span>' for i in INDICATORS)
    errors = f"<p>{len(summary['errors'])} call(s) could not be replayed.</p>" if summary["errors"] else ""
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ALL CDS alert burden replay</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>ALL CDS alert burden: replay of {esc(summary['source'])}</h1>"
        f"<p>{summary['patients']} patients, {summary['orders']} orders signed ({esc(summary['kind'])}); knowledge "
        f"{esc(summary['knowledgeVersion'])}{policy_note}. Order-sign rules per 100 orders, patient-view rules per 100 patients.</p>"
        f"<table id=\"overall\"><tr><th></th><th>As shipped</th>" + ("<th>With policy</th>" if two else "") + "</tr>"
        + "".join(rows) + "</table>"
        f"<p class=\"legend\">{legend}</p>" + "".join(sections) + errors + "</body></html>\n"
    )
