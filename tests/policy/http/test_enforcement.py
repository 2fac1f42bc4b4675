"""Every SCIM exit and entry passes the client's release policy (HTTP tests)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import select

from scimserver.audit.models import AuditEntry
from scimserver.db import get_database
from tests.conftest import ScimClient, make_token
from tests.consent.conftest import ConsentClient, assert_error
from tests.policy.http.conftest import (
    COST_CENTER,
    ENTERPRISE,
    PHONES,
    USER,
    client_with,
)

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

LMS_POLICY: dict[str, Any] = {
    "read": {
        "classifications": ["public", "internal"],
        "deny": [f"{USER}:title"],
    },
    "write": {"attributes": [f"{USER}:displayName"]},
}
EAP_POLICY: dict[str, Any] = {
    "read": {"classifications": ["public"], "attributes": [PHONES, COST_CENTER]},
    "purposes": ["eap_referral"],
    "recipient": "eap-vendor",
    "pseudonymous": {"enabled": True, "sector": "eap"},
}


def employee(user_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "displayName": user_name.title(),
        "title": "Engineer",
        "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}],
        "addresses": [{"locality": "Leeds", "type": "work"}],
        ENTERPRISE: {"costCenter": "CC-1", "department": "R&D"},
        **extra,
    }


@pytest.fixture
def hris(scim: ScimClient) -> ScimClient:
    """The source of record (the ``scim`` fixture's client)."""
    return scim


@pytest.fixture
def lms(app: Flask, scim: ScimClient) -> ScimClient:
    return client_with(app, scim, "lms", LMS_POLICY)


@pytest.fixture
def eap(app: Flask, scim: ScimClient) -> ScimClient:
    return client_with(app, scim, "eap", EAP_POLICY)


@pytest.fixture
def enrolment(app: Flask, scim: ScimClient) -> ConsentClient:
    return ConsentClient(
        scim.client, make_token(app, "enrolment", ["consent:read", "consent:write"])
    )


def created(hris: ScimClient, user_name: str, **extra: Any) -> str:
    response = hris.post("/Users", employee(user_name, **extra))
    assert response.status_code == 201, response.get_json()
    user_id: str = response.get_json()["id"]
    return user_id


def test_reads_return_only_what_each_policy_releases(
    hris: ScimClient, lms: ScimClient
) -> None:
    user_id = created(hris, "ada")

    full = hris.get(f"/Users/{user_id}").get_json()
    seen = lms.get(f"/Users/{user_id}").get_json()

    assert full["title"] == "Engineer" and full["addresses"]
    assert "phoneNumbers" not in full  # sensitive: the HRIS acts for no purpose
    assert seen["displayName"] == "Ada" and seen["id"] == user_id
    assert {"title", "phoneNumbers", "addresses"} & set(seen) == set()
    assert seen[ENTERPRISE] == {"department": "R&D"}


@pytest.mark.parametrize(
    "scim_filter",
    [
        'title eq "Engineer"',
        "title pr",
        'addresses[locality eq "Leeds"]',
        'phoneNumbers.value sw "+44"',
        f'{COST_CENTER} eq "CC-1"',
        'displayName eq "Ada" or not (title co "x")',
    ],
)
def test_a_filter_on_a_withheld_attribute_is_refused(
    hris: ScimClient, lms: ScimClient, scim_filter: str
) -> None:
    created(hris, "ada")

    response = lms.get(f"/Users?filter={quote(scim_filter)}")
    assert_error(response, 400, "invalidFilter")
    search = lms.post("/.search", {"schemas": [SEARCH], "filter": scim_filter})
    assert_error(search, 400, "invalidFilter")


@pytest.mark.parametrize("sort_by", ["title", "addresses.locality", COST_CENTER])
def test_sorting_on_a_withheld_attribute_is_refused(
    lms: ScimClient, sort_by: str
) -> None:
    response = lms.get(f"/Users?sortBy={quote(sort_by)}")

    assert_error(response, 400, "invalidValue")


def test_filters_and_sorts_on_released_attributes_work(
    hris: ScimClient, lms: ScimClient
) -> None:
    created(hris, "ada")
    created(hris, "bob")

    wanted = quote('displayName sw "B"')
    response = lms.get(f"/Users?filter={wanted}&sortBy=userName")

    assert [r["userName"] for r in response.get_json()["Resources"]] == ["bob"]


@pytest.mark.parametrize(
    ("method", "body"),
    [
        (
            "PATCH",
            {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "replace", "path": "displayName", "value": "New"},
                    {"op": "replace", "path": "title", "value": "CEO"},
                ],
            },
        ),
        ("PUT", {"schemas": [USER], "userName": "ada", "nickName": "A"}),
    ],
)
def test_a_write_outside_the_policy_is_refused_and_changes_nothing(
    hris: ScimClient, lms: ScimClient, method: str, body: dict[str, Any]
) -> None:
    user_id = created(hris, "ada")
    before = hris.get(f"/Users/{user_id}").get_json()

    response = lms.request(method, f"/Users/{user_id}", body)

    assert response.status_code == 403, response.get_json()
    assert (
        "nickName" in response.get_json()["detail"]
        or "title" in (response.get_json()["detail"])
    )
    assert hris.get(f"/Users/{user_id}").get_json() == before


