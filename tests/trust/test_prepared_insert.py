"""The audit rows `Store.record_cards` writes through its prebuilt INSERT (store/prepared.py) are
stored exactly as SQLAlchemy's Core insert of the same rows stores them, on SQLite and PostgreSQL:
same values read back, same raw text in the database (timestamps included)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text

from cdshooks.store import Store
from cdshooks.store.identity import Caller
from cdshooks.store.tables import card_audit

CALLER = Caller("https://ehr.example/iss", "tenant-7", "jti-1")


def _cards() -> list[dict]:
    return [
        {"uuid": "c-1", "indicator": "critical", "source": {"topic": {"code": "dose"}},
         "extension": {"all-cds": {"ruleId": "dose.vincristine.cap", "inputs": {"shippedIndicator": "critical"}}}},
        {"uuid": "c-2", "indicator": "info", "source": {"topic": {"code": "risk"}}, "extension": {"all-cds": {"ruleId": "risk.nci"}}},
        {"uuid": "", "indicator": 3, "source": "not an object"},  # odd values: stored as NULLs, as before
    ]


def _insert_both_ways(store: Store, at: datetime) -> None:
    """The same rows through the Core insert (what _insert_audit did before) and the prepared one."""
    rows = [
        dict(hook_instance="core", service_id="s", card_uuid="c-1", rule_id="r", indicator="info", topic="t",
             knowledge_version="kv", issuer=CALLER.iss, tenant=CALLER.tenant, patient_hash="h" * 64,
             recorded_at=at, policy_version="p1", policy_action=None),
        dict(hook_instance="core", service_id="s", card_uuid=None, rule_id=None, indicator=None, topic=None,
             knowledge_version="kv", issuer=None, tenant=None, patient_hash=None,
             recorded_at=at, policy_version=None, policy_action="silent"),
    ]
    with store.engine.begin() as conn:
        conn.execute(card_audit.insert(), rows)
    with store.engine.begin() as conn:
        store._audit_insert.execute(conn, [dict(r, hook_instance="prepared") for r in rows])


def test_prepared_rows_equal_core_rows(store: Store) -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))  # not UTC, whole second: both edge cases
    _insert_both_ways(store, at)
    with store.engine.connect() as conn:
        rows = conn.execute(select(card_audit).order_by(card_audit.c.id)).mappings().all()
        raw = conn.execute(text("SELECT hook_instance, CAST(recorded_at AS TEXT) FROM card_audit ORDER BY id")).all()
    core = [{k: v for k, v in r.items() if k not in ("id", "hook_instance")} for r in rows if r["hook_instance"] == "core"]
    prepared = [{k: v for k, v in r.items() if k not in ("id", "hook_instance")} for r in rows if r["hook_instance"] == "prepared"]
    assert len(core) == 2 and core == prepared
    assert core[0]["recorded_at"] == at  # aware UTC back, same instant
    assert {t for h, t in raw if h == "core"} == {t for h, t in raw if h == "prepared"}


def test_record_cards_writes_every_card_and_silenced_finding(store: Store) -> None:
    store.record_cards(hook_instance="h-1", service_id="all-order-sign", cards=_cards(), caller=CALLER,
                       patient_id="patient-9", knowledge_version="kv-3", policy_version="site-2",
                       silenced=[("interaction.x", "interaction", "warning")])
    with store.engine.connect() as conn:
        rows = conn.execute(select(card_audit).order_by(card_audit.c.id)).mappings().all()
    got = [(r["card_uuid"], r["rule_id"], r["indicator"], r["topic"], r["policy_action"]) for r in rows]
    assert got == [(None, "interaction.x", "warning", "interaction", "silent"),
                   ("c-1", "dose.vincristine.cap", "critical", "dose", "lowered"),
                   ("c-2", "risk.nci", "info", "risk", None),
                   (None, None, None, None, None)]
    assert {(r["hook_instance"], r["service_id"], r["issuer"], r["tenant"], r["knowledge_version"], r["policy_version"]) for r in rows} == {
        ("h-1", "all-order-sign", CALLER.iss, CALLER.tenant, "kv-3", "site-2")}
    hashes = {r["patient_hash"] for r in rows}
    assert len(hashes) == 1 and len(hashes.pop()) == 64  # keyed hash, never the id
    assert all(r["recorded_at"].tzinfo is not None for r in rows)


def test_a_batch_of_several_calls_rows_keeps_each_rows_own_time(store: Store) -> None:
    """A background batch carries several calls' rows: each call's rows share one `recorded_at`
    object (processed once), the next call's differs; every row must keep its own instant."""
    first = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=timezone.utc)
    second = datetime(2026, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2)))  # the same instant, another object
    third = first + timedelta(microseconds=1)
    times = [first, first, second, third, third, first]
    rows = [dict(hook_instance=f"h-{n}", service_id="s", card_uuid=f"c-{n}", rule_id="r", indicator="info", topic="t",
                 knowledge_version="kv", issuer=None, tenant=None, patient_hash=None, recorded_at=at,
                 policy_version=None, policy_action=None) for n, at in enumerate(times)]
    with store.engine.begin() as conn:
        conn.execute(card_audit.insert(), [dict(r, service_id="core") for r in rows])
        store._audit_insert.execute(conn, [dict(r, service_id="prepared") for r in rows])
    with store.engine.connect() as conn:
        got = conn.execute(text("SELECT service_id, hook_instance, CAST(recorded_at AS TEXT) FROM card_audit ORDER BY id")).all()
        back = conn.execute(select(card_audit.c.service_id, card_audit.c.recorded_at).order_by(card_audit.c.id)).all()
    core = [(h, t) for s, h, t in got if s == "core"]
    assert core == [(h, t) for s, h, t in got if s == "prepared"] and len(core) == len(times)
    assert [at for s, at in back if s == "prepared"] == times


