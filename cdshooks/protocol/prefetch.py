"""Prefetch resolution: what the client sent, what we fetch ourselves, and what we do without.

For each key the service declares (services.descriptor.PrefetchKey):

    sent, a resource or Bundle   -> use it (follow Bundle `next` links from a trusted server)
    sent as null                 -> "no data": use None, do not re-query (spec)
    sent as an OperationOutcome  -> the client could not get it: treat as unobtainable, no re-query
    absent                       -> GET {fhirServer}/{template} with the bearer token from
                                    fhirAuthorization, ONLY if fhirServer is a base URL the
                                    configuration trusts for this issuer; else unobtainable

Unobtainable + failure "412" -> PreconditionFailed (the route answers 412 + OperationOutcome).
Unobtainable + failure "missing-data" -> listed in `missing`, the checks that need it say so.

Logging names the prefetch key and the outcome only: never the URL (it holds the patient id),
the token, or the resource.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urljoin, urlsplit

import orjson
import requests

from ..config import Settings, normalize_base_url
from ..errors import PreconditionFailed
from ..services.descriptor import PrefetchKey, ServiceDescriptor
from .envelope import HookRequest

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
FHIR_ACCEPT = "application/fhir+json, application/json;q=0.9"


@dataclass
class PrefetchResult:
    data: dict[str, Any] = field(default_factory=dict)  # key -> resource / Bundle / None
    missing: set[str] = field(default_factory=set)  # keys we could not obtain
    fetched: set[str] = field(default_factory=set)  # keys we fetched ourselves
    notes: dict[str, str] = field(default_factory=dict)  # key -> why it is missing (no PHI)


class FetchError(Exception):
    """A fallback fetch failed; the message is safe to log (no URL, no token)."""


def fill_template(template: str, request: HookRequest) -> str | None:
    """Replace 2.0 tokens; None when a token cannot be filled (then the key cannot be fetched)."""

    def value(token: str) -> str | None:
        if token.startswith("context."):
            v = request.context.get(token[len("context."):])
            return v if isinstance(v, str) and v else None
        if token in _USER_TOKENS:
            kind, _, ident = request.user_id.partition("/")
            return ident if kind == _USER_TOKENS[token] and ident else None
        return None

    missing = False

    def sub(match: re.Match[str]) -> str:
        nonlocal missing
        v = value(match.group(1))
        if v is None:
            missing = True
            return ""
        return v

    filled = _TOKEN.sub(sub, template)
    return None if missing else filled


def is_operation_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def expected_type(template: str) -> tuple[str, bool]:
    """(resource type, is a search) the template asks for: "Patient/{{..}}" or "Observation?..."."""
    head = re.split(r"[/?]", template, maxsplit=1)[0]
    return head, "?" in template and "/" not in template.split("?", 1)[0]


def wrong_type(key: PrefetchKey, value: Any) -> str | None:
    """Why `value` cannot be what `key` asks for (a resource of the wrong type is not data), else None."""
    rtype, search = expected_type(key.template)
    got = value.get("resourceType") if isinstance(value, dict) else None
    if search and got in ("Bundle", rtype):
        return None
    if not search and got == rtype:
        return None
    shown = got if isinstance(got, str) and len(got) <= 40 else type(value).__name__
    return f"a {shown} was given where {'a Bundle of ' + rtype if search else 'a ' + rtype} was expected"


def trusted_base(fhir_server: str | None, settings: Settings, iss: str | None) -> str | None:
    """The configured base URL that `fhirServer` names, or None when it is not trusted."""
    if not fhir_server:
        return None
    wanted = normalize_base_url(fhir_server)
    for base in settings.trusted_fhir_servers(iss):
        if normalize_base_url(base) == wanted:
            return wanted
    return None


class FhirFetcher:
    """GETs from one trusted FHIR base with timeouts, a size cap and bounded pagination."""

    def __init__(self, session: requests.Session, settings: Settings, base: str, access_token: str | None):
        self.session = session
        self.settings = settings
        self.base = base
        self.access_token = access_token

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": FHIR_ACCEPT}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return headers

    def _on_base(self, url: str) -> bool:
        """Next links must stay on the trusted server (no open redirect through pagination)."""
        return url == self.base or url.startswith(self.base + "/") or url.startswith(self.base + "?")

    def get_json(self, url: str) -> Any:
        if not self._on_base(url):
            raise FetchError("link points outside the trusted FHIR server")
        try:
            with self.session.get(
                url,
                headers=self._headers(),
                timeout=(self.settings.fetch_connect_timeout, self.settings.fetch_read_timeout),
                stream=True,
                allow_redirects=False,
            ) as response:
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    raise FetchError(f"FHIR server answered HTTP {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_content(65536):
                    size += len(chunk)
                    if size > self.settings.fetch_max_bytes:
                        raise FetchError(f"response larger than {self.settings.fetch_max_bytes} bytes")
                    chunks.append(chunk)
        except requests.RequestException as exc:
            raise FetchError(f"FHIR request failed: {type(exc).__name__}") from None
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError:
            raise FetchError("FHIR server sent invalid JSON") from None

    def get(self, relative: str) -> Any:
        return self.get_json(urljoin(self.base + "/", relative.lstrip("/")))

    def follow_pages(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Append the entries of `next` pages (up to fetch_max_pages in all) to the first page."""
        pages = 1
        merged = dict(bundle)
        entries = list(bundle.get("entry") or [])
        current = bundle
        while pages < self.settings.fetch_max_pages:
            next_url = next(
                (l.get("url") for l in current.get("link") or [] if isinstance(l, dict) and l.get("relation") == "next"),
                None,
            )
            if not next_url:
                break
            page = self.get_json(next_url)
            if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
                raise FetchError("next page is not a Bundle")
            entries.extend(page.get("entry") or [])
            current = page
            pages += 1
        else:
            if any(isinstance(l, dict) and l.get("relation") == "next" for l in current.get("link") or []):
                merged["_truncated"] = True
        merged["entry"] = entries
        merged["link"] = [l for l in bundle.get("link") or [] if isinstance(l, dict) and l.get("relation") != "next"]
        return merged


