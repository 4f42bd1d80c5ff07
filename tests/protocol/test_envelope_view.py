"""The envelope is validated on a reduced view (each prefetched / draft resource cut to its
resourceType); the verdict and the error paths must be exactly those of the full body."""

from __future__ import annotations

import copy

import fastjsonschema
import pytest

from cdshooks.errors import EnvelopeInvalid
from cdshooks.protocol.envelope import envelope_view, read_hook_request, validator
from support.requests import order_sign_request


def _errors(body):
    return sorted((e.json_path, e.validator) for e in validator("request").iter_errors(body))


def _mutated(fn):
    body = order_sign_request()
    fn(body)
    return body


BODIES = {
    "valid": _mutated(lambda b: None),
    "prefetch-value-number": _mutated(lambda b: b["prefetch"].update(patient=5)),
    "prefetch-value-null": _mutated(lambda b: b["prefetch"].update(patient=None)),
    "prefetch-no-resourceType": _mutated(lambda b: b["prefetch"].update(patient={"id": "x"})),
    "prefetch-resourceType-number": _mutated(lambda b: b["prefetch"].update(patient={"resourceType": 3})),
    "prefetch-resourceType-empty": _mutated(lambda b: b["prefetch"].update(patient={"resourceType": ""})),
    "prefetch-list": _mutated(lambda b: b.update(prefetch=[1])),
    "draft-entry-not-object": _mutated(lambda b: b["context"]["draftOrders"]["entry"].append(7)),
    "draft-resource-no-type": _mutated(lambda b: b["context"]["draftOrders"]["entry"].append({"resource": {"id": "a"}})),
    "draft-resource-not-object": _mutated(lambda b: b["context"]["draftOrders"]["entry"].append({"resource": "x"})),
    "draft-resource-type-number": _mutated(lambda b: b["context"]["draftOrders"]["entry"].append({"resource": {"resourceType": 1}})),
    "draft-not-bundle": _mutated(lambda b: b["context"].update(draftOrders={"resourceType": "List"})),
    "draft-entry-not-list": _mutated(lambda b: b["context"]["draftOrders"].update(entry={"resource": {}})),
    "context-not-object": _mutated(lambda b: b.update(context="x")),
    "missing-hook": _mutated(lambda b: b.pop("hook")),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_view_gives_the_same_errors_as_the_full_body(name):
    body = BODIES[name]
    assert _errors(envelope_view(body)) == _errors(body)
    assert (name in ("valid", "prefetch-value-null")) == (not _errors(body))


def test_view_copies_nothing_below_the_reduced_level_and_leaves_the_body_alone():
    body = order_sign_request()
    before = copy.deepcopy(body)
    view = envelope_view(body)
    assert body == before
    assert view["context"]["userId"] is body["context"]["userId"]
    for key, value in view["prefetch"].items():
        assert value is None or set(value) <= {"resourceType"}, key


def test_error_message_never_echoes_resource_content():
    body = _mutated(lambda b: b["prefetch"].update(patient={"resourceType": 3, "name": [{"family": "Secretname"}]}))
    with pytest.raises(EnvelopeInvalid) as err:
        read_hook_request(body)
    assert "prefetch" in err.value.message and "Secretname" not in err.value.message


def _fhir_auth(**over):
    auth = {"access_token": "t", "token_type": "Bearer", "expires_in": 60, "scope": "x", "subject": "y"}
    auth.update(over)
    return auth


MORE = {
    "auth-ok": _mutated(lambda b: b.update(fhirServer="https://ehr.example.org/fhir", fhirAuthorization=_fhir_auth())),
    "auth-without-server": _mutated(lambda b: b.update(fhirAuthorization=_fhir_auth())),
    "auth-incomplete": _mutated(lambda b: b.update(fhirServer="https://e.org", fhirAuthorization={"access_token": "t"})),
    "auth-expires-float": _mutated(lambda b: b.update(fhirServer="https://e.org", fhirAuthorization=_fhir_auth(expires_in=60.0))),
    "auth-expires-bool": _mutated(lambda b: b.update(fhirServer="https://e.org", fhirAuthorization=_fhir_auth(expires_in=True))),
    "auth-expires-negative": _mutated(lambda b: b.update(fhirServer="https://e.org", fhirAuthorization=_fhir_auth(expires_in=-1))),
    "auth-token-type": _mutated(lambda b: b.update(fhirServer="https://e.org", fhirAuthorization=_fhir_auth(token_type="mac"))),
    "server-not-url": _mutated(lambda b: b.update(fhirServer="not a url")),
    "server-space": _mutated(lambda b: b.update(fhirServer="https://e.org/a b")),
    "hook-number": _mutated(lambda b: b.update(hook=7)),
    "hook-empty": _mutated(lambda b: b.update(hook="")),
    "hook-unknown": _mutated(lambda b: b.update(hook="something-else")),
    "hookInstance-long": _mutated(lambda b: b.update(hookInstance="x" * 257)),
    "patient-view-context": _mutated(lambda b: b.update(hook="patient-view", context={"userId": "Practitioner/a", "patientId": "p"})),
    "patient-view-bad-id": _mutated(lambda b: b.update(hook="patient-view", context={"userId": "Practitioner/a", "patientId": "p q"})),
    "order-select-no-selections": _mutated(lambda b: b.update(hook="order-select")),
    "order-select-empty": _mutated(lambda b: (b.update(hook="order-select"), b["context"].update(selections=[]))),
    "order-select-ok": _mutated(lambda b: (b.update(hook="order-select"), b["context"].update(selections=["MedicationRequest/a"]))),
    "order-select-bad-selection": _mutated(lambda b: (b.update(hook="order-select"), b["context"].update(selections=["x y"]))),
    "userId-bad": _mutated(lambda b: b["context"].update(userId="doc-1")),
    "encounterId-bad": _mutated(lambda b: b["context"].update(encounterId="a/b")),
    "body-not-object": [1, 2],
    # the clause chosen by the hook (envelope._by_hook) and null prefetch last (envelope._null_last)
    "hook-list": _mutated(lambda b: b.update(hook=["order-sign"])),
    "hook-null": _mutated(lambda b: b.update(hook=None)),
    "hook-object": _mutated(lambda b: b.update(hook={"order-sign": 1})),
    "hook-other-case": _mutated(lambda b: b.update(hook="Order-Sign")),
    "context-missing": _mutated(lambda b: b.pop("context")),
    "order-sign-no-draftOrders": _mutated(lambda b: b["context"].pop("draftOrders")),
    "order-sign-no-patientId": _mutated(lambda b: b["context"].pop("patientId")),
    "patient-view-with-draftOrders": _mutated(lambda b: b.update(hook="patient-view")),
    "patient-view-no-userId": _mutated(lambda b: (b.update(hook="patient-view"), b["context"].pop("userId"))),
    "order-select-bad-draft": _mutated(lambda b: (b.update(hook="order-select"), b["context"].update(selections=["A/b"], draftOrders=1))),
    "prefetch-all-null": _mutated(lambda b: b.update(prefetch={k: None for k in b["prefetch"]})),
    "prefetch-null-and-bad": _mutated(lambda b: b["prefetch"].update(patient=None, conditions=[])),
}


@pytest.mark.parametrize("name", sorted(BODIES) + sorted(MORE))
def test_compiled_schema_gives_the_reference_verdict(name):
    """The compiled fast path (fastjsonschema) may only accept what jsonschema accepts; a
    rejection always goes to jsonschema, so the wording of a 400 never changes."""
    from cdshooks.protocol.envelope import compiled

    body = BODIES.get(name, MORE.get(name))
    view = envelope_view(body)
    reference_valid = not _errors(view)
    try:
        compiled("request")(view)
        fast_valid = True
    except fastjsonschema.JsonSchemaException:
        fast_valid = False
    assert fast_valid == reference_valid


@pytest.mark.parametrize("name", sorted(BODIES) + sorted(MORE))
def test_compiled_by_hook_gives_the_whole_schemas_verdict(name):
    """The request schema compiled with its hook clauses chosen by lookup and null branches last
    (envelope.compiled) accepts exactly what the same schema compiled whole accepts."""
    import json

    from cdshooks.protocol.envelope import SCHEMA_DIR, _as_draft7, compiled

    whole = fastjsonschema.compile(_as_draft7(json.loads((SCHEMA_DIR / "request.schema.json").read_text(encoding="utf-8"))))
    view = envelope_view(BODIES.get(name, MORE.get(name)))
    verdicts = []
    for check in (compiled("request"), whole):
        try:
            check(view)
            verdicts.append(True)
        except fastjsonschema.JsonSchemaException:
            verdicts.append(False)
    assert verdicts[0] == verdicts[1]


def test_hook_clauses_and_null_branches_are_rewritten_only_where_the_shape_is_known():
    from cdshooks.protocol.envelope import _by_hook, _hook_const, _null_last

    clause = {"if": {"properties": {"hook": {"const": "x"}}, "required": ["hook"]}, "then": {"properties": {}}}
    assert _hook_const(clause) == "x"
    assert _hook_const({**clause, "else": {}}) is None
    assert _hook_const({"if": {"properties": {"hook": {"const": 1}}, "required": ["hook"]}, "then": {}}) is None
    assert _hook_const({"if": {"properties": {"hook": {"const": "x"}}}, "then": {}}) is None
    # two clauses for one hook: compiled whole, the same verdict
    check = _by_hook({"type": "object", "allOf": [clause, {**clause, "then": {"required": ["a"]}}]})
    with pytest.raises(fastjsonschema.JsonSchemaException):
        check({"hook": "x"})
    assert _null_last({"anyOf": [{"type": "null"}, {"type": "object"}], "const": {"anyOf": [{"type": "null"}, 1]}}) == {
        "anyOf": [{"type": "object"}, {"type": "null"}], "const": {"anyOf": [{"type": "null"}, 1]}}
