"""CarePlan -> TreatmentPlan: which regimen template, which course or phase, which day.

How a CarePlan names its regimen (first that matches wins, only `status = active` plans count):
1. `instantiatesCanonical`: a template's `canonical` URL (a `|version` suffix is ignored), or any
   URL ending in `PlanDefinition/<template id>`;
2. `identifier`: a template's identifier (system + value), or a value equal to a template id;
3. `title`: the template id or one of its aliases as words ("Hyper-CVAD course 3").

The current course: the activity whose `detail.scheduledPeriod` contains the order date (the most
recently started one when periods are open-ended), else the CarePlan itself with `period.start`.
Its phase comes from "course N" / "cycle N" (the template's course numbers) or a phase alias in
the activity's `detail.description`/`detail.code`, else in the CarePlan title/description.
Day 1 is the course start. What cannot be read becomes a problem naming the field that would let
us check; nothing here raises on malformed FHIR (any JSON type may appear anywhere).
"""

from __future__ import annotations

import re
from datetime import date
from collections.abc import Mapping, Sequence  # not typing's: isinstance on those is ~5x slower
from typing import Any

from ..knowledge.regimen_templates import RegimenTemplate, TemplateLibrary, tokens
from .fhir import concept_texts, parse_date, ref
from .model import Administration, TreatmentPlan

_SKIPPED_ACTIVITY = frozenset({"cancelled", "entered-in-error", "stopped"})
_COURSE = re.compile(r" (?:course|cycle|block) (\d{1,3}) ")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _named(cp: Mapping[str, Any], library: TemplateLibrary) -> tuple[set[str], str | None, list[str]]:
    """(template ids, field that named them, canonicals we could not match)."""
    unknown: list[str] = []
    ids: set[str] = set()
    for canonical in _strings(cp.get("instantiatesCanonical")):
        base = canonical.split("|", 1)[0].rstrip("/")
        tail = base.rsplit("PlanDefinition/", 1)[1] if "PlanDefinition/" in base else None
        hits = {t.id for t in library.templates.values() if base in t.canonical or tail == t.id}
        ids |= hits
        if not hits:
            unknown.append(canonical)
    if ids:
        return ids, "instantiatesCanonical", unknown
    for ident in _mappings(cp.get("identifier")):
        value, system = ident.get("value"), ident.get("system")
        if not isinstance(value, str):
            continue
        ids |= {t.id for t in library.templates.values()
                if value.strip().lower() == t.id or any(v == value and s in (None, system) for s, v in t.identifiers)}
    if ids:
        return ids, "identifier", unknown
    title = cp.get("title")
    if isinstance(title, str):
        words = tokens(title)
        ids = {t.id for t in library.templates.values() if any(tokens(a) in words for a in (t.id, *t.aliases))}
    return ids, ("title" if ids else None), unknown


def _period(value: Any) -> tuple[date | None, date | None]:
    if not isinstance(value, Mapping):
        return None, None
    return parse_date(value.get("start")), parse_date(value.get("end"))


def _contains(period: tuple[date | None, date | None], day: date) -> bool:
    start, end = period
    return start is not None and start <= day and (end is None or day <= end)


def _current_course(cp: Mapping[str, Any], order_date: date) -> tuple[list[str], date | None, str | None, list[str]]:
    """(texts naming the course, newest first; course start; the field it came from; problems)."""
    plan_texts = [t for t in (cp.get("title"), cp.get("description")) if isinstance(t, str)]
    current: list[tuple[date, int, list[str]]] = []
    for n, activity in enumerate(_mappings(cp.get("activity"))):
        detail = activity.get("detail") if isinstance(activity.get("detail"), Mapping) else {}
        if detail.get("status") in _SKIPPED_ACTIVITY:
            continue
        period = _period(detail.get("scheduledPeriod"))
        if _contains(period, order_date):
            texts = [detail["description"]] if isinstance(detail.get("description"), str) else []
            current.append((period[0], n, texts + concept_texts(detail.get("code"))))  # type: ignore[arg-type]
    if current:
        current.sort(key=lambda c: c[0], reverse=True)
        if len(current) > 1 and current[0][0] == current[1][0]:
            where = ", ".join(f"activity[{c[1]}]" for c in current if c[0] == current[0][0])
            return plan_texts, None, None, [f"{ref(cp)}: {where} all start on {current[0][0].isoformat()}: give each course its own detail.scheduledPeriod"]
        start, n, texts = current[0]
        return [" ".join(texts), *plan_texts], start, f"CarePlan.activity[{n}].detail.scheduledPeriod.start", []
    start, _ = _period(cp.get("period"))
    if start is None:
        return plan_texts, None, None, [f"{ref(cp)}: no course start: set CarePlan.period.start (day 1 of the current course) or the course activity's detail.scheduledPeriod"]
    return plan_texts, start, "CarePlan.period.start", []


