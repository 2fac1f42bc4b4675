"""Whether an IdP's LogoutRequest names the principal and session of the hub's."""

from __future__ import annotations

import pytest

from scimserver.sso.saml_subject import SamlSubject

PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
SUBJECT = SamlSubject("corp", "bjensen", PERSISTENT, session_index="_s1")


@pytest.mark.parametrize(
    ("name_id", "indexes", "named"),
    [
        ({"Value": "bjensen", "Format": PERSISTENT}, ["_s1"], True),
        ({"Value": "bjensen"}, [], True),
        ({"Value": "bjensen", "Format": PERSISTENT}, ["_s0", "_s1"], True),
        ({"Value": "bjensen", "Format": PERSISTENT}, ["_s2"], False),
        ({"Value": "bjensen", "Format": EMAIL}, ["_s1"], False),
        ({"Value": "BJENSEN", "Format": PERSISTENT}, ["_s1"], False),
        ({"Format": PERSISTENT}, [], False),
    ],
)
def test_is_named_by(name_id: dict[str, str], indexes: list[str], named: bool) -> None:
    assert SUBJECT.is_named_by(name_id, indexes) is named


def test_without_a_session_index_the_name_id_decides() -> None:
    subject = SamlSubject("corp", "bjensen")

    assert subject.is_named_by({"Value": "bjensen"}, ["_any"])


@pytest.mark.parametrize(
    "record",
    [None, "bjensen", {"idp_alias": "corp"}, {"idp_alias": 1, "name_id": "x"}],
)
def test_a_record_that_is_not_a_subject_reads_as_none(record: object) -> None:
    assert SamlSubject.from_record(record) is None


def test_record_round_trip() -> None:
    assert SamlSubject.from_record(SUBJECT.record()) == SUBJECT
