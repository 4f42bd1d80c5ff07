"""CORS proven in a real browser: headless Chromium calls the service the way the CDS Hooks sandbox does.

Why a browser and not only header assertions: CORS is enforced by the browser, and what it
demands (a preflight for `Authorization` + JSON, the exact `Access-Control-Allow-Origin`, the
allowed request headers) is easy to get subtly wrong in a way `requests` never notices. Here the
real service (auth REQUIRED, JWTs verified against an EC P-384 JWKS we generate) runs on one
loopback port; a page served from a second loopback origin calls discovery and all-order-sign
with `fetch`, and writes what it got into the DOM, which the test reads. A page from a third
origin, not in CDSHOOKS_CORS_ORIGINS, must see its fetches fail.

Chromium and chromedriver are Debian's (/usr/bin); Selenium Manager is bypassed by passing the
driver path, so nothing is downloaded. Install them with scripts/install-browser.sh.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from werkzeug.serving import make_server

from cdshooks.config import Settings, TrustedIssuer
from sandbox_request import intrathecal_vincristine_request

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PAGE = Path(__file__).with_name("sandbox_page.html")
ISSUER = "https://ehr.example.org/browser-test"
KID = "browser-test-es384"
SERVICE_IDS = {"all-order-select", "all-order-sign", "all-patient-view"}

# The whole module carries the marker (`pytest -m browser`); only the tests that drive Chromium
# skip when it is absent (tests/conftest.py turns that skip into a failure in CI), while the
# preflight checks with plain `requests` run everywhere.
pytestmark = pytest.mark.browser


# --------------------------------------------------------------------------------------------
# The EHR side: a signing key, its JWKS, and tokens minted per call
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ehr:
    private_key: ec.EllipticCurvePrivateKey
    jwks: dict[str, Any]

    def token(self, audience: str, *, jti: str | None = None) -> str:
        """A CDS Hooks 2.0 client JWT: ES384, kid + typ headers, aud = the exact URL invoked."""
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": jti or str(uuid.uuid4())}
        return jwt.encode(claims, self.private_key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})


def make_ehr() -> Ehr:
    key = ec.generate_private_key(ec.SECP384R1())
    public = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public.update({"kid": KID, "alg": "ES384", "use": "sig"})
    return Ehr(private_key=key, jwks={"keys": [public]})


# --------------------------------------------------------------------------------------------
# Loopback servers: the page origins (http.server) and the service (werkzeug, threaded)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PageOrigin:
    """One browser origin serving the sandbox page and a config.json the test sets before each visit."""

    server: ThreadingHTTPServer
    config: dict[str, Any]  # mutated in place by `visit`; read by the handler on each request

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


def _page_handler(config: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    html = PAGE.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # tokens travel in config.json: keep them out of logs
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                body, ctype = html, "text/html; charset=utf-8"
            elif path == "/config.json":
                body, ctype = json.dumps(config).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def page_origin() -> Iterator[PageOrigin]:
    config: dict[str, Any] = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _page_handler(config))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PageOrigin(server=server, config=config)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class World:
    base: str  # the service, e.g. http://127.0.0.1:PORT
    allowed: PageOrigin
    blocked: PageOrigin
    ehr: Ehr


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from cdshooks.app import create_app

    ehr = make_ehr()
    with page_origin() as allowed, page_origin() as blocked:
        settings = Settings(
            auth="required",
            trusted_issuers=(TrustedIssuer(iss=ISSUER, jwks=ehr.jwks),),
            cors_origins=(allowed.origin,),
            data_dir=tmp_path_factory.mktemp("cdshooks-browser"),
        )
        server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield World(f"http://127.0.0.1:{server.server_port}", allowed, blocked, ehr)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian chromium + chromium-driver at /usr/bin (run scripts/install-browser.sh)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def visit(driver: Any, page: PageOrigin, config: dict[str, Any]) -> dict[str, Any]:
    """Load the page, wait until its script has written #result, return that JSON."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page.config.clear()
    page.config.update(config)
    driver.get(page.origin + "/")
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.ID, "result").get_attribute("data-done") == "1"
    )
    return json.loads(driver.find_element(By.ID, "result").text)


