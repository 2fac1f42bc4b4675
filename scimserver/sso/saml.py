"""The hub as a SAML 2.0 service provider, one set of endpoints per IdP alias.

- ``GET /sso/saml/<alias>/metadata``: the SP's metadata (SAML 2.0 Metadata §2.4.4).
- ``GET /sso/saml/<alias>/login?next=``: an AuthnRequest over the HTTP-Redirect
  binding (SAML 2.0 Bindings §3.4).
- ``POST /sso/saml/<alias>/acs``: the assertion consumer service, HTTP-POST
  binding (Bindings §3.5; Profiles §4.1.4).
- Single logout lives in :mod:`.saml_logout`.

python3-saml validates signatures, conditions, audience and destination; the
hub adds what it leaves to the application: the ``InResponseTo`` must name an
outstanding request (:mod:`.login_requests`), an assertion is accepted once
(:mod:`.replay`), and deprecated algorithms are refused (:mod:`.saml_settings`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import xmlsec
from flask import Blueprint, abort, redirect, request
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.errors import OneLogin_Saml2_Error
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as Invalid
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from werkzeug.wrappers import Response

from scimserver.db import get_session
from scimserver.scim import api as scim_api
from scimserver.sso import error_page, login_requests, replay
from scimserver.sso.config import NAME_ID, SamlIdp, sso_config
from scimserver.sso.linking import UpstreamIdentity
from scimserver.sso.login_requests import PendingLogin
from scimserver.sso.next_path import HOME, safe_next
from scimserver.sso.saml_settings import PREFIX, request_data, saml_settings
from scimserver.sso.saml_subject import SamlSubject
from scimserver.sso.signin import complete_login, refuse, utc_now

logger = logging.getLogger(__name__)

blueprint = Blueprint("sso_saml", __name__, url_prefix=PREFIX)
error_page.register(blueprint)
METHOD = "saml"
METADATA_MEDIA_TYPE = "application/samlmetadata+xml"
#: How long a used assertion id is kept when the assertion names no end.
DEFAULT_REPLAY_WINDOW = timedelta(hours=8)

#: python3-saml's validation errors, as the reasons the audit log records.
REASONS = {
    Invalid.DEPRECATED_SIGNATURE_METHOD: "deprecated_algorithm",
    Invalid.DEPRECATED_DIGEST_METHOD: "deprecated_algorithm",
    Invalid.ASSERTION_EXPIRED: "expired",
    Invalid.ASSERTION_TOO_EARLY: "expired",
    Invalid.RESPONSE_EXPIRED: "expired",
    Invalid.SESSION_EXPIRED: "expired",
    Invalid.WRONG_SUBJECTCONFIRMATION: "expired",
    Invalid.WRONG_AUDIENCE: "wrong_audience",
    Invalid.WRONG_DESTINATION: "wrong_destination",
    Invalid.WRONG_ISSUER: "wrong_issuer",
    Invalid.WRONG_INRESPONSETO: "unsolicited",
    Invalid.INVALID_SIGNATURE: "bad_signature",
    Invalid.NO_SIGNED_ASSERTION: "bad_signature",
    Invalid.NO_SIGNATURE_FOUND: "bad_signature",
    Invalid.STATUS_CODE_IS_NOT_SUCCESS: "idp_error",
}
MESSAGES = {
    "bad_next": "The page to return to must be on this server.",
    "deprecated_algorithm": "The identity provider signed with an algorithm that "
    "is no longer safe (such as SHA-1).",
    "expired": "The sign-in response has expired. Please sign in again.",
    "bad_signature": "The sign-in response is not signed by the identity provider.",
    "idp_error": "The identity provider could not sign you in.",
    "unsolicited": "This sign-in was not started here. Please start it again.",
    "unknown_request": "This sign-in response does not answer a login in progress "
    "(it was used already, or it came too late). Please sign in again.",
    "replayed": "This sign-in response was used already. Please sign in again.",
}


@dataclass(frozen=True)
class Provider:
    """One configured IdP with the python3-saml settings of its SP."""

    idp: SamlIdp
    settings: OneLogin_Saml2_Settings
    base_url: str


@blueprint.get("/<alias>/metadata")
def metadata(alias: str) -> Response:
    """The SP metadata an IdP administrator imports (SAML 2.0 Metadata §2.4.4)."""
    provider = find_provider(alias)
    document = provider.settings.get_sp_metadata()
    return Response(document, mimetype=METADATA_MEDIA_TYPE)


@blueprint.get("/<alias>/login")
def login(alias: str) -> Response:
    """Send the browser to the IdP with an AuthnRequest (HTTP-Redirect binding)."""
    provider = find_provider(alias)
    next_path = safe_next(request.args.get("next"))
    if next_path is None:
        return _refuse(alias, "bad_next", status=400)

    auth = OneLogin_Saml2_Auth(
        request_data(request, provider.base_url), old_settings=provider.settings
    )
    url = auth.login(return_to=next_path)
    pending = PendingLogin(auth.get_last_request_id(), alias, METHOD, next_path)
    session = get_session()
    login_requests.remember(session, pending, utc_now())
    session.commit()
    return redirect(url, code=303)


@blueprint.post("/<alias>/acs")
def assertion_consumer_service(alias: str) -> Response:
    """Check a SAML response and sign its subject in (Profiles §4.1.4.3)."""
    provider = find_provider(alias)
    encoded = request.form.get("SAMLResponse", "")
    try:
        response = OneLogin_Saml2_Response(provider.settings, encoded)
    except (ValueError, etree.LxmlError, OneLogin_Saml2_Error):
        # Not base64, not XML, or XML with a DTD (refused against XXE).
        return _refuse(alias, "malformed", status=400)

    now = utc_now()
    next_path, refusal = _answered_request(provider, response, now)
    if refusal is not None:
        return _refuse(alias, refusal)
    reason = _invalid_reason(provider, response)
    if reason is not None:
        return _refuse(alias, reason)

    expires = _assertion_end(response) or now + DEFAULT_REPLAY_WINDOW
    assertion_id = str(response.get_assertion_id())
    session = get_session()
    if not replay.first_use(session, provider.idp.issuer, assertion_id, expires, now):
        return _refuse(alias, "replayed")
    # The request is answered and the assertion used, whatever linking decides.
    session.commit()
    return complete_login(
        _identity(provider.idp, response),
        provider.idp.link,
        idp_alias=alias,
        method=METHOD,
        next_path=next_path,
        upstream=SamlSubject.from_response(alias, response).record(),
    )


def find_provider(alias: str) -> Provider:
    """The IdP configured as ``alias`` with its SP settings; 404 when none is."""
    config = sso_config()
    idp = config.saml.get(alias)
    if idp is None:
        abort(404)
    base_url = scim_api.settings().base_url
    return Provider(idp, saml_settings(idp, base_url, config.sp_keys), base_url)


def _answered_request(
    provider: Provider, response: OneLogin_Saml2_Response, now: datetime
) -> tuple[str, str | None]:
    """Where the answered request wanted to go, or why it may not be answered.

    A response naming no request is IdP-initiated (Profiles §4.1.5) and allowed
    only where the IdP's configuration says so; it lands on its RelayState if
    that is a path on this server. A response naming a request the hub did not
    send, or one already answered or expired, is refused.
    """
    in_response_to = response.get_in_response_to()
    if in_response_to is None:
        if not provider.idp.allow_idp_initiated:
            return HOME, "unsolicited"
        return safe_next(request.form.get("RelayState")) or HOME, None

    pending = login_requests.consume(
        get_session(), str(in_response_to), provider.idp.alias, now, METHOD
    )
    if pending is None:
        return HOME, "unknown_request"
    return pending.next_path, None


def _invalid_reason(
    provider: Provider, response: OneLogin_Saml2_Response
) -> str | None:
    """Validate with python3-saml; the refusal reason, or None when valid."""
    data = request_data(request, provider.base_url)
    try:
        response.is_valid(data, response.get_in_response_to(), raise_exceptions=True)
    except Invalid as error:
        logger.info("saml response invalid code=%s", error.code)
        return REASONS.get(error.code, "invalid_response")
    except (OneLogin_Saml2_Error, xmlsec.Error, etree.LxmlError) as error:
        logger.info("saml response not verified error=%s", type(error).__name__)
        return "bad_signature"
    return None


def _assertion_end(response: OneLogin_Saml2_Response) -> datetime | None:
    end = response.get_assertion_not_on_or_after()
    return None if end is None else datetime.fromtimestamp(end, UTC)


def _identity(idp: SamlIdp, response: OneLogin_Saml2_Response) -> UpstreamIdentity:
    subject = str(response.get_nameid())
    attributes = response.get_attributes()
    if idp.link.source == NAME_ID:
        match_value: str | None = subject
    else:
        values = attributes.get(idp.link.source) or []
        match_value = str(values[0]) if values else None
    return UpstreamIdentity(
        issuer=idp.issuer,
        subject=subject,
        match_value=match_value,
        email_verified=idp.link.email_trusted,
    )


def _refuse(alias: str, reason: str, status: int = 403) -> Response:
    message = MESSAGES.get(reason, "This sign-in response cannot be accepted.")
    return refuse(reason, message, idp_alias=alias, method=METHOD, status=status)
