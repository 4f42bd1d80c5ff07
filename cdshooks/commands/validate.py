"""`cdshooks validate PATH...`: is this data something our checks can work with?

Two layers: (1) validity - every resource against FHIR R4 (fhir.resources R4B) and every CDS
Hooks request against our envelope schema; (2) usefulness - the data our checks need but the
file lacks (weight/height within 30 days of the order, an ALL Condition, RxNorm codes and UCUM
dose units on orders). Layer 2 is what turns a silent "no card" into a known gap.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable

import click
from rich.progress import Progress

from ._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, console
from ..fixtures import FixtureError, bundle_resources, read_json

RXNORM, UCUM, LOINC = "http://www.nlm.nih.gov/research/umls/rxnorm", "http://unitsofmeasure.org", "http://loinc.org"
SCT, ICD = "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"
MEASUREMENT_WINDOW_DAYS = 30  # knowledge/data/codes.json freshness_days weight/height
ALL_SNOMED = {"91857003", "91856007", "12301000132103", "12311000132101", "277571004", "277572006", "425941003", "277575008",
              "427642009", "420890002", "425688002", "723889003", "714251006", "838342003", "838341005", "838343008",
              "838346000", "838344002", "118617000"}  # terminology.json C1, verified
ALL_ICD_PREFIXES = ("C91.0", "C91.A")  # terminology.json C2


def fhir_errors(resource: Any, where: str) -> list[str]:
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return [f"{where}: not a FHIR resource (no resourceType)"]
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except KeyError:
        return [f"{where}: unknown resourceType {resource['resourceType']!r}"]
    except Exception as exc:  # pydantic ValidationError: report its first lines
        return [f"{where}: FHIR R4 invalid: " + " ".join(str(exc).split())[:400]]
    return []


def _flatten(value: Any) -> Iterable[dict[str, Any]]:
    if isinstance(value, dict) and value.get("resourceType") == "Bundle":
        for r in bundle_resources(value):
            yield from _flatten(r)
    elif isinstance(value, dict):
        yield value


def data_gaps(resources: list[dict[str, Any]]) -> list[str]:
    """What our checks need and these resources lack (each line names the resource, never PHI)."""
    gaps: list[str] = []
    orders = [r for r in resources if r.get("resourceType") == "MedicationRequest"]
    drafts = [r for r in orders if r.get("status") == "draft"] or orders
    dates = sorted(r["authoredOn"][:10] for r in drafts if isinstance(r.get("authoredOn"), str))
    order_date = date.fromisoformat(dates[-1]) if dates else date.today()
    for code, what in (("29463-7", "body weight"), ("8302-2", "body height")):
        found = [r for r in resources if r.get("resourceType") == "Observation"
                 and any(c.get("system") == LOINC and c.get("code") == code for c in (r.get("code") or {}).get("coding", []))]
        recent = [r for r in found if isinstance(r.get("effectiveDateTime"), str)
                  and order_date - timedelta(days=MEASUREMENT_WINDOW_DAYS) <= date.fromisoformat(r["effectiveDateTime"][:10]) <= order_date]
        if not found:
            gaps.append(f"no {what} Observation (LOINC {code}): BSA- and weight-based doses cannot be checked")
        elif not recent:
            gaps.append(f"no {what} within {MEASUREMENT_WINDOW_DAYS} days before {order_date}: doses cannot be checked")
        for r in found:
            q = r.get("valueQuantity") or {}
            if q and (q.get("system") != UCUM or not q.get("code")):
                gaps.append(f"Observation/{r.get('id')}: {what} without a UCUM unit code")
    conditions = [r for r in resources if r.get("resourceType") == "Condition"]
    has_all = any(
        (c.get("system") == SCT and c.get("code") in ALL_SNOMED) or (c.get("system") == ICD and str(c.get("code", "")).startswith(ALL_ICD_PREFIXES))
        for r in conditions for c in (r.get("code") or {}).get("coding", [])
    )
    if not has_all:
        gaps.append("no ALL Condition (SNOMED CT or ICD-10-CM C91.0x/C91.Ax): risk group and regimen checks stay silent")
    for r in orders:
        ref = f"MedicationRequest/{r.get('id')}"
        codings = (r.get("medicationCodeableConcept") or {}).get("coding", [])
        if r.get("medicationCodeableConcept") and not any(c.get("system") == RXNORM for c in codings):
            gaps.append(f"{ref}: no RxNorm code (the drug can only be guessed from text)")
        for d in r.get("dosageInstruction") or []:
            for dr in d.get("doseAndRate") or []:
                q = dr.get("doseQuantity")
                if q and (q.get("system") != UCUM or not q.get("code")):
                    gaps.append(f"{ref}: dose {q.get('value')} {q.get('unit', '')} without a UCUM unit code")
        if not r.get("dosageInstruction"):
            gaps.append(f"{ref}: no dosageInstruction (dose, route and schedule cannot be checked)")
    return gaps


def check_file(path: Path) -> tuple[list[str], list[str]]:
    """(errors, gaps) for one bundle or request file."""
    from ..protocol.envelope import validator

    body = read_json(path)
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        errors = fhir_errors(body, "Bundle")
        resources = bundle_resources(body)
        for r in resources:
            errors += fhir_errors(r, f"{r.get('resourceType')}/{r.get('id')}")
        return errors, data_gaps(resources)
    if isinstance(body, dict) and "hook" in body:
        errors = [f"request {e.json_path}: {e.message}" for e in validator("request").iter_errors(body)]
        resources: list[dict[str, Any]] = []
        for key, value in (body.get("prefetch") or {}).items():
            if value is not None:
                errors += fhir_errors(value, f"prefetch.{key}")
                resources += list(_flatten(value))
        drafts = (body.get("context") or {}).get("draftOrders")
        if drafts:
            errors += fhir_errors(drafts, "context.draftOrders")
            resources += list(_flatten(drafts))
        if "prefetch" not in body:
            return errors, []  # the service fetches the data itself; nothing here to judge
        return errors, data_gaps(resources)
    return ["neither a FHIR Bundle nor a CDS Hooks request"], []


def expand(paths: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.json") if f.name == "bundle.json" or f.name.startswith("request-"))
        elif p.is_file():
            files.append(p)
        else:
            raise FixtureError(f"{p}: no such file or directory")
    return files


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--quiet", "-q", is_flag=True, help="print only files with problems")
def command(paths: tuple[str, ...], quiet: bool) -> None:
    """Validate FHIR bundles and CDS Hooks requests (files or directories) and list missing data.

    Exit codes: 0 all valid with the data our checks need; 1 invalid FHIR/envelope or missing
    data; 2 a path that does not exist or is not JSON.
    """
    try:
        files = expand(paths)
    except FixtureError as exc:
        click.echo(f"cdshooks: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if not files:
        click.echo("cdshooks: no bundle.json or request-*.json found", err=True)
        sys.exit(EXIT_USAGE)
    results: list[tuple[Path, list[str], list[str]]] = []
    with Progress(console=console, transient=True, disable=len(files) < 5) as progress:
        task = progress.add_task("validating", total=len(files))
        for f in files:
            try:
                errors, gaps = check_file(f)
            except FixtureError as exc:
                click.echo(f"cdshooks: {exc}", err=True)
                sys.exit(EXIT_USAGE)
            results.append((f, errors, gaps))
            progress.advance(task)
    bad = 0
    for f, errors, gaps in results:
        if errors or gaps:
            bad += 1
            console.print(f"[bold]{f}[/bold]")
            for e in errors:
                console.print(f"  [red]invalid[/red]  {e}", markup=True, highlight=False)
            for g in gaps:
                console.print(f"  [yellow]missing[/yellow]  {g}", highlight=False)
        elif not quiet:
            console.print(f"[green]ok[/green]  {f}")
    console.print(f"{len(files)} file(s), {bad} with problems")
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)
