"""Generate the fixture patients and their golden cards: `python fhir_fixtures/make_fixtures.py`.

Deterministic (no randomness, no clock): every date derives from the fixed order date 2026-11-02
(`authoredOn` of every draft order) or the fixed diagnosis date, so ages at the NCI boundaries are
exact; re-running reproduces every file byte for byte. That reference date is stored in every
`expected.json` (`referenceDate`); whoever runs the service on a fixture pins its clinical clock to
it (tests: tests/support/clock.py; CLI: `cdshooks check` does it by itself).

Goldens (`expected.json`) are written by hand in `scenarios.py` from the clinical expectation in
shared/reference/clinical-rules.md (§7 T01-T40, §2-§6) - never copied from service output. Each
request file gets {"checkedTopics": [...], "cards": [...]}: for every checked topic the returned
cards must equal the expected ones (no missing, no extra); `cards: []` asserts "no card of these
topics". A card is {topic, indicator, drug?, ruleId, clinicalRules?, summaryContains?, values?}
(cdshooks/goldens.py): the exact rule id always; the numbers a prescriber acts on for dose cards.

Modules: fixture_model.py (dataclasses, verified codes, FHIR builders), scenarios.py (the table).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from cdshooks.fixtures import NOPREFETCH_FILE, PLACEHOLDER_FHIR_SERVER, REQUEST_FILES, build_request, dump_json  # noqa: E402
from fixture_model import ORDER, RXNORM, Scenario, build_bundle  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402



def _uncoded(resources: list[dict[str, Any]]) -> bool:
    return any(r.get("resourceType") in ("MedicationRequest", "MedicationStatement")
               and not any(c.get("system") == RXNORM for c in (r.get("medicationCodeableConcept") or {}).get("coding", []))
               for r in resources)


def deliberate_gaps(s: Scenario, bundle: dict[str, Any]) -> list[str]:
    """Data the scenario leaves out ON PURPOSE (`cdshooks validate` gap keys, expected.json
    `expectedGaps`): what it declares, plus what its own fields say by construction - no ALL
    diagnosis (`diagnosis=None`), a medication added by name only through `extra`, or an order
    reshaped by its `edit` (EHR-shaped orders, e.g. name only) into one without an RxNorm code."""
    gaps = list(s.expected_gaps)
    if s.diagnosis is None:
        gaps.append("all-condition")
    built = [e["resource"] for e in bundle["entry"]]
    if _uncoded([*s.extra, *s.resources]) or (any(o.edit for o in s.orders) and _uncoded(built)):
        gaps.append("rxnorm")
    return sorted(set(gaps))


def write_scenario(s: Scenario, root: Path) -> None:
    out = root / s.id
    out.mkdir(parents=True, exist_ok=True)
    bundle = build_bundle(s)
    (out / "bundle.json").write_text(dump_json(bundle), encoding="utf-8")
    expected: dict[str, Any] = {
        "scenario": s.id, "title": s.title, "source": s.source,
        # the day every date in bundle.json was computed from: tests and `cdshooks check` pin the
        # service's clinical clock to it, so the goldens hold on any calendar day
        "referenceDate": ORDER.isoformat(),
        "requests": {},
    }
    gaps = deliberate_gaps(s, bundle)
    if gaps:
        expected["expectedGaps"] = gaps
    if s.orders and any(o.status == "draft" for o in s.orders):
        sign = {"checkedTopics": sorted(set(s.sign_topics) | {c["topic"] for c in s.sign or []}), "cards": s.sign or []}
        (out / REQUEST_FILES["order-sign"]).write_text(dump_json(build_request(bundle, "order-sign")), encoding="utf-8")
        (out / NOPREFETCH_FILE).write_text(
            dump_json(build_request(bundle, "order-sign", prefetch=False, fhir_server=PLACEHOLDER_FHIR_SERVER, access_token="fixture-token")),
            encoding="utf-8",
        )
        expected["requests"][REQUEST_FILES["order-sign"]] = sign
        expected["requests"][NOPREFETCH_FILE] = sign if s.sign_noprefetch is None else {
            "checkedTopics": sorted(set(s.sign_topics) | {c["topic"] for c in s.sign_noprefetch}), "cards": s.sign_noprefetch}
        if s.select:
            (out / REQUEST_FILES["order-select"]).write_text(dump_json(build_request(bundle, "order-select")), encoding="utf-8")
            expected["requests"][REQUEST_FILES["order-select"]] = sign
    (out / REQUEST_FILES["patient-view"]).write_text(dump_json(build_request(bundle, "patient-view")), encoding="utf-8")
    expected["requests"][REQUEST_FILES["patient-view"]] = {
        "checkedTopics": sorted(set(s.view_topics) | {c["topic"] for c in s.view or []}),
        "cards": s.view or [],
    }
    (out / "expected.json").write_text(dump_json(expected), encoding="utf-8")


def main() -> None:
    ids = [s.id for s in SCENARIOS]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise SystemExit(f"duplicate scenario ids: {sorted(duplicates)}")
    for old in HERE.iterdir():
        if old.is_dir() and (old / "expected.json").exists():
            shutil.rmtree(old)
    for s in SCENARIOS:
        write_scenario(s, HERE)
    print(f"wrote {len(SCENARIOS)} fixture patients to {HERE}")


if __name__ == "__main__":
    main()
