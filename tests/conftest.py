"""Shared fixtures: settings on a temp data dir, the real app, the app on a real loopback port."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from cdshooks.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "vendor" / "cds-hooks-spec"  # vendored CDS Hooks spec files (vendor/README.md)
TEST_DATA = ROOT / "tests" / "data"
# The team's reference directory is optional: only its cross-checks need it (marker `shared`).
SHARED = Path(os.environ.get("CDSHOOKS_SHARED_DIR") or ROOT.parent / "shared").resolve()

# Variables the suite itself reads: they survive the isolation below (CI sets them on purpose).
TEST_ONLY_PREFIXES = ("CDSHOOKS_REQUIRE_", "CDSHOOKS_TEST_")
TEST_ONLY_NAMES = ("CDSHOOKS_SHARED_DIR",)
# marker -> the variable that turns its skips into failures
REQUIRE = {"browser": "CDSHOOKS_REQUIRE_BROWSER", "postgres": "CDSHOOKS_REQUIRE_POSTGRES", "haproxy": "CDSHOOKS_REQUIRE_HAPROXY",
           "shared": "CDSHOOKS_REQUIRE_SHARED"}


def is_test_only(name: str) -> bool:
    return name.startswith(TEST_ONLY_PREFIXES) or name in TEST_ONLY_NAMES


@pytest.fixture(autouse=True)
def _clean_cdshooks_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit service configuration (CDSHOOKS_*) from the developer's shell (Flask's
    own tests do the same); the test-only variables above are the suite's, not the service's."""
    for name in list(os.environ):
        if name.startswith("CDSHOOKS_") and not is_test_only(name):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        from support.clock import reference_now

        # the clinical clock is pinned: no test result may depend on today's date
        values: dict[str, Any] = {"auth": "disabled", "data_dir": tmp_path / "var", "fixed_now": reference_now()}
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
def spec_dir() -> Path:
    """The vendored CDS Hooks spec files: always present in a clone."""
    return SPEC


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The team's reference directory, for cross-checks only (mark the test `shared`)."""
    if not SHARED.is_dir():
        pytest.skip(f"team reference directory not found at {SHARED} (set CDSHOOKS_SHARED_DIR)")
    return SHARED


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test using `shared_dir` is a `shared` test (so CDSHOOKS_REQUIRE_SHARED=1 covers it)."""
    for item in items:
        if "shared_dir" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("shared"):
            item.add_marker(pytest.mark.shared)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """In CI (CDSHOOKS_REQUIRE_BROWSER / _POSTGRES / _HAPROXY / _SHARED = 1) a skipped browser,
    PostgreSQL, HAProxy or reference-directory test is a failure: CI provides all four, so a skip
    there means a broken install. The variables survive _clean_cdshooks_env (is_test_only), which runs first."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    for marker, env in REQUIRE.items():
        if item.get_closest_marker(marker) and os.environ.get(env) == "1":
            report.outcome = "failed"
            report.longrepr = f"{marker} test skipped but {env}=1: {report.longrepr}"
            return


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
