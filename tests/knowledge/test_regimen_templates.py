"""Regimen templates: shipped ones load with their sources; site templates load from the
configured directory; a bad template stops start-up with one line naming the file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdshooks.config import settings_from_env
from cdshooks.errors import KnowledgeError
from cdshooks.knowledge import DATA_DIR, default_knowledge, load_knowledge
from cdshooks.knowledge.regimen_templates import days_text, template_library
from support.regimens import site_template, write_site_dir
from support.servers import free_port

CDSHOOKS = shutil.which("cdshooks", path=str(Path(sys.executable).parent)) or "cdshooks"


def test_shipped_templates_load_and_cite_their_publication():
    lib = template_library(default_knowledge())
    hcvad = lib.get("hyper-cvad")
    assert hcvad is not None and "10.1200/JCO.2000.18.3.547" in hcvad.citation and "Kantarjian" in hcvad.citation
    assert {p.id for p in hcvad.phases} == {"course-a", "course-b", "maintenance"}
    assert hcvad.phase("course-a").courses == (1, 3, 5, 7) and hcvad.phase("course-b").courses == (2, 4, 6, 8)
    maint = lib.get("all-maintenance-pulses")
    assert maint is not None and "shared/seed" in maint.citation
    for t in lib.templates.values():
        for item in t.items():
            assert item.citation and item.id.startswith(t.id + ".")


@pytest.mark.parametrize("item_id, drug, days, low, high, unit, verified", [
    # hyper-CVAD course A/B as Kantarjian 2000 gives them (checked against the summaries in the template)
    ("hyper-cvad.a.cyclophosphamide", "cyclophosphamide", "1-3", 300, 300, "mg/m2", True),
    ("hyper-cvad.a.vincristine", "vincristine", "4, 11", 2, 2, "mg", True),
    ("hyper-cvad.a.doxorubicin", "doxorubicin", "4", 50, 50, "mg/m2", True),
    ("hyper-cvad.a.dexamethasone", "dexamethasone", "1-4, 11-14", 40, 40, "mg", True),
    ("hyper-cvad.b.methotrexate-total", "methotrexate", "1", 1000, 1000, "mg/m2", True),
    ("hyper-cvad.b.cytarabine", "cytarabine", "2-3", 3000, 3000, "mg/m2", True),
    ("hyper-cvad.b.cytarabine-60y", "cytarabine", "2-3", 1000, 1000, "mg/m2", False),
    ("hyper-cvad.b.methylprednisolone", "methylprednisolone", "1-3", 50, 50, "mg", True),
    ("hyper-cvad.a.methotrexate-it", "methotrexate", "2", 12, 12, "mg", False),
    ("hyper-cvad.m.prednisone", "prednisone", "1-5", 200, 200, "mg", False),
    # the seed's maintenance pattern with seed Table 1 doses
    ("all-maintenance-pulses.mercaptopurine", "mercaptopurine", "1-28", 1.5, 2.5, "mg/kg", True),
    ("all-maintenance-pulses.methotrexate", "methotrexate", "1, 8, 15, 22", 20, 20, "mg/m2", True),
    ("all-maintenance-pulses.vincristine", "vincristine", "1", 1.4, 1.4, "mg/m2", True),
    ("all-maintenance-pulses.prednisone", "prednisone", "1-5", 200, 200, "mg", False),
])
def test_template_rows(item_id, drug, days, low, high, unit, verified):
    lib = template_library(default_knowledge())
    item = next(i for t in lib.templates.values() for i in t.items() if i.id == item_id)
    assert (item.drug, item.days_text, item.dose.low, item.dose.high, item.dose.unit, item.verified) == (drug, days, low, high, unit, verified)


def test_vincristine_caps_and_rounding():
    lib = template_library(default_knowledge())
    vcr = next(i for i in lib.get("all-maintenance-pulses").items() if i.drug == "vincristine")
    assert vcr.cap == 2.0 and vcr.rounding == pytest.approx(0.1) and vcr.dose.basis == "m2"


def test_days_text():
    assert days_text([11, 1, 2, 3, 4, 12]) == "1-4, 11-12" and days_text([1]) == "1"


def test_site_directory_from_configuration_is_loaded(tmp_path):
    site = write_site_dir(tmp_path / "site")
    settings = settings_from_env({"CDSHOOKS_REGIMEN_DIR": str(site)})
    assert settings.regimen_dir == site
    lib = template_library(load_knowledge(regimen_dirs=(settings.regimen_dir,)))
    assert {"hyper-cvad", "all-maintenance-pulses", "site-vcr-dex"} <= set(lib.templates)
    assert lib.get("site-vcr-dex").origin.endswith("site-vcr-dex.json")
    assert lib.get("hyper-cvad").origin == "packaged"


@pytest.mark.parametrize("change, message", [
    ({"tolerance_pct": "ten"}, "tolerance_pct"),
    ({"source": {"title": "No DOI or URL here", "authors": ["X"], "year": 2020}}, "source"),
    ({"id": "hyper-cvad"}, "already defined"),
])
def test_bad_site_template_refuses_with_one_line(tmp_path, change, message):
    site = write_site_dir(tmp_path / "site", site_template(**change))
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(regimen_dirs=(site,))
    assert message in info.value.message and "\n" not in info.value.message


def test_unknown_drug_and_unit_are_refused(tmp_path):
    bad = site_template()
    bad["phases"][0]["items"][0]["drug"] = "vincristin"
    site = write_site_dir(tmp_path / "site", bad)
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(regimen_dirs=(site,))
    assert "vincristin" in info.value.message and "drugs.json" in info.value.message
    bad = site_template()
    bad["phases"][0]["items"][1]["dose"]["unit"] = "mg/m2/d/h"
    write_site_dir(tmp_path / "site", bad)
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(regimen_dirs=(tmp_path / "site",))
    assert "dose per administration" in info.value.message


def test_missing_site_directory_is_refused(tmp_path):
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(regimen_dirs=(tmp_path / "nowhere",))
    assert "CDSHOOKS_REGIMEN_DIR" in info.value.message


def test_a_broken_packaged_template_is_refused(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "regimens" / "hyper-cvad.json"
    raw = json.loads(path.read_text())
    raw["phases"][0]["items"][0]["days"] = [1, 2, 30]
    path.write_text(json.dumps(raw))
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(data)
    assert "day 30" in info.value.message


def test_serve_refuses_a_bad_site_template_with_one_line(tmp_path):
    bad = site_template(phases=[])
    site = write_site_dir(tmp_path / "site", bad)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env.update(CDSHOOKS_DATA_DIR=str(tmp_path / "var"), CDSHOOKS_REGIMEN_DIR=str(site))
    result = subprocess.run([CDSHOOKS, "serve", "--dev", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "site-vcr-dex.json" in result.stderr and "phases" in result.stderr


def test_plan_rule_ids_are_in_the_policy_catalogue():
    from cdshooks.policy.catalogue import known_rule_ids

    known = known_rule_ids(default_knowledge())
    assert {"plan.dose.hyper-cvad.a.cyclophosphamide", "plan.other-phase.hyper-cvad.b.methotrexate-total",
            "plan.not-in-plan.hyper-cvad.course-a", "plan.already-given.all-maintenance-pulses.vincristine", "missing-data.plan"} <= known
