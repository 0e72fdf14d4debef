"""Server logs: one JSON object per line (or plain text), every message masked, and every
line written while a request is handled carrying that request's id.

`log_config` is handed to uvicorn (`uvicorn.run(log_config=...)`), so uvicorn's own lines and
those of every worker process go through the same handler, filters and format.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any

from classifier.redact import mask
from classifier.settings import Settings

# The id of the request being handled; asyncio copies it into each request's task and
# Starlette's thread pool into the threads that run sync routes.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Set on a record (in `extra`) whose message and path are masked already.
MASKED = "masked"
# What the access line of each request adds to the JSON object.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client")


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was written for (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class MaskFilter(logging.Filter):
    """Masks personal data in the message, the path and any traceback, whatever
    `mask_stored_text` says: logs are copied, shipped and kept where nobody checks. A record
    whose writer masked it already says so with the MASKED attribute."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, MASKED, False):
            return True
        record.msg, record.args = mask(record.getMessage()), None
        path = getattr(record, "path", None)
        if isinstance(path, str):
            record.path = mask(path)
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(_PLAIN.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


_PLAIN = logging.Formatter()


def _utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created * 1000) % 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, the access
    fields when present, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for field in ACCESS_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message`, for a person reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request = getattr(record, "request_id", None) or "-"
        return super().format(record)


def log_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server: one stderr handler on the root logger
    that uvicorn's loggers propagate to. Uvicorn's access log stays off: the request-id
    middleware writes one access line per request, with its id and duration."""
    level = settings.log_level.upper()
    formatter = "JsonFormatter" if settings.log_format == "json" else "TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "classifier.logs.RequestIdFilter"},
            "mask": {"()": "classifier.logs.MaskFilter"},
        },
        "formatters": {"server": {"()": f"classifier.logs.{formatter}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "server",
                "filters": ["request_id", "mask"],
            }
        },
        "loggers": {
            name: {"handlers": [], "level": level, "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
        "root": {"handlers": ["stderr"], "level": level},
    }
