"""Protection of the employee's forms against cross-site request forgery.

Synchronizer token pattern (OWASP CSRF Prevention Cheat Sheet): each session
holds a random token, every form sends it back in a hidden field, and a POST
without the same token is refused before it changes anything. Signing in
clears the session and so issues a fresh token.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import Flask, abort, request, session

logger = logging.getLogger(__name__)

SESSION_KEY = "csrf_token"
FIELD = "csrf_token"


def init_app(app: Flask) -> None:
    """Make ``csrf_token()`` available to templates."""
    app.jinja_env.globals["csrf_token"] = csrf_token


def csrf_token() -> str:
    """The session's token, made on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def check_csrf() -> None:
    """Refuse the current form with 400 unless it carries the session's token."""
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        logger.warning("form refused: missing or wrong CSRF token")
        abort(400, "The form has expired. Reload the page and try again.")
