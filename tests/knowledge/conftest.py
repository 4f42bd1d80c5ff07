"""Fixtures for the context tests: a Knowledge holding only the tables the builder reads.

Why not `load_knowledge()`: other families' tables are edited concurrently and their
cross-checks require their own files; the builder needs only drugs.json and codes.json, which
are validated against their schemas and cross-checked here exactly as the loader would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdshooks.knowledge import DATA_DIR, Knowledge, validate_table
from cdshooks.knowledge.codes import check_codes_table
from cdshooks.knowledge.drugs import check_drug_table

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"


def context_knowledge() -> Knowledge:
    tables = {}
    for name in ("manifest", "drugs", "codes"):
        data = json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))
        validate_table(name, data)
        tables[name] = data
    kb = Knowledge(version=tables["manifest"]["version"], tables=tables, source_dir=Path(DATA_DIR))
    problems = check_drug_table(kb) + check_codes_table(kb)
    assert not problems, problems
    return kb


@pytest.fixture(scope="session")
def kb() -> Knowledge:
    return context_knowledge()
