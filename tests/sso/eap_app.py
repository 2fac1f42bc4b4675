"""A small EAP application that signs employees in through the hub.

It is a real relying party: authlib's Flask OAuth client, configured from the
hub's discovery document, runs the authorization code flow with PKCE (S256)
and a nonce; the callback redeems the code and authlib checks the ID token
(signature against the hub's JWKS, issuer, audience, expiry, nonce). The app
keeps who is signed in in its own session cookie, under its own name so that
it never touches the hub's cookie even on the same host.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass, field
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, request, session
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

SUB_KEY = "eap_sub"
SCOPE = "openid profile email"


@dataclass
class EapApp:
    """The application; what reached its callback and the ID tokens it accepted."""

    app: Flask
    callbacks: list[dict[str, str]] = field(default_factory=list)
    id_tokens: list[dict[str, Any]] = field(default_factory=list)

    def codes_received(self) -> int:
        """How many times the hub sent a code to the callback."""
        return sum(1 for query in self.callbacks if "code" in query)


def eap_app(hub_url: str, client_id: str, client_secret: str, own_url: str) -> EapApp:
    """The EAP app of ``own_url``, registered at the hub as ``client_id``."""
    app = Flask("eap_app")
    app.secret_key = secrets.token_hex(32)
    app.config["SESSION_COOKIE_NAME"] = "eap_session"
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    oauth = OAuth(app)
    hub = oauth.register(
        "hub",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{hub_url}/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"},
    )
    eap = EapApp(app)

    @app.get("/")
    def home() -> str:
        sub = session.get(SUB_KEY)
        if sub is None:
            return _page("Not signed in")
        return _page(f"Signed in as {sub}")

    @app.get("/login")
    def login() -> Response:
        session.pop(SUB_KEY, None)
        extra = {"prompt": "none"} if request.args.get("prompt") == "none" else {}
        response: Response = hub.authorize_redirect(f"{own_url}/callback", **extra)
        return response

    @app.get("/callback")
    def callback() -> str:
        eap.callbacks.append(dict(request.args))
        try:
            token: dict[str, Any] = hub.authorize_access_token()
        except (AuthlibBaseError, JoseError) as error:
            return _page(f"Sign-in failed: {getattr(error, 'error', 'invalid')}")
        if not token.get("userinfo"):
            return _page("Sign-in failed: no ID token")

        eap.id_tokens.append(dict(token["userinfo"]))
        session[SUB_KEY] = token["userinfo"]["sub"]
        return _page(f"Signed in as {session[SUB_KEY]}")

    @app.get("/logout")
    def logout() -> Response:
        session.clear()
        return redirect("/")

    return eap


def _page(text: str) -> str:
    return f'<!doctype html><title>EAP</title><p id="status">{html.escape(text)}</p>'
