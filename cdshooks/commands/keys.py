"""`cdshooks keys new`: a signing key pair, its JWKS and a trusted-issuers file for local testing.

The EHR side of CDS Hooks auth, in miniature: the private key signs `cdshooks send` JWTs; the
JWKS (public key + kid) goes into the trusted-issuers file that `cdshooks serve` reads through
CDSHOOKS_TRUSTED_ISSUERS (format: config.load_trusted_issuers). For testing only; a real EHR
publishes its own JWKS.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ._common import EXIT_USAGE, error_reason, fail_usage

PRIVATE_KEY_FILE, JWKS_FILE, ISSUERS_FILE = "private-key.pem", "jwks.json", "trusted-issuers.json"


def jwk_thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint (base64url SHA-256 of the required members): a stable kid."""
    import base64
    import hashlib

    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[public_jwk["kty"]]
    canonical = json.dumps({k: public_jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def public_jwk_for(private_key: Any, alg: str) -> dict[str, Any]:
    algorithm = jwt.get_algorithm_by_name(alg)
    jwk = json.loads(algorithm.to_jwk(private_key.public_key()))
    jwk = {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    jwk.update({"kid": jwk_thumbprint(jwk), "alg": alg, "use": "sig"})
    return jwk


def load_private_key(path: str) -> Any:
    try:
        return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError:
        raise click.UsageError(f"key file not found: {path}") from None
    except (ValueError, TypeError) as exc:
        raise click.UsageError(f"{path} is not an unencrypted PEM private key ({exc})") from None


def alg_for_key(private_key: Any) -> str:
    return "ES384" if isinstance(private_key, ec.EllipticCurvePrivateKey) else "RS384"


@click.group("keys")
def command() -> None:
    """Signing keys for testing an EHR integration locally."""


@command.command("new")
@click.option("--dir", "out_dir", default="./cdshooks-keys", show_default=True, type=click.Path(file_okay=False), help="where to write the files")
@click.option("--iss", default="https://ehr.example.org", show_default=True, help="issuer (the EHR's iss claim)")
@click.option("--alg", type=click.Choice(["ES384", "RS384"]), default="ES384", show_default=True)
@click.option("--fhir-server", "fhir_servers", multiple=True, help="FHIR base URL the service may fetch from for this issuer (repeatable)")
@click.option("--force", is_flag=True, help="overwrite an existing key in DIR")
def new(out_dir: str, iss: str, alg: str, fhir_servers: tuple[str, ...], force: bool) -> None:
    """Make a key pair (PEM, mode 0600), a JWKS with kid, and a trusted-issuers file.

    Exit codes: 0 written, 2 bad option or DIR already holds a key (use --force).
    """
    from ..config import load_trusted_issuers
    from ..errors import ConfigError

    directory = Path(out_dir)
    if (directory / PRIVATE_KEY_FILE).exists() and not force:
        click.echo(f"cdshooks: {directory / PRIVATE_KEY_FILE} exists; refusing to overwrite (use --force)", err=True)
        sys.exit(EXIT_USAGE)
    if not iss.strip():
        click.echo("cdshooks: --iss must not be empty", err=True)
        sys.exit(EXIT_USAGE)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK):
            raise PermissionError(13, "Permission denied", str(directory))
    except OSError as exc:
        fail_usage(f"keys new: cannot use {directory} as the key directory: {error_reason(exc)}")
    key = ec.generate_private_key(ec.SECP384R1()) if alg == "ES384" else rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_path = directory / PRIVATE_KEY_FILE
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(key_path, 0o600)
    jwk = public_jwk_for(key, alg)
    jwks = {"keys": [jwk]}
    (directory / JWKS_FILE).write_text(json.dumps(jwks, indent=2) + "\n", encoding="utf-8")
    issuers = [{"iss": iss, "jwks": jwks, "fhir_servers": list(fhir_servers)}]
    issuers_path = directory / ISSUERS_FILE
    issuers_path.write_text(json.dumps(issuers, indent=2) + "\n", encoding="utf-8")
    try:
        load_trusted_issuers(str(issuers_path))  # the file must be one `cdshooks serve` accepts
    except ConfigError as exc:
        click.echo(f"cdshooks: {exc.message}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"private key   {key_path} (0600, {alg})")
    click.echo(f"JWKS          {directory / JWKS_FILE} (kid {jwk['kid']})")
    click.echo(f"issuers file  {issuers_path} (iss {iss})")
    click.echo(f"\nCDSHOOKS_TRUSTED_ISSUERS={issuers_path} cdshooks serve")
    click.echo(f"cdshooks send http://127.0.0.1:8080/cds-services/all-order-sign FIXTURE --key {key_path} --iss {iss}")
