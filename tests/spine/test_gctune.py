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
    assert gc.get_threshold() == SERVING_THRESHOLDS and gc.get_freeze_count() > 1000
