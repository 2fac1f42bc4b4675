"""SCIM attributes mapped to standard claims (OpenID Connect Core 1.0 §5.1, §5.4)."""

from __future__ import annotations

from typing import Any

import pytest

from scimserver.sso.provider.claims import SCOPE_CLAIMS
from scimserver.sso.provider.models import RelyingParty
from scimserver.sso.provider.relying_parties import OAuthClient


def claims_of(scope: str, body: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for claim, mapper in SCOPE_CLAIMS[scope].items():
        value = mapper(body)
        if value is not None:
            found[claim] = value
    return found


def test_the_primary_address_wins_and_only_a_work_address_is_verified() -> None:
    body: dict[str, Any] = {
        "emails": [
            {"value": "ada@home.example", "type": "home"},
            {"value": "ada@corp.example", "type": "work", "primary": True},
        ]
    }

    assert claims_of("email", body) == {
        "email": "ada@corp.example",
        "email_verified": True,
    }
    del body["emails"][1]["primary"]
    assert claims_of("email", body) == {
        "email": "ada@home.example",
        "email_verified": False,
    }


def test_withheld_attributes_give_no_claim_not_an_empty_one() -> None:
    assert claims_of("email", {}) == {}
    assert claims_of("phone", {"emails": []}) == {}
    assert claims_of("profile", {"name": {"givenName": "Ada"}}) == {"given_name": "Ada"}


def test_profile_claims_come_from_their_scim_attributes() -> None:
    body = {
        "userName": "ada",
        "name": {"formatted": "Ada King", "familyName": "King"},
        "nickName": "Ada",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "meta": {"lastModified": "2026-12-01T10:00:00.000Z"},
    }

    claims = claims_of("profile", body)

    assert claims["name"] == "Ada King"  # no displayName: the formatted name
    assert claims["preferred_username"] == "ada"
    assert claims["zoneinfo"] == "Europe/London"
    assert claims["updated_at"] == 1796119200


@pytest.mark.parametrize(
    ("requested", "granted"),
    [(None, "email openid profile"), ("openid email admin", "openid email")],
)
def test_scope_is_narrowed_to_the_registration(
    requested: str | None, granted: str
) -> None:
    party = RelyingParty(scope="email openid profile", grant_types=[])

    assert OAuthClient(party).get_allowed_scope(requested) == granted
