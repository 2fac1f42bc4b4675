"""The employee's consent page under ``/account/consent``.

A signed-in employee (:mod:`scimserver.sso.session`) sees each offered
purpose, what it would share, with whom and why; grants or withdraws with one
button each; reads the consent history and downloads each signed receipt.
The page is rendered on the server and works without JavaScript; every form
carries a CSRF token (:mod:`scimserver.sso.csrf`).

``purpose`` and ``recipient`` narrow the page to one offer, and ``next`` (a
path on this server) is where a grant sends the employee: the OpenID Provider
sends people here before an app that needs their consent.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from scimserver.consent import grants
from scimserver.consent.mirror import consent_resource_type
from scimserver.consent.models import Consent
from scimserver.consent.offers import grant_request, offer_views
from scimserver.consent.receipts import JWKS_PATH, receipt_claims, sign_receipt
from scimserver.consent.records import ConsentRecord, consent_history
from scimserver.consent.signing_key import receipt_key
from scimserver.db import get_session
from scimserver.models import Resource
from scimserver.policy.dictionary import DataDictionary
from scimserver.scim import api as scim_api
from scimserver.sso import error_page
from scimserver.sso.config import ConsentOffer, sso_config
from scimserver.sso.csrf import check_csrf
from scimserver.sso.linking import LinkRefused, check_may_sign_in
from scimserver.sso.next_path import safe_next
from scimserver.sso.session import sign_out, signed_in_user_id

logger = logging.getLogger(__name__)

blueprint = Blueprint("consent_page", __name__, url_prefix="/account/consent")
error_page.register(blueprint)
PAGE = "/account/consent"
DICTIONARY_KEY = "scimserver.data_dictionary"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
#: Who the consent register names as having recorded a consent from this page.
CAPTURED_BY = "employee"


def init_app(app: Flask) -> None:
    """Register the consent page."""
    app.register_blueprint(blueprint)


def utc_now() -> datetime:
    """The moment the page acts at (tests replace it to move the clock)."""
    return datetime.now(UTC)


@blueprint.before_request
def _require_employee() -> Response | None:
    """Send a visitor who is not signed in to the login, and back here after."""
    user_id = signed_in_user_id()
    if user_id is None:
        target = request.full_path if request.method == "GET" else PAGE
        return redirect("/sso/login?" + urlencode({"next": target.rstrip("?")}))

    try:
        check_may_sign_in(get_session().get(Resource, user_id), utc_now())
    except LinkRefused:
        # Deactivated since signing in: the session ends here.
        sign_out()
        return redirect("/sso/login?" + urlencode({"next": PAGE}))
    g.audit_actor = f"employee:{user_id}"
    return None


@blueprint.get("")
def show() -> Response:
    """The offers, the employee's consents to them, and the history."""
    next_path = _next(request.args.get("next"))
    offers = _offers(request.args.get("purpose"), request.args.get("recipient"))
    user_id, now = _user_id(), utc_now()

    history = consent_history(get_session(), user_id)
    users = consent_resource_type()
    views = offer_views(offers, history, _dictionary(), users, now)
    page = render_template(
        "consent/page.html",
        views=views,
        history=history,
        now=now,
        next_path=next_path,
        narrowed=bool(request.args.get("purpose") or request.args.get("recipient")),
    )
    return _no_store(Response(page, mimetype="text/html"))


@blueprint.post("/grant")
def grant() -> Response:
    """Agree to one offer; then go on to ``next`` or back to the page."""
    check_csrf()
    next_path = _next(request.form.get("next"))
    offer = _one_offer(request.form.get("purpose"), request.form.get("recipient"))
    users, session = consent_resource_type(), get_session()

    grants.grant(
        session,
        users,
        _user_id(),
        grant_request(offer, users),
        captured_by=CAPTURED_BY,
        now=utc_now(),
    )
    session.commit()
    return redirect(next_path or PAGE, code=303)


@blueprint.post("/withdraw")
def withdraw() -> Response:
    """Withdraw one of the employee's consents, at once."""
    check_csrf()
    record = _own_consent(request.form.get("consent_id", ""))
    session = get_session()

    grants.withdraw(
        session,
        consent_resource_type(),
        record.consent_token,
        withdrawn_by=CAPTURED_BY,
        now=utc_now(),
    )
    session.commit()
    return redirect(PAGE, code=303)


@blueprint.get("/receipts/<consent_id>")
def download_receipt(consent_id: str) -> Response:
    """The signed receipt of one of the employee's consents, as a JSON file."""
    record = _own_consent(consent_id)
    settings = scim_api.settings()

    claims = receipt_claims(record, settings, utc_now())
    body = {
        "receipt": claims,
        "jws": sign_receipt(claims, receipt_key()),
        "jwksUri": settings.base_url + JWKS_PATH,
    }
    response = Response(json.dumps(body, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="consent-receipt-{record.id}.json"'
    )
    return _no_store(response)


def _user_id() -> str:
    user_id = signed_in_user_id()
    if user_id is None:
        abort(401)
    return user_id


def _next(value: str | None) -> str | None:
    """``next`` if it is a path on this server; absent is None; else 400."""
    if not value:
        return None
    found = safe_next(value)
    if found is None:
        abort(400, "The page to return to must be on this server.")
    return found


def _offers(purpose: str | None, recipient: str | None) -> tuple[ConsentOffer, ...]:
    """The configured offers, narrowed to ``purpose`` and ``recipient`` if given."""
    offers = tuple(
        offer
        for offer in sso_config().consent_offers
        if purpose in (None, "", offer.purpose)
        and recipient in (None, "", offer.recipient)
    )
    if not offers and (purpose or recipient):
        abort(404, "No consent is offered for that purpose and recipient.")
    return offers


def _one_offer(purpose: str | None, recipient: str | None) -> ConsentOffer:
    if not purpose or not recipient:
        abort(400, "Say which purpose and recipient you agree to.")
    return _offers(purpose, recipient)[0]


def _own_consent(consent_id: str) -> ConsentRecord:
    """A consent of the signed-in employee; another person's is not found (404)."""
    row = get_session().scalar(
        select(Consent).where(Consent.id == consent_id, Consent.user_id == _user_id())
    )
    if row is None:
        abort(404, "No such consent of yours.")
    return ConsentRecord.from_row(row)


def _dictionary() -> DataDictionary:
    """The data dictionary, read once per application."""
    dictionary = current_app.extensions.get(DICTIONARY_KEY)
    if dictionary is None:
        dictionary = DataDictionary.load(scim_api.settings().schema_dir)
        current_app.extensions[DICTIONARY_KEY] = dictionary
    loaded: DataDictionary = dictionary
    return loaded


def _no_store(response: Response) -> Response:
    """Consents are personal: no cache keeps the page or a receipt.

    No other site may frame the page either, so that a grant button cannot be
    overlaid and clicked unseen (clickjacking). ``form-action`` stays open: a
    grant's redirect chain may end at an app on another origin.
    """
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    return response