def _phase(template: RegimenTemplate, texts: Sequence[str], source: str) -> tuple[str | None, int | None, list[str]]:
    for text in texts:
        words = tokens(text)
        courses = [int(n) for n in _COURSE.findall(words)]
        found: set[str] = set()
        for n in courses:
            phase = next((p for p in template.phases if n in p.courses), None)
            if phase is None:
                known = sorted(c for p in template.phases for c in p.courses)
                return None, n, [f"{source}: course {n} is not a course of {template.id} (courses {', '.join(map(str, known)) or 'none'})"]
            found.add(phase.id)
        found |= {p.id for p in template.phases if any(tokens(a) in words for a in (p.id.replace("-", " "), *p.aliases))}
        if len(found) == 1:
            return found.pop(), (courses[0] if courses else None), []
        if len(found) > 1:
            return None, None, [f"{source}: '{text}' names more than one phase of {template.id} ({', '.join(sorted(found))}): name one course or phase"]
    if len(template.phases) == 1:
        return template.phases[0].id, None, []
    names = "; ".join(f"{p.id} ({', '.join(p.aliases[:2]) or p.name})" for p in template.phases)
    return None, None, [f"{source}: the course or phase of {template.id} is not recorded: write 'course N' or a phase ({names}) in CarePlan.title or the current activity's detail.description"]


def read_plan(careplans: Sequence[Any], library: TemplateLibrary, order_date: date,
              administrations: Sequence[Administration] = ()) -> TreatmentPlan | None:
    """The patient's plan from the active CarePlans, or None when none names a regimen."""
    active = [cp for cp in careplans if isinstance(cp, Mapping) and cp.get("resourceType") == "CarePlan" and cp.get("status") == "active"]
    named: list[tuple[Mapping[str, Any], set[str], str]] = []
    unknown: list[str] = []
    for cp in active:
        ids, field, missed = _named(cp, library)
        if ids and field:
            named.append((cp, ids, field))
        unknown += [f"{ref(cp)}: instantiatesCanonical '{c}'" for c in missed]
    if not named:
        if not unknown:
            return None
        loaded = ", ".join(sorted(library.templates)) or "none"
        return TreatmentPlan(source=unknown[0].split(":")[0], problems=tuple(
            f"{u} names no loaded regimen template (loaded: {loaded}); add the site's template to CDSHOOKS_REGIMEN_DIR" for u in unknown))
    regimens = sorted({i for _, ids, _ in named for i in ids})
    sources = ", ".join(ref(cp) for cp, _, _ in named)
    if len(regimens) > 1:
        return TreatmentPlan(source=sources, problems=(
            f"active CarePlans ({sources}) name more than one regimen ({', '.join(regimens)}): complete the finished plan "
            "(CarePlan.status) or name the current regimen once in CarePlan.instantiatesCanonical",))
    if len(named) > 1:
        covering = [n for n in named if _contains(_period(n[0].get("period")), order_date)]
        if len(covering) != 1:
            return TreatmentPlan(source=sources, regimen=regimens[0], problems=(
                f"{len(named)} active CarePlans name {regimens[0]} ({sources}) and {'none' if not covering else 'several'} of their "
                f"CarePlan.period covers {order_date.isoformat()}: complete the finished ones or set their period",))
        named = covering
    cp, _, field = named[0]
    template = library.get(regimens[0])
    assert template is not None
    texts, start, start_from, problems = _current_course(cp, order_date)
    phase, course, phase_problems = _phase(template, texts, ref(cp))
    problems += phase_problems
    day = (order_date - start).days + 1 if start else None
    if day is not None and day < 1:
        problems.append(f"{ref(cp)}: the course starts on {start.isoformat()} ({start_from}), after the order date {order_date.isoformat()}")  # type: ignore[union-attr]
    given = tuple(a for a in administrations if start and start <= a.date <= order_date)
    kind = template.phase(phase).treatment_phase_for(course) if phase and template.phase(phase) else None  # type: ignore[union-attr]
    return TreatmentPlan(source=ref(cp), regimen=template.id, named_by=field, phase=phase, course=course, course_start=start,
                         start_from=start_from, day=day, given=given, problems=tuple(problems), treatment_phase=kind)
