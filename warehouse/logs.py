"""The log format: one line per record, plain text or JSON (``LOG_FORMAT``), each with the
request id, user id and Site code when known, and with secrets redacted.

The context comes from ``contextvars`` set by ``warehouse.requests.RequestIdMiddleware`` in
the web process and by the tasks a request queued in the workers (``xero.tasks``), so one
request can be followed across processes. Nothing here imports a model: the logging
configuration loads this module before the apps.
"""

import contextvars
import datetime
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
site_code: contextvars.ContextVar[str] = contextvars.ContextVar("site_code", default="")

# What gunicorn's access log line carries (gunicorn.conf.py's access_log_format), by atom.
ACCESS_ATOMS = {
    "remote": "h",
    "method": "m",
    "path": "U",
    "status": "s",
    "bytes": "B",
    "duration_ms": "M",
    "request_id": "{x-request-id}o",
}

REDACTED = "[redacted]"
# A name that says secret, by the rule of error reports (warehouse/reporting.py), then what
# follows it as a value: `secret=…`, `"access_token": "…"`, `password: …`.
_HIDDEN_NAME = (
    r"[\w-]*(?:token|secret|password|passwd|api_?key|signature|private|verifier|"
    r"authorization|cookie|sessionid|csrftoken|code_verifier|refresh|assertion)[\w-]*"
)
_NAMED_VALUE = re.compile(
    rf"""(?P<name>["']?{_HIDDEN_NAME}["']?\s*[:=]\s*)(?P<quote>["']?)(?P<value>[^"'\s,;&}}]+)""",
    flags=re.IGNORECASE,
)
# Values that are secrets whatever their name: bearer tokens, Fernet tokens, JWTs, PEM keys.
_BEARER = re.compile(r"(?P<scheme>\b(?:Bearer|Basic|OAuth)\s+)[^\s,;\"']+", flags=re.IGNORECASE)
_SHAPES = re.compile(
    r"gAAAAA[\w-]{20,}=*"
    r"|eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    flags=re.DOTALL,
)


def redact(text: str) -> str:
    """``text`` with every value that looks secret replaced by ``[redacted]``."""
    text = _SHAPES.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group("scheme") + REDACTED, text)
    return _NAMED_VALUE.sub(lambda m: m.group("name") + m.group("quote") + REDACTED, text)


@contextmanager
def log_context(*, request: str = "", user: int | None = None, site: str = "") -> Iterator[None]:
    """Within this block, every record carries these (a task run for a request, say)."""
    request_token = request_id.set(request or request_id.get())
    user_token = user_id.set(user if user is not None else user_id.get())
    site_token = site_code.set(site or site_code.get())
    try:
        yield
    finally:
        site_code.reset(site_token)
        user_id.reset(user_token)
        request_id.reset(request_token)


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``user_id`` and ``site_code`` to every record, and for gunicorn's
    access lines the request's own fields (the context is gone by the time gunicorn logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "site_code"):
            # Another handler's filter saw this record first (and may have redacted it).
            return True
        record.request_id = request_id.get() or None
        record.user_id = user_id.get()
        record.site_code = site_code.get() or None
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            atoms = record.args
            record.access = {
                field: atoms.get(atom) for field, atom in ACCESS_ATOMS.items() if atom in atoms
            }
            record.request_id = _atom(atoms.get(ACCESS_ATOMS["request_id"]))
            duration = _atom(atoms.get(ACCESS_ATOMS["duration_ms"]))
            if duration is not None and duration.isdigit():
                record.duration_ms = int(duration)
        return True


def _atom(value: object) -> str | None:
    # gunicorn writes a missing header or value as "-".
    return None if value in (None, "", "-") else str(value)


class RedactingFilter(logging.Filter):
    """Replaces secret-looking values in the formatted message (and the traceback) before
    any formatter sees them: the text and the JSON output alike."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class TextFormatter(logging.Formatter):
    """``2026-12-04T03:00:00.123Z INFO xero.client [request 3f…] message``."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{name}={value}"
            for name, value in (
                ("request_id", getattr(record, "request_id", None)),
                ("user_id", getattr(record, "user_id", None)),
                ("site", getattr(record, "site_code", None)),
            )
            if value is not None
        )
        line = f"{_timestamp(record)} {record.levelname} {record.name} {record.getMessage()}"
        if context and record.name != "gunicorn.access":
            line += f" [{context}]"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, user_id, site,
    duration_ms (when known) and the exception's traceback, already redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
            "site": getattr(record, "site_code", None),
        }
        if getattr(record, "duration_ms", None) is not None:
            entry["duration_ms"] = getattr(record, "duration_ms")  # noqa: B009 -- set by a filter
        if getattr(record, "access", None):
            entry["http"] = getattr(record, "access")  # noqa: B009
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def _timestamp(record: logging.LogRecord) -> str:
    when = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` dict of the settings (and gunicorn's, with its loggers added)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # Context first, so the redaction sees the final message.
        "filters": {
            "context": {"()": "warehouse.logs.ContextFilter"},
            "redact": {"()": "warehouse.logs.RedactingFilter"},
        },
        "formatters": {
            "text": {"()": "warehouse.logs.TextFormatter"},
            "json": {"()": "warehouse.logs.JSONFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context", "redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # At DEBUG these print signature base strings, tokens and response bodies.
            "oauthlib": {"level": "WARNING"},
            "requests_oauthlib": {"level": "WARNING"},
            "urllib3": {"level": "WARNING"},
            # django-axes logs every sign-in at INFO; its warnings (failures, lockouts) stay.
            "axes": {"level": "WARNING"},
        },
    }


def gunicorn_logging(*, log_format: str, level: str) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its error and access lines through the same handler."""
    config = logging_config(log_format=log_format, level=level)
    for name in ("gunicorn.error", "gunicorn.access"):
        config["loggers"][name] = {"handlers": ["console"], "level": "INFO", "propagate": False}
    return config
