"""Policy documents: validated against the schemas, canonical, versioned by digest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scimserver.policy.policy_document import (
    DEFAULT_POLICY,
    PolicyDocument,
    PolicyError,
    dump_policy,
    parse_policy,
    policy_digest,
)
from tests.policy.release_support import ENTERPRISE, GROUP, USER, dictionary, registry

EAP_POLICY: dict[str, Any] = {
    "description": "EAP vendor",
    "read": {
        "classifications": ["public"],
        "attributes": [f"{USER}:phoneNumbers", f"{USER}:emails.value"],
        "deny": [f"{USER}:emails.display"],
    },
    "purposes": ["eap_referral"],
    "recipient": "eap-vendor",
    "cohort": {"group": "e9e30dba-f08f-4109-8486-d5c6a331660a"},
    "pseudonymous": {"enabled": True, "sector": "eap"},
}


def test_a_full_policy_is_read() -> None:
    document = parse_policy(json.dumps(EAP_POLICY), registry())

    assert document == PolicyDocument(
        read_classifications=("public",),
        read_attributes=(f"{USER}:emails.value", f"{USER}:phoneNumbers"),
        read_deny=(f"{USER}:emails.display",),
        purposes=("eap_referral",),
        recipient="eap-vendor",
        cohort_group="e9e30dba-f08f-4109-8486-d5c6a331660a",
        pseudonymous=True,
        sector="eap",
        description="EAP vendor",
    )


def test_an_empty_policy_releases_and_allows_nothing() -> None:
    assert parse_policy("{}", registry()) == PolicyDocument()


def test_paths_are_stored_in_their_canonical_spelling() -> None:
    source = {
        "read": {"attributes": [f"{USER.upper()}:PHONENUMBERS.Value"]},
        "write": {
            "attributes": [f"{USER}:externalid", f"{ENTERPRISE}:manager"],
            "delete": ["user"],
        },
    }

    document = parse_policy(source, registry())

    assert document.read_attributes == (f"{USER}:phoneNumbers.value",)
    assert document.write_attributes == (f"{USER}:externalId", f"{ENTERPRISE}:manager")
    assert document.write_delete == ("User",)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("[1]", "a policy is a JSON object"),
        ("{", "not JSON"),
        ({"reed": {}}, "reed: Unknown field."),
        ({"read": {"classifications": ["sensitive"]}}, "cannot be released wholesale"),
        ({"read": {"classifications": ["restricted"]}}, "cannot be released wholesale"),
        ({"read": {"attributes": ["emails"]}}, "does not start with the URN"),
        ({"read": {"attributes": [f"{USER}:emails.nope"]}}, "no sub-attribute 'nope'"),
        ({"read": {"deny": [f"{USER}:nope"]}}, "Unknown attribute"),
        ({"read": {"attributes": ["urn:x:y:z"]}}, "does not start with the URN"),
        (
            {"read": {"attributes": [f"{USER}:title"], "deny": [f"{USER}:title"]}},
            "both released and denied",
        ),
        ({"write": {"attributes": [f"{USER}:groups"]}}, "is readOnly"),
        ({"write": {"attributes": [f"{USER}:meta.created"]}}, "is readOnly"),
        ({"write": {"attributes": [f"{GROUP}:id"]}}, "is readOnly"),
        ({"write": {"delete": ["Widget"]}}, "unknown resource type 'Widget'"),
        (
            {
                "write": {"attributes": [f"{GROUP}:members"]},
                "pseudonymous": {"enabled": True},
            },
            "cannot write",
        ),
        ({"pseudonymous": {"enabled": "true"}}, "Not a valid boolean"),
        ({"pseudonymous": {"sector": "eap"}}, "enabled: Missing data"),
        ({"pseudonymous": {"enabled": False, "sector": "eap"}}, "enabled is false"),
        ({"pseudonymous": {"enabled": True, "sector": "a b"}}, "sector"),
        ({"purposes": ["EAP Referral"]}, "purposes.0"),
        ({"purposes": ["eap referral"]}, "purposes.0"),
        ({"recipient": ""}, "recipient"),
        ({"cohort": {}}, "cohort.group: Missing data"),
        ({"read": {"attributes": "x"}}, "read.attributes: Not a valid list"),
    ],
)
def test_an_invalid_policy_is_refused_with_the_reason(
    source: str | dict[str, Any], problem: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(source, registry())

    assert any(problem in line for line in caught.value.problems), caught.value


def test_every_problem_is_reported_at_once() -> None:
    source = {
        "read": {"attributes": [f"{USER}:nope", f"{USER}:emails.nope"]},
        "write": {"delete": ["Widget"]},
    }

    with pytest.raises(PolicyError) as caught:
        parse_policy(source, registry())

    assert len(caught.value.problems) == 3


def test_a_sensitive_attribute_without_a_purpose_is_refused_given_the_dictionary() -> (
    None
):
    source = {"read": {"attributes": [f"{USER}:phoneNumbers"]}}

    assert parse_policy(source, registry()).read_attributes
    with pytest.raises(PolicyError, match="needs a purpose"):
        parse_policy(source, registry(), dictionary())
    parse_policy({**source, "purposes": ["eap_referral"]}, registry(), dictionary())


def test_a_policy_survives_a_round_trip_through_its_json_form() -> None:
    document = parse_policy(EAP_POLICY, registry())

    again = parse_policy(json.dumps(dump_policy(document)), registry())

    assert again == document


@pytest.mark.parametrize("document", [DEFAULT_POLICY, PolicyDocument()])
def test_the_builtin_policies_are_valid_documents(document: PolicyDocument) -> None:
    assert parse_policy(dump_policy(document), registry()) == document


def test_the_digest_ignores_spelling_and_order() -> None:
    shuffled = {
        **EAP_POLICY,
        "read": {
            "classifications": ["public", "public"],
            "attributes": [f"{USER}:emails.VALUE", f"{USER}:phonenumbers"],
            "deny": [f"{USER}:emails.display"],
        },
    }

    first = policy_digest(parse_policy(EAP_POLICY, registry()))
    second = policy_digest(parse_policy(shuffled, registry()))

    assert first == second
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64


@pytest.mark.parametrize(
    "change",
    [
        {"purposes": ["research"]},
        {"recipient": "other"},
        {"cohort": {"group": "other"}},
        {"pseudonymous": {"enabled": True, "sector": "other"}},
        {"read": {"classifications": ["public", "internal"]}},
        {"write": {"attributes": [f"{USER}:title"]}},
    ],
)
def test_the_digest_changes_with_the_policy(change: dict[str, Any]) -> None:
    before = policy_digest(parse_policy(EAP_POLICY, registry()))

    after = policy_digest(parse_policy({**EAP_POLICY, **change}, registry()))

    assert after != before


def test_the_default_policy_releases_public_data_under_pseudonyms() -> None:
    assert DEFAULT_POLICY.read_classifications == ("public",)
    assert DEFAULT_POLICY.read_attributes == ()
    assert DEFAULT_POLICY.write_attributes == ()
    assert DEFAULT_POLICY.write_delete == ()
    assert DEFAULT_POLICY.pseudonymous
