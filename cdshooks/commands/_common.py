"""Helpers the CLI commands share: loading a fixture into a request, printing cards."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from ..fixtures import REQUEST_FILES, FixtureError, build_request, draft_orders_of, load_fixture, read_json

HOOKS = ("order-sign", "order-select", "patient-view")
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
# Piped output (grep, scripts) is never wrapped: rich would otherwise fold tables at 80 columns,
# and `knowledge show | grep <rule id>` would find half an id. On a terminal, its real width.
console = Console(stderr=False, soft_wrap=True, width=None if sys.stdout.isatty() else 10_000)


_SECRET_IN_URL = re.compile(r"(//[^:/@\s]+:)[^@\s]+@")


def redact(text: str) -> str:
    """Drop passwords from URLs (postgresql://user:secret@host -> postgresql://user:***@host)."""
    return _SECRET_IN_URL.sub(r"\1***@", text)


def _causes(exc: BaseException) -> list[BaseException]:
    """exc and what it wraps: SQLAlchemy `.orig`, urllib3 `.reason`, requests' args[0], __cause__."""
    chain: list[BaseException] = []
    cur: object = exc
    while isinstance(cur, BaseException) and cur not in chain:
        chain.append(cur)
        nxt: object = getattr(cur, "orig", None)
        if not isinstance(nxt, BaseException):
            nxt = getattr(cur, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = cur.args[0] if cur.args and isinstance(cur.args[0], BaseException) else None
        if not isinstance(nxt, BaseException):
            nxt = cur.__cause__ or cur.__context__
        cur = nxt
    return chain


def error_reason(exc: BaseException) -> str:
    """The root cause of a connection/driver/file error in words, on one line, without secrets.

    `requests` wraps urllib3 wraps the socket error; SQLAlchemy wraps the driver's error: the
    innermost message (e.g. "Connection refused") is the one an operator can act on.
    """
    chain = _causes(exc)
    for candidate in reversed(chain):
        if isinstance(candidate, OSError) and candidate.strerror:
            return redact(candidate.strerror + (f": {candidate.filename}" if candidate.filename else ""))
    inner = chain[-1]
    lines = [line.strip() for line in str(inner).splitlines() if line.strip()]
    return redact(f"{type(inner).__name__}: {lines[0] if lines else 'no message'}"[:300])


def fail_usage(message: str) -> NoReturn:
    click.echo(f"cdshooks: {message}", err=True)
    sys.exit(EXIT_USAGE)


def request_from_path(path: str, hook: str | None, *, prefetch: bool = True, fhir_server: str | None = None,
                      access_token: str | None = None) -> dict[str, Any]:
    """A request file as is, or the request an EHR would build from a bundle/fixture dir."""
    try:
        fixture = load_fixture(path)
        if fixture.bundle is None or (Path(path).is_file() and fixture.requests):
            name, file = next(iter(fixture.requests.items()))
            body = read_json(file)
            if hook and body.get("hook") != hook:
                fail_usage(f"{name} is a {body.get('hook')} request, not {hook}")
            return body
        if fixture.path.is_dir() and hook is None and prefetch and not fhir_server:
            for candidate in ("order-sign", "patient-view"):
                if REQUEST_FILES[candidate] in fixture.requests:
                    return read_json(fixture.requests[REQUEST_FILES[candidate]])
        chosen = hook or ("order-sign" if draft_orders_of(fixture.bundle) else "patient-view")
        return build_request(fixture.bundle, chosen, prefetch=prefetch, fhir_server=fhir_server, access_token=access_token)
    except FixtureError as exc:
        fail_usage(str(exc))


def print_cards(cards: list[dict[str, Any]], *, as_json: bool, title: str = "") -> None:
    if as_json:
        click.echo(json.dumps({"cards": cards}, indent=2, ensure_ascii=False))
        return
    if not cards:
        console.print(f"[green]no cards[/green] {title}")
        return
    table = Table(title=title or None, show_lines=False)
    for column in ("indicator", "topic", "drug", "summary", "rule id"):
        table.add_column(column, overflow="fold")
    style = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
    for card in cards:
        ext = (card.get("extension") or {}).get("all-cds") or {}
        table.add_row(
            f"[{style.get(card.get('indicator', ''), '')}]{card.get('indicator')}[/]",
            ((card.get("source") or {}).get("topic") or {}).get("code", ""),
            str(ext.get("drug") or ""),
            card.get("summary", ""),
            str(ext.get("ruleId") or ""),
        )
    console.print(table)


def findings_exit(cards: list[dict[str, Any]]) -> int:
    """1 when any card needs attention (warning or critical), else 0."""
    return EXIT_FINDINGS if any(c.get("indicator") in ("warning", "critical") for c in cards) else EXIT_OK
