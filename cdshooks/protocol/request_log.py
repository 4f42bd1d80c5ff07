"""One log line per CDS request, and the log format (CDSHOOKS_LOG_FORMAT=json|text).

An operator running many instances queries these lines (which hook, which service, status,
latency, which prefetch keys we fetched or could not get, cards by topic and indicator, why a JWT
was refused) instead of reading free text. The record is built from facts the route already has;
by construction it holds no token, no patient id and no name: only ids we or the EHR minted for the
call (hookInstance), service ids, prefetch key names, counts and our own reason strings.

``json``: every line the process writes (ours and gunicorn's) is one JSON object.
``text``: the classic ``time level logger: message`` line, the request record as key=value pairs.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Mapping

import orjson
from flask import Flask, Response, g, request

from ..errors import ConfigError

log = logging.getLogger("cdshooks.request")
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_PATHS = frozenset({"/health", "/health/live", "/metrics"})  # balancer checks would drown the rest
MAX_REASON_CHARS = 200


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, plus a request record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": _utc(record.created), "level": record.levelname, "logger": record.name}
        fields = getattr(record, "cds", None)
        line["message"] = record.getMessage()
        if isinstance(fields, Mapping):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "cds", None)
        if isinstance(fields, Mapping):
            pairs = (f"{k}={orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v}" for k, v in fields.items())
            text += " " + " ".join(pairs)
        return text


def log_format(env: Mapping[str, str] | None = None) -> str:
    value = ((os.environ if env is None else env).get("CDSHOOKS_LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"CDSHOOKS_LOG_FORMAT must be 'json' or 'text', got {value!r}")
    return value


def formatter_for(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(fmt: str, level: str = "INFO") -> None:
    """Root logger to stderr in the chosen format (replaces any earlier handler)."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter_for(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def gunicorn_logconfig(fmt: str) -> dict[str, Any] | None:
    """gunicorn's own lines (boot, worker exits) in JSON too; None keeps gunicorn's defaults."""
    if fmt != "json":
        return None
    json_handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "root": {"level": logging.getLevelName(logging.getLogger().level), "handlers": ["json"]},
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False}},
        "handlers": {"json": json_handler},
        "formatters": {"json": {"()": JsonFormatter}},
    }


# -- the per-request record ----------------------------------------------------------------------
def note(**fields: Any) -> None:
    """Add facts to this request's log record (routes and error handlers call it)."""
    record = g.get("cds_log")
    if record is not None:
        record.update({k: v for k, v in fields.items() if v is not None})


def note_cards(cards: list[dict[str, Any]]) -> None:
    topics = Counter(str((c.get("source") or {}).get("topic", {}).get("code", "(none)")) for c in cards)
    indicators = Counter(str(c.get("indicator", "(none)")) for c in cards)
    note(cards={"count": len(cards), "byTopic": dict(sorted(topics.items())), "byIndicator": dict(sorted(indicators.items()))})


def note_prefetch(fetched: set[str], failed: set[str]) -> None:
    note(prefetch={"fetched": sorted(fetched), "failed": sorted(failed)})


def note_jwt_reject(reason: str) -> None:
    note(jwtReject=reason[:MAX_REASON_CHARS])


def _begin() -> None:
    if request.path not in QUIET_PATHS:
        g.cds_log = {"started": time.perf_counter()}


def _emit(response: Response) -> Response:
    record = g.pop("cds_log", None)
    if record is None:
        return response
    started = record.pop("started")
    fields = {
        "event": "request",
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule is not None else "(no route)",
        "status": response.status_code,
        "latencyMs": round((time.perf_counter() - started) * 1000, 1),
        **record,
    }
    log.info("request", extra={"cds": fields})
    return response


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_emit)
