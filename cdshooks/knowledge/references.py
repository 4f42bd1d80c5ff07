"""Typed view of references.json: which public document (title, URL) a rule relies on.

Why: a prescriber who doubts a card must be able to open the label or guideline it cites in one
click, and read its name, not our internal source keys. Every rule row in the other tables lists
`refs` (source keys of its table); this view maps those keys (ids or aliases here) to documents,
and a rule id (as emitted, e.g. `interaction.DDI-27` or `population.SP-06.gt-3x`) to its row's refs.
The cards layer turns them into `source.url` and `links`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Mapping

from . import Knowledge, cross_check

# Prefixes rule modules put before a row id (rules/interactions.py, populations.py, ...).
_EMITTED_PREFIXES = ("interaction.", "population.", "pharmacogenomics.")
_KIND_ORDER = {"label": 0, "guideline": 1, "article": 2, "policy": 3}


@dataclass(frozen=True)
class Reference:
    id: str
    title: str
    url: str
    kind: str  # label | guideline | article | policy


@dataclass(frozen=True)
class ReferenceIndex:
    by_key: Mapping[str, Reference]  # id or alias -> document
    rule_refs: Mapping[str, tuple[str, ...]]  # rule row id -> its source keys
    cited_as: tuple[tuple[str, Reference], ...] = ()  # phrase in a citation -> document

    def __post_init__(self) -> None:
        # Rule ids, row ids and citations are knowledge text (no patient data), a finite set: each
        # card of a response asks again, so the answer is kept per index (bounded).
        object.__setattr__(self, "_for_rule", lru_cache(maxsize=2048)(self._find))

    def for_rule(self, rule_id: str, rule_row: str | None = None, citation: str = "") -> tuple[Reference, ...]:
        """The documents behind a rule, labels first; () when its row cites none we can open.

        From the row's source keys when it has them; otherwise (interaction and population rows
        cite in words) from the document names its citation text uses ("Besponsa label §12.2").
        """
        return self._for_rule(rule_id, rule_row, citation)  # type: ignore[attr-defined]

    def _find(self, rule_id: str, rule_row: str | None, citation: str) -> tuple[Reference, ...]:
        keys = self._row_refs(rule_row) if rule_row else ()
        keys = keys or self._row_refs(rule_id)
        found: dict[str, Reference] = {}
        for key in keys:
            ref = self.by_key.get(key)
            if ref is not None:
                found.setdefault(ref.id, ref)
        text = citation.lower()
        for phrase, ref in self.cited_as:
            if phrase in text:
                found.setdefault(ref.id, ref)
        return tuple(sorted(found.values(), key=lambda r: _KIND_ORDER.get(r.kind, 9)))

    def _row_refs(self, rule_id: str) -> tuple[str, ...]:
        candidates = [rule_id] + [rule_id[len(p):] for p in _EMITTED_PREFIXES if rule_id.startswith(p)]
        for candidate in candidates:
            parts = candidate.split(".")
            for n in range(len(parts), 0, -1):  # variants append a band or status: drop segments
                refs = self.rule_refs.get(".".join(parts[:n]))
                if refs:
                    return refs
        return ()


def _rows(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("id"), str) and isinstance(node.get("refs"), list):
            yield node
        for key, value in node.items():
            if key != "sources":
                yield from _rows(value)
    elif isinstance(node, list):
        for value in node:
            yield from _rows(value)


def build_index(kb: Knowledge) -> ReferenceIndex:
    by_key: dict[str, Reference] = {}
    cited_as: list[tuple[str, Reference]] = []
    for row in kb.table("references")["references"]:
        ref = Reference(row["id"], row["title"], row["url"], row["kind"])
        for key in (row["id"], *row["aliases"]):
            by_key[key] = ref
        cited_as += [(phrase.lower(), ref) for phrase in row.get("cited_as", ())]
    rule_refs: dict[str, tuple[str, ...]] = {}
    for name, table in kb.tables.items():
        if name in ("references", "manifest"):
            continue
        for row in _rows(table):
            rule_refs.setdefault(row["id"], tuple(r for r in row["refs"] if isinstance(r, str)))
    return ReferenceIndex(by_key, rule_refs, tuple(cited_as))


def reference_index(kb: Knowledge) -> ReferenceIndex:
    return kb.view("references", build_index)


@cross_check
def check_references(kb: Knowledge) -> list[str]:
    """Ids and aliases are unique; each document cites a source of this table."""
    if "references" not in kb.tables:
        return []
    raw = kb.table("references")
    seen: dict[str, str] = {}
    problems: list[str] = []
    for row in raw["references"]:
        problems += [f"references.json {row['id']}: unknown source {r!r}" for r in row["refs"] if r not in raw["sources"]]
        for key in (row["id"], *row["aliases"]):
            if key in seen:
                problems.append(f"references.json: key {key!r} used by {seen[key]} and {row['id']}")
            seen[key] = row["id"]
    return problems
