"""The provider metadata document (OpenID Connect Discovery 1.0 §3).

Every endpoint hangs off the issuer, the hub's base URL. The document says what
the provider does and no more: the code flow only, PKCE with ``S256`` only,
pairwise subjects only, ID tokens signed with RS256.
"""

from __future__ import annotations

import logging
from typing import Any

from scimserver.sso.provider.claims import SCOPE_CLAIMS
from scimserver.sso.provider.relying_parties import AUTH_METHODS, USER_SCOPES
from scimserver.sso.provider.signing_keys import ALGORITHM

logger = logging.getLogger(__name__)

JWKS_PATH = "/oidc/jwks.json"


def provider_metadata(issuer: str) -> dict[str, Any]:
    """The discovery document of the provider at ``issuer``."""
    claims = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce"]
    claims += [claim for table in SCOPE_CLAIMS.values() for claim in table]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oidc/authorize",
        "token_endpoint": f"{issuer}/oidc/token",
        "userinfo_endpoint": f"{issuer}/oidc/userinfo",
        "jwks_uri": f"{issuer}{JWKS_PATH}",
        "end_session_endpoint": f"{issuer}/oidc/logout",
        "scopes_supported": list(USER_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login"],
        "claims_supported": claims,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
