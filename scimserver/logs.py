"""Structured logging: one JSON object per line, tagged with the request's id.

Each request gets an id, taken from a well-formed incoming ``X-Request-Id`` or
generated, and echoed in the response's ``X-Request-Id``. Log lines name the
method, path, status and client; never a token, a query string or an attribute
value. Under gunicorn (``deploy/gunicorn.conf.py``) :class:`JsonFormatter` also
formats gunicorn's access and error logs.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Secrets that can appear in a URL path (consent tokens), masked in every line.
PATH_SECRET = re.compile(r"ctk-[A-Za-z0-9_-]+")
#: WSGI environ keys through which gunicorn's access log learns about a request.
ENVIRON_REQUEST_ID = "scimserver.request_id"
ENVIRON_CLIENT = "scimserver.client"
ACCESS_LOGGER = "gunicorn.access"

#: gunicorn access-log atoms written to each access line, by field name.
ACCESS_ATOMS = {
    "method": "m",
    "path": "U",
    "status": "s",
    "bytes": "B",
    "duration_ms": "M",
    "remote_addr": "h",
    "user_agent": "a",
    "request_id": "{x-request-id}o",
    "client": f"{{{ENVIRON_CLIENT}}}e",
}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, context.

    Structured fields are passed as ``extra={"fields": {...}}``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the JSON line for ``record``."""
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
        }
        atoms = _access_atoms(record)
        if atoms is None:
            entry["message"] = record.getMessage()
            entry.update(_request_context())
            if hasattr(record, "request_id"):
                entry["request_id"] = record.request_id
            entry.update(getattr(record, "fields", None) or {})
        else:
            entry.update(_access_fields(atoms))
            entry["message"] = "{method} {path} {status}".format(**entry)

        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RequestContextFilter(logging.Filter):
    """Stamp each record with the id of the request being served, if any.

    Attach it to handlers: it runs in the logging thread, before a record is
    queued or formatted elsewhere.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``request_id`` to ``record``; never drop a record."""
        if not hasattr(record, "request_id"):
            record.__dict__.update(_request_context())
        return True


def init_app(app: Flask) -> None:
    """Configure the ``scimserver`` loggers and tag each request with an id."""
    package_logger = logging.getLogger("scimserver")
    package_logger.setLevel(app.config["SETTINGS"].log_level)
    if not logging.getLogger().handlers and not package_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestContextFilter())
        package_logger.addHandler(handler)

    app.before_request(_start_request)
    app.after_request(_finish_request)


def request_id_from(header: str | None) -> str:
    """Return ``header`` when it is a well-formed request id, else a new id."""
    if header is not None and REQUEST_ID_PATTERN.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _start_request() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    g.started = time.perf_counter()
    request.environ[ENVIRON_REQUEST_ID] = g.request_id


def _finish_request(response: Response) -> Response:
    """Echo the request id and log the request (gunicorn logs it at INFO)."""
    client = g.get("client")
    client_name = client.name if client is not None else "-"
    request.environ[ENVIRON_CLIENT] = client_name
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")

    elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    path = safe_path(request.path)
    logger.debug(
        "%s %s %s",
        request.method,
        path,
        response.status_code,
        extra={
            "fields": {
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": round(elapsed_ms, 1),
                "client": client_name,
            }
        },
    )
    return response


def _request_context() -> dict[str, str]:
    if not has_request_context() or "request_id" not in g:
        return {}
    return {"request_id": g.request_id}


def _access_atoms(record: logging.LogRecord) -> Mapping[str, Any] | None:
    """Return gunicorn's access-log atoms when ``record`` is an access line."""
    if record.name != ACCESS_LOGGER or not isinstance(record.args, Mapping):
        return None
    return record.args


def _access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """Pick the safe atoms: no query string, no request header but the id."""
    fields = {name: atoms.get(atom, "-") for name, atom in ACCESS_ATOMS.items()}
    fields["path"] = safe_path(str(fields["path"]))
    status = str(fields["status"])
    fields["status"] = int(status) if status.isdigit() else status
    return fields


def safe_path(path: str) -> str:
    """The URL path with any consent token replaced by ``ctk-***``."""
    return PATH_SECRET.sub("ctk-***", path)


def _timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
