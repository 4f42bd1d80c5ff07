"""Clinician wording applied to every card: one place for what a prescriber must not have to read.

Why here and not in each rule: rules still write their own detail lines, and a dozen of them
used to end with "Source: …", name rule rows in backticks, print resource ids in prose and use
program keys for labs ("uric_acid", "crcl/egfr"). The card layer owns the words, so it removes
internal references, renames program keys, drops repeated patient lines, and writes one
"Sources" section with links to the public documents. The raw citation stays in
`extension.all-cds.citation` for audit and for integration engineers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

# Program keys of labs and findings -> the names clinicians write (knowledge/data/codes.json keys).
LAB_NAMES = {
    "uric_acid": "uric acid", "bilirubin_total": "total bilirubin", "bilirubin_direct": "direct bilirubin",
    "crcl/egfr": "CrCl/eGFR", "crcl_egfr": "CrCl/eGFR", "lvef": "LVEF", "mrd_day29": "day-29 MRD",
    "mrd_end_of_induction": "end-of-induction MRD", "tpmt_phenotype": "TPMT phenotype", "nudt15_phenotype": "NUDT15 phenotype",
    "wbc_csf": "CSF white cells", "csf_blasts": "CSF blasts", "qtc": "QTc", "anc": "ANC", "alt": "ALT", "ast": "AST",
    "wbc": "WBC", "potassium": "potassium", "phosphate": "phosphate", "calcium": "calcium", "creatinine": "creatinine",
    "platelets": "platelets", "fibrinogen": "fibrinogen", "lipase": "lipase", "amylase": "amylase",
    "triglycerides": "triglycerides", "glucose": "glucose", "magnesium": "magnesium",
}
_KEY_TOKEN = re.compile(r"(?<![\w/`-])(crcl/egfr|[a-z]+(?:_[a-z0-9]+)+)(?![\w/-])")
_RESOURCE_REF = re.compile(r"\s*\((?:Medication(?:Request|Statement|Administration)?|Observation|Condition|CarePlan|Patient)/[^)\s]+\)")
_BARE_RESOURCE_REF = re.compile(r"\b(?:Medication(?:Request|Statement|Administration)|Observation|Condition|CarePlan)/[A-Za-z0-9\-.]+")
_SWITCH_OFF = re.compile(r"[:;,]?\s*switch(?:able)?\s+off\s+with\s+`[^`]+`", re.IGNORECASE)
_TEMPLATE_ROW = re.compile(r"Template row `[^`]+`")
_BACKTICK_ID = re.compile(r"\s*[,;–-]?\s*\(?`[^`\s]*[.][^`\s]*`\)?")  # a rule or row id (it has a dot)
_BACKTICK = re.compile(r"`([^`]*)`")
_SOURCE_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\*\*)?(?:Sources?|Rule|Cap|Dose rule|Citation)(?:\*\*)?\s*(?:\([^)]*\))?\s*:", re.IGNORECASE)
_PATIENT_LINE = re.compile(r"^\s*-\s*(Age|Weight|Height|BSA)\b")
# clinical-rules.md row ids (RA-11, SP-06, DDI-13, NCI-3-age ...) and our own issue numbers: provenance
# for auditors (extension.all-cds.citation keeps them), not words for a prescriber.
_ROW_PREFIXES = "DDI|SP|RA|NCI|CUM|MON|VER|IT|PF|TLS|HDMTX|LVEF|INO|CRS"
ROW_ID = re.compile(r"\b(?:" + _ROW_PREFIXES + r")-\d+[A-Za-z]?(?:[-.][A-Za-z0-9]+)*\b")
_ISSUE_REF = re.compile(r"\s*\(issue \d+[^)]*\)|[;,]\s*issue \d+(?: items? [\d, and]+)?")
_INTERNAL = [
    _ISSUE_REF,
    re.compile(r"[;,]?\s*(?:rows?\s+)?" + ROW_ID.pattern),
    re.compile(r"\s*\((?:[^()]*?(?:clinical-rules|shared/|\.md\b|terminology\.json|§)[^()]*)\)"),
    re.compile(r"(?:shared/reference/)?clinical-rules(?:\.md)?(?:\s*(?:§\s*[\w.\-]+|and|,|(?:row|item)\s+[\w\-]+))*"),
    re.compile(r"shared/[\w./-]+"),
    re.compile(r"\b[\w-]+\.json\b"),
    re.compile(r"§\s*[\w.\-]+"),
]


def clinician_text(text: str) -> str:
    """Lab keys renamed, resource ids and internal document references removed."""
    if "/" in text:  # every resource id has one
        text = _RESOURCE_REF.sub("", text)
        text = _BARE_RESOURCE_REF.sub("this order", text)
    if "_" in text or "/" in text:  # a program key is snake_case or crcl/egfr
        text = _KEY_TOKEN.sub(_lab_name, text)
    return text


def _lab_name(m: re.Match[str]) -> str:
    return LAB_NAMES.get(m.group(1), m.group(1).replace("_", " "))


# A NECESSARY condition of every pattern in _INTERNAL: each match of one of them contains one of
# these words, or a row id's "<capital>-<digit>" (every _ROW_PREFIXES entry ends in a capital).
# When none is in the text no pattern matches, every sub is a no-op, and the seven scans are skipped
# (they ran on nearly every text before: the tidy guard below admits any "-").
_INTERNAL_WORDS = ("issue ", "clinical-rules", "shared/", ".md", ".json", "§")
_ROW_ID_HINT = re.compile(r"-\d(?<=[A-Z]-\d)")  # starts with a literal: a fast scan
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([;,.)])")
# "Punctuation after white space" found by four literal-led scans (faster than one \s-led scan):
# _SPACE_BEFORE_PUNCT changes a text exactly when one of them matches (these four are search functions).
_SEMICOLON, _COMMA, _STOP, _PAREN = (re.compile(re.escape(c) + r"(?<=\s" + re.escape(c) + ")").search for c in ";,.)")


def _may_hold_internal(text: str) -> bool:
    # `any(word in text for word in _INTERNAL_WORDS)` written out (a generator per text cost more
    # than the six scans); the guard below keeps the two spellings the same words
    return ("issue " in text or "clinical-rules" in text or "shared/" in text or ".md" in text or ".json" in text or "§" in text
            or _ROW_ID_HINT.search(text) is not None)


if _INTERNAL_WORDS != ("issue ", "clinical-rules", "shared/", ".md", ".json", "§"):  # pragma: no cover - edit both
    raise AssertionError("cards.wording._may_hold_internal spells out _INTERNAL_WORDS: update it with them")


def _drop_internal(text: str) -> str:
    # The historic guard (it decides whether the clean-up runs); "clinical-rules" contains "-".
    if not ("-" in text or "§" in text or ".json" in text or ".md" in text or "shared/" in text or "issue" in text):
        return text
    if _may_hold_internal(text):
        for pattern in _INTERNAL:
            text = pattern.sub("", text)
    if _SEMICOLON(text) or _COMMA(text) or _STOP(text) or _PAREN(text):
        text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return text


def scrub(text: str) -> str:
    """Template output with knowledge text in it: drop issue numbers and row ids a row's note carries."""
    return _drop_internal(text)


