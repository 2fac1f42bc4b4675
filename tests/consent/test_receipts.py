"""Signed consent receipts: Kantara fields, an ES256 JWS, and the published JWKS."""

from __future__ import annotations

import base64
import json
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey, KeySet

from scimserver.consent.signing_key import load_or_create
from tests.conftest import BASE_URL, ScimClient
from tests.consent.conftest import GRANT, Clock, ConsentClient, create_user

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def published_keys(client: FlaskClient) -> KeySet:
    """Fetch the JWKS as an auditor would: without a token."""
    response = client.get("/api/v1/receipts/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    return KeySet.import_key_set(response.get_json())


def test_a_receipt_verifies_with_the_published_key(
    client: FlaskClient, scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    record = consents.granted(user_id, expiresAt="2027-09-01T00:00:00Z")

    response = consents.receipt(record["consentToken"])

    assert response.status_code == 200
    body = response.get_json()
    assert body["jwksUri"] == f"{BASE_URL}/api/v1/receipts/jwks.json"
    verified = jws.deserialize_compact(
        body["jws"], published_keys(client), algorithms=["ES256"]
    )
    assert verified.headers()["alg"] == "ES256"
    assert json.loads(verified.payload) == body["receipt"]


def test_the_receipt_holds_the_kantara_fields(
    scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    record = consents.granted(user_id, expiresAt="2027-09-01T00:00:00Z")

    receipt = consents.receipt(record["consentToken"]).get_json()["receipt"]

    assert receipt == {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "EU",
        "consentTimestamp": int(T0.timestamp()),
        "collectionMethod": "enrolment_flow",
        "consentReceiptID": record["id"],
        "language": "en",
        "piiPrincipalId": user_id,
        "piiControllers": [{"piiController": "Employer"}],
        "services": [
            {
                "service": "eap-vendor",
                "purposes": [
                    {
                        "purpose": "eap_referral",
                        "purposeCategory": ["eap_referral"],
                        "consentType": "EXPLICIT",
                        "piiCategory": GRANT["dataCategories"],
                        "primaryPurpose": True,
                        "termination": "when withdrawn or at 2027-09-01T00:00:00.000Z",
                        "thirdPartyDisclosure": True,
                        "thirdPartyName": "eap-vendor",
                    }
                ],
            }
        ],
        "status": "granted",
        "noticeVersion": "2026-11",
        "grantedAt": "2027-03-01T09:00:00.000Z",
        "expiresAt": "2027-09-01T00:00:00.000Z",
        "iss": BASE_URL,
        "iat": int(T0.timestamp()),
    }


def test_a_receipt_after_withdrawal_says_so(
    scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    token = consents.granted(user_id)["consentToken"]
    clock.now = T0 + timedelta(days=3)
    consents.withdraw(token)

    receipt = consents.receipt(token).get_json()["receipt"]

    assert receipt["status"] == "withdrawn"
    assert receipt["withdrawnAt"] == "2027-03-04T09:00:00.000Z"
    assert receipt["withdrawalReason"] == "withdrawn"


def test_an_altered_receipt_does_not_verify(
    client: FlaskClient, scim: ScimClient, consents: ConsentClient
) -> None:
    token = consents.granted(create_user(scim))["consentToken"]
    compact = consents.receipt(token).get_json()["jws"]
    header, payload, signature = compact.split(".")
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["status"] = "withdrawn"
    forged_payload = (
        base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    )

    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(
            f"{header}.{forged_payload}.{signature}",
            published_keys(client),
            algorithms=["ES256"],
        )


def test_the_key_is_made_once_with_mode_0600(
    client: FlaskClient,
    scim: ScimClient,
    consents: ConsentClient,
    receipt_key_file: Path,
) -> None:
    assert not receipt_key_file.exists()

    first = published_keys(client).keys[0].as_dict()
    token = consents.granted(create_user(scim))["consentToken"]
    consents.receipt(token)

    assert stat.S_IMODE(receipt_key_file.stat().st_mode) == 0o600
    assert published_keys(client).keys[0].as_dict() == first
    assert load_or_create(receipt_key_file).thumbprint() == first["kid"]
    assert "d" not in first


def test_an_existing_key_file_is_used(tmp_path: Path) -> None:
    given = ECKey.generate_key("P-256", private=True)
    path = tmp_path / "key.pem"
    path.write_bytes(given.as_pem(private=True))

    assert load_or_create(path).thumbprint() == given.thumbprint()


def test_a_key_of_another_curve_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(ECKey.generate_key("P-384", private=True).as_pem(private=True))

    with pytest.raises(ValueError, match="P-256"):
        load_or_create(path)


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "var" / "key.pem"
    thumbprints: list[str] = []

    def load() -> None:
        thumbprints.append(load_or_create(path).thumbprint())

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(thumbprints) == 8 and len(set(thumbprints)) == 1
    assert [p.name for p in path.parent.iterdir()] == ["key.pem"]
