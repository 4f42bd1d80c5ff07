"""`cdshooks validate PATH...`: is this data something our checks can work with?

Two layers: (1) validity - every resource against FHIR R4 (fhir.resources R4B) and every CDS
Hooks request against our envelope schema; (2) usefulness - the data the hook's service needs
and the file lacks. Layer 2 is what turns a silent "no card" into a known gap, so it judges by
what the service of that hook actually checks: order-sign/order-select dose checks need weight
and height within the freshness window before the order date; patient-view does no dose checks
and needs only the ALL Condition and identifiable medications.

"Today" is never the wall clock when the data says otherwise: the order date is the latest draft
order's `authoredOn`; without draft orders it is `--as-of`, else the fixture's `referenceDate`
(expected.json beside the file), else today (and the report says which it used).

A fixture that lacks data on purpose (e.g. `missing.weight.*`, written to prove the missing-data
card) declares it in expected.json `expectedGaps`; those gaps are listed but do not fail the run.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable

import click

from ._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, console, fail_usage
from ..fixtures import FixtureError, bundle_resources, read_json

RXNORM, UCUM, LOINC = "http://www.nlm.nih.gov/research/umls/rxnorm", "http://unitsofmeasure.org", "http://loinc.org"
SCT, ICD = "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"
ALL_SNOMED = {"91857003", "91856007", "12301000132103", "12311000132101", "277571004", "277572006", "425941003", "277575008",
              "427642009", "420890002", "425688002", "723889003", "714251006", "838342003", "838341005", "838343008",
              "838346000", "838344002", "118617000"}  # terminology.json C1, verified
ALL_ICD_PREFIXES = ("C91.0", "C91.A")  # terminology.json C2
DOSING_HOOKS = frozenset({"order-sign", "order-select"})  # the hooks whose services check doses
MEASUREMENTS = (("weight", "29463-7", "body weight"), ("height", "8302-2", "body height"))


@dataclass(frozen=True)
class Gap:
    """One piece of data a check needs and the file lacks. `key` is what expectedGaps names."""

    key: str
    message: str


@dataclass
class Report:
    """What `validate` found in one file, and the hook and day it judged it for."""

    path: Path
    hook: str | None = None
    as_of: date | None = None
    as_of_source: str = ""
    errors: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    expected_gaps: frozenset[str] = frozenset()
    note: str = ""

    @property
    def unexpected_gaps(self) -> list[Gap]:
        return [g for g in self.gaps if g.key not in self.expected_gaps]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unexpected_gaps

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "ok": self.ok, "hook": self.hook,
            "asOf": self.as_of.isoformat() if self.as_of else None, "asOfSource": self.as_of_source or None,
            "errors": self.errors,
            "gaps": [{"key": g.key, "message": g.message, "expected": g.key in self.expected_gaps} for g in self.gaps],
            "note": self.note or None,
        }


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


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


def _codings(concept: Any) -> list[dict[str, Any]]:
    coding = concept.get("coding") if isinstance(concept, dict) else None
    return [c for c in coding if isinstance(c, dict)] if isinstance(coding, list) else []


def freshness_days() -> dict[str, int]:
    """The measurement windows the service uses (knowledge/data/codes.json), not a copy of them."""
    from ..knowledge.codes import __file__ as codes_module

    raw = json.loads((Path(codes_module).parent / "data" / "codes.json").read_text(encoding="utf-8"))
    return dict(raw["settings"]["freshness_days"])


def draft_order_date(orders: list[dict[str, Any]]) -> date | None:
    """The latest `authoredOn` of the draft orders: the day the dose checks judge by."""
    days = [d for r in orders if r.get("status") == "draft" and (d := _day(r.get("authoredOn")))]
    return max(days) if days else None


def measurement_gaps(resources: list[dict[str, Any]], order_date: date, windows: dict[str, int]) -> list[Gap]:
    gaps: list[Gap] = []
    for key, code, what in MEASUREMENTS:
        window = windows.get(key, 30)
        found = [r for r in resources if r.get("resourceType") == "Observation"
                 and any(c.get("system") == LOINC and c.get("code") == code for c in _codings(r.get("code")))]
        recent = [r for r in found if (d := _day(r.get("effectiveDateTime"))) and order_date - timedelta(days=window) <= d <= order_date]
        if not found:
            gaps.append(Gap(key, f"no {what} Observation (LOINC {code}): BSA- and weight-based doses cannot be checked; "
                                 f"add one dated within {window} days before the order"))
        elif not recent:
            latest = max((d for r in found if (d := _day(r.get("effectiveDateTime")))), default=None)
            gaps.append(Gap(f"{key}-stale", f"no {what} within {window} days before the order date {order_date} "
                                            f"(latest: {latest or 'undated'}): doses cannot be checked"))
        for r in found:
            q = r.get("valueQuantity") if isinstance(r.get("valueQuantity"), dict) else {}
            if q and (q.get("system") != UCUM or not q.get("code")):
                gaps.append(Gap(f"{key}-unit", f"Observation/{r.get('id')}: {what} without a UCUM unit code (set valueQuantity.system and code)"))
    return gaps


def order_gaps(orders: list[dict[str, Any]], *, dosing: bool) -> list[Gap]:
    gaps: list[Gap] = []
    for r in orders:
        ref = f"MedicationRequest/{r.get('id')}"
        concept = r.get("medicationCodeableConcept")
        if concept and not any(c.get("system") == RXNORM for c in _codings(concept)):
            gaps.append(Gap("rxnorm", f"{ref}: no RxNorm code (the drug can only be guessed from text)"))
        if not dosing or r.get("status") != "draft":
            continue
        instructions = r.get("dosageInstruction") if isinstance(r.get("dosageInstruction"), list) else []
        for d in instructions:
            for dr in (d.get("doseAndRate") if isinstance(d, dict) and isinstance(d.get("doseAndRate"), list) else []):
                q = dr.get("doseQuantity") if isinstance(dr, dict) else None
                if isinstance(q, dict) and (q.get("system") != UCUM or not q.get("code")):
                    gaps.append(Gap("dose-unit", f"{ref}: dose {q.get('value')} {q.get('unit', '')} without a UCUM unit code"))
        if not instructions:
            gaps.append(Gap("dosage", f"{ref}: no dosageInstruction (dose, route and schedule cannot be checked)"))
    return gaps


def data_gaps(resources: list[dict[str, Any]], hook: str, order_date: date | None, windows: dict[str, int]) -> list[Gap]:
    """What the `hook` service's checks need and these resources lack (names resources, never PHI)."""
    gaps: list[Gap] = []
    orders = [r for r in resources if r.get("resourceType") == "MedicationRequest"]
    if hook in DOSING_HOOKS and order_date is not None:
        gaps += measurement_gaps(resources, order_date, windows)
    has_all = any(
        (c.get("system") == SCT and c.get("code") in ALL_SNOMED) or (c.get("system") == ICD and str(c.get("code", "")).startswith(ALL_ICD_PREFIXES))
        for r in resources if r.get("resourceType") == "Condition" for c in _codings(r.get("code"))
    )
    if not has_all:
        gaps.append(Gap("all-condition", "no ALL Condition (SNOMED CT or ICD-10-CM C91.0x/C91.Ax): risk group and regimen checks stay silent"))
    return gaps + order_gaps(orders, dosing=hook in DOSING_HOOKS)


