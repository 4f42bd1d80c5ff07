"""GC tuning for serving: start-up objects frozen, gen-0 threshold raised, in every app entry point."""

from __future__ import annotations

import gc

import pytest

from cdshooks.gctune import SERVING_THRESHOLDS, tune_for_serving


@pytest.fixture
def restore_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tune_freezes_start_up_objects_and_raises_gen0(restore_gc):
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    tune_for_serving()
    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold() == SERVING_THRESHOLDS


def test_wsgi_entry_point_tunes_the_gc(restore_gc, monkeypatch, tmp_path):
    from cdshooks.app import wsgi_app

    monkeypatch.setenv("CDSHOOKS_AUTH", "disabled")
    monkeypatch.setenv("CDSHOOKS_DATA_DIR", str(tmp_path / "var"))
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    app = wsgi_app()
    assert app.test_client().get("/health").status_code == 200
    from support.requests import order_sign_request

    answer = app.test_client().post("/cds-services/all-order-sign", json=order_sign_request())  # not a gunicorn body: read as before
    assert answer.status_code == 200 and answer.get_json()["cards"]
    assert gc.get_threshold() == SERVING_THRESHOLDS and gc.get_freeze_count() > 1000


def test_warm_up_runs_every_service_so_first_call_objects_are_frozen_too(restore_gc, tmp_path):
    """Without the warm-up the first real call left ~26,000 long-lived objects outside the frozen
    generation (lazily imported modules, validators, caches); every full collection walked them."""
    from cdshooks.app import create_app
    from cdshooks.config import Settings
    from cdshooks.gctune import warm_up
    from cdshooks.services import SERVICES
    from support.requests import order_sign_request

    app = create_app(Settings(auth="disabled", data_dir=tmp_path / "var"))
    gc.unfreeze()
    assert warm_up(app) == len(SERVICES)  # every service ran on the made-up chart
    with app.extensions["cdshooks"].store.engine.connect() as conn:  # and wrote nothing
        from sqlalchemy import func, select

        from cdshooks.store.tables import card_audit

        assert conn.execute(select(func.count()).select_from(card_audit)).scalar_one() == 0
    gc.collect()
    gc.freeze()
    client = app.test_client()
    assert client.post("/cds-services/all-order-sign", json=order_sign_request()).status_code == 200
    gc.collect()
    assert len(gc.get_objects()) < 10_000, len(gc.get_objects())
