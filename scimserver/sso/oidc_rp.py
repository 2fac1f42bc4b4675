"""The hub as an OpenID Connect relying party of an upstream OpenID Provider.

- ``GET /sso/oidc/<alias>/login?next=``: an authentication request, code flow
  (OpenID Connect Core §3.1.2.1) with ``state``, ``nonce`` and PKCE S256
  (RFC 7636 §4.2).
- ``GET /sso/oidc/<alias>/callback``: the code is exchanged at the token
  endpoint (Core §3.1.3) and the ID token validated (Core §3.1.3.7) before the
  person is signed in.

``state``, ``nonce`` and the code verifier are kept server-side
(:mod:`.login_requests`); the state is also bound to the browser's session, so
that a callback started in another browser is refused (RFC 6749 §10.12).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from flask import Blueprint, abort, redirect, request, session
from werkzeug.wrappers import Response

from scimserver.db import get_session
from scimserver.scim import api as scim_api
from scimserver.sso import error_page, login_requests
from scimserver.sso.config import OidcIdp, sso_config
from scimserver.sso.id_token import IdTokenError, validate_id_token
from scimserver.sso.linking import UpstreamIdentity
from scimserver.sso.login_requests import PendingLogin
from scimserver.sso.next_path import safe_next
from scimserver.sso.oidc_discovery import DiscoveryError, provider_metadata
from scimserver.sso.signin import complete_login, refuse, utc_now

logger = logging.getLogger(__name__)

PREFIX = "/sso/oidc"
blueprint = Blueprint("sso_oidc", __name__, url_prefix=PREFIX)
error_page.register(blueprint)
METHOD = "oidc"
STATE_KEY = "sso_oidc_state"
TIMEOUT_SECONDS = 10.0
#: What a failed code exchange raises: no answer, an OAuth error, a bad body.
EXCHANGE_ERRORS = (
    DiscoveryError,
    AuthlibBaseError,
    httpx.HTTPError,
    KeyError,
    ValueError,
)

MESSAGES = {
    "bad_next": "The page to return to must be on this server.",
    "provider_unavailable": "The identity provider cannot be reached. Try again "
    "in a few minutes.",
    "idp_error": "The identity provider could not sign you in.",
    "state_mismatch": "This sign-in was started in another browser or window. "
    "Please sign in again.",
    "unknown_request": "This sign-in is no longer in progress (it was finished "
    "already, or it took too long). Please sign in again.",
    "token_error": "The identity provider did not confirm the sign-in.",
    "bad_id_token": "The identity provider's answer could not be verified.",
}


@blueprint.get("/<alias>/login")
def login(alias: str) -> Response:
    """Send the browser to the provider's authorization endpoint."""
    idp = _idp(alias)
    next_path = safe_next(request.args.get("next"))
    if next_path is None:
        return _refuse(alias, "bad_next", 400)
    try:
        metadata = provider_metadata(idp.issuer)
    except DiscoveryError:
        return _refuse(alias, "provider_unavailable", 502)

    pending = PendingLogin(
        id=secrets.token_urlsafe(32),
        idp_alias=alias,
        protocol=METHOD,
        next_path=next_path,
        nonce=secrets.token_urlsafe(32),
        code_verifier=generate_token(64),
    )
    with _client(idp) as client:
        url, _state = client.create_authorization_url(
            metadata["authorization_endpoint"],
            state=pending.id,
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
        )

    db = get_session()
    login_requests.remember(db, pending, utc_now())
    db.commit()
    session[STATE_KEY] = pending.id
    return redirect(url, code=303)


@blueprint.get("/<alias>/callback")
def callback(alias: str) -> Response:
    """Exchange the code, validate the ID token and sign the person in."""
    idp = _idp(alias)
    if "error" in request.args:
        logger.info("provider returned an error alias=%s", alias)
        return _refuse(alias, "idp_error")
    state = request.args.get("state", "")
    if not state or session.pop(STATE_KEY, None) != state:
        return _refuse(alias, "state_mismatch")
    db = get_session()
    pending = login_requests.consume(db, state, alias, utc_now())
    if pending is None:
        return _refuse(alias, "unknown_request")
    db.commit()  # a state is used once, even when the exchange fails

    try:
        claims = _verified_claims(idp, pending, request.args.get("code", ""))
    except EXCHANGE_ERRORS as error:
        logger.info(
            "token exchange failed alias=%s kind=%s", alias, type(error).__name__
        )
        return _refuse(alias, "token_error")
    except IdTokenError as error:
        logger.info("id token refused alias=%s reason=%s", alias, error.reason)
        return _refuse(alias, "bad_id_token")

    return complete_login(
        _identity(idp, claims),
        idp.link,
        idp_alias=alias,
        method=METHOD,
        next_path=pending.next_path,
    )


def _verified_claims(idp: OidcIdp, pending: PendingLogin, code: str) -> dict[str, Any]:
    """Redeem ``code`` and return the ID token's claims, with userinfo if needed."""
    metadata = provider_metadata(idp.issuer)
    with _client(idp) as client:
        token = client.fetch_token(
            metadata["token_endpoint"],
            code=code,
            code_verifier=pending.code_verifier,
        )
        claims = validate_id_token(
            str(token["id_token"]), metadata, idp.client_id, str(pending.nonce)
        )
        if idp.link.source in claims or not metadata.get("userinfo_endpoint"):
            return claims
        return _with_userinfo(client, metadata["userinfo_endpoint"], claims)


def _with_userinfo(
    client: OAuth2Client, endpoint: str, claims: dict[str, Any]
) -> dict[str, Any]:
    """Add the userinfo claims; their ``sub`` must be the ID token's (Core §5.3.2)."""
    response = client.get(endpoint)
    response.raise_for_status()
    userinfo = response.json()
    if not isinstance(userinfo, dict) or userinfo.get("sub") != claims["sub"]:
        raise IdTokenError("userinfo_subject")
    return {**userinfo, **claims}


def _identity(idp: OidcIdp, claims: dict[str, Any]) -> UpstreamIdentity:
    """The identity the claims describe, mapped by the IdP's link rule."""
    value = claims.get(idp.link.source)
    return UpstreamIdentity(
        issuer=idp.issuer,
        subject=str(claims["sub"]),
        match_value=value if isinstance(value, str) and value else None,
        email_verified=claims.get("email_verified") is True,
    )


def _client(idp: OidcIdp) -> OAuth2Client:
    base_url = scim_api.settings().base_url.rstrip("/")
    return OAuth2Client(
        client_id=idp.client_id,
        client_secret=idp.client_secret,
        scope=" ".join(idp.scopes),
        redirect_uri=f"{base_url}{PREFIX}/{idp.alias}/callback",
        code_challenge_method="S256",
        timeout=TIMEOUT_SECONDS,
    )


def _idp(alias: str) -> OidcIdp:
    idp = sso_config().oidc.get(alias)
    if idp is None:
        abort(404)
    return idp


def _refuse(alias: str, reason: str, status: int = 403) -> Response:
    message = MESSAGES[reason]
    return refuse(reason, message, idp_alias=alias, method=METHOD, status=status)
