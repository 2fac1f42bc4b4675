"""The signed-in employee refers themself: ``POST /account/referrals``.

A form post from the hub's own pages, authenticated by the employee's sign-in
session (:mod:`scimserver.sso.session`) and protected by its CSRF token
(:mod:`scimserver.sso.csrf`). It needs a consent in effect for the EAP, as a
rule-made referral does; afterwards the browser goes on to ``next`` (a path on
this server) or to the consent page. Fields: ``csrf_token``, optionally
``connector`` (needed only when several EAPs are configured) and ``next``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, abort, g, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from scimserver.db import get_session
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
from scimserver.sso.csrf import check_csrf
from scimserver.sso.next_path import safe_next
from scimserver.sso.session import signed_in_user_id

logger = logging.getLogger(__name__)

blueprint = Blueprint("referral_page", __name__, url_prefix="/account/referrals")
CONSENT_PAGE = "/account/consent"


def init_app(app: Flask) -> None:
    """Register the self-referral form endpoint."""
    app.register_blueprint(blueprint)


@blueprint.post("")
def refer_myself() -> Response | WerkzeugResponse:
    """Create the employee's self-referral; 303 to ``next`` or the consent page."""
    user_id = signed_in_user_id()
    if user_id is None:
        return redirect("/sso/login?next=" + CONSENT_PAGE, code=303)
    check_csrf()
    g.audit_actor = f"employee:{user_id}"
    given = request.form.get("next")
    target = (safe_next(given) if given else None) or CONSENT_PAGE

    try:
        config = referral_connector(_connector_name(request.form.get("connector")))
    except NoSuchConnector:
        abort(400, "There is no such employee assistance programme.")
    session, now = get_session(), datetime.now(UTC)
    consent = consent_for(session, config, user_id, now)
    if consent is None:
        abort(409, "Agree to the referral on the consent page first.")

    offer = Offer(user_id, config.name, None, SELF_REFERRAL_REASON, "self")
    if open_referral(session, offer) is None:
        create_referral(session, offer, consent, now)
        session.commit()
    return redirect(target, code=303)


def _connector_name(value: str | None) -> str:
    if value:
        return value
    names = referral_connectors()
    return names[0] if len(names) == 1 else ""
