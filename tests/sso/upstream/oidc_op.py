"""An upstream OpenID Provider for tests, built with authlib and served on 127.0.0.1.

It implements the authorization code flow with PKCE required (RFC 7636), signs
ID tokens with an RSA key (RS256) published at its JWKS endpoint, and serves
discovery and userinfo. Whoever the test names in :attr:`TestOp.user` is
"signed in" at the provider and approves at once, standing in for the
corporate login page.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.models import ClientMixin
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


@dataclass
class OpClient(ClientMixin):  # type: ignore[misc]
    """A registered relying party of the test provider (the hub)."""

    client_id: str
    client_secret: str
    redirect_uri: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "profile", "email"}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    """An issued authorization code and what it was issued for."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class TestOp:
    """The provider: its users, clients, key and issued codes and tokens."""

    __test__ = False

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "op-key-1"})
        self.users: dict[str, dict[str, Any]] = {}
        self.user: str | None = None
        self.clients: dict[str, OpClient] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, str] = {}
        self.issuer = ""
        self.id_token_audience: str | None = None
        self.app = self._build_app()

    def add_user(self, login: str, **claims: Any) -> None:
        self.users[login] = {
            "sub": f"sub-{login}",
            "preferred_username": login,
            **claims,
        }

    def _build_app(self) -> Flask:
        app = Flask("test_op")
        server = AuthorizationServer(
            app, query_client=self.clients.get, save_token=self._save_token
        )
        code_grant, id_tokens = _grant_classes(self)
        server.register_grant(
            code_grant, [id_tokens(require_nonce=True), CodeChallenge(required=True)]
        )
        _op_routes(app, server, self)
        return app

    def _save_token(self, token: dict[str, Any], request: Any) -> None:
        self.tokens[token["access_token"]] = request.user


def _grant_classes(op: TestOp) -> tuple[type[Any], type[Any]]:
    """The code grant and its OpenID extension, storing into ``op``."""

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
            "client_secret_basic",
            "client_secret_post",
        ]

        def save_authorization_code(self, code: str, request: Any) -> None:
            payload = request.payload
            op.codes[code] = Code(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=payload.redirect_uri,
                scope=payload.scope,
                user=request.user,
                nonce=payload.data.get("nonce"),
                code_challenge=payload.data.get("code_challenge"),
                code_challenge_method=payload.data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: OpClient) -> Code | None:
            found = op.codes.get(code)
            return found if found and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            op.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> str:
            return authorization_code.user

    class IdTokens(OpenIDCode):  # type: ignore[misc]
        def exists_nonce(self, nonce: str, request: Any) -> bool:
            return False

        def resolve_client_private_key(self, client: OpClient) -> RSAKey:
            return op.key

        def get_encode_header(self, client: OpClient) -> dict[str, str]:
            return {"alg": "RS256", "kid": "op-key-1"}

        def get_client_claims(self, client: OpClient) -> dict[str, Any]:
            audience = op.id_token_audience or client.client_id
            return {"iss": op.issuer, "aud": [audience]}

        def generate_user_info(self, user: str, scope: str) -> UserInfo:
            claims = dict(op.users[user])
            claims.pop("email", None)  # only userinfo tells the email
            claims.pop("email_verified", None)
            return UserInfo(claims)

    return CodeGrant, IdTokens


def _op_routes(app: Flask, server: AuthorizationServer, op: TestOp) -> None:
    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(
            issuer=op.issuer,
            authorization_endpoint=f"{op.issuer}/authorize",
            token_endpoint=f"{op.issuer}/token",
            userinfo_endpoint=f"{op.issuer}/userinfo",
            jwks_uri=f"{op.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
        )

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(keys=[op.key.as_dict(private=False)])

    @app.get("/authorize")
    def authorize() -> Any:
        grant = server.get_consent_grant(end_user=op.user)
        return server.create_authorization_response(grant=grant, grant_user=op.user)

    @app.post("/token")
    def token() -> Any:
        return server.create_token_response()

    @app.get("/userinfo")
    def userinfo() -> Any:
        scheme, _space, value = request.headers.get("Authorization", "").partition(" ")
        user = op.tokens.get(value) if scheme.lower() == "bearer" else None
        if user is None:
            return jsonify(error="invalid_token"), 401
        return jsonify(op.users[user])


@contextmanager
def serve(op: TestOp) -> Iterator[TestOp]:
    """Serve ``op`` on a free loopback port for the duration of the block."""
    server = make_server("127.0.0.1", 0, op.app, threaded=True)
    op.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield op
    finally:
        server.shutdown()
        thread.join()