def _has_next(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("resourceType") == "Bundle"
        and any(isinstance(l, dict) and l.get("relation") == "next" for l in value.get("link") or [])
    )


def resolve_prefetch(
    service: ServiceDescriptor,
    request: HookRequest,
    settings: Settings,
    session: requests.Session,
    iss: str | None,
) -> PrefetchResult:
    result = PrefetchResult()
    sent = request.prefetch or {}
    base = trusted_base(request.fhir_server, settings, iss)
    fetcher = FhirFetcher(session, settings, base, request.access_token) if base else None
    if request.fhir_server and not base:
        log.warning("fhirServer is not trusted for this issuer; no outbound request will be made")

    for key in service.prefetch:
        outcome = _resolve_key(key, sent, request, fetcher, result)
        log.info("prefetch key=%s outcome=%s", key.key, outcome)

    required_missing = [k.key for k in service.prefetch if k.failure == "412" and k.key in result.missing]
    if required_missing:
        reasons = "; ".join(f"{k}: {result.notes.get(k, 'unavailable')}" for k in required_missing)
        raise PreconditionFailed(
            f"service {service.id} cannot run without prefetch {', '.join(required_missing)} ({reasons}); "
            "send it as prefetch, or send fhirServer + fhirAuthorization for a FHIR server this service trusts",
            expression=[f"prefetch.{k}" for k in required_missing],
        )
    return result


def _resolve_key(
    key: PrefetchKey,
    sent: Mapping[str, Any],
    request: HookRequest,
    fetcher: FhirFetcher | None,
    result: PrefetchResult,
) -> str:
    name = key.key
    if name in sent:
        value = sent[name]
        if value is None:
            result.data[name] = None
            if key.failure == "412":  # "no data" for something we cannot do without
                result.missing.add(name)
                result.notes[name] = "the EHR sent null (no data)"
            return "sent-null"
        if is_operation_outcome(value):
            result.missing.add(name)
            result.notes[name] = "the EHR reported an error retrieving it (OperationOutcome)"
            return "sent-operation-outcome"
        if (why := wrong_type(key, value)) is not None:
            result.missing.add(name)
            result.notes[name] = f"the EHR sent unusable data ({why})"
            return "sent-wrong-type"
        if _has_next(value) and fetcher is not None:
            try:
                value = fetcher.follow_pages(value)
            except FetchError as exc:
                result.notes[name] = f"only the first page could be read ({exc})"
                value = dict(value, _truncated=True)
        elif _has_next(value):
            value = dict(value, _truncated=True)
            result.notes[name] = "only the first page was sent and the FHIR server is not trusted"
        result.data[name] = value
        return "sent"
    if fetcher is None:
        result.missing.add(name)
        result.notes[name] = "not sent as prefetch and no trusted fhirServer to fetch it from"
        return "absent-no-trusted-server"
    relative = fill_template(key.template, request)
    if relative is None:
        result.missing.add(name)
        result.notes[name] = "its template token could not be filled from the context"
        return "absent-token-unfilled"
    try:
        value = fetcher.get(relative)
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            value = fetcher.follow_pages(value)
        if is_operation_outcome(value):
            raise FetchError("FHIR server returned an OperationOutcome")
        if (why := wrong_type(key, value)) is not None:
            raise FetchError(f"FHIR server sent unusable data ({why})")
    except FetchError as exc:
        result.missing.add(name)
        result.notes[name] = str(exc)
        return "fetch-failed"
    result.data[name] = value
    result.fetched.add(name)
    return "fetched"