AWKWARD = ["tab\there", "new\nline", "back\\slash \\N", "\\.", "quote ' \" ,;", "ünïcødé ☃ 𝄞", " ", "\r\n", "%s %(x)s ?"]


def test_the_background_writer_stores_rows_as_the_core_insert_does(store: Store) -> None:
    """The writer's batch (SQLite: the prepared INSERT; PostgreSQL: one COPY) against SQLAlchemy's
    Core insert of the same values, text that COPY must escape included: equal values read back,
    equal raw text in the database, ids in submission order."""
    at = datetime(2026, 3, 4, 5, 6, 7, 5, tzinfo=timezone(timedelta(hours=-5)))
    cards = [{"uuid": f"u-{n}-{text_}", "indicator": text_, "source": {"topic": {"code": text_}},
              "extension": {"all-cds": {"ruleId": text_, "inputs": {"shippedIndicator": "x"} if n % 2 else {}}}}
             for n, text_ in enumerate(AWKWARD)]
    caller = Caller("iss " + AWKWARD[2], AWKWARD[0], None)
    args = ("h\t1", "all-order-sign", cards, caller, "patient\n9", "kv\\1", AWKWARD[4], [("r\t", "t\n", "i\\")])
    with store.engine.begin() as conn:  # the same values as SQLAlchemy binds them (recorded_at unprocessed)
        conn.execute(card_audit.insert(), [dict(zip(store._audit_insert.keys, row), service_id="core", recorded_at=at)
                                           for row in store._rows.build(*args, at)])
    writer = store.write_audit_in_background()
    writer.submit([row[:1] + ("writer",) + row[2:] for row in store._rows.build(*args, at)])
    assert writer.flush() and writer.committed == len(AWKWARD) + 1
    columns = [c for c in card_audit.columns.keys() if c not in ("id", "service_id")]
    with store.engine.connect() as conn:
        back = conn.execute(select(card_audit).order_by(card_audit.c.id)).mappings().all()
        raw = conn.execute(text(f"SELECT service_id, {', '.join(f'CAST({c} AS TEXT)' for c in columns)} FROM card_audit ORDER BY id")).all()
    core = [{c: r[c] for c in columns} for r in back if r["service_id"] == "core"]
    assert core == [{c: r[c] for c in columns} for r in back if r["service_id"] == "writer"]
    assert core[0]["rule_id"] == "r\t" and core[1]["indicator"] == "tab\there" and core[-1]["recorded_at"] == at
    assert [tuple(r[1:]) for r in raw if r[0] == "core"] == [tuple(r[1:]) for r in raw if r[0] == "writer"]
    assert [r["card_uuid"] for r in back if r["service_id"] == "writer"] == [None] + [c["uuid"] for c in cards]

