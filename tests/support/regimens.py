"""A small site regimen template for tests: written to a temp CDSHOOKS_REGIMEN_DIR.

Why a made-up site protocol: the point is that a site's own file is loaded, validated and used
exactly like a shipped one; its numbers are test data, not clinical knowledge.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

SITE_TEMPLATE: dict[str, Any] = {
    "id": "site-vcr-dex",
    "title": "Site test protocol: weekly vincristine with dexamethasone",
    "aliases": ["site vcr dex"],
    "canonical": ["https://hospital.example/fhir/PlanDefinition/site-vcr-dex"],
    "identifiers": [{"system": "https://hospital.example/protocols", "value": "SVD-1"}],
    "status": "verified",
    "source": {"title": "Test site protocol document", "authors": ["Test Site Pharmacy"], "year": 2026, "url": "https://hospital.example/protocols/svd-1"},
    "tolerance_pct": 5,
    "critical_pct": 20,
    "rounding": {"increment": 0.1, "unit": "mg"},
    "phases": [
        {
            "id": "block-1", "name": "Block 1", "aliases": ["block 1"], "courses": [1], "length_days": 14,
            "items": [
                {"id": "site-vcr-dex.b1.vincristine", "drug": "vincristine", "days": [1, 8], "dose": {"value": 1.5, "unit": "mg/m2"},
                 "routes": ["intravenous"], "cap": {"value": 2, "unit": "mg", "citation": "site protocol cap"}, "status": "verified",
                 "citation": "Test site protocol SVD-1 block 1: vincristine 1.5 mg/m2 days 1 and 8"},
                {"id": "site-vcr-dex.b1.dexamethasone", "drug": "dexamethasone", "days": [1, 2, 3, 4, 5, 6, 7], "dose": {"value": 6, "unit": "mg/m2"},
                 "routes": ["oral"], "status": "verified", "citation": "Test site protocol SVD-1 block 1: dexamethasone 6 mg/m2/day days 1-7"},
            ],
        },
        {
            "id": "block-2", "name": "Block 2", "aliases": ["block 2"], "courses": [2], "length_days": 14,
            "items": [
                {"id": "site-vcr-dex.b2.dexamethasone", "drug": "dexamethasone", "days": [1, 2, 3, 4, 5, 6, 7], "dose": {"value": 10, "unit": "mg/m2"},
                 "routes": ["oral"], "status": "verified", "citation": "Test site protocol SVD-1 block 2: dexamethasone 10 mg/m2/day days 1-7"},
            ],
        },
    ],
}


def site_template(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(SITE_TEMPLATE)
    out.update(changes)
    return out


def write_site_dir(root: Path, *templates: dict[str, Any]) -> Path:
    """A directory holding the given templates (default: SITE_TEMPLATE) as <id>.json."""
    root.mkdir(parents=True, exist_ok=True)
    for t in templates or (SITE_TEMPLATE,):
        (root / f"{t.get('id', 'template')}.json").write_text(json.dumps(t, indent=2), encoding="utf-8")
    return root
