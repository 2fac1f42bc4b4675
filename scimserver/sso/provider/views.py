"""Endpoints of the OpenID Provider, and the launch links into the applications.

- ``/.well-known/openid-configuration``: discovery (OpenID Connect Discovery 1.0)
- ``/oidc/authorize``, ``/oidc/token``, ``/oidc/userinfo``: OpenID Connect
  Core 1.0 §3.1 and §5.3, OAuth 2.0 (RFC 6749) with PKCE (RFC 7636)
- ``/oidc/jwks.json``: the signing keys (RFC 7517 §5)
- ``/oidc/logout``: RP-Initiated Logout 1.0
- ``/sso/launch/<app>``: sign in upstream if needed, then into the application
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from authlib.oidc.core.errors import ConsentRequiredError
from flask import Blueprint, Flask, Response, redirect, request, session
from werkzeug.wrappers import Response as BaseResponse

from scimserver.audit.events import audit
from scimserver.db import get_session
from scimserver.models import Resource
from scimserver.sso.provider.claims import is_active
from scimserver.sso.provider.context import EXTENSION_KEY, current_provider, utc_now
from scimserver.sso.provider.discovery import JWKS_PATH, provider_metadata
from scimserver.sso.provider.door import (
    consent_page_url,
    door_refusal,
    login_page_url,
)
from scimserver.sso.provider.pages import (
    confirm_logout_page,
    error_page,
    signed_out_page,
)
from scimserver.sso.provider.relying_parties import find_relying_party
from scimserver.sso.provider.server import build_provider
from scimserver.sso.provider.token_store import EndUser
from scimserver.sso.session import signed_in_at, signed_in_user_id

logger = logging.getLogger(__name__)

blueprint = Blueprint("oidc_provider", __name__)
AUTHORIZE_PATH = "/oidc/authorize"
LOGOUT_CSRF_KEY = "oidc_logout_csrf"


def init_app(app: Flask) -> None:
    """Build the provider of ``app`` and register its endpoints."""
    app.extensions[EXTENSION_KEY] = build_provider(app)
    app.register_blueprint(blueprint)


@blueprint.get("/.well-known/openid-configuration")
def discovery() -> Response:
    """The provider's metadata (OpenID Connect Discovery 1.0 §4)."""
    return _json(provider_metadata(current_provider().issuer), max_age=3600)


@blueprint.get(JWKS_PATH)
def jwks() -> Response:
    """Current, next and recently retired public keys (RFC 7517 §5)."""
    provider = current_provider()
    key_set = provider.keys.published(get_session(), utc_now())
    get_session().commit()
    response = _json(dict(key_set.as_dict(private=False)), max_age=600)
    response.mimetype = "application/jwk-set+json"
    return response


@blueprint.route(AUTHORIZE_PATH, methods=["GET", "POST"])
def authorize() -> BaseResponse:
    """Issue a code to a signed-in, active, consenting employee (Core §3.1.2)."""
    server = current_provider().server
    user_id = signed_in_user_id()
    try:
        grant = server.get_consent_grant(end_user=user_id)
    except OAuth2Error as error:
        return _authorization_error(error)

    if user_id is None or grant.prompt == "login":
        return redirect(login_page_url(_authorize_path(without=("prompt",))))
    return _issue_code(grant, user_id)


@blueprint.post("/oidc/token")
def token() -> Response:
    """Redeem a code or client credentials for tokens (RFC 6749 §3.2)."""
    response: Response = current_provider().server.create_token_response()
    get_session().commit()
    return response


@blueprint.route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """Claims about the employee of the bearer token (Core §5.3)."""
    response: Response = current_provider().server.create_endpoint_response("userinfo")
    get_session().commit()
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/oidc/logout", methods=["GET", "POST"])
def logout() -> BaseResponse:
    """End the hub session; confirm first without ``id_token_hint`` (§2, §6)."""
    server = current_provider().server
    try:
        end_request = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return error_page(400, str(error.description or error.error))

    if end_request.needs_confirmation and not _logout_confirmed():
        token = secrets.token_urlsafe(24)
        session[LOGOUT_CSRF_KEY] = token
        fields = {k: v for k, v in request.values.items() if k != "csrf_token"}
        return confirm_logout_page({**fields, "csrf_token": token})

    response: Response | None = server.create_endpoint_response(
        "end_session", end_request
    )
    return response or signed_out_page()


@blueprint.get("/sso/launch/<app_name>")
def launch(app_name: str) -> BaseResponse:
    """Land the employee in an application, signing in upstream first if needed."""
    party = find_relying_party(get_session(), app_name)
    if party is None or not (party.initiate_login_uri or party.launch_url):
        return error_page(404, "There is no application of that name to open.")

    user_id = signed_in_user_id()
    if user_id is None:
        return redirect(login_page_url(f"/sso/launch/{app_name}"))
    if not is_active(get_session().get(Resource, user_id)):
        return error_page(403, "Your account is not active, so it cannot sign in.")

    if party.initiate_login_uri:
        # OpenID Connect Core 1.0 §4: third-party initiated login.
        params = {"iss": current_provider().issuer}
        if party.launch_url:
            params["target_link_uri"] = party.launch_url
        return redirect(add_params_to_uri(party.initiate_login_uri, params))
    return redirect(str(party.launch_url))


def _issue_code(grant: Any, user_id: str) -> BaseResponse:
    """Consent at the door, then the code (or a redirect to the consent page)."""
    server, db = current_provider().server, get_session()
    party, now = grant.client.party, utc_now()

    refusal = door_refusal(db, party, user_id, now)
    if refusal == "consent" and "none" not in _prompts():
        return redirect(consent_page_url(party, _authorize_path()))
    if refusal is not None:
        _audit_refusal(user_id, party.client_id, refusal)
        db.commit()
        error_class = (
            ConsentRequiredError if refusal == "consent" else AccessDeniedError
        )
        error = error_class(
            redirect_uri=grant.redirect_uri, state=grant.request.payload.state
        )
        response: Response = server.handle_error_response(grant.request, error)
        return response

    end_user = EndUser(user_id, signed_in_at() or int(time.time()), party)
    response = server.create_authorization_response(grant_user=end_user, grant=grant)
    db.commit()
    return response


def _authorization_error(error: OAuth2Error) -> Response:
    """Back to the party when its redirect URI is known, else a page (§4.1.2.1)."""
    if error.redirect_uri:
        response: Response = current_provider().server.handle_error_response(
            None, error
        )
        return response
    logger.info("authorization request refused error=%s", error.error)
    return error_page(400, str(error.description or error.error))


def _authorize_path(without: tuple[str, ...] = ()) -> str:
    """This authorization request as a GET path on the hub, to come back to."""
    params = [(k, v) for k, v in request.values.items(multi=True) if k not in without]
    return f"{AUTHORIZE_PATH}?{urlencode(params)}"


def _prompts() -> list[str]:
    return str(request.values.get("prompt", "")).split()


def _logout_confirmed() -> bool:
    expected = session.pop(LOGOUT_CSRF_KEY, None)
    given = request.form.get("csrf_token", "")
    return (
        request.method == "POST"
        and isinstance(expected, str)
        and secrets.compare_digest(expected, given)
    )


def _audit_refusal(user_id: str, client_id: str, reason: str) -> None:
    audit(
        "oidc.refused",
        resource_type="User",
        resource_id=user_id,
        detail={"client_id": client_id, "reason": reason},
        session=get_session(),
        actor=f"oidc:{client_id}",
    )


def _json(body: dict[str, Any], max_age: int) -> Response:
    response = Response(json.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response
