"""The few pages the OpenID Provider shows an employee: errors and logout.

Plain server-rendered HTML, readable without JavaScript or styles; every value
is escaped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Response
from markupsafe import Markup

logger = logging.getLogger(__name__)

_PAGE = Markup(
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title}</title></head>\n<body><main>\n<h1>{title}</h1>\n{body}\n"
    "</main></body></html>\n"
)


def page(title: str, body: Markup, status: int = 200) -> Response:
    """An HTML page that no cache keeps."""
    html = _PAGE.format(title=title, body=body)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(status: int, message: str) -> Response:
    """A page saying what went wrong, in the words of the error."""
    body = Markup("<p>{message}</p>").format(message=message)
    return page("Sign-in not possible", body, status)


def confirm_logout_page(fields: Mapping[str, str]) -> Response:
    """Ask before ending the session (RP-Initiated Logout 1.0 §6)."""
    hidden = Markup("").join(
        Markup('<input type="hidden" name="{name}" value="{value}">').format(
            name=name, value=value
        )
        for name, value in fields.items()
    )
    body = Markup(
        "<p>Do you want to sign out of the hub?</p>\n"
        '<form method="post">{hidden}<button type="submit">Sign out</button></form>'
    ).format(hidden=hidden)
    return page("Sign out", body)


def signed_out_page() -> Response:
    """The page after a logout that names no way back to an application."""
    return page("Signed out", Markup("<p>You are signed out of the hub.</p>"))
