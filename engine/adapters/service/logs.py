"""Structured logs: every line one JSON object (the access log, reloads, uvicorn's own lines)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

ACCESS = logging.getLogger("ticket_policy.access")
EVENTS = logging.getLogger("ticket_policy.service")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, pid, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "pid": record.process,
               "message": record.getMessage()}
        fields = getattr(record, "fields", None)
        if fields:
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def log(logger: logging.Logger, message: str, level: int = logging.INFO, **fields) -> None:
    """Log `message` with structured `fields` (rendered as JSON keys by JsonFormatter)."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"fields": fields})


#: The logging configuration of `ticket-policy serve` (uvicorn applies it in every worker).
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "engine.adapters.service.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                            "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "ticket_policy": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
