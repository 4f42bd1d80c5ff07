"""`cdshooks send URL FIXTURE`: call a running service exactly as an EHR would.

Builds the request from the fixture (prefetch filled from the service's own templates, or no
prefetch + fhirServer), signs a CDS Hooks JWT (aud = the exact service URL, jti uuid4, exp now+300
s, kid = the key's JWK thumbprint unless given) and POSTs it with timeouts. The token is never
printed.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import click
import jwt
import requests

from ._common import EXIT_OK, EXIT_USAGE, HOOKS, error_reason, fail_usage, findings_exit, print_cards, request_from_path
from .keys import alg_for_key, load_private_key, public_jwk_for


def sign_token(key_path: str, iss: str, aud: str, kid: str | None, tenant: str | None = None) -> str:
    key = load_private_key(key_path)
    alg = alg_for_key(key)
    now = int(time.time())
    claims: dict[str, Any] = {"iss": iss, "sub": iss, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    if tenant:
        claims["tenant"] = tenant
    headers = {"kid": kid or public_jwk_for(key, alg)["kid"], "typ": "JWT"}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


@click.command("send")
@click.argument("url")
@click.argument("fixture", type=click.Path(exists=True))
@click.option("--hook", type=click.Choice(HOOKS), default=None, help="hook to simulate (default from the fixture)")
@click.option("--key", "key_path", type=click.Path(), default=None, help="PEM private key to sign the JWT (from `cdshooks keys new`)")
@click.option("--iss", default=None, help="JWT issuer; must match the trusted-issuers file")
@click.option("--kid", default=None, help="JWT kid (default: the key's JWK thumbprint)")
@click.option("--no-prefetch", is_flag=True, help="send no prefetch: the service must fetch from --fhir-server")
@click.option("--fhir-server", default=None, help="fhirServer base URL to put in the request")
@click.option("--access-token", default=None, help="fhirAuthorization access token for --fhir-server")
@click.option("--timeout", default=30.0, show_default=True, type=float, help="seconds to wait for the answer")
@click.option("--json", "as_json", is_flag=True, help="print the response JSON")
def command(url: str, fixture: str, hook: str | None, key_path: str | None, iss: str | None, kid: str | None,
            no_prefetch: bool, fhir_server: str | None, access_token: str | None, timeout: float, as_json: bool) -> None:
    """POST FIXTURE to the CDS service at URL (e.g. http://127.0.0.1:8080/cds-services/all-order-sign).

    Exit codes: 0 answered, no warning/critical card; 1 answered with a warning or critical card;
    2 usage error, refused request (HTTP status not 200) or connection failure.
    """
    if bool(key_path) != bool(iss):
        fail_usage("--key and --iss go together (omit both only for a service started with --dev)")
    if no_prefetch and not fhir_server:
        fail_usage("--no-prefetch needs --fhir-server (the service must fetch the data from somewhere)")
    body = request_from_path(fixture, hook, prefetch=not no_prefetch, fhir_server=fhir_server, access_token=access_token or ("local-test" if fhir_server else None))
    if no_prefetch:
        body.pop("prefetch", None)
    if fhir_server:
        body["fhirServer"] = fhir_server
    expected_service = url.rstrip("/").rsplit("/", 1)[-1]
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key_path and iss:
        try:
            headers["Authorization"] = "Bearer " + sign_token(key_path, iss, url, kid)
        except click.UsageError as exc:
            fail_usage(exc.message)
    started = time.perf_counter()
    try:
        response = requests.post(url, data=json.dumps(body), headers=headers, timeout=(5, timeout))
    except requests.RequestException as exc:
        fail_usage(f"cannot reach {url}: {error_reason(exc)}")
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        click.echo(f"cdshooks: {url} answered HTTP {response.status_code} in {elapsed:.0f} ms: {response.text[:500]}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        cards = response.json()["cards"]
    except (ValueError, KeyError, TypeError):
        fail_usage(f"{url} did not answer a CDS Hooks response")
    print_cards(cards, as_json=as_json, title=f"{expected_service}: {len(cards)} card(s) in {elapsed:.0f} ms")
    if not as_json:
        click.echo(f"answered HTTP 200 in {elapsed:.0f} ms", err=True)
    sys.exit(findings_exit(cards) if cards else EXIT_OK)