def test_a_write_inside_the_policy_is_applied(
    hris: ScimClient, lms: ScimClient
) -> None:
    user_id = created(hris, "ada")
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ada L."}],
    }

    response = lms.patch(f"/Users/{user_id}", patch)

    assert response.status_code == 200, response.get_json()
    assert "title" not in response.get_json()
    assert hris.get(f"/Users/{user_id}").get_json()["title"] == "Engineer"


def test_a_put_keeps_what_the_client_cannot_read(app: Flask, hris: ScimClient) -> None:
    policy = {
        "read": {"classifications": ["public", "internal"]},
        "write": {"attributes": [f"{USER}:userName", f"{USER}:displayName"]},
    }
    writer = client_with(app, hris, "directory-sync", policy)
    user_id = created(hris, "ada")
    shown = writer.get(f"/Users/{user_id}").get_json()
    assert "addresses" not in shown

    response = writer.put(f"/Users/{user_id}", {**shown, "displayName": "Ada L."})

    assert response.status_code == 200, response.get_json()
    stored = hris.get(f"/Users/{user_id}").get_json()
    assert stored["displayName"] == "Ada L."
    assert stored["addresses"] == [{"locality": "Leeds", "type": "work"}]


def test_create_and_delete_need_the_policy(hris: ScimClient, lms: ScimClient) -> None:
    user_id = created(hris, "ada")

    create = lms.post("/Users", {"schemas": [USER], "userName": "eve"})
    delete = lms.delete(f"/Users/{user_id}")

    assert_error(create, 403, None)
    assert "userName" in create.get_json()["detail"]
    assert_error(delete, 403, None)
    assert hris.get(f"/Users/{user_id}").status_code == 200


def test_bulk_operations_pass_the_policy_one_by_one(
    hris: ScimClient, lms: ScimClient
) -> None:
    user_id = created(hris, "ada")
    body = {
        "schemas": [BULK],
        "Operations": [
            {
                "method": "PATCH",
                "path": f"/Users/{user_id}",
                "data": {
                    "schemas": [PATCH_OP],
                    "Operations": [
                        {"op": "replace", "path": "displayName", "value": "Ada L."}
                    ],
                },
            },
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "eve",
                "data": {"schemas": [USER], "userName": "eve"},
            },
        ],
    }

    response = lms.post("/Bulk", body)

    statuses = [op["status"] for op in response.get_json()["Operations"]]
    assert statuses == ["200", "403"]
    assert (
        hris.get("/Users?filter=" + quote('userName eq "eve"')).get_json()[
            "totalResults"
        ]
        == 0
    )


def test_sensitive_attributes_need_a_matching_granted_consent(
    hris: ScimClient, eap: ScimClient, enrolment: ConsentClient
) -> None:
    consenting = created(hris, "ada")
    other = created(hris, "bob")
    record = enrolment.granted(
        consenting,
        purpose="eap_referral",
        recipient="eap-vendor",
        dataCategories=[PHONES],
    )
    enrolment.granted(
        other,
        purpose="learning_progress_sharing",
        recipient="eap-vendor",
        dataCategories=[PHONES, COST_CENTER],
    )

    listed = eap.get("/Users").get_json()["Resources"]
    by_name = {r["displayName"]: r for r in listed}

    assert by_name["Ada"]["phoneNumbers"][0]["value"] == "+44 20 7946 0000"
    assert ENTERPRISE not in by_name["Ada"]  # costCenter is not covered
    assert "phoneNumbers" not in by_name["Bob"]  # consent for another purpose

    enrolment.withdraw(record["consentToken"])
    again = {r["displayName"]: r for r in eap.get("/Users").get_json()["Resources"]}
    assert "phoneNumbers" not in again["Ada"]


