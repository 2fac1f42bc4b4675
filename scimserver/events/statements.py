"""Reading learning events: xAPI statements and the plain JSON form.

An xAPI statement (xAPI 1.0.3, Part Two §2.4) names an ``actor``, a ``verb`` by
IRI and an ``object`` (the module, an Activity whose ``id`` is an IRI or the
LMS's module id). The hub understands three ADL verbs::

    http://adlnet.gov/expapi/verbs/completed
    http://adlnet.gov/expapi/verbs/passed
    http://adlnet.gov/expapi/verbs/progressed

The actor is an Agent identified by ``account`` (``homePage`` and ``name``,
§2.4.2.4) or by ``mbox`` (a ``mailto:`` IRI, §2.4.2.3). The plain form is::

    {"id": "optional statement id", "employee": "pid-... or a userName",
     "module_id": "wellness-101", "event": "completed",
     "timestamp": "2026-12-03T10:00:00Z"}

Only the verb, the module and the moment are kept; a statement's ``result``
(score, duration, response text) is dropped unread.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
VERBS = ("completed", "passed", "progressed")
#: Plain events get a statement id derived from their content, so that the same
#: event posted twice is recognised as a repeat.
PLAIN_NAMESPACE = uuid.UUID("6f1d8a52-0c1e-4a7e-9a51-6b8f3f1e2c40")
MODULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#?=&-]{0,199}")


class StatementError(ValueError):
    """A statement the hub cannot read; the message says what to fix."""


@dataclass(frozen=True)
class Actor:
    """Who the statement is about, as the LMS named them."""

    #: ``account`` or ``mbox``.
    kind: str
    #: The account name (a pseudonym, externalId or userName) or the address.
    name: str


@dataclass(frozen=True)
class LearningFact:
    """What the hub keeps of one statement."""

    statement_id: str
    actor: Actor
    module_id: str
    verb: str
    occurred: datetime


def statement_id_of(body: Any) -> str | None:
    """The id a statement claims, to file it under in quarantine; None if none."""
    if isinstance(body, Mapping) and isinstance(body.get("id"), str):
        return str(body["id"])[:200]
    return None


def read_statement(body: Any) -> LearningFact:
    """Read one statement in either form, or raise :class:`StatementError`."""
    if not isinstance(body, Mapping):
        raise StatementError("A statement must be a JSON object.")
    if "actor" in body or "verb" in body:
        return read_xapi(body)
    if "employee" in body:
        return read_plain(body)
    raise StatementError(
        "Unknown statement form: send an xAPI statement (actor, verb, object) "
        "or a plain event (employee, module_id, event, timestamp)."
    )


def read_xapi(body: Mapping[str, Any]) -> LearningFact:
    """Read an xAPI statement (xAPI 1.0.3, Part Two §2.4)."""
    statement_id = _statement_uuid(body.get("id"))
    verb = _xapi_verb(body.get("verb"))
    activity = body.get("object")
    if not isinstance(activity, Mapping) or activity.get("objectType", "Activity") != (
        "Activity"
    ):
        raise StatementError("object must be an Activity (the module).")

    return LearningFact(
        statement_id=statement_id,
        actor=_agent(body.get("actor")),
        module_id=module_id_of(activity.get("id")),
        verb=verb,
        occurred=_occurred(body.get("timestamp")),
    )


def read_plain(body: Mapping[str, Any]) -> LearningFact:
    """Read the plain form; its statement id is given or derived from its content."""
    employee, event = body.get("employee"), body.get("event")
    if not isinstance(employee, str) or not employee.strip():
        raise StatementError("employee must name the employee.")
    if event not in VERBS:
        raise StatementError(f"event must be one of {', '.join(VERBS)}.")
    module_id = module_id_of(body.get("module_id"))
    occurred = _timestamp(body.get("timestamp"), "timestamp")

    given = body.get("id")
    if given is None:
        content = f"{employee}\n{module_id}\n{event}\n{occurred.isoformat()}"
        statement_id = str(uuid.uuid5(PLAIN_NAMESPACE, content))
    else:
        statement_id = _statement_uuid(given)
    actor = Actor("account", employee.strip())
    return LearningFact(statement_id, actor, module_id, str(event), occurred)


def module_id_of(value: Any) -> str:
    """The module id: the Activity id as sent (an IRI or a short name)."""
    if not isinstance(value, str) or not MODULE_ID.fullmatch(value):
        raise StatementError(
            "The module (object.id or module_id) must be an IRI or a name of "
            "letters, digits and . _ : / - (at most 200 characters)."
        )
    return value


def _statement_uuid(value: Any) -> str:
    """xAPI statement ids are UUIDs (Part Two §2.4.1)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise StatementError("id must be a UUID (xAPI statement id).") from None


def _xapi_verb(verb: Any) -> str:
    verb_id = verb.get("id") if isinstance(verb, Mapping) else None
    if not isinstance(verb_id, str) or not verb_id.startswith(ADL_VERBS):
        raise StatementError(
            "verb.id must be an ADL verb IRI: "
            + ", ".join(ADL_VERBS + name for name in VERBS)
        )
    name = verb_id.removeprefix(ADL_VERBS)
    if name not in VERBS:
        raise StatementError(f"verb {verb_id} is not one the hub records.")
    return name


def _agent(actor: Any) -> Actor:
    """An Agent by ``account`` or ``mbox`` (Part Two §2.4.2.1)."""
    if not isinstance(actor, Mapping):
        raise StatementError("actor must be an Agent object.")
    account = actor.get("account")
    if isinstance(account, Mapping):
        name = account.get("name")
        if not isinstance(name, str) or not name.strip():
            raise StatementError("actor.account.name must name the employee.")
        return Actor("account", name.strip())
    mbox = actor.get("mbox")
    if isinstance(mbox, str) and mbox.startswith("mailto:") and "@" in mbox:
        return Actor("mbox", mbox.removeprefix("mailto:").strip())
    raise StatementError(
        "actor must be identified by account {homePage, name} or by mbox "
        "(mailto: address)."
    )


def _occurred(value: Any) -> datetime:
    """An xAPI statement without a timestamp happened when stored (§2.4.7)."""
    if value is None:
        return datetime.now(UTC)
    return _timestamp(value, "timestamp")


def _timestamp(value: Any, key: str) -> datetime:
    """An ISO 8601 moment with its offset (xAPI Part Two §4.5)."""
    if not isinstance(value, str):
        raise StatementError(f"{key} must be an ISO 8601 date-time.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise StatementError(f"{key} is not an ISO 8601 date-time.") from None
    if moment.tzinfo is None:
        raise StatementError(f"{key} needs a time zone offset (or Z).")
    return moment.astimezone(UTC)