def _fixture_meta(path: Path) -> tuple[date | None, frozenset[str]]:
    """referenceDate and expectedGaps of the fixture the file belongs to (expected.json beside it)."""
    expected_path = path.parent / "expected.json"
    if not expected_path.exists():
        return None, frozenset()
    expected = read_json(expected_path)
    if not isinstance(expected, dict):
        return None, frozenset()
    gaps = expected.get("expectedGaps")
    return _day(expected.get("referenceDate")), frozenset(g for g in gaps if isinstance(g, str)) if isinstance(gaps, list) else frozenset()


def check_file(path: Path, as_of: date | None = None, windows: dict[str, int] | None = None) -> Report:
    """Validity errors and data gaps of one bundle or request file."""
    from ..protocol.envelope import validator

    windows = windows if windows is not None else freshness_days()
    reference, expected_gaps = _fixture_meta(path)
    report = Report(path, expected_gaps=expected_gaps)
    body = read_json(path)
    resources: list[dict[str, Any]] = []
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        report.errors = fhir_errors(body, "Bundle")
        resources = bundle_resources(body)
        for r in resources:
            report.errors += fhir_errors(r, f"{r.get('resourceType')}/{r.get('id')}")
        drafts = [r for r in resources if r.get("resourceType") == "MedicationRequest" and r.get("status") == "draft"]
        report.hook = "order-sign" if drafts else "patient-view"
    elif isinstance(body, dict) and "hook" in body:
        report.hook = body.get("hook") if isinstance(body.get("hook"), str) else None
        report.errors = [f"request {e.json_path}: {e.message}" for e in validator("request").iter_errors(body)]
        prefetch = body.get("prefetch") if isinstance(body.get("prefetch"), dict) else {}
        for key, value in prefetch.items():
            if value is not None:
                report.errors += fhir_errors(value, f"prefetch.{key}")
                resources += list(_flatten(value))
        context = body.get("context") if isinstance(body.get("context"), dict) else {}
        if context.get("draftOrders"):
            report.errors += fhir_errors(context["draftOrders"], "context.draftOrders")
            resources += list(_flatten(context["draftOrders"]))
        if "prefetch" not in body:
            report.note = "no prefetch: the service fetches the record from fhirServer (run `cdshooks check` to exercise it)"
            return report
    else:
        report.errors = ["neither a FHIR Bundle nor a CDS Hooks request"]
        return report
    drafts_day = draft_order_date([r for r in resources if r.get("resourceType") == "MedicationRequest"])
    for day, source in ((drafts_day, "draft order date"), (as_of, "--as-of"), (reference, "fixture referenceDate"), (date.today(), "today")):
        if day is not None:
            report.as_of, report.as_of_source = day, source
            break
    report.gaps = data_gaps(resources, report.hook or "", report.as_of, windows)
    return report


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