def page_config(world: World, request_body: dict[str, Any], *, discovery_jti: str | None = None,
                service_jti: str | None = None) -> dict[str, Any]:
    return {
        "base": world.base,
        "serviceId": "all-order-sign",
        "discoveryToken": world.ehr.token(world.base + "/cds-services", jti=discovery_jti),
        "serviceToken": world.ehr.token(world.base + "/cds-services/all-order-sign", jti=service_jti),
        "request": request_body,
    }


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------
def test_allowed_origin_discovers_and_calls_order_sign(world: World, browser: Any) -> None:
    out = visit(browser, world.allowed, page_config(world, intrathecal_vincristine_request(date.today())))

    assert out["origin"] == world.allowed.origin
    assert "pageError" not in out, out.get("pageError")
    discovery = out["discovery"]
    assert discovery["fetched"] is True, discovery
    assert discovery["status"] == 200, discovery
    assert {s["id"] for s in discovery["body"]["services"]} == SERVICE_IDS
    assert {s["hook"] for s in discovery["body"]["services"]} == {"order-select", "order-sign", "patient-view"}

    service = out["service"]
    assert service["fetched"] is True, service
    assert service["status"] == 200, service
    assert service["contentType"].startswith("application/json")
    cards = service["body"]["cards"]
    assert isinstance(cards, list)
    # T13: vincristine is IV only, "fatal if given by other routes" (cdshooks/rules/route.py).
    route_cards = [c for c in cards if c["source"]["topic"]["code"] == "route" and c["indicator"] == "critical"]
    assert route_cards, [(c["source"]["topic"]["code"], c["indicator"], c["summary"]) for c in cards]
    assert "vincristine" in route_cards[0]["summary"].lower()
    assert route_cards[0]["extension"]["all-cds"]["orders"] == ["MedicationRequest/mr-vcr-it"]


def test_origin_not_in_allowlist_is_blocked_by_the_browser(world: World, browser: Any) -> None:
    discovery_jti, service_jti = str(uuid.uuid4()), str(uuid.uuid4())
    config = page_config(
        world, intrathecal_vincristine_request(date.today()), discovery_jti=discovery_jti, service_jti=service_jti
    )
    out = visit(browser, world.blocked, config)

    assert out["origin"] == world.blocked.origin
    for call in ("discovery", "service"):
        assert out[call]["fetched"] is False, out[call]
        assert out[call]["errorName"] == "TypeError", out[call]  # how fetch reports a CORS refusal
        assert "status" not in out[call]

    # The refusal happened at the preflight: the real requests never reached the service, so the
    # single-use tokens the page held were never consumed and still work once, from outside a browser.
    discovery = requests.get(
        world.base + "/cds-services", headers={"Authorization": f"Bearer {config['discoveryToken']}"}, timeout=10
    )
    assert discovery.status_code == 200
    service = requests.post(
        world.base + "/cds-services/all-order-sign",
        headers={"Authorization": f"Bearer {config['serviceToken']}", "Content-Type": "application/json"},
        data=json.dumps(config["request"]),
        timeout=30,
    )
    assert service.status_code == 200, service.text[:300]
    # ... and exactly once: a second use is a replay.
    replay = requests.get(
        world.base + "/cds-services", headers={"Authorization": f"Bearer {config['discoveryToken']}"}, timeout=10
    )
    assert replay.status_code == 401


def test_token_replayed_by_the_allowed_page_is_refused(world: World, browser: Any) -> None:
    """The browser path still enforces auth: a jti already used makes the service answer 401,
    and the 401 carries CORS headers so the page can read it instead of seeing a network error."""
    jti = str(uuid.uuid4())
    config = page_config(world, intrathecal_vincristine_request(date.today()), discovery_jti=jti)
    first = visit(browser, world.allowed, config)
    assert first["discovery"]["status"] == 200
    config["serviceToken"] = world.ehr.token(world.base + "/cds-services/all-order-sign")
    second = visit(browser, world.allowed, config)  # same discovery token again
    assert second["discovery"]["fetched"] is True
    assert second["discovery"]["status"] == 401
    assert second["discovery"]["body"]["resourceType"] == "OperationOutcome"


PREFLIGHT_PATHS = ("/cds-services", "/cds-services/all-order-sign", "/cds-services/all-order-sign/feedback")


@pytest.mark.parametrize("path", PREFLIGHT_PATHS)
def test_preflight_allows_the_listed_origin(world: World, path: str) -> None:
    response = requests.options(
        world.base + path,
        headers={
            "Origin": world.allowed.origin,
            "Access-Control-Request-Method": "POST" if path != "/cds-services" else "GET",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert 200 <= response.status_code < 300
    assert response.headers["Access-Control-Allow-Origin"] == world.allowed.origin
    methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "OPTIONS"} <= methods
    allowed_headers = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    assert "Origin" in response.headers.get("Vary", "")
    assert "Access-Control-Allow-Credentials" not in response.headers  # no cookies, never credentials


@pytest.mark.parametrize("path", PREFLIGHT_PATHS)
def test_preflight_gives_nothing_to_other_origins(world: World, path: str) -> None:
    for origin in (world.blocked.origin, world.allowed.origin.replace("127.0.0.1", "localhost"), "null"):
        response = requests.options(
            world.base + path,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
            timeout=10,
        )
        assert "Access-Control-Allow-Origin" not in response.headers, origin
        assert "Access-Control-Allow-Headers" not in response.headers, origin
