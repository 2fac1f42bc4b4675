"""authlib's authorization server, wired to the hub's storage and rules.

One server per application: it finds relying parties, stores tokens as digests,
and has the code grant (with PKCE and ID tokens), the client credentials grant,
the userinfo endpoint (OpenID Connect Core 1.0 §5.3) and RP-initiated logout
(OpenID Connect RP-Initiated Logout 1.0) registered.

authlib logs issued tokens at DEBUG level; :func:`build_provider` keeps its
loggers at INFO or above so that no token reaches a log.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2.rfc6749 import OAuth2Request, ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from flask import Flask, request
from joserfc.jwk import KeySet

from scimserver.audit.events import audit
from scimserver.db import get_session
from scimserver.policy.dictionary import DataDictionary
from scimserver.scim.api import REGISTRY_KEY
from scimserver.sso.provider.claims import ClaimSource
from scimserver.sso.provider.context import Provider, current_provider, utc_now
from scimserver.sso.provider.door import door_refusal
from scimserver.sso.provider.grants import (
    ClientCredentials,
    CodeGrant,
    OpenIDClaims,
    RequireS256,
)
from scimserver.sso.provider.models import AccessToken
from scimserver.sso.provider.relying_parties import OAuthClient, find_relying_party
from scimserver.sso.provider.signing_keys import ALGORITHM, SigningKeys
from scimserver.sso.provider.token_store import (
    EndUser,
    IssuedToken,
    digest,
    find_token,
    revoke_for_user,
)
from scimserver.sso.session import sign_out, signed_in_user_id

logger = logging.getLogger(__name__)

ACCESS_TOKEN_PREFIX = "oat_"


def build_provider(app: Flask) -> Provider:
    """Create the authorization server of ``app`` with its grants and endpoints."""
    logging.getLogger("authlib").setLevel(
        max(logging.INFO, logging.getLogger("authlib").getEffectiveLevel())
    )
    settings = app.config["SETTINGS"]
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save)
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            _new_access_token,
            expires_generator=lambda _client, _grant: settings.oidc_token_seconds,
        ),
    )
    server.register_grant(CodeGrant, [RequireS256(), OpenIDClaims()])
    server.register_grant(ClientCredentials)

    protector = BearerProtector()
    protector.register_token_validator(AccessTokenValidator())
    server.register_endpoint(EmployeeInfo(resource_protector=protector))
    server.register_endpoint(EndSession)

    source = ClaimSource(
        registry=app.extensions[REGISTRY_KEY],
        dictionary=DataDictionary.load(settings.schema_dir),
        secret_key=settings.secret_key,
        base_url=settings.base_url,
    )
    keys = SigningKeys(settings.secret_key, settings.oidc_retired_key_seconds)
    return Provider(settings, keys, source, server)


class AccessTokenValidator(BearerTokenValidator):
    """Bearer tokens of the provider (RFC 6750), checked at the door each time."""

    def authenticate_token(self, token_string: str) -> IssuedToken | None:
        return find_token(get_session(), token_string, utc_now())

    def validate_token(
        self, token: IssuedToken | None, scopes: Any, request: Any
    ) -> None:
        """RFC 6750 §3.1; a deactivated or withdrawn employee ends the token."""
        super().validate_token(token, scopes, request)
        assert token is not None  # the base class refuses a missing token
        user = token.get_user()
        if user is None:
            return

        session, now = get_session(), utc_now()
        refusal = door_refusal(session, token.party, user.user_id, now)
        if refusal is not None:
            revoke_for_user(session, token.party, user.user_id, now)
            session.commit()
            logger.info(
                "token ended client_id=%s reason=%s", token.party.client_id, refusal
            )
            raise InvalidTokenError(
                description="The employee can no longer use this application."
            )


class EmployeeInfo(UserInfoEndpoint):
    """The userinfo endpoint (OpenID Connect Core 1.0 §5.3)."""

    def generate_user_info(self, user: EndUser, scope: str) -> UserInfo:
        claims = current_provider().claims_for(user, scope, "oidc.userinfo")
        return UserInfo(claims)

    def get_issuer(self) -> str:
        return current_provider().issuer


class EndSession(EndSessionEndpoint):
    """RP-initiated logout: end the hub session, return to a registered URI."""

    def get_server_jwks(self) -> KeySet:
        provider = current_provider()
        return provider.keys.published(get_session(), utc_now())

    def get_algorithms(self) -> list[str]:
        return [ALGORITHM]

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        """Sign the employee out of the hub and end the party's tokens (§2)."""
        client: OAuthClient | None = end_session_request.client
        user_id = signed_in_user_id()
        if client is not None and user_id is not None:
            revoke_for_user(get_session(), client.party, user_id, utc_now())
        sign_out()
        audit(
            "oidc.logout",
            detail={"client_id": client.client_id if client else None},
            session=get_session(),
            actor=f"oidc:{client.client_id}" if client else "employee",
        )
        get_session().commit()


class BearerProtector(ResourceProtector):
    """authlib's resource protector, raising OAuth errors instead of HTTP errors.

    The SCIM error handler turns every HTTP exception into a SCIM body; userinfo
    errors must stay OAuth errors with their ``WWW-Authenticate`` header.
    """

    def acquire_token(self, scopes: str | list[str] | None = None) -> IssuedToken:
        """The valid token of the current request, or raise an ``OAuth2Error``."""
        wanted = [scopes] if isinstance(scopes, str) else scopes
        token: IssuedToken = self.validate_request(wanted, FlaskJsonRequest(request))
        return token


def _query_client(client_id: str) -> OAuthClient | None:
    party = find_relying_party(get_session(), client_id)
    return OAuthClient(party) if party is not None else None


def _save(token: dict[str, Any], oauth_request: OAuth2Request) -> None:
    """Store the access token's digest; the clear token goes to the client only."""
    now = utc_now()
    user: EndUser | None = oauth_request.user
    code = oauth_request.authorization_code
    get_session().add(
        AccessToken(
            token_hash=digest(token["access_token"]),
            relying_party_id=oauth_request.client.party.id,
            user_id=user.user_id if user else None,
            scope=token.get("scope", ""),
            auth_time=user.auth_time if user else None,
            issued_at=now,
            expires_at=now + timedelta(seconds=token["expires_in"]),
            code_hash=code.row.code_hash if code is not None else None,
        )
    )


def _new_access_token(**_context: Any) -> str:
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
