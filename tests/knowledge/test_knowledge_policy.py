"""Knowledge-wide policy, enforced at load time: what UNVERIFIED may and may not do."""

from __future__ import annotations

import json
import shutil

import pytest

from cdshooks.errors import KnowledgeError
from cdshooks.knowledge import DATA_DIR, load_knowledge


def test_packaged_knowledge_loads_and_has_a_version():
    kb = load_knowledge()
    assert kb.version.count(".") == 2
    assert {"drugs", "codes", "dosing", "routes", "schedules", "cumulative", "interactions", "populations", "risk", "regimen", "monitoring"} <= set(kb.tables)


def test_an_unverified_rule_marked_critical_is_refused(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "monitoring.json"
    table = json.loads(path.read_text())
    row = next(c for c in table["checks"] if c["id"] == "monitoring.anthracycline.lvef-low")
    assert row["status"] == "unverified"
    row["indicator"] = "critical"
    path.write_text(json.dumps(table))
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(data)
    assert "monitoring.anthracycline.lvef-low" in info.value.message and "critical" in info.value.message


def test_a_file_without_schema_is_refused(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    (data / "extra.json").write_text("{}")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(data)
    assert "extra.json" in info.value.message and "schema" in info.value.message
