"""Signed consent receipts (Kantara Consent Receipt v1.1, ISO/IEC 29184).

A receipt is a JSON object with the Kantara fields that apply to an employee's
consent, plus the consent's own times and status, signed as a compact JWS
(RFC 7515 §7.1) with ES256 (RFC 7518 §3.4). The employee or an auditor keeps the
JWS and verifies it with the public key from :func:`jwks` (RFC 7517 §5); the
key id is the key's RFC 7638 thumbprint.

Kantara fields left out, since the hub does not know them: the controller's
contact details, ``policyUrl`` (the notice is named by ``noticeVersion``), and
``sensitive``/``spiCat``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey

from scimserver.config import Settings
from scimserver.consent.records import ConsentRecord
from scimserver.scim.representation import format_datetime

logger = logging.getLogger(__name__)

RECEIPT_VERSION = "KI-CR-v1.1.0"
ALGORITHM = "ES256"
JWKS_PATH = "/api/v1/receipts/jwks.json"


def receipt_claims(
    record: ConsentRecord, settings: Settings, now: datetime
) -> dict[str, Any]:
    """The receipt of ``record`` as issued at ``now``."""
    claims: dict[str, Any] = {
        "version": RECEIPT_VERSION,
        "jurisdiction": settings.receipt_jurisdiction,
        "consentTimestamp": int(record.granted_at.timestamp()),
        "collectionMethod": record.capture_method,
        "consentReceiptID": record.id,
        "language": "en",
        "piiPrincipalId": record.user_id,
        "piiControllers": [{"piiController": settings.receipt_controller}],
        "services": [{"service": record.recipient, "purposes": [_purpose(record)]}],
        "status": record.status(now),
        "noticeVersion": record.notice_version,
        "grantedAt": format_datetime(record.granted_at),
        "iss": settings.base_url,
        "iat": int(now.timestamp()),
    }
    if record.withdrawn_at is not None:
        claims["withdrawnAt"] = format_datetime(record.withdrawn_at)
        claims["withdrawalReason"] = record.withdrawal_reason
    if record.expires_at is not None:
        claims["expiresAt"] = format_datetime(record.expires_at)
    return claims


def sign_receipt(claims: dict[str, Any], key: ECKey) -> str:
    """Return ``claims`` signed as a compact JWS with ES256."""
    header = {"alg": ALGORITHM, "kid": key.thumbprint()}
    payload = json.dumps(claims, ensure_ascii=False, separators=(",", ":"))
    return jws.serialize_compact(header, payload, key, algorithms=[ALGORITHM])


def jwks(key: ECKey) -> dict[str, Any]:
    """The public half of ``key`` as a JWK Set (RFC 7517 §5)."""
    public = key.as_dict(private=False, kid=key.thumbprint(), use="sig", alg=ALGORITHM)
    return {"keys": [public]}


def _purpose(record: ConsentRecord) -> dict[str, Any]:
    """A Kantara ``purposes`` entry: one purpose, explicit, ended on withdrawal."""
    termination = "when withdrawn"
    if record.expires_at is not None:
        termination += f" or at {format_datetime(record.expires_at)}"
    return {
        "purpose": record.purpose,
        "purposeCategory": [record.purpose],
        "consentType": "EXPLICIT",
        "piiCategory": list(record.data_categories),
        "primaryPurpose": True,
        "termination": termination,
        "thirdPartyDisclosure": True,
        "thirdPartyName": record.recipient,
    }
