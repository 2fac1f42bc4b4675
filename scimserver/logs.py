"""Logging set-up: one line per request, with the request's context as fields."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, g, request

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def init_app(app: Flask) -> None:
    """Configure the ``scimserver`` loggers and log each request once."""
    package_logger = logging.getLogger("scimserver")
    package_logger.setLevel(app.config["SETTINGS"].log_level)
    if not logging.getLogger().handlers and not package_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        package_logger.addHandler(handler)

    app.before_request(_start_request)
    app.after_request(_log_request)


def _start_request() -> None:
    g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    g.started = time.perf_counter()


def _log_request(response: Response) -> Response:
    elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    client = g.get("client")
    logger.info(
        "request method=%s path=%s status=%s ms=%.1f client=%s request_id=%s",
        request.method,
        request.path,
        response.status_code,
        elapsed_ms,
        client.name if client is not None else "-",
        g.get("request_id", "-"),
    )
    response.headers["X-Request-Id"] = g.get("request_id", "")
    return response
