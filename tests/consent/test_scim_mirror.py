"""Consents as SCIM sees them: discovery, reads under consent, no filters, no writes.

The consent extension is ``sensitive`` in the data dictionary: a client reads it
only for a User whose granted consent to that client covers it, and no client
may filter on it (a filter would reveal who consented to what).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from scimserver.cli import main
from scimserver.consent.mirror import refresh_expired
from scimserver.db import get_database
from scimserver.models import Resource
from tests.conftest import ScimClient, make_token
from tests.consent.conftest import (
    CONSENT,
    GRANT,
    USER,
    Clock,
    ConsentClient,
    assert_error,
    create_user,
)

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
EAP_GRANTED = f'{CONSENT}:consents[purpose eq "eap_referral" and status eq "granted"]'
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
#: Releases are decided at the real time, so a grant they see lies in the past.
PAST = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


EAP_POLICY = {
    "read": {"classifications": ["public"], "attributes": [f"{CONSENT}:consents"]},
    "purposes": ["eap_referral"],
    "recipient": "eap-vendor",
}
#: A grant that also lets the EAP see the consent register of the User.
COVERING = [*GRANT["dataCategories"], CONSENT]


@pytest.fixture
def eap(app: Flask, scim: ScimClient) -> ScimClient:
    """The EAP vendor: reads the consents under a consent that covers them."""
    return ScimClient(scim.client, make_token(app, "eap", ["scim:read"], EAP_POLICY))


def consents_of(app: Flask, user_id: str) -> list[dict[str, Any]]:
    """The mirrored consents as stored in the User's document."""
    with app.app_context(), get_database(app).sessions() as session:
        resource = session.get(Resource, user_id)
        assert resource is not None
        values: list[dict[str, Any]] = resource.attributes.get(CONSENT, {}).get(
            "consents", []
        )
    return values


def released_consents(client: ScimClient, user_id: str) -> list[dict[str, Any]]:
    """The consents a client reads in the User."""
    body = client.get(f"/Users/{user_id}").get_json()
    values: list[dict[str, Any]] = body.get(CONSENT, {}).get("consents", [])
    return values


def test_the_extension_is_advertised(scim: ScimClient) -> None:
    schema = scim.get(f"/Schemas/{CONSENT}").get_json()
    user_type = scim.get("/ResourceTypes/User").get_json()

    assert {"schema": CONSENT, "required": False} in user_type["schemaExtensions"]
    (consents,) = schema["attributes"]
    assert (consents["name"], consents["multiValued"]) == ("consents", True)
    assert consents["mutability"] == "readOnly"
    subs = {s["name"]: s for s in consents["subAttributes"]}
    assert list(subs) == [
        "purpose",
        "recipient",
        "dataCategories",
        "status",
        "consentToken",
        "noticeVersion",
        "grantedAt",
        "withdrawnAt",
        "expiresAt",
        "captureMethod",
    ]
    assert subs["status"]["canonicalValues"] == ["granted", "withdrawn", "expired"]
    assert subs["dataCategories"]["multiValued"] is True
    assert {subs[n]["type"] for n in ("grantedAt", "withdrawnAt", "expiresAt")} == {
        "dateTime"
    }


