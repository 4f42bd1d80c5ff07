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
    text = _RESOURCE_REF.sub("", text)
    text = _BARE_RESOURCE_REF.sub("this order", text)
    text = _KEY_TOKEN.sub(lambda m: LAB_NAMES.get(m.group(1), m.group(1).replace("_", " ")), text)
    return text


# A NECESSARY condition of every pattern in _INTERNAL (each alternative names a fragment every match
# of one pattern contains). When it does not match the text, no pattern does and every sub is a no-op,
# so the seven scans run only on the few texts that carry an internal reference.
_INTERNAL_TRIGGER = re.compile(
    r"issue \d|(?:" + _ROW_PREFIXES + r")-\d|clinical-rules|shared/|\.md|\.json|§"
)
# Texts the space-before-punctuation clean-up applies to (the historic guard: it decides that step only).
_TIDY_GUARD = ("§", ".json", ".md", "clinical-rules", "shared/", "-", "issue")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([;,.)])")


def _drop_internal(text: str) -> str:
    if not any(k in text for k in _TIDY_GUARD):
        return text
    if _INTERNAL_TRIGGER.search(text):
        for pattern in _INTERNAL:
            text = pattern.sub("", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


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
