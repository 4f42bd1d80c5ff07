"""Shared fixtures: settings on a temp data dir, the real app, the app on a real loopback port."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from cdshooks.config import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.exists():  # CI clones main with shared/ beside it
    SHARED = Path(os.environ.get("CDSHOOKS_SHARED_DIR", "../shared")).resolve()


@pytest.fixture(autouse=True)
def _clean_cdshooks_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit CDSHOOKS_* from the developer's shell (Flask's own tests do the same)."""
    for name in list(os.environ):
        if name.startswith("CDSHOOKS_") and name != "CDSHOOKS_TEST_POSTGRES_URL" and name != "CDSHOOKS_SHARED_DIR":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"auth": "disabled", "data_dir": tmp_path / "var"}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    from cdshooks.app import create_app

    def make(**overrides: Any) -> Any:
        return create_app(make_settings(**overrides))

    return make


@pytest.fixture
def live_service(make_app: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """`with live_service(**settings) as base_url:` runs the real app on a loopback port."""
    from support.servers import serve_app

    def start(**overrides: Any) -> Any:
        return serve_app(make_app(**overrides))

    yield start


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.fail(f"shared/ reference directory not found at {SHARED}")
    return SHARED


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """In CI (CDSHOOKS_REQUIRE_BROWSER / _POSTGRES / _HAPROXY) a skipped browser, PostgreSQL or
    HAProxy test is a failure: CI installs all three, so a skip there means a broken install."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    for marker, env in (("browser", "CDSHOOKS_REQUIRE_BROWSER"), ("postgres", "CDSHOOKS_REQUIRE_POSTGRES"),
                        ("haproxy", "CDSHOOKS_REQUIRE_HAPROXY")):
        if item.get_closest_marker(marker) and os.environ.get(env) == "1":
            report.outcome = "failed"
            report.longrepr = f"{marker} test skipped but {env}=1: {report.longrepr}"


@pytest.fixture(scope="session")
def kb() -> Any:
    """The packaged knowledge base, loaded and validated once (schemas + cross-checks)."""
    from cdshooks.knowledge import load_knowledge

    return load_knowledge()


@pytest.fixture
def settings() -> Any:
    """Rule settings at their defaults (10% tolerance, 25% critical, no toggles)."""
    from cdshooks.rules.registry import RuleSettings

    return RuleSettings()
