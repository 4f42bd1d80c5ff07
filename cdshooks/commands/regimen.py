"""`cdshooks regimen check FILE` and `cdshooks regimen show ID [--json]`: site regimen templates.

`check` validates one template file exactly as start-up does (schema, then drug ids, units, ids,
days), printing every problem on its own line. `show` prints a loaded template (shipped or from
CDSHOOKS_REGIMEN_DIR) so a pharmacist can compare it with the protocol document.

Exit codes: 0 valid / printed; 1 the file has problems; 2 unreadable file, unknown id, or the
knowledge base does not load.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, fail_usage


def _knowledge():
    from ..errors import CdsError
    from ..knowledge import knowledge_for

    try:
        return knowledge_for(os.environ.get("CDSHOOKS_REGIMEN_DIR") or None)
    except CdsError as exc:
        fail_usage(f"knowledge base does not load: {exc.message}")


@click.group("regimen")
def command() -> None:
    """Validate and print regimen (treatment-plan) templates."""


@command.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Validate one regimen template FILE: one line per problem."""
    from ..errors import KnowledgeError
    from ..knowledge.regimen_templates import check_template_file

    kb = _knowledge()
    try:
        problems = check_template_file(file, kb)
    except KnowledgeError as exc:
        fail_usage(exc.message)
    for problem in problems:
        click.echo(f"{file}: {problem}")
    if problems:
        sys.exit(EXIT_FINDINGS)
    click.echo(f"{file}: ok")
    sys.exit(EXIT_OK)


@command.command("show")
@click.argument("template_id")
@click.option("--json", "as_json", is_flag=True, help="print the template as JSON (the validated file content)")
def show(template_id: str, as_json: bool) -> None:
    """Print the loaded template TEMPLATE_ID: phases, days, doses, caps and sources."""
    from ..knowledge.regimen_templates import TABLE, template_library

    kb = _knowledge()
    lib = template_library(kb)
    template = lib.get(template_id.strip().lower())
    if template is None:
        fail_usage(f"no regimen template {template_id!r} (loaded: {', '.join(sorted(lib.templates)) or 'none'})")
    if as_json:
        raw = next(t for t in kb.table(TABLE)["templates"] if t["id"] == template.id)
        click.echo(json.dumps({"origin": template.origin, "template": raw}, indent=2, ensure_ascii=False))
        sys.exit(EXIT_OK)
    click.echo(f"{template.id}: {template.title} [{template.status}]")
    click.echo(f"  source: {template.citation}")
    click.echo(f"  origin: {template.origin}; tolerance ±{template.tolerance_pct:g}%, critical above +{template.critical_pct:g}%")
    for phase in template.phases:
        span = f"courses {', '.join(map(str, phase.courses))}" if phase.courses else (f"repeats every {phase.repeat_days} d" if phase.repeat_days else "")
        click.echo(f"  {phase.id}: {phase.name}" + (f" ({span})" if span else ""))
        for item in phase.items:
            cap = f", max {item.cap:g} {item.dose.amount_unit}" if item.cap is not None else ""
            bands = f", {item.bands.text}" if item.bands.bounds else ""
            flag = "" if item.verified else " [UNVERIFIED]"
            click.echo(f"    day {item.days_text}: {item.drug} {item.dose.text} {'/'.join(item.routes)}{cap}{bands}, {item.frequency or f'{item.doses_per_day}/day'}{flag}  ({item.id})")
    sys.exit(EXIT_OK)
