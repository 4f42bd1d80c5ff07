"""Typed view of drugs.json: drug identity, codes, names, classes and look-alikes.

Why a view: identification must be unambiguous and fast. One verified RxNorm code maps to exactly
one drug (or one combination), and a name is matched on whole words with look-alike guards, so
that liposomal vincristine, calaspargase or Erwinia asparaginase can never be read as vincristine
or pegaspargase. `drugs_view(kb)` is memoized per Knowledge.

Cross-checks registered here (run by `load_knowledge`):
- drug, class and combination ids are unique; every `distinct_from`, class and combination member exists;
- a code identifies one drug only;
- every drug id referenced by another knowledge table (keys `drugs`, `agents`, `members`, `drug`,
  `drug_ids`, and id lists under `classes`) exists in drugs.json.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from . import Knowledge, cross_check
from .products import DoseForm, Product, Strength, dose_form_table, find_dose_form, parse_product_name

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> tuple[str, ...]:
    """Lower-case alphanumeric words; punctuation and hyphens separate words."""
    return tuple(_WORD.findall(text.lower()))


def padded_words(text: str) -> str:
    """`words` joined by single spaces and padded, ' hyper cvad course 3 ': a phrase is found
    in a text as a whole-word substring of this."""
    return " " + " ".join(_WORD.findall(text.lower())) + " "


@dataclass(frozen=True)
class DrugCode:
    code: str
    display: str
    tty: str
    citation: str
    strength: Strength | None = None  # products only: per unit of use or per mL
    dose_form: str | None = None  # products only: RxNorm dose form name


@dataclass(frozen=True)
class Drug:
    id: str
    display: str
    kind: str  # "ingredient" | "product" | "group"
    ingredients: tuple[DrugCode, ...]
    products: tuple[DrugCode, ...]
    names: tuple[str, ...]  # display + synonyms + brands, as written
    brands: tuple[str, ...]
    classes: frozenset[str]
    distinct_from: frozenset[str]
    name_word_sets: tuple[tuple[str, ...], ...]
    name_excludes: tuple[str, ...]
    citation: str

    @property
    def identified_by_name_only(self) -> bool:
        return not self.ingredients and not self.products


@dataclass(frozen=True)
class Combination:
    id: str
    display: str
    drug_ids: tuple[str, ...]
    codes: tuple[DrugCode, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class NameMatch:
    drug_ids: tuple[str, ...]
    matched: tuple[str, ...]  # the names that matched, for provenance


class DrugTable:
    """Lookups over drugs.json. All methods are pure."""

    def __init__(self, raw: Mapping[str, Any]):
        self.drugs: dict[str, Drug] = {}
        self.classes: dict[str, Mapping[str, Any]] = {c["id"]: c for c in raw["classes"]}
        self.combinations: dict[str, Combination] = {}
        self._by_code: dict[str, tuple[str, ...]] = {}  # rxnorm code -> drug ids
        self._code_kind: dict[str, str] = {}  # rxnorm code -> "ingredient" | "product"
        # name phrase (tuple of words) -> drug ids
        self._phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for row in raw["drugs"]:
            drug = _drug(row)
            self.drugs[drug.id] = drug
            for c in drug.ingredients:
                self._by_code[c.code] = (drug.id,)
                self._code_kind[c.code] = "ingredient"
            for c in drug.products:
                self._by_code[c.code] = (drug.id,)
                self._code_kind[c.code] = "product"
            for name in drug.names:
                self._add_phrase(name, (drug.id,))
        for row in raw["combinations"]:
            combo = Combination(
                id=row["id"],
                display=row["display"],
                drug_ids=tuple(row["drug_ids"]),
                codes=tuple(_code(c) for c in row["rxnorm"]),
                names=(row["display"], *row["synonyms"], *row["brands"]),
            )
            self.combinations[combo.id] = combo
            for c in combo.codes:
                self._by_code[c.code] = combo.drug_ids
                self._code_kind[c.code] = "ingredient"
            for name in combo.names:
                self._add_phrase(name, combo.drug_ids)
        self._max_phrase = max((len(p) for p in self._phrases), default=1)
        self.dose_forms: tuple[DoseForm, ...] = dose_form_table(raw.get("dose_forms", ()))
        self._forms_by_name = {f.name: f for f in self.dose_forms}
        self._products: dict[str, DrugCode] = {c.code: c for d in self.drugs.values() for c in d.products}
        self._product_of_row: dict[str, Product] = {}  # bounded by the knowledge base's product rows

    def _add_phrase(self, name: str, ids: tuple[str, ...]) -> None:
        phrase = words(name)
        if phrase and phrase not in self._phrases:
            self._phrases[phrase] = ids

    # -- lookups -------------------------------------------------------------------------
    def get(self, drug_id: str) -> Drug:
        return self.drugs[drug_id]

    def __contains__(self, drug_id: object) -> bool:
        return drug_id in self.drugs

    def by_rxnorm(self, code: str) -> tuple[str, ...]:
        """Drug ids for a verified RxNorm ingredient or product code; () if unknown."""
        return self._by_code.get(code.strip(), ())

    def rxnorm_kind(self, code: str) -> str | None:
        """"ingredient" (IN/MIN) or "product" (SCD/SBD) for a known code."""
        return self._code_kind.get(code.strip())

    def product(self, code: str) -> Product | None:
        """Strength and dose form of a verified RxNorm product code (SCD/SBD); None if unknown."""
        row = self._products.get(code.strip())
        if row is None:
            return None
        found = self._product_of_row.get(row.code)  # one frozen Product per knowledge row, made on first use
        if found is None:
            form = self._forms_by_name.get(row.dose_form or "")
            found = self._product_of_row[row.code] = Product(row.strength, form, source=f"RxNorm {row.code} '{row.display}', knowledge base")
        return found

    def dose_form(self, text: str | None) -> DoseForm | None:
        """The dose form a text names (RxNorm form name or EHR word such as 'tablet')."""
        return self._forms_by_name.get(text or "") or find_dose_form(text, self.dose_forms)

    @functools.lru_cache(maxsize=2048)  # noqa: B019 - pure per (table, text), like by_name; ParsedName is frozen
    def parse_name(self, text: str | None):
        """Ingredient text, strength and dose form of a product name (see knowledge.products)."""
        return parse_product_name(text, self.dose_forms)

    def members(self, class_id: str) -> frozenset[str]:
        return frozenset(d.id for d in self.drugs.values() if class_id in d.classes)

    def in_class(self, drug_id: str, class_id: str) -> bool:
        drug = self.drugs.get(drug_id)
        return bool(drug and class_id in drug.classes)

    @functools.lru_cache(maxsize=2048)  # noqa: B019 - per (table, text): a chart repeats a few names hundreds of times
    def by_name(self, text: str | None) -> NameMatch:
        """Identify drugs named in free text (longest whole-word phrase wins).

        Look-alike guards: a drug whose `name_excludes` prefix appears in the text is dropped
        (so "vincristine sulfate liposome" never yields vincristine); a drug named by a
        `name_word_sets` rule (all prefixes present) is added; and when a drug and one of its
        `distinct_from` look-alikes both match, the look-alike named by the longer phrase wins.
        """
        if not text:
            return NameMatch((), ())
        tokens = words(text)
        found: dict[str, str] = {}
        i = 0
        while i < len(tokens):
            for n in range(min(self._max_phrase, len(tokens) - i), 0, -1):
                ids = self._phrases.get(tokens[i : i + n])
                if ids:
                    for drug_id in ids:
                        found.setdefault(drug_id, " ".join(tokens[i : i + n]))
                    i += n
                    break
            else:
                i += 1
        for drug in self.drugs.values():
            for prefixes in drug.name_word_sets:
                if all(any(t.startswith(p) for t in tokens) for p in prefixes):
                    found.setdefault(drug.id, " + ".join(prefixes))
        for drug_id in list(found):
            drug = self.drugs.get(drug_id)
            if drug and any(t.startswith(p) for p in drug.name_excludes for t in tokens):
                del found[drug_id]
        for drug_id in list(found):
            drug = self.drugs.get(drug_id)
            if drug is None or drug_id not in found:
                continue
            for other in drug.distinct_from & found.keys():
                # keep the more specific (longer) name; ties keep both so the conflict is visible
                if len(words(found[other])) > len(words(found[drug_id])):
                    found.pop(drug_id, None)
                    break
        return NameMatch(tuple(found), tuple(found.values()))

    def look_alike_in_text(self, drug_id: str, text: str | None) -> str | None:
        """A `distinct_from` look-alike of `drug_id` that `text` names, if any (guards codes too)."""
        drug = self.drugs.get(drug_id)
        if not drug or not text:
            return None
        named = self.by_name(text).drug_ids
        for other in named:
            if other in drug.distinct_from:
                return other
        return None


def _code(row: Mapping[str, Any]) -> DrugCode:
    st = row.get("strength")
    strength = Strength(float(st["value"]), st["unit"], st["per"]) if st else None
    return DrugCode(code=row["code"], display=row["display"], tty=row["tty"], citation=row["citation"],
                    strength=strength, dose_form=row.get("dose_form"))


def _drug(row: Mapping[str, Any]) -> Drug:
    return Drug(
        id=row["id"],
        display=row["display"],
        kind=row["kind"],
        ingredients=tuple(_code(c) for c in row["rxnorm_ingredients"]),
        products=tuple(_code(c) for c in row["rxnorm_products"]),
        names=(row["display"], row["id"].replace("-", " "), *row["synonyms"], *row["brands"]),
        brands=tuple(row["brands"]),
        classes=frozenset(row["classes"]),
        distinct_from=frozenset(row["distinct_from"]),
        name_word_sets=tuple(tuple(s) for s in row.get("name_word_sets", ())),
        name_excludes=tuple(row.get("name_excludes", ())),
        citation=row["citation"],
    )


def drugs_view(kb: Knowledge) -> DrugTable:
    """The memoized DrugTable of a Knowledge."""
    return kb.view("drugs", lambda k: DrugTable(k.table("drugs")))


# -- cross-checks ------------------------------------------------------------------------

def _duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for v in values:
        if v in seen:
            dup.append(v)
        seen.add(v)
    return dup


@cross_check
def check_drug_table(kb: Knowledge) -> list[str]:
    if "drugs" not in kb.tables:
        return []
    raw = kb.table("drugs")
    problems: list[str] = []
    drug_ids = [d["id"] for d in raw["drugs"]]
    class_ids = [c["id"] for c in raw["classes"]]
    combo_ids = [c["id"] for c in raw["combinations"]]
    for kind, ids in (("drug", drug_ids), ("class", class_ids), ("combination", combo_ids)):
        problems += [f"drugs.json: duplicate {kind} id {d!r}" for d in _duplicates(ids)]
    known, classes = set(drug_ids), set(class_ids)
    codes: list[str] = []
    for i, d in enumerate(raw["drugs"]):
        where = f"drugs.json $.drugs[{i}] ({d['id']})"
        problems += [f"{where}: unknown class {c!r}" for c in d["classes"] if c not in classes]
        problems += [f"{where}: distinct_from unknown drug {o!r}" for o in d["distinct_from"] if o not in known]
        if d["id"] in d["distinct_from"]:
            problems.append(f"{where}: distinct_from itself")
        codes += [c["code"] for c in d["rxnorm_ingredients"] + d["rxnorm_products"]]
    for i, c in enumerate(raw["combinations"]):
        problems += [f"drugs.json $.combinations[{i}] ({c['id']}): unknown drug {m!r}" for m in c["drug_ids"] if m not in known]
        codes += [x["code"] for x in c["rxnorm"]]
    problems += [f"drugs.json: RxNorm code {c} identifies more than one drug" for c in _duplicates(codes)]
    return problems + _check_products(raw)


def _check_products(raw: Mapping[str, Any]) -> list[str]:
    """Each product's strength and dose form are what its own RxNorm name says (no typo can slip in)."""
    forms = dose_form_table(raw.get("dose_forms", ()))
    names = {f.name for f in forms}
    problems: list[str] = []
    for i, d in enumerate(raw["drugs"]):
        for j, p in enumerate(d["rxnorm_products"]):
            where = f"drugs.json $.drugs[{i}].rxnorm_products[{j}] ({p['code']})"
            parsed = parse_product_name(p["display"], forms)
            if p.get("dose_form") is not None and p["dose_form"] not in names:
                problems.append(f"{where}: dose_form {p['dose_form']!r} is not in dose_forms")
            elif p.get("dose_form") is not None and (parsed is None or parsed.dose_form is None or parsed.dose_form.name != p["dose_form"]):
                problems.append(f"{where}: dose_form {p['dose_form']!r} is not what the name {p['display']!r} says")
            st = p.get("strength")
            want = parsed.strength if parsed else None
            if st is not None and (want is None or (want.value, want.unit, want.per) != (float(st["value"]), st["unit"], st["per"])):
                problems.append(f"{where}: strength {st} is not what the name {p['display']!r} says ({want})")
    return problems