def test_pseudonymous_clients_see_and_address_users_by_pseudonym(
    app: Flask, hris: ScimClient, eap: ScimClient
) -> None:
    user_id = created(hris, "ada")
    lms_policy = {**EAP_POLICY, "pseudonymous": {"enabled": True, "sector": "lms"}}
    other = client_with(app, hris, "lms-reports", lms_policy)

    (shown,) = eap.get("/Users").get_json()["Resources"]
    (elsewhere,) = other.get("/Users").get_json()["Resources"]

    assert shown["id"].startswith("pid-") and shown["id"] != user_id
    assert elsewhere["id"].startswith("pid-") and elsewhere["id"] != shown["id"]
    assert shown["meta"]["location"].endswith(f"/Users/{shown['id']}")
    assert eap.get(f"/Users/{shown['id']}").get_json()["displayName"] == "Ada"
    assert eap.get(f"/Users/{user_id}").status_code == 404
    assert other.get(f"/Users/{shown['id']}").status_code == 404
    wanted = quote('id eq "' + shown["id"] + '"')
    by_id = eap.get(f"/Users?filter={wanted}").get_json()
    assert [r["id"] for r in by_id["Resources"]] == [shown["id"]]
    assert_error(eap.get("/Users?sortBy=id"), 400, "invalidValue")


def test_a_cohort_limits_which_users_a_client_sees(
    app: Flask, hris: ScimClient
) -> None:
    pilot, outside = created(hris, "ada"), created(hris, "bob")
    group = hris.post(
        "/Groups",
        {
            "schemas": [GROUP],
            "displayName": "Pilot",
            "members": [{"value": pilot}],
        },
    ).get_json()
    everyone = hris.post(
        "/Groups",
        {
            "schemas": [GROUP],
            "displayName": "Everyone",
            "members": [{"value": pilot}, {"value": outside}],
        },
    ).get_json()
    policy = {"read": {"classifications": ["public", "internal"]}}
    policy["cohort"] = {"group": group["id"]}
    pilot_lms = client_with(app, hris, "pilot-lms", policy)

    listed = pilot_lms.get("/Users").get_json()

    assert [r["id"] for r in listed["Resources"]] == [pilot]
    assert listed["totalResults"] == 1
    assert pilot_lms.get(f"/Users/{outside}").status_code == 404
    members = pilot_lms.get(f"/Groups/{everyone['id']}").get_json()["members"]
    assert [m["value"] for m in members] == [pilot]


def test_reads_of_restricted_data_are_audited_by_name(
    app: Flask, hris: ScimClient, lms: ScimClient
) -> None:
    user_id = created(hris, "ada")  # The 201 response releases addresses too.

    hris.get(f"/Users/{user_id}")
    lms.get(f"/Users/{user_id}")

    with app.app_context(), get_database(app).sessions() as session:
        reads = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "user.read")
        ).all()
    assert [(r.actor, r.detail["resources"]) for r in reads] == [
        ("hris", [user_id]),
        ("hris", [user_id]),
    ]
    assert f"{USER}:addresses" in reads[0].attributes
    assert "Leeds" not in str(reads[0].detail) + str(reads[0].attributes)


def test_a_client_without_a_policy_gets_the_default(
    app: Flask, hris: ScimClient
) -> None:
    user_id = created(hris, "ada")
    default = client_with(app, hris, "newcomer", None)

    (shown,) = default.get("/Users").get_json()["Resources"]

    assert shown["id"].startswith("pid-") and shown["id"] != user_id
    assert "userName" not in shown and "emails" not in shown
    assert shown["displayName"] == "Ada"
    assert_error(
        default.patch(
            f"/Users/{shown['id']}",
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "nickName", "value": "x"}],
            },
        ),
        403,
        None,
    )


def test_with_consent_gates_ordinary_attributes_for_one_client(
    app: Flask, hris: ScimClient, enrolment: ConsentClient
) -> None:
    policy = {
        "read": {
            "classifications": ["public"],
            "with_consent": [f"{USER}:displayName", f"{USER}:emails"],
        },
        "purposes": ["eap_referral"],
        "recipient": "eap-vendor",
    }
    eap = client_with(app, hris, "eap-contact", policy)
    agreed = created(hris, "ada", emails=[{"value": "ada@example.com"}])
    silent = created(hris, "bob", emails=[{"value": "bob@example.com"}])
    enrolment.granted(
        agreed,
        purpose="eap_referral",
        recipient="eap-vendor",
        dataCategories=[f"{USER}:displayName", f"{USER}:emails"],
    )

    bodies = {r["id"]: r for r in eap.get("/Users").get_json()["Resources"]}

    assert bodies[agreed]["displayName"] == "Ada"
    assert bodies[agreed]["emails"] == [{"value": "ada@example.com"}]
    assert {"displayName", "emails"} & set(bodies[silent]) == set()
    assert bodies[silent]["title"] == "Engineer"  # public, released to all
    refused = eap.get("/Users?filter=" + quote('displayName eq "Ada"'))
    assert_error(refused, 400, "invalidFilter")
