"""`cdshooks knowledge show [DRUG]`: the rules, codes and citations the service will use.

Reads the loaded, schema-validated knowledge tables (never a second copy), so what it prints is
what the running service applies. Tables not written yet are simply absent from the output.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable

import click
from rich.table import Table

from ._common import EXIT_OK, EXIT_USAGE, console


def _rows(value: Any, path: str = "") -> Iterable[tuple[str, dict[str, Any]]]:
    """Every object with an `id` anywhere in a table (rule rows, drug entries, codes)."""
    if isinstance(value, dict):
        if isinstance(value.get("id"), str):
            yield path, value
        for key, child in value.items():
            if key != "sources":
                yield from _rows(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for child in value:
            yield from _rows(child, path)


def _mentions(row: dict[str, Any], drug: str) -> bool:
    text = json.dumps(row).lower()
    return f'"{drug}"' in text or row.get("id") == drug


@click.group("knowledge")
def command() -> None:
    """Inspect the knowledge base the service loads."""


@command.command("show")
@click.argument("drug", required=False)
@click.option("--json", "as_json", is_flag=True, help="print matching rows as JSON")
def show(drug: str | None, as_json: bool) -> None:
    """Print knowledge tables (version, sources, rule rows); with DRUG only rows naming that drug id.

    Exit codes: 0 printed; 2 unknown drug id or the knowledge base does not load.
    """
    from ..errors import CdsError
    from ..knowledge import default_knowledge

    try:
        kb = default_knowledge()
    except CdsError as exc:
        click.echo(f"cdshooks: knowledge base does not load: {exc.message}", err=True)
        sys.exit(EXIT_USAGE)
    drug = drug.strip().lower() if drug else None
    selected: list[tuple[str, str, dict[str, Any]]] = []
    for name in sorted(kb.tables):
        for path, row in _rows(kb.tables[name]):
            if drug is None or _mentions(row, drug):
                selected.append((name, path, row))
    if drug and not selected:
        click.echo(f"cdshooks: no knowledge row names drug id {drug!r} (ids are lowercase generic names, e.g. vincristine)", err=True)
        sys.exit(EXIT_USAGE)
    if as_json:
        click.echo(json.dumps({"version": kb.version, "rows": [{"table": t, "path": p, **r} for t, p, r in selected]}, indent=2, ensure_ascii=False))
        sys.exit(EXIT_OK)
    console.print(f"ALL CDS knowledge [bold]{kb.version}[/bold]: tables {', '.join(sorted(kb.tables))}")
    table = Table(show_lines=False)
    for column in ("table", "id", "status", "codes", "citation"):
        table.add_column(column, overflow="fold")
    for name, path, row in selected:
        codes = ", ".join(f"{c.get('code')}" for c in row.get("codes", []) if isinstance(c, dict)) if isinstance(row.get("codes"), list) else ""
        table.add_row(f"{name}:{path}", row["id"], str(row.get("status", "")), codes, str(row.get("citation", ""))[:200])
    console.print(table)
    if drug is None:
        for name in sorted(kb.tables):
            sources = kb.tables[name].get("sources") if isinstance(kb.tables[name], dict) else None
            for key, ref in (sources or {}).items():
                console.print(f"[dim]{name}[/dim] [{key}] {ref}", highlight=False)
    sys.exit(EXIT_OK)
