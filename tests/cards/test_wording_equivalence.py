"""The fast clinician-wording functions say exactly what the plain ones said (issue 15).

`cards/wording.py` skips its seven internal-reference patterns unless a fragment one of them needs
is in the text, skips resource/key renaming without a "/" or "_", finds "space before punctuation"
with literal-led scans, and caches the wording of citations; `cards/text.py`'s Jinja environment
reads `f.name` on a facts dict without raising. Speed must not change a card: the reference below
is the implementation as it stood before, copied verbatim, and the fast one must agree with it on
generated text dense in the fragments the patterns look for (row ids, issue numbers, file names,
section signs, punctuation after spaces, backticks, resource ids, program keys).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from types import SimpleNamespace
from typing import Iterable

import jinja2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdshooks.cards import text, wording

# --- the reference: cards/wording.py before issue 15, verbatim -------------------------------------
_KEY_TOKEN = re.compile(r"(?<![\w/`-])(crcl/egfr|[a-z]+(?:_[a-z0-9]+)+)(?![\w/-])")
_RESOURCE_REF = re.compile(r"\s*\((?:Medication(?:Request|Statement|Administration)?|Observation|Condition|CarePlan|Patient)/[^)\s]+\)")
_BARE_RESOURCE_REF = re.compile(r"\b(?:Medication(?:Request|Statement|Administration)|Observation|Condition|CarePlan)/[A-Za-z0-9\-.]+")
_SWITCH_OFF = re.compile(r"[:;,]?\s*switch(?:able)?\s+off\s+with\s+`[^`]+`", re.IGNORECASE)
_TEMPLATE_ROW = re.compile(r"Template row `[^`]+`")
_BACKTICK_ID = re.compile(r"\s*[,;–-]?\s*\(?`[^`\s]*[.][^`\s]*`\)?")
_BACKTICK = re.compile(r"`([^`]*)`")
_SOURCE_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\*\*)?(?:Sources?|Rule|Cap|Dose rule|Citation)(?:\*\*)?\s*(?:\([^)]*\))?\s*:", re.IGNORECASE)
_PATIENT_LINE = re.compile(r"^\s*-\s*(Age|Weight|Height|BSA)\b")
ROW_ID = re.compile(r"\b(?:DDI|SP|RA|NCI|CUM|MON|VER|IT|PF|TLS|HDMTX|LVEF|INO|CRS)-\d+[A-Za-z]?(?:[-.][A-Za-z0-9]+)*\b")
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


def old_clinician_text(text: str) -> str:
    text = _RESOURCE_REF.sub("", text)
    text = _BARE_RESOURCE_REF.sub("this order", text)
    text = _KEY_TOKEN.sub(lambda m: wording.LAB_NAMES.get(m.group(1), m.group(1).replace("_", " ")), text)
    return text


def old_drop_internal(text: str) -> str:
    if not any(k in text for k in ("§", ".json", ".md", "clinical-rules", "shared/", "-", "issue")):
        return text
    for pattern in _INTERNAL:
        text = pattern.sub("", text)
    return re.sub(r"\s+([;,.)])", r"\1", text)


def old_public_citation(citation: str) -> str:
    text = old_drop_internal(citation)
    text = re.sub(r"\s*;\s*(?:;\s*)+", "; ", text)
    text = re.sub(r"\(\s*\)|\s+,", "", text)
    return " ".join(text.split()).strip(" ;,.:-–")


def old_clean_detail(detail: str) -> str:
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
        out.append(old_drop_internal(old_clinician_text(line)).rstrip())
    text = "\n".join(out)
    text = re.sub(r"\n(?:\s*---\s*\n)+", "\n\n---\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def old_sources_section(citation: str, links: Iterable[tuple[str, str]]) -> str:
    parts = [f"[{title}]({url})" for title, url in links]
    cited = old_public_citation(citation)
    lines = []
    if parts:
        lines.append("**Sources:** " + "; ".join(parts))
    if cited:
        lines.append(("**Rule basis:** " if parts else "**Source:** ") + old_clinician_text(cited))
    return "\n\n".join(lines)
# ---------------------------------------------------------------------------------------------------

# What the patterns (and the guards in front of them) look for, whole and in pieces.
FRAGMENTS = [
    "§", "§ 2.1", "§12.2", ".json", "terminology.json", "codes.json", ".md", "clinical-rules", "clinical-rules.md",
    "shared/", "shared/reference/", "shared/reference/clinical-rules.md §6", "-", "–", "issue", "issue ", "issue 16",
    "(issue 3 items 1, 2)", "; issue 4", ", issue 7 item 2 and 3", "DDI-13", "SP-06.gt-3x", "rows ", "row ", "item ",
    "NCI-3-age", "RA-11", "HDMTX-2b", "VER", "-1", " and", "(", ")", "()", " ;", " ,", " .", " )", ";", ",", ".", ":",
    "`", "`route.x`", "Template row `t1`", "switch off with `x.y`", "Source: ", "- Rule: ", "**Citation**: ",
    "- Age: 8 y", "- Weight: 30 kg", "\n", "\n\n", "\n---\n", " ", "  ", "\t", "label", "Seed Table 1",
    "(MedicationRequest/o1)", "Observation/lab-1.x", "CarePlan/p", "/", "_", "uric_acid", "crcl/egfr", "bilirubin_total",
    "mrd_day29", "some_key_2", "é",
]
TEXT = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet="abcXY0129 -_/.;,()§`\n", max_size=4)),
                max_size=14).map("".join)
SETTINGS = settings(max_examples=600, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(TEXT)
def test_scrub_and_drop_internal_agree_with_the_reference(text: str) -> None:
    assert wording._drop_internal(text) == old_drop_internal(text)
    assert wording.scrub(text) == old_drop_internal(text)


@SETTINGS
@given(TEXT)
def test_public_citation_agrees_with_the_reference(text: str) -> None:
    assert wording.public_citation(text) == old_public_citation(text)
    assert wording.public_citation(text) == old_public_citation(text)  # the cached answer too


@SETTINGS
@given(TEXT)
def test_clinician_text_and_clean_detail_agree_with_the_reference(text: str) -> None:
    assert wording.clinician_text(text) == old_clinician_text(text)
    assert wording.clean_detail(text) == old_clean_detail(text)


@SETTINGS
@given(TEXT, st.lists(st.tuples(st.sampled_from(["Label", "Guide (2024)"]), st.sampled_from(["https://a/b", "https://c"])), max_size=3))
def test_sources_section_agrees_with_the_reference(citation: str, links: list[tuple[str, str]]) -> None:
    assert wording.sources_section(citation, links) == old_sources_section(citation, links)
    assert wording.sources_section(citation, iter(links)) == old_sources_section(citation, links)  # any iterable


def test_the_trigger_is_needed_by_every_internal_pattern() -> None:
    """Each pattern's own match passes the shortcut's test: it can never skip a real reference."""
    samples = ["x (issue 12 item 3) y", "a; issue 4 items 1, 2", "rows DDI-13, SP-06.gt", "(see clinical-rules §2)",
               "(terminology.json)", "(a.md)", "shared/reference/clinical-rules.md §6 row RA-11", "shared/x/y", "codes.json",
               "§ 4.2", "NCI-3-age", *(f"row {prefix}-7b" for prefix in wording._ROW_PREFIXES.split("|"))]
    for pattern in wording._INTERNAL:
        hits = [m.group(0) for s in samples for m in pattern.finditer(s) if m.group(0)]
        assert hits, pattern.pattern
        for hit in hits:
            assert wording._may_hold_internal(hit), (pattern.pattern, hit)
    assert all(prefix[-1].isupper() for prefix in wording._ROW_PREFIXES.split("|"))  # what _ROW_ID_HINT relies on


NAMES = st.sampled_from(["agent", "get", "items", "keys", "values", "copy", "__len__", "__class__", "missing", "drug", "pop"])
OBJECTS = st.one_of(st.dictionaries(NAMES, st.integers(0, 3), max_size=4), st.builds(OrderedDict, st.dictionaries(NAMES, st.integers(0, 3), max_size=3)),
                    st.just(SimpleNamespace(agent="x", get=1)), st.lists(st.integers(), max_size=2), st.none(), st.text(max_size=2))


@SETTINGS
@given(OBJECTS, NAMES)
def test_the_card_environment_reads_attributes_as_jinja_does(obj: object, name: str) -> None:
    """Templates' `f.name` on a facts dict takes a short way (cards/text.py); the answer is Jinja's."""
    ours, theirs = text.environment(), jinja2.Environment(undefined=jinja2.StrictUndefined)
    got, expected = ours.getattr(obj, name), theirs.getattr(obj, name)
    if isinstance(expected, jinja2.Undefined):
        assert isinstance(got, jinja2.StrictUndefined) and str(got._undefined_hint or "") == str(expected._undefined_hint or "")
        assert (got._undefined_obj, got._undefined_name) == (expected._undefined_obj, expected._undefined_name)
    else:
        assert got == expected and type(got) is type(expected)
