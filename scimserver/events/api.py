"""The learning event and referral API under ``/api/v1``.

- ``POST /learning-events`` (scope ``events:write``): one statement (an object)
  or a batch (an array), xAPI or plain. 200 when every statement was stored or
  was a repeat; 422 when any was quarantined. Either way the body lists each
  statement's fate in order, and the good statements of a batch are stored.
- ``POST /referrals`` (scope ``consent:write``): an employee's self-referral,
  made by a client acting for them.
- ``GET /referrals/<id>`` (scope ``consent:read``): a referral and its state.
- ``POST /referrals/callbacks/<connector>``: the EAP reports a referral's
  state, signed per Standard Webhooks with the connector's callback secret.
- ``GET /reports/programme`` (scope ``reports:read``): the programme report of
  :mod:`scimserver.events.report`; ``since``, ``until`` (ISO 8601) and
  ``cohort`` (a Group id) narrow it. The suppression minimum is the server's
  setting and cannot be lowered by the caller.

Errors are SCIM error bodies (RFC 7644 §3.12), as in the consent API.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from scimserver.connectors.config import EXTENSION_KEY as CONNECTORS_KEY
from scimserver.connectors.config import current_catalog
from scimserver.db import get_session
from scimserver.events import lifecycle, rules, self_service
from scimserver.events.eap_connector import MESSAGE_PREFIX, EapReferralConnector
from scimserver.events.ingest import Outcome, ingest
from scimserver.events.models import Referral
from scimserver.events.referrals import (
    SELF_REFERRAL_REASON,
    NoSuchConnector,
    Offer,
    consent_for,
    create_referral,
    open_referral,
    referral_connector,
    referral_connectors,
)
from scimserver.events.report import Period, programme_report
from scimserver.events.rules import current_rules
from scimserver.models import Resource
from scimserver.policy.auth import authenticate_request, current_client, require_scope
from scimserver.policy.client_view import release_policy_for
from scimserver.policy.rate_limit import enforce_rate_limit
from scimserver.scim.errors import (
    Conflict,
    InvalidSyntax,
    InvalidValue,
    NotFound,
    TooMany,
    Unauthorized,
    UnsupportedMediaType,
)

logger = logging.getLogger(__name__)

blueprint = Blueprint("events", __name__, url_prefix="/api/v1")
EVENTS_SCOPE = "events:write"
PUBLIC_ENDPOINTS = frozenset({"events.referral_callback"})
MAX_BATCH = 500


def init_app(app: Flask) -> None:
    """Read the referral rules and register the API."""
    rules.init_app(app, app.extensions[CONNECTORS_KEY])
    app.register_blueprint(blueprint)
    self_service.init_app(app)


def utc_now() -> datetime:
    """The moment a request acts at."""
    return datetime.now(UTC)


@blueprint.before_request
def _authenticate() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    return enforce_rate_limit(authenticate_request())


@blueprint.post("/learning-events")
def post_learning_events() -> Response:
    """Record one statement or a batch; report each statement's fate."""
    require_scope(EVENTS_SCOPE)
    body = _json_body()
    batch = body if isinstance(body, list) else [body]
    if len(batch) > MAX_BATCH:
        raise TooMany(f"Send at most {MAX_BATCH} statements per request.")
    client = current_client()
    assert client is not None  # _authenticate ran.
    policy, session, now = release_policy_for(client), get_session(), utc_now()

    outcomes = [ingest(session, client.name, policy, item, now) for item in batch]
    session.commit()
    quarantined = sum(o.status == "quarantined" for o in outcomes)
    result = {
        "stored": sum(o.status == "stored" for o in outcomes),
        "duplicates": sum(o.status == "duplicate" for o in outcomes),
        "quarantined": quarantined,
        "results": [_outcome_body(o) for o in outcomes],
    }
    return _json(result, status=422 if quarantined else 200)


@blueprint.post("/referrals")
def post_referral() -> Response:
    """An employee refers themself; 201 new, 200 when one is already open."""
    require_scope("consent:write")
    body = _json_body()
    if not isinstance(body, dict):
        raise InvalidSyntax("The body must be a JSON object.")
    session, now = get_session(), utc_now()
    user_id = _user_id(body.get("userId"))
    try:
        config = referral_connector(_connector_name(body.get("connector")))
    except NoSuchConnector as error:
        raise InvalidValue(str(error)) from None

    consent = consent_for(session, config, user_id, now)
    if consent is None:
        raise Conflict(
            "The employee holds no consent in effect for referrals to this EAP; "
            "a consent must be granted first."
        )
    offer = Offer(
        user_id,
        config.name,
        _optional_text(body, "moduleId"),
        _optional_text(body, "reason") or SELF_REFERRAL_REASON,
        "self",
    )
    existing = open_referral(session, offer)
    if existing is not None:
        return _json(referral_body(existing))
    referral = create_referral(session, offer, consent, now)
    session.commit()
    return _json(referral_body(referral), status=201)


