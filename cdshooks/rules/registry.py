"""The rule registry: small generator functions, registered by family, run by one engine.

    @rule("dose")
    def dose_by_bsa(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
        ...yield Finding(...)

A rule returns early when it does not apply and yields findings otherwise. `run_rules` runs the
families a service asks for, removes duplicates (same rule id and orders), merges missing-data
findings, applies the site's choices ONCE (CDSHOOKS_DISABLED_RULES and the site policy, see
`cdshooks.policy`) and keeps the order stable: critical first, then warning, then info.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from .finding import Finding

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


RuleFn = Callable[["PatientContext", "Knowledge", RuleSettings], Iterable[Finding]]
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


def registered_rules(families: Iterable[str] | None = None) -> list[RuleSpec]:
    _import_families()
    wanted = None if families is None else set(families)
    return [r for r in _REGISTRY if wanted is None or r.family in wanted]


_SEVERITY = {"critical": 0, "warning": 1, "info": 2}


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
    for spec in registered_rules(families):
        for finding in spec.fn(ctx, kb, settings) or ():
            key = (finding.rule_id, finding.orders, finding.drug)
            if key in seen:
                continue
            seen.add(key)
            findings.append(finding)
    for step in _POST_STEPS:
        findings = step(findings, ctx, kb, settings)
    outcome = apply_policy(merge_missing_data(findings), settings.policy, settings.disabled_rules)
    if silenced is not None:
        silenced.extend(outcome.silenced)
    findings = outcome.shown
    findings.sort(key=lambda f: _SEVERITY[f.indicator])
    return findings


SUMMARY_LIMIT = 140  # a card summary is < 140 characters (contract)


def merge_missing_data(findings: list[Finding]) -> list[Finding]:
    """One finding, one card - unless one summary can name every problem of the same order.

    Several rule families may each find that the same order cannot be checked (no weight for the
    dose, no bilirubin for the hepatic rule). A clinician reads summaries, so problems share a card
    only when the joined summary, naming each of them, stays under 140 characters; otherwise each
    keeps its own card (never "(+2 more)").
    """
    groups: dict[tuple[str, ...], list[Finding]] = {}
    others: list[Finding] = []
    for f in findings:
        if f.topic == "missing-data" and f.rule_id != "missing-data.prefetch" and f.orders:
            groups.setdefault(f.orders, []).append(f)
        else:
            others.append(f)
    for orders, group in groups.items():
        summary = _joined_summary(group)
        if len(group) == 1 or summary is None:
            others.extend(group)
            continue
        worst = min(group, key=lambda f: _SEVERITY[f.indicator])
        inputs: dict = {}
        for f in group:
            inputs.update(f.inputs)
        others.append(
            Finding(
                rule_id=worst.rule_id,
                topic="missing-data",
                indicator=worst.indicator,
                summary=summary,
                detail="\n\n---\n\n".join(f.detail for f in group),
                citation="; ".join(dict.fromkeys(f.citation for f in group)),
                orders=orders,
                inputs={**inputs, "mergedRuleIds": [f.rule_id for f in group]},
                drug=worst.drug,
            )
        )
    return others


def _joined_summary(group: list[Finding]) -> str | None:
    """'drug: a; b' naming every problem, when that fits; None when it does not (keep separate cards)."""
    drugs = {f.drug for f in group}
    parts = []
    for f in group:
        text = f.summary.rstrip("…")
        if f.summary.endswith("…"):
            return None  # a clipped summary already does not name its whole problem
        prefix = f"{f.drug}: "
        parts.append(text[len(prefix):] if len(drugs) == 1 and f.drug and text.startswith(prefix) else text)
    lead = f"{group[0].drug}: " if len(drugs) == 1 and group[0].drug else ""
    joined = lead + "; ".join(dict.fromkeys(parts))
    return joined if len(joined) < SUMMARY_LIMIT else None


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
    """Run a handful of rule functions directly (tests)."""
    for fn in fns:
        yield from fn(ctx, kb, settings) or ()
