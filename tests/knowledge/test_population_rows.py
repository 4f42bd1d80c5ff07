"""Typed special-population rows (knowledge/populations.py): one band logic, no unevaluated kind.

Sources: populations.json SP-07 (daunorubicin label: bilirubin 1.2-3.0 mg/dL -> 75%, >3.0 -> 50%;
reference doses <18 y 25 mg/m2, >=18 y 45 mg/m2) and SP-04 (12-<50 y band, UNVERIFIED default).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cdshooks.errors import KnowledgeError
from cdshooks.knowledge import DATA_DIR, SCHEMA_DIR, load_knowledge
from cdshooks.knowledge.bands import Bound
from cdshooks.knowledge.populations import LabRow, PopulationRow, ReproductiveRow, population_knowledge
from cdshooks.rules.verdict import Row


@pytest.fixture(scope="module")
def rows(kb):
    return population_knowledge(kb)


def test_every_row_is_typed_and_satisfies_the_engine_row_protocol(rows):
    assert rows.rows and all(isinstance(r, PopulationRow) and isinstance(r, Row) for r in rows.rows)
    assert all(r.id and r.citation and r.status in ("verified", "unverified") for r in rows.rows)
    fact = rows.row("SP-29")
    assert fact.message == "contraindicated in demyelinating Charcot-Marie-Tooth syndrome"


def test_lab_band_edges_come_from_the_shared_bound(rows):
    sp07 = rows.row("SP-07")
    assert isinstance(sp07, LabRow) and all(isinstance(b.range, Bound) for b in sp07.bands)
    assert sp07.band_for(1.19) is None
    assert sp07.band_for(1.2).id == "75pct"  # inclusive lower cut-off
    assert sp07.band_for(3.0).id == "75pct"  # 3.0 belongs to 1.2-3.0, not to >3.0
    assert sp07.band_for(3.01).id == "50pct"


def test_reference_dose_age_band_min_inclusive_max_exclusive(rows):
    sp07 = rows.row("SP-07")
    assert {(r.value, r.unit) for r in sp07.references_at(17)} == {(25, "mg/m2"), (1, "mg/kg")}
    assert {(r.value, r.unit) for r in sp07.references_at(18)} == {(45, "mg/m2"), (1, "mg/kg")}
    assert {(r.value, r.unit) for r in sp07.references_at(None)} == {(1, "mg/kg")}  # age-banded doses need an age
    assert sp07.references_at(17)[0].as_json() == {"value": 25, "unit": "mg/m2", "max_age_years": 18}


def test_reproductive_age_band(rows):
    sp04 = rows.row("SP-04")
    assert isinstance(sp04, ReproductiveRow)
    assert [sp04.ages.contains(a) for a in (11, 12, 49, 50)] == [False, True, True, False]


def test_every_population_kind_has_an_evaluator():
    # the engine imports every rule module first (registry order = import order; importing one
    # rule module on its own would put its rules first), then this one is already loaded
    from cdshooks.rules.registry import registered_rules

    registered_rules()
    from cdshooks.rules.populations import unevaluated_kinds

    assert unevaluated_kinds() == []


def _copy_knowledge(tmp_path: Path) -> tuple[Path, Path]:
    data, schemas = tmp_path / "data", tmp_path / "schemas"
    shutil.copytree(DATA_DIR, data)
    shutil.copytree(SCHEMA_DIR, schemas)
    return data, schemas


def test_a_row_kind_without_evaluator_stops_the_load(tmp_path):
    """The schema admits a new kind (someone added it) but no code evaluates it: refuse to start."""
    data, schemas = _copy_knowledge(tmp_path)
    schema_path = schemas / "populations.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["populations"]["items"]["properties"]["kind"]["enum"].append("weight")
    schema_path.write_text(json.dumps(schema))
    table_path = data / "populations.json"
    table = json.loads(table_path.read_text())
    table["populations"].append({"id": "SP-31", "kind": "weight", "drugs": ["vincristine"], "severity": "warning",
                                 "message": "low body weight", "citation": "test row", "status": "verified"})
    table_path.write_text(json.dumps(table))
    with pytest.raises(KnowledgeError, match=r"SP-31.*'weight' has no evaluator"):
        load_knowledge(data, schemas)


def test_the_copied_knowledge_loads_unchanged(tmp_path):
    """Control for the test above: the copy itself is valid, so the failure is the new kind."""
    data, schemas = _copy_knowledge(tmp_path)
    assert population_knowledge(load_knowledge(data, schemas)).row("SP-19").family == "pharmacogenomics"
