"""A card review page: cards drawn the way a CDS client shows them, for pharmacists to read.

Why: wording is reviewed by the oncology pharmacists who will read the cards, and they should not
need an EHR to do it. The page mirrors what the CDS Hooks Sandbox renders (its card list sorts by
indicator, shows the summary, the source label as a link when `source.url` is set, the detail as
Markdown, suggestion buttons and links), in one self-contained HTML file: no scripts, no remote
assets. Markdown is rendered with raw HTML disabled, so card text can never inject markup.
"""

from __future__ import annotations

import html
from typing import Any, Iterable

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ORDER = {"critical": 0, "warning": 1, "info": 2}
_STYLE = """
body{font-family:system-ui,Segoe UI,Arial,sans-serif;margin:24px;max-width:980px;color:#1b1f24}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:2em;border-bottom:1px solid #ccd}
.card{border:1px solid #ccd;border-left:8px solid #888;border-radius:4px;padding:10px 14px;margin:12px 0;background:#fff}
.card.info{border-left-color:#2f6fb3} .card.warning{border-left-color:#e08a00} .card.critical{border-left-color:#c62828}
.summary{font-weight:600;font-size:1.05em} .indicator{font-size:.8em;text-transform:uppercase;letter-spacing:.05em;margin-right:.6em}
.info .indicator{color:#2f6fb3} .warning .indicator{color:#b86e00} .critical .indicator{color:#c62828}
.source{font-size:.85em;color:#555} .detail{margin-top:.5em} .detail p{margin:.4em 0}
button{margin:4px 6px 0 0;padding:4px 10px;border:1px solid #2f6fb3;background:#eef4fb;border-radius:3px}
.links a{margin-right:1em;font-size:.9em} .none{color:#666;font-style:italic}
"""


def _card_html(card: dict[str, Any]) -> str:
    indicator = card.get("indicator", "info")
    source = card.get("source") or {}
    label = html.escape(str(source.get("label", "")))
    if source.get("url"):
        label = f'<a href="{html.escape(source["url"], quote=True)}">{label}</a>'
    topic = html.escape(str((source.get("topic") or {}).get("display", "")))
    buttons = "".join(f"<button type=\"button\">{html.escape(s.get('label', ''))}</button>" for s in card.get("suggestions") or [])
    links = "".join(f'<a href="{html.escape(l.get("url", ""), quote=True)}">{html.escape(l.get("label", ""))}</a>' for l in card.get("links") or [])
    return (
        f'<div class="card {html.escape(indicator)}" data-indicator="{html.escape(indicator)}">'
        f'<div><span class="indicator">{html.escape(indicator)}</span><span class="summary">{html.escape(card.get("summary", ""))}</span></div>'
        f'<div class="source">{topic} · {label}</div>'
        f'<div class="detail">{_MD.render(card.get("detail") or "")}</div>'
        + (f'<div class="suggestions">{buttons}</div>' if buttons else "")
        + (f'<div class="links">{links}</div>' if links else "")
        + "</div>"
    )


def review_page(sections: Iterable[tuple[str, str, list[dict[str, Any]]]], title: str = "ALL CDS card review") -> str:
    """One page: per (fixture, request) a heading and its cards, critical first, as a client sorts them."""
    body = []
    for fixture, request, cards in sections:
        ordered = sorted(cards, key=lambda c: _ORDER.get(c.get("indicator"), 3))
        inner = "".join(_card_html(c) for c in ordered) or '<p class="none">No cards.</p>'
        body.append(f'<section><h2>{html.escape(fixture)} · {html.escape(request)}</h2>{inner}</section>')
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>\n"
    )
