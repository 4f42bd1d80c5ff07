"""`AuditRows.build` (store/audit_rows.py) (the tuples `record_cards` hands to the driver) equals what the previous
code produced: mapping rows built as below (a verbatim copy of the old `record_cards` body) and
turned into driver parameters by the prepared insert's general path (`parameters`), for any card
shape, on the SQLite and the PostgreSQL dialect. tests/trust/test_prepared_insert.py holds that
general path to SQLAlchemy's Core insert in real databases, so the stored rows are unchanged."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdshooks.store import Store
from cdshooks.store.audit_key import patient_hash
from cdshooks.store.identity import Caller
from cdshooks.store.audit_rows import dig as _dig, str_or_none as _str_or_none

KEY = "k" * 40
NOW = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone.utc)


def old_rows(store: Store, *, hook_instance: str, service_id: str, cards: list[dict], caller: Caller,
             patient_id: str | None, knowledge_version: str, policy_version: str | None = None,
             silenced: Iterable[tuple[str, str, str]] = (), now: datetime) -> list[dict]:
    """The row building of `record_cards` before tuples (round 6), copied verbatim but for `now`
    (was `now = utcnow()`: a parameter here, so both sides get the same instant)."""
    silenced = list(silenced)
    hashed = patient_hash(store._key(), patient_id) if patient_id else None
    common = dict(hook_instance=hook_instance, service_id=service_id, knowledge_version=knowledge_version,
                  issuer=caller.iss, tenant=caller.tenant, patient_hash=hashed, recorded_at=now,
                  policy_version=policy_version)
    rows = [dict(common, card_uuid=None, rule_id=r, topic=t, indicator=i, policy_action="silent") for r, t, i in silenced]
    for card in cards:
        ext = _dig(card, "extension", "all-cds")
        rows.append(dict(
            common,
            card_uuid=_str_or_none(card.get("uuid")),
            rule_id=_str_or_none(ext.get("ruleId")),
            indicator=_str_or_none(card.get("indicator")),
            topic=_str_or_none(_dig(card, "source", "topic").get("code")),
            policy_action="lowered" if "shippedIndicator" in _dig(ext, "inputs") else None,
        ))
    return rows


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
junk = st.one_of(json_scalar, st.lists(json_scalar, max_size=2), st.just(["shippedIndicator"]), st.just("shippedIndicator"),
                 st.dictionaries(st.text(max_size=5), json_scalar, max_size=2))


def mostly(shape: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The expected shape three times in four, any JSON value otherwise (read defensively)."""
    return st.one_of(shape, shape, shape, junk)


MISSING = object()


def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object whose keys are each present three times in four."""
    return st.fixed_dictionaries({k: st.one_of(v, v, v, st.just(MISSING)) for k, v in fields.items()}).map(
        lambda d: {k: v for k, v in d.items() if v is not MISSING})


maybe_text = st.one_of(st.just(""), st.text(max_size=12), st.text(max_size=12), junk)
all_cds = mostly(obj(ruleId=maybe_text, inputs=mostly(obj(shippedIndicator=json_scalar, other=json_scalar))))
card = obj(uuid=maybe_text, indicator=maybe_text, source=mostly(obj(topic=mostly(obj(code=maybe_text)))),
           extension=mostly(obj(**{"all-cds": all_cds})), summary=st.text(max_size=5))
optional_text = st.one_of(st.none(), st.text(max_size=10))
call = st.fixed_dictionaries({
    "hook_instance": st.text(max_size=10),
    "service_id": st.sampled_from(["all-order-sign", "all-order-select", "all-patient-view"]),
    "cards": st.lists(card, max_size=6),
    "caller": st.builds(Caller, optional_text, optional_text, optional_text),
    "patient_id": optional_text,
    "knowledge_version": st.text(max_size=10),
    "policy_version": optional_text,
    "silenced": st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6), st.text(max_size=6)), max_size=3),
})


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A Store for each dialect; building rows never connects (no server needed)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}" if request.param == "sqlite" else "postgresql+psycopg://u@127.0.0.1:9/none"
    return Store(url, audit_key=KEY, data_dir=tmp_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call)
def test_audit_rows_equal_the_old_mapping_rows_as_driver_parameters(dialect_store: Store, call: dict[str, Any]) -> None:
    expected = dialect_store._audit_insert.parameters(old_rows(dialect_store, **call, now=NOW))
    got = dialect_store._rows.build(call["hook_instance"], call["service_id"], call["cards"], call["caller"],
                                    call["patient_id"], call["knowledge_version"], call["policy_version"],
                                    list(call["silenced"]), NOW)
    assert got == expected
    assert all(type(row) is tuple for row in got)


def test_recorded_at_reaches_the_driver_as_the_backend_stores_it(dialect_store: Store) -> None:
    """The shared timestamp is processed once per call: naive UTC (PostgreSQL) or its text (SQLite)."""
    rows = dialect_store._rows.build("h", "all-order-sign", [{"uuid": "a"}, {"uuid": "b"}], Caller(None, None, None),
                                     None, "kv", None, [], NOW)
    at = {row[dialect_store._audit_insert.keys.index("recorded_at")] for row in rows}
    assert at == ({"2026-03-04 05:06:07.891011"} if dialect_store.backend == "sqlite" else {NOW.replace(tzinfo=None)})


def test_remembered_patient_hashes_are_the_hmac_and_stay_bounded(dialect_store: Store) -> None:
    from cdshooks.store.audit_rows import PATIENT_HASHES_KEPT

    rows = dialect_store._rows
    ids = [f"patient-{n}" for n in range(PATIENT_HASHES_KEPT + 5)]
    for patient_id in ids + ids[:3]:  # the first ids again: forgotten when the memory filled, then remembered
        assert rows.patient_hash(patient_id) == patient_hash(dialect_store._key(), patient_id)
    assert len(rows._hashes) <= PATIENT_HASHES_KEPT
