"""The exception tree, one translator, stable codes.

    CdsError                      every error we raise on purpose; carries .code (ALLCDS-nnnn) and .status
    ├── ProtocolError             the request is wrong: 4xx with a FHIR OperationOutcome naming the problem
    │   ├── MalformedJson         400  body is not JSON / not an object
    │   ├── UnsupportedMediaType  415  Content-Type is not application/json
    │   ├── PayloadTooLarge       413  body over CDSHOOKS_MAX_BODY_BYTES
    │   ├── EnvelopeInvalid       400  CDS Hooks envelope fails its JSON Schema
    │   ├── HookMismatch          400  body.hook is not the service's hook
    │   ├── UnknownService        404  no such service id
    │   └── MethodNotAllowed      405
    ├── Unauthorized              401  JWT missing/invalid; the body never says why (the log does)
    ├── PreconditionFailed        412  data the service cannot do without could not be had
    ├── StoreUnavailable          503  the store cannot write/read (file gone, read-only, database down)
    └── ConfigError / KnowledgeError   refuse to start, with a one-line reason

Data gaps (no weight, stale labs) are *not* exceptions: they become `missing-data` findings.
Codes are unique; tests/test_errors.py checks that.
"""

from __future__ import annotations

from typing import Any


class CdsError(Exception):
    code = "ALLCDS-0000"
    status = 500
    issue_code = "exception"  # FHIR IssueType

    def __init__(self, message: str = "", *, expression: list[str] | None = None):
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.__class__.__name__
        self.expression = expression

    def to_operation_outcome(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": "error",
            "code": self.issue_code,
            "details": {
                "coding": [{"system": "urn:all-cds:error", "code": self.code}],
                "text": self.message,
            },
            "diagnostics": f"{self.code}: {self.message}",
        }
        if self.expression:
            issue["expression"] = self.expression
        return {"resourceType": "OperationOutcome", "issue": [issue]}


class ProtocolError(CdsError):
    code = "ALLCDS-1000"
    status = 400
    issue_code = "invalid"


class MalformedJson(ProtocolError):
    code = "ALLCDS-1001"
    issue_code = "structure"


class UnsupportedMediaType(ProtocolError):
    code = "ALLCDS-1002"
    status = 415
    issue_code = "not-supported"


class PayloadTooLarge(ProtocolError):
    code = "ALLCDS-1003"
    status = 413
    issue_code = "too-costly"


class EnvelopeInvalid(ProtocolError):
    code = "ALLCDS-1004"
    issue_code = "invalid"


class HookMismatch(ProtocolError):
    code = "ALLCDS-1005"
    issue_code = "business-rule"


class UnknownService(ProtocolError):
    code = "ALLCDS-1006"
    status = 404
    issue_code = "not-found"


class MethodNotAllowed(ProtocolError):
    code = "ALLCDS-1007"
    status = 405
    issue_code = "not-supported"


class NotFound(ProtocolError):
    code = "ALLCDS-1008"
    status = 404
    issue_code = "not-found"


class Unauthorized(CdsError):
    """401. The message is for the log only; the response body carries no detail."""

    code = "ALLCDS-2001"
    status = 401
    issue_code = "login"


class PreconditionFailed(CdsError):
    code = "ALLCDS-3001"
    status = 412
    issue_code = "not-found"


class StoreUnavailable(CdsError):
    """503: the store cannot keep (or read) what this request needs; nothing was kept, retry later.
    Never a 200 for data that was not stored (issue 11)."""

    code = "ALLCDS-4001"
    status = 503
    issue_code = "transient"


class ConfigError(CdsError):
    code = "ALLCDS-9001"


class KnowledgeError(CdsError):
    code = "ALLCDS-9002"


def all_error_classes() -> list[type[CdsError]]:
    seen: list[type[CdsError]] = []
    stack: list[type[CdsError]] = [CdsError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
