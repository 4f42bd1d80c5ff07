"""Prefetch resolution: what the client sent, what we fetch ourselves, and what we do without.

For each key the service declares (fetch.hook.PrefetchKey, declared in services.descriptor):

    sent, a resource or Bundle   -> use it (follow Bundle `next` links from a trusted server)
    sent as null                 -> "no data": use None, do not re-query (spec)
    sent as an OperationOutcome  -> the client could not get it: treat as unobtainable, no re-query
    absent                       -> GET {fhirServer}/{template} with the bearer token from
                                    fhirAuthorization, ONLY if fhirServer is a base URL the
                                    configuration trusts for this issuer; else unobtainable

Unobtainable + failure "412" -> PreconditionFailed (the route answers 412 + OperationOutcome).
Unobtainable + failure "missing-data" -> listed in `missing`, the checks that need it say so.

Unobtainable includes: any non-2xx answer (a 404 on a read is not "no data"), a redirect (never
followed), a resource of the wrong type, an answer not complete within the request's ONE fetch
deadline (CDSHOOKS_FETCH_DEADLINE_SECONDS, all keys fetched concurrently on a small pool), and a
Bundle whose later pages could not be read (its first pages are kept, and it is listed as missing
so no check claims that something is absent).

Logging names the prefetch key and the outcome only: never the URL (it holds the patient id),
the token, or the resource.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import orjson
import requests

from ..config import Settings, normalize_base_url
from ..errors import PreconditionFailed
from ..gate import GATE
from .hook import HookRequest, PrefetchKey

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
    deadline: "Deadline | None" = None  # the request's one fetch deadline (later fetches share it)
    budget: "ByteBudget | None" = None


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


class Deadline:
    """One wall-clock budget for all fallback fetching of a request (CDSHOOKS_FETCH_DEADLINE_SECONDS).

    Per-socket timeouts alone let a server that drips a byte every few seconds hold a request
    for ever; every fetch checks this deadline before it starts and after every chunk, and the
    request stops waiting for its fetches when it passes."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return self._end - self._clock()

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0

    @property
    def message(self) -> str:
        return f"not received within the {self.seconds:g} s fetch deadline"


