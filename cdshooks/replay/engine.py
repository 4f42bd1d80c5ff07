"""Run planned calls through the real service pipeline and tally what the prescriber would see.

In process: `services.pipeline.call_service` with the request envelope validated exactly as the
HTTP route does, prefetch complete (no FHIR server), auth off, the clock pinned per call. No store:
a replay writes no audit rows. With ``--policy`` each call runs once as shipped and the site policy
is applied to the same findings with `policy.apply_policy`, the function the rules engine uses, so
both columns come from one run and cannot drift apart.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import requests

from ..config import Settings
from ..errors import CdsError
from ..fixtures import FixtureError, HOOK_SERVICES
from ..knowledge import Knowledge, default_knowledge
from ..policy import SitePolicy, apply_policy
from ..protocol.envelope import read_hook_request
from ..rules.finding import Finding
from ..services import SERVICES
from ..services.pipeline import call_service
from .sources import PatientRecord
from .timeline import plan_calls

HOOKS = ("order-sign", "patient-view")


@dataclass
class RuleTally:
    hook: str
    topic: str
    cards: int = 0
    indicators: Counter = field(default_factory=Counter)
    patients: set[int] = field(default_factory=set)  # record ordinals, never identifiers
    drugs: Counter = field(default_factory=Counter)


@dataclass
class Tally:
    """Counts for one column (as shipped, or with the policy)."""

    calls: Counter = field(default_factory=Counter)  # hook -> calls
    cards: Counter = field(default_factory=Counter)  # hook -> cards
    interrupting_calls: Counter = field(default_factory=Counter)  # hook -> calls with a warning/critical card
    calls_with_cards: Counter = field(default_factory=Counter)
    indicators: Counter = field(default_factory=Counter)  # over order-sign cards
    silenced: int = 0
    rules: dict[tuple[str, str], RuleTally] = field(default_factory=dict)  # (hook, rule id) -> tally

    def add(self, hook: str, patient: int, shown: list[Finding], silenced: int = 0) -> None:
        self.calls[hook] += 1
        self.cards[hook] += len(shown)
        self.silenced += silenced
        if shown:
            self.calls_with_cards[hook] += 1
        if any(f.indicator != "info" for f in shown):
            self.interrupting_calls[hook] += 1
        for f in shown:
            if hook == "order-sign":
                self.indicators[f.indicator] += 1
            rt = self.rules.setdefault((hook, f.rule_id), RuleTally(hook, f.topic))
            rt.cards += 1
            rt.indicators[f.indicator] += 1
            rt.patients.add(patient)
            if f.drug:
                rt.drugs[f.drug] += 1

    def merge(self, other: "Tally") -> None:
        for name in ("calls", "cards", "interrupting_calls", "calls_with_cards", "indicators"):
            getattr(self, name).update(getattr(other, name))
        self.silenced += other.silenced
        for key, rt in other.rules.items():
            mine = self.rules.setdefault(key, RuleTally(rt.hook, rt.topic))
            mine.cards += rt.cards
            mine.indicators.update(rt.indicators)
            mine.patients |= rt.patients
            mine.drugs.update(rt.drugs)


@dataclass
class ReplayResult:
    source: str
    kind: str
    patients: int = 0
    orders: int = 0
    shipped: Tally = field(default_factory=Tally)
    with_policy: Tally | None = None
    policy_version: str | None = None
    errors: list[str] = field(default_factory=list)  # "record N: <reason>", no identifiers
    seconds: float = 0.0
    knowledge_version: str = ""
    calls: list[tuple[str, str, list[dict[str, Any]]]] | None = None  # (record label, call name, cards): tests only


    def merge(self, other: "ReplayResult") -> None:
        self.patients += other.patients
        self.orders += other.orders
        self.shipped.merge(other.shipped)
        if self.with_policy is not None and other.with_policy is not None:
            self.with_policy.merge(other.with_policy)
        self.errors.extend(other.errors)
        if self.calls is not None and other.calls is not None:
            self.calls.extend(other.calls)


class Replayer:
    """One per process: knowledge loaded once, a throwaway data dir, no network."""

    def __init__(self, policy: SitePolicy | None = None, knowledge: Knowledge | None = None, settings: Settings | None = None) -> None:
        self.knowledge = knowledge or default_knowledge()
        self.settings = settings or Settings(auth="disabled", data_dir=Path(tempfile.gettempdir()) / f"cdshooks-replay-{os.getpid()}")
        self.policy = policy
        self.session = requests.Session()
        self.session.trust_env = False

    def replay_record(self, ordinal: int, record: PatientRecord, into: ReplayResult) -> None:
        try:
            calls = list(plan_calls(record))
        except (FixtureError, ValueError) as exc:
            into.errors.append(f"record {ordinal}: {exc}")
            return
        into.patients += 1
        for call in calls:
            if call.hook not in HOOKS:
                continue
            try:
                request = read_hook_request(call.body)
                service = SERVICES[HOOK_SERVICES[call.hook]]
                pinned = replace(self.settings, fixed_now=call.now)  # the service's clinical clock, that day
                result = call_service(service, request, settings=pinned, knowledge=self.knowledge, session=self.session, iss=None)
            except CdsError as exc:
                into.errors.append(f"record {ordinal} {call.hook}: {exc.status} {exc.code} {exc.message[:160]}")
                continue
            except Exception as exc:  # a crash in a rule is a finding of the replay, not the end of it
                into.errors.append(f"record {ordinal} {call.hook}: internal error {exc.__class__.__name__}")
                continue
            into.orders += call.orders
            if into.calls is not None:
                into.calls.append((record.label, call.name, result.cards))
            into.shipped.add(call.hook, ordinal, result.findings)
            if into.with_policy is not None:
                outcome = apply_policy(result.findings, self.policy)
                into.with_policy.add(call.hook, ordinal, outcome.shown, len(outcome.silenced))


def replay(records: Iterable[tuple[int, PatientRecord]], *, source: str, kind: str, policy: SitePolicy | None = None,
           progress: Callable[[int], None] | None = None, keep_calls: bool = False) -> ReplayResult:
    """Sequential replay (one process); `replay_parallel` fans out over processes (--jobs)."""
    replayer = Replayer(policy)
    result = new_result(source, kind, policy, replayer.knowledge)
    if keep_calls:
        result.calls = []
    for n, (ordinal, record) in enumerate(records, 1):
        replayer.replay_record(ordinal, record, result)
        if progress:
            progress(n)
    return result


def new_result(source: str, kind: str, policy: SitePolicy | None, knowledge: Knowledge) -> ReplayResult:
    return ReplayResult(source=source, kind=kind, with_policy=Tally() if policy else None,
                        policy_version=policy.version if policy else None, knowledge_version=knowledge.version)


# -- worker processes (--jobs N) --------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(policy: SitePolicy | None) -> None:
    _WORKER["replayer"] = Replayer(policy)


def _replay_chunk(chunk: list[tuple[int, PatientRecord]]) -> tuple[int, ReplayResult]:
    replayer: Replayer = _WORKER["replayer"]
    result = new_result("", "", replayer.policy, replayer.knowledge)
    for ordinal, record in chunk:
        replayer.replay_record(ordinal, record, result)
    return len(chunk), result


def replay_parallel(records: Iterable[tuple[int, PatientRecord]], *, jobs: int, source: str, kind: str,
                    policy: SitePolicy | None = None, progress: Callable[[int], None] | None = None, chunk_size: int = 10) -> ReplayResult:
    import multiprocessing

    result = new_result(source, kind, policy, default_knowledge())
    done = 0

    def chunks() -> Iterable[list[tuple[int, PatientRecord]]]:
        batch: list[tuple[int, PatientRecord]] = []
        for item in records:
            batch.append(item)
            if len(batch) == chunk_size:
                yield batch
                batch = []
        if batch:
            yield batch

    with multiprocessing.get_context("spawn").Pool(jobs, initializer=_init_worker, initargs=(policy,)) as pool:
        for size, part in pool.imap_unordered(_replay_chunk, chunks()):
            done += size
            result.merge(part)
            if progress:
                progress(done)
    return result
