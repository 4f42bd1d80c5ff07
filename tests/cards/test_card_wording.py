"""Every card of every fixture, read as a prescriber reads it (issue 16).

The fixtures' with-prefetch requests run in-process (Flask test client, clock pinned to each
fixture's referenceDate). Each card must: keep its summary under 140 characters and free of resource
ids; carry no internal references (file names, "§", backticked rule ids) and no program keys in
summary or detail; print the patient block at most once; and, when its citation names an FDA
label or a guideline we hold a public URL for, set `source.url` and a `links` entry to it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cdshooks.cards.wording import LAB_NAMES, ROW_ID, clean_detail, public_citation
from cdshooks.fixtures import clinical_now, load_fixture, service_for_request

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"
INTERNAL = re.compile(r"§|\.md\b|\.json\b|clinical-rules|shared/|`")
RESOURCE_ID = re.compile(r"\b(?:MedicationRequest|MedicationStatement|MedicationAdministration|Observation|Condition|CarePlan)/[\w\-.]")
PROGRAM_KEYS = re.compile(r"(?<![\w/-])(" + "|".join(re.escape(k) for k in LAB_NAMES if "_" in k or "/" in k) + r")(?![\w/-])")
ISSUE = re.compile(r"\bissue \d+", re.IGNORECASE)  # our tracker's numbers are not clinical text
LABEL_WORDS = re.compile(r"\blabel\b|prescribing information", re.IGNORECASE)


def _all_cards(make_app: Any) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    apps: dict[str, Any] = {}
    for directory in sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").exists()):
        fixture = load_fixture(directory)
        day = str(fixture.reference_date)
        if day not in apps:
            apps[day] = make_app(fixed_now=clinical_now(fixture.reference_date)).test_client()
        for name, path in sorted(fixture.requests.items()):
            if "noprefetch" in name:
                continue
            body = json.loads(path.read_text())
            response = apps[day].post(f"/cds-services/{service_for_request(body)}", json=body)
            assert response.status_code == 200, (directory.name, name, response.get_json())
            out += [(f"{directory.name}/{name}", card) for card in response.get_json()["cards"]]
    return out


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict[str, Any]]]:
    from cdshooks.app import create_app
    from cdshooks.config import Settings

    root = tmp_path_factory.mktemp("wording")
    return _all_cards(lambda **kw: create_app(Settings(auth="disabled", data_dir=root / "var", **kw)))


def test_there_are_cards_to_read(cards) -> None:
    assert len(cards) >= 150
    assert len({c["source"]["topic"]["code"] for _, c in cards}) >= 8


def test_summaries_are_short_and_name_no_resource_ids(cards) -> None:
    bad = [(where, c["summary"]) for where, c in cards if len(c["summary"]) >= 140 or RESOURCE_ID.search(c["summary"])]
    assert not bad, bad[:5]


def test_no_internal_references_or_program_keys_in_clinician_text(cards) -> None:
    bad = []
    for where, c in cards:
        for field in ("summary", "detail"):
            text = c[field]
            found = INTERNAL.search(text) or PROGRAM_KEYS.search(text) or RESOURCE_ID.search(text) or ROW_ID.search(text) or ISSUE.search(text)
            if found:
                hit = found.group(0)
                bad.append((where, c["extension"]["all-cds"]["ruleId"], field, hit))
    assert not bad, f"{len(bad)} cards, first: {bad[:6]}"


def test_the_patient_block_appears_at_most_once_per_card(cards) -> None:
    bad = []
    for where, c in cards:
        counts = Counter(m.group(1) for m in re.finditer(r"^\s*- (Age|Weight|Height|BSA)\b", c["detail"], re.MULTILINE))
        if any(n > 1 for n in counts.values()):
            bad.append((where, dict(counts)))
    assert not bad, bad[:5]


def test_label_citing_cards_open_the_label(cards) -> None:
    """A card whose rule cites a label we hold a URL for must link to it (source.url + links)."""
    from cdshooks.knowledge import load_knowledge
    from cdshooks.knowledge.references import reference_index

    index = reference_index(load_knowledge())
    missing, linked = [], 0
    for where, c in cards:
        ext = c["extension"]["all-cds"]
        expected = index.for_rule(ext["ruleId"], None, ext["citation"])
        if not expected:
            continue
        linked += 1
        urls = {link["url"] for link in c.get("links", [])}
        if c["source"].get("url") != expected[0].url or not {r.url for r in expected} <= urls:
            missing.append((where, ext["ruleId"]))
    assert not missing, missing[:5]
    label_citing = [c for _, c in cards if LABEL_WORDS.search(c["extension"]["all-cds"]["citation"])]
    assert linked >= len(label_citing) * 0.6, (linked, len(label_citing))


def test_the_raw_citation_stays_in_the_extension(cards) -> None:
    for _, c in cards:
        assert c["extension"]["all-cds"]["citation"], c["summary"]


@pytest.mark.parametrize("raw,expected", [
    ("Seed Table 1 (vincristine); clinical-rules.md §2.1 and §8 item 12", "Seed Table 1 (vincristine)"),
    # row ids (RA-11) are dropped too since issue 16's "no row ids in clinician text" (they stay in extension.all-cds.citation)
    ("shared/reference/clinical-rules.md §6 (RA-11): checks defined per treatment phase", "checks defined per treatment phase"),
    ("Oncaspar label §2.1; completed years at the order date (clinical-rules §8 item 34)", "Oncaspar label; completed years at the order date"),
])
def test_public_citation_drops_internal_references(raw: str, expected: str) -> None:
    assert public_citation(raw) == expected


def test_clean_detail_keeps_content_and_drops_citation_lines() -> None:
    detail = "**x** – 2 mg (MedicationRequest/o1)\n\n- Age: 8 y\n- Rule: `route.x` – IV only\n- Age: 8 y\n- uric_acid 9 mg/dL\n\nSource: label"
    assert clean_detail(detail) == "**x** – 2 mg\n\n- Age: 8 y\n- uric acid 9 mg/dL"


def test_every_template_message_rendered(cards) -> None:
    """A verdict whose topic template lacks its macros (or names a fact the rule did not give) is
    rendered by cards/text.py's fallback so no finding is lost; no fixture card may need it."""
    broken = [f"{where}: {c['extension']['all-cds']['ruleId']}" for where, c in cards if "could not be rendered" in c["detail"]]
    assert not broken, broken