def test_a_grant_shows_in_the_user_and_bumps_its_version(
    scim: ScimClient, eap: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = PAST
    user_id = create_user(scim)
    before = scim.get(f"/Users/{user_id}").headers["ETag"]

    record = consents.granted(user_id, dataCategories=COVERING)

    response = eap.get(f"/Users/{user_id}")
    assert response.headers["ETag"] != before
    body = response.get_json()
    assert body["schemas"] == [USER, CONSENT]
    assert body[CONSENT]["consents"] == [
        {
            "purpose": "eap_referral",
            "recipient": "eap-vendor",
            "dataCategories": COVERING,
            "status": "granted",
            "consentToken": record["consentToken"],
            "noticeVersion": "2026-11",
            "grantedAt": "2026-03-01T09:00:00.000Z",
            "captureMethod": "enrolment_flow",
        }
    ]
    assert CONSENT not in scim.get(f"/Users/{user_id}").get_json()


def test_a_consent_not_covering_the_register_keeps_it_hidden(
    scim: ScimClient, eap: ScimClient, consents: ConsentClient
) -> None:
    user_id = create_user(scim)
    consents.granted(user_id)

    assert released_consents(eap, user_id) == []
    assert consents_of(scim.client.application, user_id) != []


@pytest.mark.parametrize("who", ["hris", "eap"])
def test_filters_on_the_consents_are_refused_for_every_client(
    scim: ScimClient, eap: ScimClient, consents: ConsentClient, who: str
) -> None:
    consents.granted(create_user(scim), dataCategories=COVERING)
    client = scim if who == "hris" else eap

    for scim_filter in (EAP_GRANTED, f"{CONSENT}:consents pr"):
        response = client.get(f"/Users?filter={quote(scim_filter)}")
        assert_error(response, 400, "invalidFilter")


def test_projections_reach_the_released_consents(
    scim: ScimClient, eap: ScimClient, consents: ConsentClient
) -> None:
    user_id = create_user(scim)
    consents.granted(user_id, dataCategories=COVERING)

    projected = eap.get(
        f"/Users/{user_id}?attributes={quote(CONSENT + ':consents.purpose')}"
    ).get_json()

    assert projected[CONSENT] == {"consents": [{"purpose": "eap_referral"}]}


def test_a_withdrawal_stops_the_release_at_once_and_keeps_the_history(
    app: Flask, scim: ScimClient, eap: ScimClient, consents: ConsentClient
) -> None:
    user_id = create_user(scim)
    token = consents.granted(user_id, dataCategories=COVERING)["consentToken"]
    assert released_consents(eap, user_id) != []

    consents.withdraw(token)

    assert released_consents(eap, user_id) == []
    (value,) = consents_of(app, user_id)
    assert value["status"] == "withdrawn" and value["withdrawnAt"]


def test_history_shows_in_the_user_newest_first(
    app: Flask, scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    consents.withdraw(consents.granted(user_id)["consentToken"])
    clock.now = T0 + timedelta(days=1)
    consents.granted(user_id)

    values = consents_of(app, user_id)

    assert [v["status"] for v in values] == ["granted", "withdrawn"]


def test_refresh_rewrites_copies_of_expired_consents(
    app: Flask, scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    lapsing = create_user(scim, "lapsing")
    lasting = create_user(scim, "lasting")
    consents.granted(lapsing, expiresAt="2027-03-02T09:00:00Z")
    consents.granted(lasting, expiresAt="2027-06-01T00:00:00Z")
    later = T0 + timedelta(days=2)

    with app.app_context(), get_database(app).sessions() as session:
        changed = refresh_expired(session, later)
        session.commit()
        again = refresh_expired(session, later)

    assert (changed, again) == (1, 0)
    assert consents_of(app, lapsing)[0]["status"] == "expired"
    assert consents_of(app, lasting)[0]["status"] == "granted"


def test_post_drops_consents_sent_by_a_scim_client(scim: ScimClient) -> None:
    forged = {"consents": [{"purpose": "eap_referral", "status": "granted"}]}

    response = scim.post(
        "/Users", {"schemas": [USER, CONSENT], "userName": "forger", CONSENT: forged}
    )

    assert response.status_code == 201
    assert CONSENT not in response.get_json()


@pytest.mark.parametrize(
    "payload_extra",
    [
        pytest.param({}, id="without-extension"),
        pytest.param(
            {CONSENT: {"consents": [{"purpose": "forged", "status": "granted"}]}},
            id="with-forged-consents",
        ),
        pytest.param({CONSENT: {"consents": []}}, id="with-empty-consents"),
    ],
)
def test_put_keeps_the_stored_consents(
    app: Flask, scim: ScimClient, consents: ConsentClient, payload_extra: dict[str, Any]
) -> None:
    user_id = create_user(scim)
    consents.granted(user_id)
    stored = consents_of(app, user_id)
    schemas = [USER, CONSENT] if payload_extra else [USER]

    response = scim.put(
        f"/Users/{user_id}",
        {"schemas": schemas, "userName": "renamed", **payload_extra},
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["userName"] == "renamed"
    assert consents_of(app, user_id) == stored


@pytest.mark.parametrize(
    ("op", "path", "value"),
    [
        ("replace", f"{CONSENT}:consents", [{"purpose": "forged"}]),
        ("add", f"{CONSENT}:consents", [{"purpose": "forged"}]),
        ("remove", f"{CONSENT}:consents", None),
        ("replace", f'{CONSENT}:consents[purpose eq "eap_referral"].status', "x"),
        ("remove", f'{CONSENT}:consents[purpose eq "eap_referral"]', None),
    ],
)
def test_patch_naming_the_consents_fails_with_mutability(
    app: Flask,
    scim: ScimClient,
    consents: ConsentClient,
    op: str,
    path: str,
    value: Any,
) -> None:
    user_id = create_user(scim)
    consents.granted(user_id)
    stored = consents_of(app, user_id)
    operation: dict[str, Any] = {"op": op, "path": path}
    if value is not None:
        operation["value"] = value

    response = scim.patch(
        f"/Users/{user_id}", {"schemas": [PATCH_OP], "Operations": [operation]}
    )

    assert_error(response, 400, "mutability")
    assert consents_of(app, user_id) == stored


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "value": {CONSENT: {"consents": [{"purpose": "forged"}]}}},
        {"op": "remove", "path": CONSENT},
        {"op": "replace", "path": CONSENT, "value": {"consents": []}},
    ],
)
def test_patch_without_naming_them_leaves_the_consents_alone(
    app: Flask, scim: ScimClient, consents: ConsentClient, operation: dict[str, Any]
) -> None:
    user_id = create_user(scim)
    consents.granted(user_id)
    stored = consents_of(app, user_id)

    response = scim.patch(
        f"/Users/{user_id}", {"schemas": [PATCH_OP], "Operations": [operation]}
    )

    assert response.status_code in (200, 204), response.get_json()
    assert consents_of(app, user_id) == stored


def test_the_refresh_command_marks_expired_copies(
    app: Flask, scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = PAST
    user_id = create_user(scim)
    consents.granted(user_id, expiresAt="2026-03-02T09:00:00Z")

    result = app.test_cli_runner().invoke(main, ["consents", "refresh"])

    assert result.exit_code == 0, result.output
    assert "1 Users updated" in result.output
    assert consents_of(app, user_id)[0]["status"] == "expired"
