"""Knowledge tables: load with the real loader, every row cited, bands and units readable."""

from __future__ import annotations

import copy
import json

import pytest

from cdshooks.errors import KnowledgeError
from cdshooks.knowledge import DATA_DIR, SCHEMA_DIR, validate_table
from cdshooks.knowledge.dosing import check_dosing_tables, dosing_view

SEED_DRUGS = {
    "clofarabine", "cyclophosphamide", "daunorubicin", "doxorubicin", "mercaptopurine", "methotrexate", "nelarabine",
    "pegaspargase", "vincristine", "blinatumomab", "brexucabtagene-autoleucel", "dasatinib", "imatinib",
    "inotuzumab-ozogamicin", "ponatinib", "rituximab", "tisagenlecleucel",
}


def test_every_seed_drug_has_dose_and_route_rules(kb):
    view = dosing_view(kb)
    assert SEED_DRUGS <= {r.drug for r in view.dose_rules}
    assert SEED_DRUGS | {"cytarabine"} <= {r.drug for r in view.route_rules}
    assert not view.doses_for("cytarabine")


def test_every_row_has_id_citation_status(kb):
    for name in ("dosing", "routes", "schedules", "cumulative"):
        for row in kb.table(name)["rules"]:
            assert row["id"].split(".")[0] in ("dose", "route", "schedule", "cumulative") and row["citation"] and row["status"] in ("verified", "unverified")


def test_tisagenlecleucel_citation_says_label_wins(kb):
    row = next(r for r in dosing_view(kb).dose_rules if r.id == "dose.tisagenlecleucel.total")
    assert row.basis == "fixed" and "label wins" in row.citation


def test_band_inclusive_flags_as_written(kb):
    view = dosing_view(kb)
    w = {r.id: r for r in view.dose_rules}
    weight = next(b for b in w["dose.vincristine.pediatric-weight"].bands.bounds if b.variable == "weight_kg")
    assert weight.contains(10.0) and not weight.contains(10.1)
    peg = w["dose.pegaspargase.over-21"].bands.bounds[0]
    assert not peg.contains(21) and peg.contains(22)


def test_cross_check_rejects_unknown_ref_and_unit(kb):
    bad = copy.deepcopy(dict(kb.tables))
    bad["dosing"] = copy.deepcopy(kb.table("dosing"))
    bad["dosing"]["rules"][0]["refs"] = ["nowhere"]
    bad["dosing"]["rules"][1]["dose"]["unit"] = "mg/L"
    problems = check_dosing_tables(kb.__class__(version="x", tables=bad, source_dir=kb.source_dir))
    assert any("nowhere" in p for p in problems) and any("mg/L" in p for p in problems)


def test_schema_rejects_band_without_inclusive_flag():
    data = json.loads((DATA_DIR / "dosing.json").read_text())
    data["rules"][4]["bands"] = {"age_years": {"max": 2}}
    with pytest.raises(KnowledgeError):
        validate_table("dosing", data, SCHEMA_DIR)
