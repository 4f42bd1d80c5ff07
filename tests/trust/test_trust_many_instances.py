"""Settings for many instances on one database (issue 18).

* The audit key is configuration (CDSHOOKS_AUDIT_KEY or a mounted file), so two instances hash
  one patient identically; PostgreSQL without a configured key refuses to start.
* The schema is a deployment step: `cdshooks db check` exits 1 while it is behind, `db upgrade`
  brings it to head, and CDSHOOKS_MIGRATE=never makes start-up refuse a stale schema.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from pathlib import Path

import pytest

from cdshooks.config import settings_from_env
from cdshooks.errors import ConfigError
from cdshooks.protocol.auth import ANONYMOUS
from cdshooks.store import Store
from cdshooks.store.schema import head_revision, schema_status
from cdshooks.store.tables import card_audit
from support.processes import CDSHOOKS, serve_env
from support.servers import free_port

KEY = "0123456789abcdef" * 4
PATIENT = "patient-many-instances-0042"


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([CDSHOOKS, *args], env=serve_env(tmp_path / "var", **extra), capture_output=True, text=True, timeout=60)


def test_postgresql_without_an_audit_key_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_env({"CDSHOOKS_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:5432/db"})
    assert "CDSHOOKS_AUDIT_KEY" in info.value.message and "\n" not in info.value.message
    # SQLite single-instance keeps its generated key in the data dir: no key needed
    assert settings_from_env({}).audit_key is None


def test_audit_key_from_a_mounted_file_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "audit-key"
    path.write_text(KEY + "\n")
    assert settings_from_env({"CDSHOOKS_AUDIT_KEY_FILE": str(path)}).audit_key == KEY
    cases = [
        ({"CDSHOOKS_AUDIT_KEY_FILE": str(tmp_path / "absent")}, "cannot read"),
        ({"CDSHOOKS_AUDIT_KEY_FILE": str(path), "CDSHOOKS_AUDIT_KEY": KEY}, "not both"),
        ({"CDSHOOKS_AUDIT_KEY": "short"}, "at least 32"),
        ({"CDSHOOKS_MIGRATE": "sometimes"}, "CDSHOOKS_MIGRATE"),
    ]
    for env, message in cases:
        with pytest.raises(ConfigError, match=message):
            settings_from_env(env)


def test_serve_with_postgresql_and_no_key_exits_2_with_one_line(tmp_path: Path) -> None:
    # refused before any connection: no PostgreSQL server is needed to see it
    result = _run(tmp_path, "serve", "--port", str(free_port()),
                  CDSHOOKS_DATABASE_URL="postgresql+psycopg://u@127.0.0.1:1/db")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "audit key" in result.stderr


def test_two_instances_with_one_configured_key_hash_a_patient_identically(database_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "secret" / "audit-key"
    key_file.parent.mkdir()
    key_file.write_text(KEY)
    env = {"CDSHOOKS_DATABASE_URL": database_url, "CDSHOOKS_AUDIT_KEY_FILE": str(key_file)}
    stores = [Store.from_settings(settings_from_env({**env, "CDSHOOKS_DATA_DIR": str(tmp_path / f"pod{n}")}))
              for n in range(2)]
    stores[0].migrate()
    try:
        for store in stores:
            store.record_cards(hook_instance="h", service_id="all-order-sign", caller=ANONYMOUS, patient_id=PATIENT,
                               knowledge_version="1", cards=[{"uuid": "c", "indicator": "info", "source": {}}])
        with stores[1].engine.connect() as conn:
            hashes = [r.patient_hash for r in conn.execute(card_audit.select())]
    finally:
        for store in stores:
            store.close()
    assert hashes == [hmac.new(KEY.encode(), PATIENT.encode(), hashlib.sha256).hexdigest()] * 2
    assert not any((tmp_path / f"pod{n}" / "audit.key").exists() for n in range(2))


def test_db_check_and_upgrade_and_migrate_never(database_url: str, tmp_path: Path) -> None:
    """database_url is a fresh SQLite file or the emptied PostgreSQL test database."""
    check = _run(tmp_path, "db", "check", "--database-url", database_url)
    assert check.returncode == 1 and "db upgrade" in check.stderr
    store = Store(database_url, data_dir=tmp_path / "var")
    try:
        with pytest.raises(ConfigError, match="CDSHOOKS_MIGRATE=never"):
            store.prepare("never")
        assert schema_status(store.engine).current == ()  # "never" did not migrate
        upgrade = _run(tmp_path, "db", "upgrade", "--database-url", database_url)
        assert upgrade.returncode == 0, upgrade.stderr
        assert f"-> {head_revision()}" in upgrade.stdout
        store.prepare("never")  # current now: no error
        assert schema_status(store.engine).up_to_date
    finally:
        store.close()
    again = _run(tmp_path, "db", "check", "--json", CDSHOOKS_DATABASE_URL=database_url)
    assert again.returncode == 0 and '"upToDate": true' in again.stdout


def test_serve_with_migrate_never_refuses_an_empty_database(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve", "--dev", "--port", str(free_port()), CDSHOOKS_MIGRATE="never")
    assert result.returncode == 2, result.stderr
    assert "cdshooks db upgrade" in result.stderr and "AUTH DISABLED" not in result.stderr
    assert not (tmp_path / "var" / "cdshooks.sqlite3").exists() or _run(tmp_path, "db", "check").returncode == 1


def test_feedback_report_with_migrate_never_does_not_upgrade(tmp_path: Path) -> None:
    """An operator's `feedback report` against a shared database must not migrate it either."""
    report = _run(tmp_path, "feedback", "report", CDSHOOKS_MIGRATE="never")
    assert report.returncode == 2 and "cdshooks db upgrade" in report.stderr
    assert _run(tmp_path, "db", "check").returncode == 1  # still behind: nothing was migrated
    assert _run(tmp_path, "feedback", "report", "--json").returncode == 0  # auto (default) migrates
