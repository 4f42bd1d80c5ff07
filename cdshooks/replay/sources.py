"""Read a replay SOURCE into patient records (folders and Bundle files one at a time; an NDJSON
export is grouped by patient first, as its files are per resource type). Three layouts, told apart by what the directory holds:

- fixture folders: ``*/bundle.json`` (+ the ``request-*.json`` an EHR would send; those are replayed
  as stored, so the counts can be checked against the folders' goldens);
- FHIR Bundles: ``*.json`` files (or one file), each a Bundle holding one patient's record;
- NDJSON bulk export: ``*.ndjson`` files, one resource type per file (FHIR Bulk Data), grouped by
  patient through ``subject`` / ``patient`` references.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from ..fixtures import FixtureError, bundle_resources, load_fixture

REPLAYED_REQUESTS = ("request-patient-view.json", "request-order-sign.json")


class SourceError(ValueError):
    """The SOURCE cannot be replayed; the message says why (one line)."""


@dataclass(frozen=True)
class PatientRecord:
    label: str  # file or folder name, for error messages only (never printed in reports)
    resources: list[dict[str, Any]]
    stored_requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # fixture folders only
    reference_date: date | None = None  # fixture folders: the day their goldens were written for


@dataclass(frozen=True)
class Source:
    kind: str  # "fixtures" | "bundles" | "ndjson"
    count: int  # patients, known before the run so progress can show a total
    records: Iterator[PatientRecord]


def open_source(path: str | Path) -> Source:
    p = Path(path)
    if p.is_file():
        return Source("bundles", 1, iter([_bundle_record(p)]))
    if not p.is_dir():
        raise SourceError(f"{p}: no such file or directory")
    folders = sorted(d for d in p.iterdir() if (d / "bundle.json").is_file())
    if folders:
        return Source("fixtures", len(folders), (_fixture_record(d) for d in folders))
    ndjson = sorted(p.glob("*.ndjson"))
    if ndjson:
        groups = _ndjson_groups(ndjson)
        return Source("ndjson", len(groups), iter(groups))
    bundles = sorted(p.glob("*.json"))
    if bundles:
        return Source("bundles", len(bundles), (_bundle_record(f) for f in bundles))
    raise SourceError(f"{p}: no fixture folders (*/bundle.json), FHIR Bundles (*.json) or NDJSON files (*.ndjson)")


def _fixture_record(folder: Path) -> PatientRecord:
    try:
        fixture = load_fixture(folder)
        stored = {name: json.loads(fixture.requests[name].read_text(encoding="utf-8")) for name in REPLAYED_REQUESTS if name in fixture.requests}
        reference = fixture.reference_date
    except (FixtureError, ValueError) as exc:
        raise SourceError(f"{folder.name}: {exc}") from None
    return PatientRecord(folder.name, bundle_resources(fixture.bundle or {}), stored, reference)


def _bundle_record(path: Path) -> PatientRecord:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path.name}: not a readable JSON file ({exc.__class__.__name__})") from None
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise SourceError(f"{path.name}: not a FHIR Bundle")
    return PatientRecord(path.name, bundle_resources(body))


def _ref_id(value: Any, kind: str) -> str | None:
    ref = value.get("reference") if isinstance(value, dict) else None
    if isinstance(ref, str) and ref.startswith(f"{kind}/"):
        return ref.split("/", 1)[1]
    return None


def _ndjson_groups(files: list[Path]) -> list[PatientRecord]:
    """Group an export by patient; Medication resources go to every patient that references them."""
    by_patient: dict[str, list[dict[str, Any]]] = {}
    medications: dict[str, dict[str, Any]] = {}
    orphans = 0
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for n, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    resource = json.loads(line)
                except ValueError:
                    raise SourceError(f"{path.name} line {n}: not valid JSON") from None
                if not isinstance(resource, dict):
                    raise SourceError(f"{path.name} line {n}: not a FHIR resource")
                rtype = resource.get("resourceType")
                if rtype == "Patient" and isinstance(resource.get("id"), str):
                    by_patient.setdefault(resource["id"], []).insert(0, resource)
                elif rtype == "Medication" and isinstance(resource.get("id"), str):
                    medications[resource["id"]] = resource
                else:
                    pid = _ref_id(resource.get("subject"), "Patient") or _ref_id(resource.get("patient"), "Patient")
                    if pid is None:
                        orphans += 1
                        continue
                    by_patient.setdefault(pid, []).append(resource)
    records = []
    for pid in sorted(by_patient):
        resources = by_patient[pid]
        if not resources or resources[0].get("resourceType") != "Patient":
            continue  # resources whose Patient is not in the export: nothing to replay
        wanted = {_ref_id(r.get("medicationReference"), "Medication") for r in resources} - {None}
        resources.extend(medications[m] for m in sorted(wanted) if m in medications)  # type: ignore[index]
        records.append(PatientRecord(f"Patient/{pid}", resources))
    return records