# Citations and reference links are knowledge text (rows' citations, documents' titles and URLs: a
# finite set, never patient data), so their public wording is computed once per distinct text.
_CITATION_CACHE = 1024


@lru_cache(maxsize=_CITATION_CACHE)
def public_citation(citation: str) -> str:
    """A citation as a clinician may read it: internal file names and section signs removed."""
    text = _drop_internal(citation)
    text = re.sub(r"\s*;\s*(?:;\s*)+", "; ", text)
    text = re.sub(r"\(\s*\)|\s+,", "", text)
    return " ".join(text.split()).strip(" ;,.:-–")


def clean_detail(detail: str) -> str:
    """Detail Markdown without citation lines, backticked rule ids or repeated patient lines."""
    out: list[str] = []
    seen_patient: set[str] = set()
    for line in detail.splitlines():
        if _SOURCE_LINE.match(line):
            continue
        patient = _PATIENT_LINE.match(line)
        if patient:
            if patient.group(1) in seen_patient:
                continue
            seen_patient.add(patient.group(1))
        if "`" in line:
            line = _TEMPLATE_ROW.sub("Plan", _SWITCH_OFF.sub("", line))
            line = _BACKTICK.sub(r"\1", _BACKTICK_ID.sub("", line))
        out.append(_drop_internal(clinician_text(line)).rstrip())
    text = "\n".join(out)
    text = re.sub(r"\n(?:\s*---\s*\n)+", "\n\n---\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def sources_section(citation: str, links: Iterable[tuple[str, str]]) -> str:
    """'**Sources:** [Title](url); …' then the rule's citation in public words."""
    return _sources_section(citation, tuple(links))


@lru_cache(maxsize=_CITATION_CACHE)
def _sources_section(citation: str, links: tuple[tuple[str, str], ...]) -> str:
    parts = [f"[{title}]({url})" for title, url in links]
    cited = public_citation(citation)
    lines = []
    if parts:
        lines.append("**Sources:** " + "; ".join(parts))
    if cited:
        lines.append(("**Rule basis:** " if parts else "**Source:** ") + clinician_text(cited))
    return "\n\n".join(lines)
