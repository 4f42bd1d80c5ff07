"""drugs.json / codes.json: content against the seed and terminology, schema and cross-checks."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from cdshooks.errors import KnowledgeError
from cdshooks.knowledge import DATA_DIR, Knowledge, load_knowledge, validate_table
from cdshooks.knowledge.codes import check_codes_table, codes_view
from cdshooks.knowledge.drugs import check_drug_references, check_drug_table, drugs_view

DATA = Path(__file__).resolve().parents[1] / "data"
TERMINOLOGY = DATA / "terminology.json"  # verbatim copy of shared/reference/terminology.json (tests/data/README.md)
SEED_TABLES = DATA / "seed-tables.json"  # the drug names of seed Tables 1 and 2
SEED_NAME = "000_92883d9ce9217236.txt"


def raw(name: str):
    return json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def verified_codes() -> dict[tuple[str, str], dict]:
    rows = json.loads(TERMINOLOGY.read_text(encoding="utf-8"))
    return {(r["system"], r["code"]): r for r in rows if r["code"]}


# -- content -----------------------------------------------------------------------------

def _seed_table_drugs(seed_text: str, table: int) -> list[str]:
    start = seed_text.index(f"Table {table}. ")
    body = seed_text[start:].split("\n\n", 2)[1].splitlines()
    names = []
    for line in body[1:]:
        m = re.match(r"^([A-Z][a-z]+(?: [a-z]+)?)(?=IV|Oral|IM|Continuous|Suspension)", line)
        if m:
            names.append(m.group(1))
    return names


def _vendored_table(table: int) -> list[str]:
    return json.loads(SEED_TABLES.read_text(encoding="utf-8"))["tables"][str(table)]["drugs"]


@pytest.mark.parametrize("table,count", [(1, 10), (2, 8)])
def test_every_seed_table_drug_exists(kb, table, count):
    names = _vendored_table(table)
    assert len(names) == count, names
    drugs = drugs_view(kb)
    for name in names:
        drug_id = name.lower().replace(" ", "-")
        assert drug_id in drugs, name
        assert drugs.by_name(name).drug_ids == (drug_id,), name


@pytest.mark.parametrize("table", [1, 2])
def test_vendored_seed_tables_match_the_seed(shared_dir, table):
    """When the team's reference directory is there, the extract still says what the seed says."""
    seed = (shared_dir / "seed" / SEED_NAME).read_text(encoding="utf-8")
    assert _seed_table_drugs(seed, table) == _vendored_table(table)


def test_brief_drug_ids_exist(kb):
    drugs = drugs_view(kb)
    for drug_id in ("calaspargase-pegol", "asparaginase-erwinia", "asparaginase-e-coli", "vincristine-liposomal",
                    "prednisolone", "methylprednisolone", "hydrocortisone", "leucovorin", "rasburicase", "tocilizumab",
                    "allopurinol", "warfarin", "phenytoin", "fosphenytoin", "probenecid", "sulfamethoxazole", "trimethoprim",
                    "cimetidine", "nizatidine", "diclofenac", "meloxicam", "celecoxib", "cobicistat", "trastuzumab",
                    "digoxin", "gentamicin", "cisplatin", "pentostatin", "nitrous-oxide", "folic-acid",
                    "hormonal-contraceptive", "live-vaccine"):
        assert drug_id in drugs, drug_id


def test_only_verified_rxnorm_codes_with_matching_display():
    terms = verified_codes()
    data = raw("drugs")
    rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
    shipped = [c for d in data["drugs"] for c in d["rxnorm_ingredients"] + d["rxnorm_products"]]
    shipped += [c for combo in data["combinations"] for c in combo["rxnorm"]]
    assert len(shipped) > 100
    for c in shipped:
        row = terms.get((rx, c["code"]))
        assert row and row["verified"] is True, c
        assert row["display"] == c["display"] and row["source"] == c["evidence"], c


