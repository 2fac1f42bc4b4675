"""The policies of the README's worked example are valid and mean what it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.policy_document import parse_policy
from scimserver.policy.release import ReleasePolicy
from scimserver.scim.schema import SchemaRegistry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy" / "policies"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def load(name: str) -> ReleasePolicy:
    registry = SchemaRegistry.load(ROOT / "schemas")
    dictionary = DataDictionary.load(ROOT / "schemas")
    text = (EXAMPLES / f"{name}.json").read_text()
    document = parse_policy(text, registry, dictionary)
    return ReleasePolicy(document, name, dictionary, pseudonym_key=b"k" * 32)


@pytest.mark.parametrize("name", ["hris", "lms", "eap"])
def test_each_example_is_a_valid_policy(name: str) -> None:
    assert json.loads((EXAMPLES / f"{name}.json").read_text())["description"]
    assert load(name).document.description


def test_the_example_clients_differ_as_the_readme_says() -> None:
    registry = SchemaRegistry.load(ROOT / "schemas")
    users = registry.resource_type("User")
    assert users is not None
    emails = users.resolve("emails")

    hris, lms, eap = load("hris"), load("lms"), load("eap")

    assert (hris.readable(emails), lms.readable(emails), eap.readable(emails)) == (
        "yes",
        "no",  # emails.display is denied, so emails as a whole is not released
        "consent",
    )
    assert (hris.sector, lms.sector, eap.sector) == (None, "lms", "eap")
    assert lms.subject_id("u-1") != eap.subject_id("u-1")
