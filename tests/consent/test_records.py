"""What the release policy reads: consents in effect, for many Users at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import event

from scimserver.consent.records import (
    EXPIRED,
    GRANTED,
    WITHDRAWN,
    ConsentRecord,
    granted_consents,
    has_granted_consent,
)
from scimserver.db import get_database
from tests.conftest import ScimClient
from tests.consent.conftest import Clock, ConsentClient, create_user

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def record(
    withdrawn_at: datetime | None = None, expires_at: datetime | None = None
) -> ConsentRecord:
    return ConsentRecord(
        id="c1",
        user_id="u1",
        purpose="eap_referral",
        recipient="eap-vendor",
        data_categories=("contact_details",),
        consent_token="ctk-x",
        notice_version="1",
        granted_at=T0,
        withdrawn_at=withdrawn_at,
        expires_at=expires_at,
        capture_method="api",
        captured_by="enrolment",
        withdrawn_by=None,
        withdrawal_reason=None,
    )


@pytest.mark.parametrize(
    ("withdrawn_at", "expires_at", "at", "status"),
    [
        (None, None, T0, GRANTED),
        (None, T0 + HOUR, T0 + HOUR - timedelta(microseconds=1), GRANTED),
        (None, T0 + HOUR, T0 + HOUR, EXPIRED),
        (T0 + HOUR, None, T0 + HOUR, WITHDRAWN),
        (T0 + HOUR, None, T0, GRANTED),
        (T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR, WITHDRAWN),
        (T0 + 2 * HOUR, T0 + HOUR, T0 + 3 * HOUR, EXPIRED),
    ],
)
def test_status_is_whichever_end_came_first(
    withdrawn_at: datetime | None,
    expires_at: datetime | None,
    at: datetime,
    status: str,
) -> None:
    assert record(withdrawn_at, expires_at).status(at) == status


def test_granted_consents_answers_for_many_users_in_one_query(
    app: Flask, scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    both, eap_only, withdrawn, expiring, none = (
        create_user(scim, name)
        for name in ("both", "eap-only", "withdrawn", "expiring", "none")
    )
    consents.granted(both)
    consents.granted(both, purpose="learning_progress_sharing", recipient="lms")
    consents.granted(eap_only)
    consents.withdraw(consents.granted(withdrawn)["consentToken"])
    consents.granted(expiring, expiresAt="2027-03-01T10:00:00Z")
    users = [both, eap_only, withdrawn, expiring, none]

    with get_database(app).sessions() as session:
        statements: list[str] = []
        event.listen(
            session.get_bind(),
            "before_cursor_execute",
            lambda *args: statements.append(args[2]),
        )
        everything = granted_consents(session, users, now=T0)
        assert len(statements) == 1
        eap = granted_consents(
            session, users, purpose="eap_referral", recipient="eap-vendor", now=T0
        )
        later = granted_consents(session, users, now=T0 + 2 * HOUR)

    assert {u: len(r) for u, r in everything.items()} == {
        both: 2,
        eap_only: 1,
        withdrawn: 0,
        expiring: 1,
        none: 0,
    }
    assert {u for u, r in eap.items() if r} == {both, eap_only, expiring}
    assert all(r.purpose == "eap_referral" for rs in eap.values() for r in rs)
    assert {u for u, r in later.items() if r} == {both, eap_only}


def test_granted_consents_of_no_users_runs_no_query(app: Flask) -> None:
    with get_database(app).sessions() as session:
        assert granted_consents(session, [], now=T0) == {}


def test_has_granted_consent_matches_purpose_and_recipient(
    app: Flask, scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    consents.granted(user_id)

    with get_database(app).sessions() as session:
        answers = [
            has_granted_consent(session, user_id, purpose, recipient, now)
            for purpose, recipient, now in [
                ("eap_referral", "eap-vendor", T0),
                ("eap_referral", "lms", T0),
                ("learning_progress_sharing", "eap-vendor", T0),
                ("eap_referral", "eap-vendor", T0 - HOUR),
            ]
        ]

    assert answers == [True, False, False, False]