def _print(report: Report, quiet: bool) -> None:
    judged = f"{report.hook or '?'}" + (f", as of {report.as_of} ({report.as_of_source})" if report.as_of else "")
    if report.ok and quiet:
        return
    console.print(f"[green]ok[/green]  {report.path}  [dim]{judged}[/dim]" if report.ok else f"[bold]{report.path}[/bold]  [dim]{judged}[/dim]",
                  highlight=False)
    for e in report.errors:
        console.print(f"  [red]invalid[/red]  {e}", highlight=False)
    for g in report.gaps:
        label = "[dim]expected gap[/dim]" if g.key in report.expected_gaps else "[yellow]missing[/yellow]"
        console.print(f"  {label}  {g.message}", highlight=False)
    if report.note and not quiet:
        console.print(f"  [dim]note[/dim]  {report.note}", highlight=False)


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--quiet", "-q", is_flag=True, help="print only files with problems")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="the order date to judge measurement freshness by when a file has no draft order (default: the fixture's referenceDate, else today)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON report instead of text")
def command(paths: tuple[str, ...], quiet: bool, as_of: str | None, as_json: bool) -> None:
    """Validate FHIR bundles and CDS Hooks requests (files or directories) and list missing data.

    Exit codes: 0 all valid with the data the hook's service needs (gaps a fixture declares in
    expected.json `expectedGaps` excepted); 1 invalid FHIR/envelope or missing data; 2 a path
    that does not exist or is not JSON, or a bad --as-of.
    """
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        fail_usage(f"--as-of must be a date YYYY-MM-DD, got {as_of!r}")
    try:
        files = expand(paths)
        if not files:
            fail_usage("no bundle.json or request-*.json found")
        windows = freshness_days()
        reports = [check_file(f, day, windows) for f in files]
    except FixtureError as exc:
        fail_usage(str(exc))
    bad = sum(not r.ok for r in reports)
    if as_json:
        click.echo(json.dumps({"files": len(reports), "withProblems": bad, "reports": [r.as_dict() for r in reports if not (quiet and r.ok)]}, indent=1))
    else:
        for r in reports:
            _print(r, quiet)
        console.print(f"{len(files)} file(s), {bad} with problems")
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)
