"""Reading xAPI statements and plain events (xAPI 1.0.3 Part Two §2.4)."""

from __future__ import annotations

from typing import Any

import pytest

from scimserver.events.statements import (
    Actor,
    StatementError,
    read_plain,
    read_statement,
)

STATEMENT: dict[str, Any] = {
    "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
    "actor": {"account": {"homePage": "https://lms.example", "name": "e-1"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
    "object": {"id": "https://lms.example/modules/wellness-101"},
    "timestamp": "2026-12-03T10:00:00Z",
}


def test_an_xapi_statement_keeps_verb_module_and_moment_only() -> None:
    fact = read_statement({**STATEMENT, "result": {"score": {"raw": 9}}})

    assert fact.actor == Actor("account", "e-1")
    assert (fact.verb, fact.module_id) == (
        "passed",
        "https://lms.example/modules/wellness-101",
    )
    assert fact.occurred.isoformat() == "2026-12-03T10:00:00+00:00"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "42"}, "UUID"),
        ({"verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"}}, "not one"),
        ({"verb": "completed"}, "ADL verb"),
        ({"actor": {"name": "Babs"}}, "account"),
        ({"actor": {"mbox": "babs@example.com"}}, "mailto"),
        ({"object": {"objectType": "Agent", "id": "x"}}, "Activity"),
        ({"object": {"id": "has spaces"}}, "module"),
        ({"timestamp": "yesterday"}, "ISO 8601"),
        ({"timestamp": "2026-12-03T10:00:00"}, "time zone"),
    ],
)
def test_malformed_statements_say_what_is_wrong(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(StatementError, match=message):
        read_statement({**STATEMENT, **change})


def test_plain_events_get_a_stable_id_from_their_content() -> None:
    event = {
        "employee": "e-1",
        "module_id": "wellness-101",
        "event": "completed",
        "timestamp": "2026-12-03T10:00:00Z",
    }

    first, again = read_plain(event), read_plain(dict(event))
    later = read_plain({**event, "timestamp": "2026-12-04T10:00:00Z"})

    assert first.statement_id == again.statement_id != later.statement_id


def test_an_unknown_form_is_refused() -> None:
    with pytest.raises(StatementError, match="Unknown statement form"):
        read_statement({"user": "e-1"})