def host_of(url: str) -> str:
    return urlsplit(url).netloc


# -- Medications referenced by draft orders ---------------------------------------------------

MAX_MEDICATION_FETCHES = 10  # distinct Medication/{id} reads per request, on top of the prefetch


def _bundle_resources(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        return []
    if value.get("resourceType") != "Bundle":
        return [value]
    raw = value.get("entry") or []
    raw = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(raw, list):
        return []  # a malformed `entry` (a number, a string) is the context reader's data problem, not ours
    return [e["resource"] for e in raw if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)]


def unresolved_medication_refs(draft_orders: Any, prefetch: Mapping[str, Any]) -> list[str]:
    """'Medication/x' that draft orders reference and neither the drafts nor any prefetch carry."""
    drafts = _bundle_resources(draft_orders)
    if not any(isinstance(order.get("medicationReference"), Mapping) for order in drafts):
        return []  # the common case: nothing referenced, so the whole prefetch need not be scanned
    had = {f"Medication/{r.get('id')}" for v in [draft_orders, *prefetch.values()] for r in _bundle_resources(v)
           if r.get("resourceType") == "Medication"}
    wanted: list[str] = []
    for order in drafts:
        reference = order.get("medicationReference")
        target = reference.get("reference") if isinstance(reference, Mapping) else None
        if not isinstance(target, str) or target.startswith("#"):
            continue
        parts = target.rstrip("/").split("/")
        if len(parts) < 2 or parts[-2] != "Medication" or not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", parts[-1]):
            continue
        key = f"Medication/{parts[-1]}"
        if key not in had and key not in wanted:
            wanted.append(key)
    return wanted


def fetch_medications(request: HookRequest, prefetch: Mapping[str, Any], settings: Settings,
                      session: requests.Session, iss: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Read each unresolved Medication/{id} from the trusted fhirServer: (resources, why-not per ref).

    Only a server the configuration trusts for this issuer is asked (as for prefetch), at most
    MAX_MEDICATION_FETCHES reads; a failure is a note, never an exception, and the order that needed
    it gets a missing-data card. Logs name the outcome only, never the reference or URL.
    """
    wanted = unresolved_medication_refs(request.draft_orders, prefetch)
    found: dict[str, Any] = {}
    notes: dict[str, str] = {}
    if not wanted:
        return found, notes
    base = trusted_base(request.fhir_server, settings, iss)
    if base is None:
        return found, {ref: "not sent and no trusted fhirServer to read it from" for ref in wanted}
    fetcher = FhirFetcher(session, settings, base, request.access_token)
    for i, ref in enumerate(wanted):
        if i >= MAX_MEDICATION_FETCHES:
            notes[ref] = f"more than {MAX_MEDICATION_FETCHES} referenced Medications; not read"
            continue
        try:
            value = fetcher.get(ref)
        except FetchError as exc:
            notes[ref] = str(exc)
            log.info("medication fetch outcome=failed")
            continue
        if isinstance(value, Mapping) and value.get("resourceType") == "Medication" and f"Medication/{value.get('id')}" == ref:
            found[ref] = value
            log.info("medication fetch outcome=fetched")
        else:
            notes[ref] = "the FHIR server did not return that Medication"
            log.info("medication fetch outcome=not-found")
    return found, notes
