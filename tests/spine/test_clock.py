"""The clinical clock: Settings.fixed_now, never from the environment, pinned in every test app."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cdshooks.config import Settings, settings_from_env
from support.clock import reference_date, reference_now


def test_wall_clock_by_default_and_fixed_when_pinned() -> None:
    assert abs(Settings().now() - datetime.now(timezone.utc)) < timedelta(seconds=5)
    pinned = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)
    assert Settings(fixed_now=pinned).now() == pinned
    assert Settings(fixed_now=datetime(2026, 11, 2, 12, 0)).now() == pinned  # naive = UTC


def test_no_environment_variable_can_freeze_a_deployment() -> None:
    env = {"CDSHOOKS_FIXED_NOW": "2020-01-01", "CDSHOOKS_NOW": "2020-01-01", "CDSHOOKS_CLOCK": "2020-01-01"}
    assert settings_from_env(env).fixed_now is None


def test_tests_run_on_the_fixtures_reference_day(make_settings) -> None:
    assert reference_date().isoformat() == "2026-11-02"  # fixture_model.ORDER
    assert make_settings().now() == reference_now()