def test_every_verified_rxnorm_ingredient_is_used(kb):
    drugs = drugs_view(kb)
    rows = json.loads(TERMINOLOGY.read_text(encoding="utf-8"))
    for r in rows:
        if r["table"].startswith("A") and r["verified"] and r["code"]:
            assert drugs.by_rxnorm(r["code"]), r["concept"]


def test_look_alikes_are_symmetric_and_distinct(kb):
    drugs = drugs_view(kb)
    assert "vincristine-liposomal" in drugs.get("vincristine").distinct_from
    for a in ("pegaspargase", "calaspargase-pegol", "asparaginase-erwinia", "asparaginase-e-coli"):
        for b in ("pegaspargase", "calaspargase-pegol", "asparaginase-erwinia", "asparaginase-e-coli"):
            assert (b in drugs.get(a).distinct_from) is (a != b)
    for drug in drugs.drugs.values():
        for other in drug.distinct_from:
            assert drug.id in drugs.get(other).distinct_from, (drug.id, other)
    # the look-alikes carry no code of the conventional drug
    assert not drugs.get("vincristine-liposomal").ingredients and not drugs.get("calaspargase-pegol").ingredients


def test_interaction_classes_from_clinical_rules(kb):
    drugs = drugs_view(kb)
    assert {"posaconazole", "voriconazole", "itraconazole", "ketoconazole", "clarithromycin", "ritonavir", "cobicistat"} <= drugs.members("strong-cyp3a4-inhibitor")
    assert {"fluconazole", "diltiazem", "verapamil", "erythromycin", "imatinib"} <= drugs.members("moderate-cyp3a4-inhibitor")
    assert "fluconazole" not in drugs.members("strong-cyp3a4-inhibitor")
    assert {"rifampin", "phenytoin", "fosphenytoin", "carbamazepine", "phenobarbital"} <= drugs.members("strong-cyp3a4-inducer")
    assert drugs.members("ppi") == {"omeprazole", "esomeprazole", "lansoprazole", "dexlansoprazole", "pantoprazole", "rabeprazole"}
    assert {"famotidine", "cimetidine", "nizatidine"} <= drugs.members("h2-antagonist")
    assert {"sulfamethoxazole", "trimethoprim", "dapsone", "pemetrexed", "pyrimethamine"} <= drugs.members("antifolate-sulfonamide")
    assert "methotrexate" not in drugs.members("antifolate-sulfonamide")
    assert drugs.members("anthracycline") >= {"daunorubicin", "doxorubicin"}
    assert drugs.classes["qt-prolonging"]["status"] == "unverified" and drugs.classes["pgp-inhibitor"]["status"] == "unverified"


def test_codes_content(kb):
    codes = codes_view(kb)
    assert codes.lab("http://loinc.org", "29463-7").key == "weight"
    bili = codes.lab("http://loinc.org", "14631-6")
    assert bili.key == "bilirubin_total" and bili.canonical_unit == "mg/dL" and bili.molar_mass == 584.66
    assert codes.lab("http://loinc.org", "14682-9").molar_mass == 113.12
    assert codes.lab_status("crp") == "unverified" and codes.lab_status("triglycerides") == "unverified"
    assert codes.lab_status("qtc") == "unverified" and codes.lab_status("bilirubin_total") == "verified"
    assert codes.lab_status("bilirubin_direct") is None  # no verified LOINC: omitted, not invented
    assert codes.answers[("http://loinc.org", "LA10317-8")] == ("pgx_phenotype", "intermediate")
    assert codes.answers[("http://loinc.org", "LA10315-2")] == ("pgx_phenotype", "ultrarapid")
    assert codes.condition_keys("http://hl7.org/fhir/sid/icd-10-cm", "C9100") == ("all",)
    assert codes.condition_keys("http://snomed.info/sct", "724361001") == ()  # VODI trap: not hepatic VOD
    assert codes.routes["72607000"] == "intrathecal" and codes.freshness["weight"] == 30


