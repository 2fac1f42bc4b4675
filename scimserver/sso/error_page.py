"""Errors of the employee's pages as HTML pages, not SCIM JSON bodies.

The application answers API errors with SCIM error bodies (RFC 7644 §3.12); a
person in a browser gets the same status with a short page saying what went
wrong, and never a stack trace.
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from scimserver.scim.errors import ScimError

logger = logging.getLogger(__name__)


def register(blueprint: Blueprint) -> None:
    """Render the errors raised in ``blueprint``'s views as HTML pages."""
    blueprint.register_error_handler(HTTPException, _http_error)
    blueprint.register_error_handler(ScimError, _scim_error)


def error_page(status: int, message: str) -> Response:
    """A page with ``status`` that says ``message``."""
    page = render_template("employee/error.html", status=status, message=message)
    return Response(page, status=status, mimetype="text/html")


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    return error_page(status, error.description or "")


def _scim_error(error: ScimError) -> Response:
    logger.info("page refused status=%s", error.status)
    return error_page(int(error.status), error.detail)
