"""SCIM responses: JSON bodies, the content type, and every error as a SCIM error."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from scimserver.db import rollback_session
from scimserver.scim import errors

logger = logging.getLogger(__name__)

SCIM_MEDIA_TYPE = "application/scim+json"
ACCEPTED_BODY_TYPES = ("application/scim+json", "application/json")

_HTTP_ERRORS: dict[int, type[errors.ScimError]] = {
    400: errors.InvalidSyntax,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
}


def scim_response(
    body: dict[str, Any] | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Return ``body`` as ``application/scim+json``."""
    text = "" if body is None else json.dumps(body, ensure_ascii=False)
    response = Response(text, status=status, mimetype=SCIM_MEDIA_TYPE)
    response.headers.update(headers or {})
    return response


def error_response(error: errors.ScimError) -> Response:
    """Turn a :class:`ScimError` into its RFC 7644 §3.12 response.

    A failed request applies nothing: its pending changes are rolled back first.
    """
    rollback_session()
    response = scim_response(error.to_body(), status=error.status)
    if isinstance(error, errors.Unauthorized):
        response.headers["WWW-Authenticate"] = 'Bearer realm="scimserver"'
    if isinstance(error, errors.Forbidden):
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="scimserver", error="insufficient_scope"'
        )
    return response


def read_json_body() -> dict[str, Any]:
    """Return the request body as a JSON object, or raise the matching SCIM error."""
    mimetype = request.mimetype
    if mimetype not in ACCEPTED_BODY_TYPES:
        raise errors.UnsupportedMediaType(
            f"Send the body as {SCIM_MEDIA_TYPE} (got '{mimetype or 'none'}')."
        )

    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise errors.InvalidSyntax(f"The body is not valid JSON: {error}.") from None

    if not isinstance(body, dict):
        raise errors.InvalidSyntax("The body must be a JSON object.")
    return body


def init_app(app: Flask) -> None:
    """Register the error handlers that make every error a SCIM error body."""
    app.register_error_handler(errors.ScimError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    error_class = _HTTP_ERRORS.get(status, errors.ScimError)
    scim_error = error_class(_http_error_detail(status, error))
    scim_error.status = status
    response = error_response(scim_error)
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def _http_error_detail(status: int, error: HTTPException) -> str:
    if status == 404:
        return f"No resource or endpoint at {request.path}."
    if status == 405:
        return f"{request.method} is not allowed on {request.path}."
    if status == 413:
        return "The request body is larger than this server accepts."
    return error.description or "The request could not be handled."


def _unexpected_error(error: Exception) -> Response:
    logger.error(
        "unexpected failure on %s %s", request.method, request.path, exc_info=error
    )
    return error_response(
        errors.InternalError("The server failed to handle the request; it was logged.")
    )