@blueprint.get("/referrals/<referral_id>")
def get_referral(referral_id: str) -> Response:
    """One referral and its state."""
    require_scope("consent:read")
    referral = get_session().get(Referral, referral_id)
    if referral is None:
        raise NotFound("No referral with that id.")
    return _json(referral_body(referral))


@blueprint.post("/referrals/callbacks/<connector>")
def referral_callback(connector: str) -> Response:
    """The EAP reports ``{"referralId": ..., "status": ...}``, signed.

    ``referralId`` is the ``webhook-id`` the referral was delivered with
    (``referral_<id>``); the bare id is accepted too.
    """
    sender = _callback_sender(connector)
    text = request.get_data(as_text=True)
    try:
        report = sender.verify_callback(text, dict(request.headers.items()))
    except Exception:
        logger.warning("referral callback refused connector=%s", connector)
        raise Unauthorized("The webhook signature is missing or not valid.") from None

    status = report.get("status") if isinstance(report, dict) else None
    if status not in lifecycle.REPORTED:
        raise InvalidValue(f"status must be one of {', '.join(lifecycle.REPORTED)}.")
    session, now = get_session(), utc_now()
    referral_id = str(report.get("referralId")).removeprefix(MESSAGE_PREFIX)
    referral = session.get(Referral, referral_id, with_for_update=True)
    if referral is None or referral.connector != connector:
        raise NotFound("No referral with that id was sent through this connector.")
    if referral.state != status:
        if not lifecycle.can_move(referral.state, status):
            raise Conflict(
                f"A referral in state {referral.state} cannot become {status}."
            )
        lifecycle.move(session, referral, status, now, actor=f"connector:{connector}")
        session.commit()
    return _json(referral_body(referral))


@blueprint.get("/reports/programme")
def get_programme_report() -> Response:
    """Completion per module and the referral funnels, small counts suppressed."""
    require_scope("reports:read")
    period = Period(_query_moment("since"), _query_moment("until"))
    cohort = request.args.get("cohort")
    session = get_session()
    if cohort is not None:
        group = session.get(Resource, cohort)
        if group is None or group.resource_type != "Group":
            raise NotFound("No Group with that id (cohort).")
    minimum = current_app.config["SETTINGS"].report_min_count
    return _json(programme_report(session, current_rules(), period, minimum, cohort))


def referral_body(referral: Referral) -> dict[str, Any]:
    """A referral as the API shows it; never the consent token."""
    return {
        "id": referral.id,
        "userId": referral.user_id,
        "connector": referral.connector,
        "moduleId": referral.module_id,
        "reason": referral.reason,
        "origin": referral.origin,
        "rulesVersion": referral.rules_version,
        "state": referral.state,
        "created": referral.created.isoformat(),
        "updated": referral.updated.isoformat(),
    }


def _callback_sender(connector: str) -> EapReferralConnector:
    try:
        referral_connector(connector)
    except NoSuchConnector:
        raise NotFound(f"No eap_referral connector named '{connector}'.") from None
    sender = current_catalog().sender(connector)
    assert isinstance(sender, EapReferralConnector)
    return sender


def _query_moment(name: str) -> datetime | None:
    text = request.args.get(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"{name} must be an ISO 8601 date or date-time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _connector_name(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    names = referral_connectors()
    if len(names) != 1:
        raise InvalidValue("Name the EAP in 'connector' (an eap_referral connector).")
    return names[0]


def _user_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidValue("userId must name the employee (the User's id).")
    user = get_session().get(Resource, value)
    if user is None or user.resource_type != "User" or user.deprovisioned:
        raise NotFound("No provisioned User with that id.")
    return value


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > 200):
        raise InvalidValue(f"{key} must be a string of at most 200 characters.")
    return value


def _outcome_body(outcome: Outcome) -> dict[str, Any]:
    body: dict[str, Any] = {"id": outcome.statement_id, "status": outcome.status}
    if outcome.error is not None:
        body["error"] = outcome.error
        body["quarantineId"] = outcome.quarantine_id
    if outcome.referrals:
        body["referrals"] = outcome.referrals
    return body


def _json_body() -> Any:
    """The request's JSON (an object or an array), or the matching SCIM error."""
    if request.mimetype not in ("application/json", "application/scim+json"):
        raise UnsupportedMediaType("Send the body as application/json.")
    try:
        return json.loads(request.get_data(cache=True))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidSyntax(f"The body is not valid JSON: {error}.") from None


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
