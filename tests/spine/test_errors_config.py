"""Error codes are unique; configuration fails fast with a one-line reason."""

from __future__ import annotations

import json

import pytest

from cdshooks.config import settings_from_env
from cdshooks.errors import ConfigError, all_error_classes


def test_error_codes_are_unique():
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"CDSHOOKS_AUTH": "maybe"}, "CDSHOOKS_AUTH must be"),
        ({"CDSHOOKS_AUTH": "disabled", "CDSHOOKS_BIND_HOST": "0.0.0.0"}, "loopback"),
        ({"CDSHOOKS_TRUSTED_ISSUERS": "/nonexistent/issuers.json"}, "file not found"),
        ({"CDSHOOKS_MAX_BODY_BYTES": "lots"}, "must be a number"),
        ({"CDSHOOKS_DOSE_TOLERANCE_PCT": "30", "CDSHOOKS_DOSE_CRITICAL_PCT": "20"}, "CRITICAL_PCT"),
        ({"CDSHOOKS_PUBLIC_BASE_URL": "ftp://x"}, "http(s)"),
    ],
)
def test_bad_configuration_is_refused_with_a_reason(env, message):
    with pytest.raises(ConfigError) as info:
        settings_from_env(env)
    assert message in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    "issuers, message",
    [
        ([{"jwks": {"keys": []}}], "'iss'"),
        ([{"iss": "x"}], "exactly one of"),
        ([{"iss": "x", "jwks": {"keys": []}, "jwks_url": "https://a"}], "exactly one of"),
        ([{"iss": "x", "jwks": {"nokeys": 1}}], "JWK Set"),
        ([{"iss": "x", "jwks": {"keys": []}, "fhir_servers": ["not-a-url"]}], "fhir_servers"),
        ({"iss": "x"}, "JSON list"),
        ([{"iss": "https://ehr.example.org/" + "i" * 489, "jwks": {"keys": []}}], "longer than 512"),
    ],
)
def test_trusted_issuers_file_is_validated(tmp_path, issuers, message):
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps(issuers))
    with pytest.raises(ConfigError) as info:
        settings_from_env({"CDSHOOKS_TRUSTED_ISSUERS": str(path)})
    assert message in info.value.message


def test_defaults_are_the_contract_defaults(tmp_path):
    s = settings_from_env({})
    assert s.auth_required and s.trusted_issuers == () and str(s.data_dir) == "var"
    assert s.bind_host == "127.0.0.1"
    assert s.trusted_fhir_servers(None) == ()  # auth required: no issuer, no fetch
