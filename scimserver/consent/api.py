"""The consent API under ``/api/v1``: grant, list, withdraw, and signed receipts.

Clients authenticate with bearer tokens as for SCIM (RFC 6750); granting and
withdrawing need the ``consent:write`` scope, reading needs ``consent:read``. The
public key that verifies receipts is served without authentication, since an
auditor holds no client token. Errors are SCIM error bodies (RFC 7644 §3.12).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, request

from scimserver.config import Settings
from scimserver.consent import grants
from scimserver.consent.mirror import consent_resource_type, mirror_value
from scimserver.consent.payloads import read_grant
from scimserver.consent.receipts import JWKS_PATH, jwks, receipt_claims, sign_receipt
from scimserver.consent.records import ConsentRecord, consent_history
from scimserver.consent.signing_key import receipt_key
from scimserver.db import get_session
from scimserver.policy.auth import (
    authenticate_request,
    current_client,
    require_scope,
)
from scimserver.policy.rate_limit import enforce_rate_limit
from scimserver.scim import api as scim_api
from scimserver.scim.errors import Unauthorized
from scimserver.scim.responses import read_json_body
from scimserver.scim.store import ResourceStore

logger = logging.getLogger(__name__)

blueprint = Blueprint("consent", __name__, url_prefix="/api/v1")
READ_SCOPE = "consent:read"
WRITE_SCOPE = "consent:write"
JSON_MEDIA_TYPE = "application/json"
JWKS_MEDIA_TYPE = "application/jwk-set+json"
PUBLIC_ENDPOINTS = frozenset({"consent.receipt_keys"})


def init_app(app: Flask) -> None:
    """Register the consent API."""
    app.register_blueprint(blueprint)


def utc_now() -> datetime:
    """The moment a request acts at (tests replace it to move the clock)."""
    return datetime.now(UTC)


@blueprint.before_request
def _authenticate() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    return enforce_rate_limit(authenticate_request())


@blueprint.post("/users/<user_id>/consents")
def grant_consent(user_id: str) -> Response:
    """Record a consent of the User; 201 with the record and its token."""
    require_scope(WRITE_SCOPE)
    users = consent_resource_type()
    grant = read_grant(read_json_body(), users)
    session, now = get_session(), utc_now()

    record = grants.grant(
        session,
        users,
        user_id,
        grant,
        captured_by=_client_name(),
        now=now,
    )
    session.commit()
    return _json(record_body(record, now), status=201)


@blueprint.get("/users/<user_id>/consents")
def list_consents(user_id: str) -> Response:
    """Every consent of the User, withdrawn and expired ones too, newest first."""
    require_scope(READ_SCOPE)
    session, now = get_session(), utc_now()
    ResourceStore(session, consent_resource_type()).get(user_id)

    records = consent_history(session, user_id)
    body = {
        "userId": user_id,
        "totalResults": len(records),
        "consents": [record_body(r, now) for r in records],
    }
    return _json(body)


@blueprint.post("/consents/<consent_token>/withdraw")
def withdraw_consent(consent_token: str) -> Response:
    """Withdraw a consent at once; withdrawing again changes nothing."""
    require_scope(WRITE_SCOPE)
    session, now = get_session(), utc_now()

    record = grants.withdraw(
        session,
        consent_resource_type(),
        consent_token,
        withdrawn_by=_client_name(),
        now=now,
    )
    session.commit()
    return _json(record_body(record, now))


@blueprint.get("/consents/<consent_token>/receipt")
def get_receipt(consent_token: str) -> Response:
    """The consent's receipt and the same receipt signed as a compact JWS."""
    require_scope(READ_SCOPE)
    settings = _settings()
    row = grants.find_consent(get_session(), consent_token)

    claims = receipt_claims(ConsentRecord.from_row(row), settings, utc_now())
    body = {
        "receipt": claims,
        "jws": sign_receipt(claims, receipt_key()),
        "jwksUri": settings.base_url + JWKS_PATH,
    }
    return _json(body)


@blueprint.get("/receipts/jwks.json")
def receipt_keys() -> Response:
    """The public key that verifies receipts, as a JWK Set (RFC 7517 §5)."""
    response = _json(jwks(receipt_key()))
    response.mimetype = JWKS_MEDIA_TYPE
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def record_body(record: ConsentRecord, now: datetime) -> dict[str, Any]:
    """A consent as the consent API shows it: the SCIM value and who changed it."""
    body: dict[str, Any] = {"id": record.id, "userId": record.user_id}
    body.update(mirror_value(record, now))
    body["capturedBy"] = record.captured_by
    if record.withdrawn_at is not None:
        body["withdrawnBy"] = record.withdrawn_by
        body["withdrawalReason"] = record.withdrawal_reason
    return body


def _client_name() -> str:
    client = current_client()
    if client is None:
        raise Unauthorized("Send a bearer token in the Authorization header.")
    return client.name


def _settings() -> Settings:
    return scim_api.settings()


def _json(body: dict[str, Any], status: int = 200) -> Response:
    """A JSON response that no cache keeps: consents are sensitive."""
    text = json.dumps(body, ensure_ascii=False)
    response = Response(text, status=status, mimetype=JSON_MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response