_REF_KEYS = {"drugs", "agents", "members", "drug", "drug_ids", "drug_id"}
_SKIP_TABLES = {"drugs", "codes", "manifest"}


def referenced_drug_ids(data: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """(json path, id) of every drug id another table references (see module docstring)."""
    if isinstance(data, dict):
        for key, value in data.items():
            sub = f"{path}.{key}"
            if key in _REF_KEYS and isinstance(value, str):
                yield sub, value
            elif key in _REF_KEYS and isinstance(value, list) and all(isinstance(v, str) for v in value):
                yield from ((f"{sub}[{i}]", v) for i, v in enumerate(value))
            elif key == "classes" and isinstance(value, dict):
                for cname, members in value.items():
                    if isinstance(members, list) and all(isinstance(v, str) for v in members):
                        yield from ((f"{sub}.{cname}[{i}]", v) for i, v in enumerate(members))
                    else:
                        yield from referenced_drug_ids(members, f"{sub}.{cname}")
            else:
                yield from referenced_drug_ids(value, sub)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from referenced_drug_ids(value, f"{path}[{i}]")


@cross_check
def check_drug_references(kb: Knowledge) -> list[str]:
    if "drugs" not in kb.tables:
        return []
    raw = kb.table("drugs")
    known = {d["id"] for d in raw["drugs"]} | {c["id"] for c in raw["combinations"]}
    problems: list[str] = []
    for name, data in sorted(kb.tables.items()):
        if name in _SKIP_TABLES:
            continue
        for where, drug_id in referenced_drug_ids(data):
            if drug_id not in known:
                problems.append(f"{name}.json {where}: drug id {drug_id!r} is not in drugs.json")
    return problems
