"""The grants of the OpenID Provider: authorization code with PKCE, client credentials.

authlib implements the protocol; these subclasses supply storage and the hub's
rules:

- PKCE with ``S256`` for every client, confidential ones included (RFC 9700
  §2.1.1, OAuth 2.1): authlib by default demands it only of public clients.
- ``redirect_uri`` is required in every authorization request (OpenID Connect
  Core 1.0 §3.1.2.1) and must equal a registered one exactly.
- A code is redeemed once (:mod:`scimserver.sso.provider.token_store`), and only
  for an employee who is still active and, where the party needs it, still
  consents.
- ID tokens carry a pairwise ``sub`` and the claims the release policy lets
  through (:mod:`scimserver.sso.provider.claims`), signed with the current key.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
    scope_to_list,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo
from joserfc.jwk import RSAKey

from scimserver.audit.events import audit
from scimserver.db import get_session
from scimserver.sso.provider.context import current_provider, utc_now
from scimserver.sso.provider.door import door_refusal
from scimserver.sso.provider.models import AuthorizationCode
from scimserver.sso.provider.relying_parties import OAuthClient
from scimserver.sso.provider.signing_keys import ALGORITHM
from scimserver.sso.provider.token_store import (
    EndUser,
    IssuedCode,
    digest,
    nonce_used,
    redeem_code,
    save_code,
)

logger = logging.getLogger(__name__)

S256 = "S256"
MAX_NONCE_LENGTH = 512


class RequireS256(CodeChallenge):
    """PKCE required of every client, with the ``S256`` method only (RFC 7636)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = [S256]  # noqa: RUF012 (authlib's attribute)
    DEFAULT_CODE_CHALLENGE_METHOD = S256

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """RFC 7636 §4.3, §4.4.1: no code without an S256 challenge."""
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send 'code_challenge' with "
                "'code_challenge_method=S256' (RFC 7636 section 4.3)."
            )
        if data.get("code_challenge_method") != S256:
            raise InvalidRequestError("Only 'code_challenge_method=S256' is accepted.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """RFC 7636 §4.5, §4.6: every code needs its verifier."""
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier' (RFC 7636 section 4.5).")
        super().validate_code_verifier(grant, result)


class CodeGrant(AuthorizationCodeGrant):
    """The authorization code grant, with codes stored as digests."""

    TOKEN_ENDPOINT_AUTH_METHODS = [  # noqa: RUF012 (authlib's attribute)
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]

    @staticmethod
    def validate_authorization_redirect_uri(
        request: OAuth2Request, client: OAuthClient
    ) -> str:
        """OpenID Connect Core 1.0 §3.1.2.1: ``redirect_uri`` is required."""
        redirect_uri: str | None = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("The 'redirect_uri' is not registered.")
        return redirect_uri

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        """Store the code's digest with what the token request must match."""
        provider, now = current_provider(), utc_now()
        user: EndUser = request.user
        data = request.payload.data
        row = AuthorizationCode(
            code_hash=digest(code),
            relying_party_id=request.client.party.id,
            user_id=user.user_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            auth_time=user.auth_time,
            expires_at=now + timedelta(seconds=provider.settings.oidc_code_seconds),
        )
        save_code(get_session(), row, now)
        audit(
            "oidc.authorize",
            resource_type="User",
            resource_id=user.user_id,
            detail={"client_id": request.client.client_id},
            session=get_session(),
            actor=f"oidc:{request.client.client_id}",
        )

    def query_authorization_code(
        self, code: str, client: OAuthClient
    ) -> IssuedCode | None:
        """Redeem the code: it is marked used now, whatever happens next."""
        row = redeem_code(get_session(), code, client.party, utc_now())
        return IssuedCode(row) if row is not None else None

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Keep the used code for a while, so that a replay is recognised."""

    def authenticate_user(self, authorization_code: IssuedCode) -> EndUser | None:
        """The employee, unless deactivated or no longer consenting since."""
        row = authorization_code.row
        party = self.request.client.party
        if door_refusal(get_session(), party, row.user_id, utc_now()) is not None:
            return None
        return EndUser(row.user_id, row.auth_time, party)


class ClientCredentials(ClientCredentialsGrant):
    """``client_credentials`` for machine clients, within their registered scope."""

    TOKEN_ENDPOINT_AUTH_METHODS = [  # noqa: RUF012 (authlib's attribute)
        "client_secret_basic",
        "client_secret_post",
    ]

    def validate_token_request(self) -> None:
        """RFC 6749 §4.4.2, and refuse scopes beyond the registration (§5.2)."""
        super().validate_token_request()
        wanted = set(scope_to_list(self.request.payload.scope) or [])
        allowed = set(scope_to_list(self.request.client.party.scope) or [])
        if wanted - allowed:
            raise InvalidScopeError()


class OpenIDClaims(OpenIDCode):
    """ID tokens (OpenID Connect Core 1.0 §2, §3.1.3.6) signed with the current key."""

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        """A nonce seen before in a code of this party is a replay (§3.1.2.1).

        A nonce longer than the code table keeps is refused here, before lookup.
        """
        if len(nonce) > MAX_NONCE_LENGTH:
            raise InvalidRequestError("The 'nonce' is too long.")
        return nonce_used(get_session(), request.client.party, nonce)

    def resolve_client_private_key(self, client: OAuthClient) -> RSAKey:
        provider = current_provider()
        return provider.keys.current(get_session())

    def get_client_algorithm(self, client: OAuthClient) -> str:
        return ALGORITHM

    def get_encode_header(self, client: OAuthClient) -> dict[str, str]:
        key = self.resolve_client_private_key(client)
        return {"alg": ALGORITHM, "kid": str(key.kid), "typ": "JWT"}

    def get_client_claims(self, client: OAuthClient) -> dict[str, Any]:
        provider, now = current_provider(), int(time.time())
        return {
            "iss": provider.issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + provider.settings.oidc_token_seconds,
        }

    def generate_user_info(self, user: EndUser, scope: str) -> UserInfo:
        """The released claims, audited by name."""
        claims = current_provider().claims_for(user, scope, "oidc.id_token")
        return UserInfo(claims)