class ByteBudget:
    """Total bytes all fetches of one request may read (CDSHOOKS_FETCH_MAX_TOTAL_BYTES); thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        with self._lock:
            self.used += n
            if self.used > self.limit:
                raise FetchError(f"FHIR responses for this request exceed {self.limit} bytes in all")


class FhirFetcher:
    """GETs from one trusted FHIR base under the request's deadline and byte budget, with bounded,
    loop-free pagination. Every failure is a FetchError whose message is safe to log."""

    def __init__(self, session: requests.Session, settings: Settings, base: str, access_token: str | None,
                 *, deadline: Deadline | None = None, budget: ByteBudget | None = None):
        self.session = session
        self.settings = settings
        self.base = base
        self.access_token = access_token
        self.deadline = deadline or Deadline(settings.fetch_deadline_seconds)
        self.budget = budget or ByteBudget(settings.fetch_max_total_bytes)

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
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise FetchError(self.deadline.message)
        # No single socket wait may outlast the deadline; the chunk loop checks it between reads.
        timeout = (min(self.settings.fetch_connect_timeout, remaining), min(self.settings.fetch_read_timeout, remaining))
        chunks: list[bytes] = []
        with GATE.released():  # the network wait lets another call run (gate.py); a no-op on the fetch pool
            try:
                with self.session.get(url, headers=self._headers(), timeout=timeout, stream=True, allow_redirects=False) as response:
                    if not 200 <= response.status_code < 300:
                        # 404 on a read is NOT "no data": the resource could not be had (issue 11)
                        raise FetchError(f"FHIR server answered HTTP {response.status_code}")
                    size = 0
                    for chunk in response.iter_content(16384):
                        if self.deadline.passed:
                            raise FetchError(self.deadline.message)
                        size += len(chunk)
                        if size > self.settings.fetch_max_bytes:
                            raise FetchError(f"response larger than {self.settings.fetch_max_bytes} bytes")
                        self.budget.take(len(chunk))
                        chunks.append(chunk)
            except requests.RequestException as exc:
                if self.deadline.passed:
                    raise FetchError(self.deadline.message) from None
                raise FetchError(f"FHIR request failed: {type(exc).__name__}") from None
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError:
            raise FetchError("FHIR server sent invalid JSON") from None

    def get(self, relative: str) -> Any:
        return self.get_json(urljoin(self.base + "/", relative.lstrip("/")))

    def follow_pages(self, bundle: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """(first page + its `next` pages merged, why it is incomplete or None).

        At most fetch_max_pages pages in all; each `next` URL is fetched once (a server that links
        back to a page it already sent does not get its entries merged twice). A failure after the
        first page keeps what was read and says so."""
        pages = 1
        merged = dict(bundle)
        entries = list(_objects(bundle.get("entry")))
        seen: set[str] = set()
        current = bundle
        incomplete: str | None = None
        while True:
            next_url = _next_link(current)
            if not next_url:
                break
            if pages >= self.settings.fetch_max_pages:
                incomplete = f"more than {self.settings.fetch_max_pages} pages; only those were read"
                break
            if next_url in seen:
                incomplete = "the FHIR server's next links loop; each page was read once"
                log.warning("prefetch next-link loop stopped")
                break
            seen.add(next_url)
            try:
                page = self.get_json(next_url)
            except FetchError as exc:
                incomplete = f"only {pages} page(s) could be read ({exc})"
                break
            if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
                incomplete = f"only {pages} page(s) could be read (next page is not a Bundle)"
                break
            entries.extend(_objects(page.get("entry")))
            current = page
            pages += 1
        if incomplete:
            merged["_truncated"] = True
        merged["entry"] = entries
        merged["link"] = [l for l in _objects(bundle.get("link")) if l.get("relation") != "next"]
        return merged, incomplete


def _objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _next_link(value: Any) -> str | None:
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return None
    return next((l["url"] for l in _objects(value.get("link")) if l.get("relation") == "next" and isinstance(l.get("url"), str) and l["url"]), None)


def _has_next(value: Any) -> bool:
    return _next_link(value) is not None


@dataclass(frozen=True)
class _Outcome:
    """What one key resolved to; applied to the PrefetchResult by the request thread only."""

    label: str
    value: Any = None
    note: str | None = None
    missing: bool = False
    fetched: bool = False


def resolve_prefetch(
    keys: Sequence[PrefetchKey],
    request: HookRequest,
    settings: Settings,
    session: requests.Session,
    iss: str | None,
    *,
    service_id: str,
) -> PrefetchResult:
    deadline = Deadline(settings.fetch_deadline_seconds)
    budget = ByteBudget(settings.fetch_max_total_bytes)
    result = PrefetchResult(deadline=deadline, budget=budget)
    sent = request.prefetch if isinstance(request.prefetch, Mapping) else {}
    base = trusted_base(request.fhir_server, settings, iss)
    fetcher = FhirFetcher(session, settings, base, request.access_token, deadline=deadline, budget=budget) if base else None
    if request.fhir_server and not base:
        log.warning("fhirServer is not trusted for this issuer; no outbound request will be made")

    outcomes: dict[str, _Outcome] = {}
    jobs: dict[str, Callable[[], _Outcome]] = {}
    for key in keys:
        now_or_later = _plan_key(key, sent, request, fetcher)
        if isinstance(now_or_later, _Outcome):
            outcomes[key.key] = now_or_later
        else:
            jobs[key.key] = now_or_later
    if jobs:
        outcomes.update(_run_jobs(jobs, settings, deadline))
    for key in keys:
        outcome = outcomes[key.key]
        _apply(key, outcome, result)
        log.info("prefetch key=%s outcome=%s", key.key, outcome.label)

    required_missing = [k.key for k in keys if k.failure == "412" and k.key in result.missing]
    if required_missing:
        reasons = "; ".join(f"{k}: {result.notes.get(k, 'unavailable')}" for k in required_missing)
        raise PreconditionFailed(
            f"service {service_id} cannot run without prefetch {', '.join(required_missing)} ({reasons}); "
            "send it as prefetch, or send fhirServer + fhirAuthorization for a FHIR server this service trusts",
            expression=[f"prefetch.{k}" for k in required_missing],
        )
    return result


def _run_jobs(jobs: Mapping[str, Callable[[], _Outcome]], settings: Settings, deadline: Deadline) -> dict[str, _Outcome]:
    """Run the fetches concurrently on a small pool; whatever is not back by the deadline is
    unobtainable. Stragglers are abandoned (their own socket timeouts and deadline checks end them)."""
    pool = ThreadPoolExecutor(max_workers=max(1, min(settings.fetch_workers, len(jobs))), thread_name_prefix="cdshooks-fetch")
    try:
        futures = {pool.submit(job): name for name, job in jobs.items()}
        with GATE.released():  # the request thread only waits here: another call runs meanwhile (gate.py)
            done, _ = wait(futures, timeout=max(deadline.remaining(), 0.0))
        out: dict[str, _Outcome] = {}
        for future, name in futures.items():
            if future in done and future.exception() is None:
                out[name] = future.result()
            elif future in done:
                log.error("prefetch key=%s fetch raised %s", name, type(future.exception()).__name__)
                out[name] = _Outcome("fetch-failed", note="the fetch failed unexpectedly", missing=True)
            else:
                out[name] = _Outcome("deadline", note=deadline.message, missing=True)
        return out
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _plan_key(
    key: PrefetchKey,
    sent: Mapping[str, Any],
    request: HookRequest,
    fetcher: FhirFetcher | None,
) -> _Outcome | Callable[[], _Outcome]:
    """The outcome if it is known without the network, else the job that fetches it."""
    name = key.key
    if name in sent:
        value = sent[name]
        if value is None:
            # "no data" is an answer, except for data we cannot do without
            return _Outcome("sent-null", None, "the EHR sent null (no data)", missing=key.failure == "412")
        if is_operation_outcome(value):
            return _Outcome("sent-operation-outcome", note="the EHR reported an error retrieving it (OperationOutcome)", missing=True)
        if (why := wrong_type(key, value)) is not None:
            return _Outcome("sent-wrong-type", note=f"the EHR sent unusable data ({why})", missing=True)
        if not _has_next(value):
            return _Outcome("sent", value)
        if fetcher is None:
            return _Outcome("sent-first-page", dict(value, _truncated=True),
                            "only the first page was sent and the FHIR server is not trusted", missing=True)

        def complete() -> _Outcome:
            merged, incomplete = fetcher.follow_pages(value)  # type: ignore[union-attr]
            return _Outcome("sent-paged", merged, incomplete, missing=incomplete is not None)

        return complete
    if fetcher is None:
        return _Outcome("absent-no-trusted-server", note="not sent as prefetch and no trusted fhirServer to fetch it from", missing=True)
    relative = fill_template(key.template, request)
    if relative is None:
        return _Outcome("absent-token-unfilled", note="its template token could not be filled from the context", missing=True)

    def fetch() -> _Outcome:
        try:
            value = fetcher.get(relative)  # type: ignore[union-attr]
            if is_operation_outcome(value):
                raise FetchError("FHIR server returned an OperationOutcome")
            if (why := wrong_type(key, value)) is not None:
                raise FetchError(f"FHIR server sent unusable data ({why})")
        except FetchError as exc:
            return _Outcome("fetch-failed", note=str(exc), missing=True)
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            value, incomplete = fetcher.follow_pages(value)  # type: ignore[union-attr]
            return _Outcome("fetched", value, incomplete, missing=incomplete is not None, fetched=True)
        return _Outcome("fetched", value, fetched=True)

    return fetch


def _apply(key: PrefetchKey, outcome: _Outcome, result: PrefetchResult) -> None:
    """A key with data keeps it even when incomplete (first pages are real data); `missing` then
    also lists it, so the checks that would claim absence know they may not (issue 11)."""
    if outcome.value is not None or outcome.label in ("sent-null",):
        result.data[key.key] = outcome.value
    if outcome.missing:
        result.missing.add(key.key)
    if outcome.note:
        result.notes[key.key] = outcome.note
    if outcome.fetched:
        result.fetched.add(key.key)


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
                      session: requests.Session, iss: str | None, *, deadline: Deadline | None = None,
                      budget: ByteBudget | None = None) -> tuple[dict[str, Any], dict[str, str]]:
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
    # the same deadline and byte budget as the prefetch of this request (one deadline per request)
    fetcher = FhirFetcher(session, settings, base, request.access_token, deadline=deadline, budget=budget)
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
