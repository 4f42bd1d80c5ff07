"""The rule registry: small generator functions, registered by family, run by one engine.

    @rule("dose")
    def dose_by_bsa(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
        ...yield Verdict(row=dose_row, topic="dose", indicator="warning", message="above-range", ...)

A rule returns early when it does not apply and yields verdicts otherwise. `run_rules` runs the
families a service asks for and, once for every rule: stamps each verdict into a Finding (rule id
and citation from its knowledge row, an UNVERIFIED row capped at warning and marked soft, the
patient inputs added when asked for), removes duplicates (same rule id and orders), applies the
site's choices (CDSHOOKS_DISABLED_RULES and the site policy, see `cdshooks.policy`) and keeps the
order stable: critical first, then warning, then info. Wording - including whether two
missing-data findings share one card - belongs to `cdshooks.cards`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from ._percall import per_call
from .finding import SEVERITY_RANK, Finding
from .patient import patient_facts, patient_inputs
from .verdict import Verdict

if TYPE_CHECKING:  # pragma: no cover
    from ..context.model import PatientContext
    from ..knowledge import Knowledge
    from ..policy import SitePolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleSettings:
    """The few settings rules may read (tolerances, toggles), so rules never see Flask config."""

    dose_tolerance_pct: float = 10.0
    dose_critical_pct: float = 25.0
    disabled_rules: frozenset[str] = frozenset()
    enabled_soft_rules: frozenset[str] = frozenset()
    policy: "SitePolicy | None" = None  # CDSHOOKS_POLICY, applied by run_rules only

    def soft_rule_enabled(self, rule_id: str, default: bool = True) -> bool:
        """UNVERIFIED knowledge becomes soft rules: on by default as warnings, switchable off."""
        if rule_id in self.disabled_rules:
            return False
        return default or rule_id in self.enabled_soft_rules


RuleFn = Callable[["PatientContext", "Knowledge", RuleSettings], Iterable["Finding | Verdict"]]
PostStep = Callable[[list[Finding], "PatientContext", "Knowledge", RuleSettings], list[Finding]]
_POST_STEPS: list[PostStep] = []


def post_step(fn: PostStep) -> PostStep:
    """Register a step that sees all findings of a call before merging (e.g. plan vs label doses)."""
    if fn not in _POST_STEPS:
        _POST_STEPS.append(fn)
    return fn


@dataclass(frozen=True)
class RuleSpec:
    family: str
    name: str
    fn: RuleFn


_REGISTRY: list[RuleSpec] = []

FAMILIES = (
    "missing-data",
    "dose",
    "route",
    "schedule",
    "cumulative-dose",
    "interaction",
    "population",
    "pharmacogenomics",
    "risk-group",
    "regimen",
    "monitoring",
)


def rule(family: str) -> Callable[[RuleFn], RuleFn]:
    if family not in FAMILIES:
        raise ValueError(f"unknown rule family {family!r}")

    def register(fn: RuleFn) -> RuleFn:
        name = f"{fn.__module__}.{fn.__qualname__}"
        if not any(r.name == name for r in _REGISTRY):
            _REGISTRY.append(RuleSpec(family=family, name=name, fn=fn))
        return fn

    return register


_ORDERED: dict[tuple[tuple[int, ...], frozenset[str] | None], tuple[RuleSpec, ...]] = {}


def registered_rules(families: Iterable[str] | None = None) -> list[RuleSpec]:
    _import_families()
    wanted = None if families is None else frozenset(families)
    key = (tuple(map(id, _REGISTRY)), wanted)  # the registry as it is now (specs are kept alive by it)
    found = _ORDERED.get(key)
    if found is None:
        # A fixed order (family as listed in FAMILIES, then module and name), not the order modules
        # happened to be imported in: which finding leads a merged missing-data card follows from it.
        ordered = sorted(_REGISTRY, key=lambda r: (FAMILIES.index(r.family), r.name))
        if len(_ORDERED) > 64:  # only tests re-register; keep the memo small
            _ORDERED.clear()
        found = _ORDERED[key] = tuple(r for r in ordered if wanted is None or r.family in wanted)
    return list(found)




def run_rules(
    ctx: "PatientContext",
    kb: "Knowledge",
    settings: RuleSettings,
    families: Iterable[str],
    *,
    silenced: list[Finding] | None = None,
) -> list[Finding]:
    """The findings to show. Findings the site policy silences are appended to `silenced`
    (when given) so the caller can audit them; findings of rules switched off are dropped."""
    from ..policy import apply_policy

    findings: list[Finding] = []
    seen: set[tuple[str, tuple[str, ...], str | None]] = set()
    with per_call():  # indexes of this patient's record the rules share; dropped when the call ends
        for spec in registered_rules(families):
            for found in spec.fn(ctx, kb, settings) or ():
                finding = stamp(found, ctx) if isinstance(found, Verdict) else found
                key = (finding.rule_id, finding.orders, finding.drug)
                if key in seen:
                    continue
                seen.add(key)
                findings.append(finding)
        for step in _POST_STEPS:
            findings = step(findings, ctx, kb, settings)
    outcome = apply_policy(findings, settings.policy, settings.disabled_rules)
    if silenced is not None:
        silenced.extend(outcome.silenced)
    findings = outcome.shown
    findings.sort(key=lambda f: SEVERITY_RANK[f.indicator])
    return findings


def stamp(verdict: Verdict, ctx: "PatientContext") -> Finding:
    """A rule's verdict as the engine's finding: provenance from the row, the unverified cap, once.

    An UNVERIFIED row is a soft rule (guide: never a hard stop): a verdict asking for `critical`
    becomes `warning`, and the card says the source is unverified and the rule can be switched off.
    """
    row = verdict.row
    soft = row.status != "verified"
    indicator = "warning" if soft and verdict.indicator == "critical" else verdict.indicator
    rule_id = verdict.rule_id or row.id
    inputs = {**patient_inputs(ctx), **verdict.inputs} if verdict.patient else dict(verdict.inputs)
    if rule_id != row.id:
        inputs.setdefault("rule_row", row.id)
    finding = object.__new__(Finding)  # Finding(...) without its frozen __init__: see _FINDING_FIELDS
    finding.__dict__.update({
        "rule_id": rule_id, "topic": verdict.topic, "indicator": indicator, "summary": "", "detail": "",
        "citation": verdict.citation or row.citation, "orders": verdict.orders, "inputs": inputs, "drug": verdict.drug,
        "suggestions": verdict.suggestions, "override_reasons": (), "links": verdict.links, "message": verdict.message,
        "facts": verdict.facts, "patient": patient_facts(ctx) if verdict.patient else None, "soft": soft, "override": verdict.override,
    })
    finding.__post_init__()
    return finding


# Why `stamp` fills the instance dict: a frozen dataclass `__init__` sets each of Finding's 17 fields
# through `object.__setattr__` (~6 µs; a finding per verdict, tens per call). `stamp` writes every
# field at once and validates with `__post_init__` as the constructor does; this guard (and
# tests/rules/test_stamp_fields.py, against `Finding(...)`) keeps its field list that of Finding.
_FINDING_FIELDS = ("rule_id", "topic", "indicator", "summary", "detail", "citation", "orders", "inputs", "drug", "suggestions",
                   "override_reasons", "links", "message", "facts", "patient", "soft", "override")
if _FINDING_FIELDS != tuple(f.name for f in dataclasses.fields(Finding)):  # pragma: no cover - a field added to Finding
    raise TypeError("rules.registry.stamp: Finding's fields changed; update the fields stamp writes")


_FAMILIES_IMPORTED: list[bool] = []


def _import_families() -> None:
    """Import every family module so their @rule decorators run (missing ones are skipped).

    Once per process: listing the package directory on every call cost ~0.5 ms a request."""
    if _FAMILIES_IMPORTED:
        return
    import importlib
    import pkgutil

    from .. import rules as package

    _FAMILIES_IMPORTED.append(True)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in ("finding", "registry") or info.name.startswith("_"):
            continue
        importlib.import_module(f"{package.__name__}.{info.name}")


def iter_findings(fns: Iterable[RuleFn], ctx: "PatientContext", kb: "Knowledge", settings: RuleSettings) -> Iterator[Finding]:
    """Run a handful of rule functions directly (tests), stamped as the engine stamps them."""
    for fn in fns:
        for found in fn(ctx, kb, settings) or ():
            yield stamp(found, ctx) if isinstance(found, Verdict) else found