def test_codes_only_verified_identifiers_except_marked_unverified():
    terms = verified_codes()
    data = raw("codes")
    for section in ("labs", "conditions", "answers", "routes"):
        for row in data[section]:
            term = terms.get((row["system"], row["code"]))
            assert term is not None, row["code"]
            assert (row["status"] == "verified") is (term["verified"] is True), row["code"]


# -- schema and cross-checks -------------------------------------------------------------

def test_malformed_drug_row_rejected_with_file_and_path():
    data = raw("drugs")
    bad = copy.deepcopy(data)
    bad["drugs"][3]["rxnorm_ingredients"] = [{"code": "11202", "display": "x", "tty": "IN"}]
    with pytest.raises(KnowledgeError, match=r"drugs\.json \$\.drugs\[3\]\.rxnorm_ingredients\[0\].*citation"):
        validate_table("drugs", bad)
    bad = copy.deepcopy(data)
    bad["drugs"][0]["id"] = "Vincristine Liposomal"
    with pytest.raises(KnowledgeError, match=r"drugs\.json \$\.drugs\[0\]\.id"):
        validate_table("drugs", bad)


def test_malformed_codes_row_rejected_with_file_and_path():
    bad = raw("codes")
    del bad["labs"][0]["canonical_unit"]
    with pytest.raises(KnowledgeError, match=r"codes\.json \$\.labs\[0\]"):
        validate_table("codes", bad)


def test_malformed_file_rejected_by_loader(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(raw("manifest")))
    bad = raw("drugs")
    bad["drugs"][1]["kind"] = "tablet"
    (tmp_path / "drugs.json").write_text(json.dumps(bad))
    with pytest.raises(KnowledgeError, match=r"drugs\.json \$\.drugs\[1\]\.kind"):
        load_knowledge(tmp_path)
    (tmp_path / "drugs.json").write_text("{not json")
    with pytest.raises(KnowledgeError, match=r"drugs\.json: not valid JSON"):
        load_knowledge(tmp_path)


def _kb(**tables) -> Knowledge:
    return Knowledge(version="x", tables=tables, source_dir=DATA_DIR)


def test_cross_checks_catch_dangling_ids_and_duplicate_codes():
    data = raw("drugs")
    assert check_drug_table(_kb(drugs=data)) == []
    bad = copy.deepcopy(data)
    bad["drugs"][0]["distinct_from"] = ["no-such-drug"]
    bad["drugs"][1]["classes"] = ["no-such-class"]
    bad["drugs"][2]["rxnorm_ingredients"] = copy.deepcopy(bad["drugs"][3]["rxnorm_ingredients"]) or [
        {"code": "11202", "display": "vincristine", "tty": "IN", "citation": "terminology: x", "evidence": "xxxxx"}]
    problems = check_drug_table(_kb(drugs=bad))
    assert any("no-such-drug" in p for p in problems) and any("no-such-class" in p for p in problems)
    assert any("more than one drug" in p for p in problems)


def test_cross_check_drug_references_in_other_tables():
    data = raw("drugs")
    other = {"rules": [{"id": "X-1", "agents": ["methotrexate"], "interacting": {"drugs": ["ibuprofen"], "classes": ["nsaids"]}}],
             "classes": {"tki": ["imatinib", "dasatinib"]}}
    assert check_drug_references(_kb(drugs=data, other=other)) == []
    other["rules"][0]["interacting"]["drugs"].append("vincristin")
    other["classes"]["tki"].append("gleevec")
    problems = check_drug_references(_kb(drugs=data, other=other))
    assert sorted(problems) == [
        "other.json $.classes.tki[2]: drug id 'gleevec' is not in drugs.json",
        "other.json $.rules[0].interacting.drugs[1]: drug id 'vincristin' is not in drugs.json",
    ]


def test_codes_cross_check_rejects_unknown_canonical_unit():
    data = raw("codes")
    assert check_codes_table(_kb(codes=data)) == []
    data["labs"][0]["canonical_unit"] = "kilos"
    assert "codes.json $.labs[0].canonical_unit" in check_codes_table(_kb(codes=data))[0]
