"""SAML 2.0 single logout of the hub's service provider (Profiles §4.4).

- :func:`start_logout`: after ``POST /sso/logout`` ended the hub session of a
  SAML login, a LogoutRequest goes to the IdP over the HTTP-Redirect binding
  (Bindings §3.4), signed when the SP has a key. Its id is kept server-side
  (:mod:`.login_requests`) until the LogoutResponse names it.
- ``GET /sso/saml/<alias>/sls``: the single logout service. A LogoutResponse
  must answer an outstanding LogoutRequest of the hub, be addressed to this
  endpoint and carry a valid signature when it is signed. A LogoutRequest of
  the IdP must be signed; it ends the hub session when it names the session's
  principal (and IdP session), and is answered with a LogoutResponse.

A message that fails a check is refused with a page and an audit entry, and a
refused LogoutRequest leaves the session as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import xmlsec
from flask import Blueprint, abort, redirect, request
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from onelogin.saml2.errors import OneLogin_Saml2_Error
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as Invalid
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML
from werkzeug.wrappers import Response

from scimserver.db import get_session
from scimserver.sso import error_page, login_requests, replay
from scimserver.sso.config import sso_config
from scimserver.sso.login_requests import PendingLogin
from scimserver.sso.saml import DEFAULT_REPLAY_WINDOW, METHOD, Provider, find_provider
from scimserver.sso.saml_settings import PREFIX, request_data, sp_urls
from scimserver.sso.saml_subject import SamlSubject
from scimserver.sso.session import sign_out, signed_in_user_id, upstream_record
from scimserver.sso.signin import utc_now
from scimserver.sso.signout import record_logout, refuse_logout, signed_out_page

logger = logging.getLogger(__name__)

blueprint = Blueprint("sso_saml_logout", __name__, url_prefix=PREFIX)
error_page.register(blueprint)
#: The protocol under which outstanding LogoutRequest ids are kept.
PROTOCOL = "saml-slo"
LOGOUT_REQUEST = "LogoutRequest"
LOGOUT_RESPONSE = "LogoutResponse"
#: What a message may not be read as: not base64, not XML, or XML with a DTD.
MALFORMED = (ValueError, etree.LxmlError, OneLogin_Saml2_Error)

REASONS = {
    Invalid.WRONG_DESTINATION: "wrong_destination",
    Invalid.WRONG_ISSUER: "wrong_issuer",
    Invalid.WRONG_INRESPONSETO: "unknown_request",
    Invalid.RESPONSE_EXPIRED: "expired",
    Invalid.NO_SIGNED_MESSAGE: "unsigned",
    Invalid.INVALID_XML_FORMAT: "malformed",
    Invalid.NO_NAMEID: "malformed",
}
MESSAGES = {
    "malformed": "The sign-out message could not be read.",
    "unsigned": "The sign-out request is not signed by the identity provider, "
    "so you were not signed out.",
    "bad_signature": "The sign-out message is not signed by the identity provider.",
    "deprecated_algorithm": "The identity provider signed the sign-out message "
    "with an algorithm that is no longer safe (such as SHA-1).",
    "wrong_destination": "The sign-out message was meant for another address.",
    "wrong_issuer": "The sign-out message comes from another identity provider.",
    "expired": "The sign-out request has expired.",
    "replayed": "This sign-out request was used already.",
    "unknown_request": "This answer does not belong to a sign-out in progress "
    "(it was used already, or it came too late). You are signed out of this "
    "site, but maybe not of the identity provider.",
    "idp_error": "The identity provider could not sign you out. You are signed "
    "out of this site, but maybe not of the identity provider.",
}


def start_logout(subject: SamlSubject, next_path: str) -> Response | None:
    """Send the browser to the IdP with a LogoutRequest for ``subject``.

    None when the IdP of ``subject`` has no single logout service (any more),
    or when the request cannot be built (a broken SP key): the person then sees
    the signed-out page of the hub only.
    The hub session has ended already; the LogoutResponse lands on
    ``next_path``, or on the signed-out page when it is empty.
    """
    idp = sso_config().saml.get(subject.idp_alias)
    if idp is None or idp.slo_url is None:
        return None

    provider = find_provider(subject.idp_alias)
    auth = _auth(provider)
    try:
        url = auth.logout(
            return_to=next_path or None,
            name_id=subject.name_id,
            session_index=subject.session_index,
            nq=subject.name_qualifier,
            name_id_format=subject.name_id_format,
            spnq=subject.sp_name_qualifier,
        )
    except (OneLogin_Saml2_Error, xmlsec.Error) as error:
        # The hub session has ended; the IdP's is left for the person to end.
        logger.error(
            "saml logout request not built idp=%s error=%s",
            subject.idp_alias,
            type(error).__name__,
        )
        return None
    pending = PendingLogin(
        auth.get_last_request_id(), subject.idp_alias, PROTOCOL, next_path
    )
    session = get_session()
    login_requests.remember(session, pending, utc_now())
    session.commit()
    return redirect(url, code=303)


@blueprint.get("/<alias>/sls")
def single_logout_service(alias: str) -> Response:
    """Take a LogoutResponse or a LogoutRequest of the IdP (Profiles §4.4.4)."""
    provider = find_provider(alias)
    if provider.idp.slo_url is None:
        abort(404)

    if "SAMLResponse" in request.args:
        return _logout_response(provider)
    if "SAMLRequest" in request.args:
        return _logout_request(provider)
    return _refuse(provider, "malformed", "none", status=400)


def _logout_response(provider: Provider) -> Response:
    """Finish a logout the hub started: check the answer and say it is done."""
    try:
        answer = OneLogin_Saml2_Logout_Response(
            provider.settings, request.args["SAMLResponse"]
        )
        root = _root(answer.get_xml(), LOGOUT_RESPONSE)
    except MALFORMED:
        return _refuse(provider, "malformed", LOGOUT_RESPONSE, status=400)

    reason = _signature_reason(provider, "SAMLResponse", required=False)
    if reason is not None:
        return _refuse(provider, reason, LOGOUT_RESPONSE)
    pending = _answered_request(provider, answer.get_in_response_to())
    if pending is None:
        return _refuse(provider, "unknown_request", LOGOUT_RESPONSE)
    data = request_data(request, provider.base_url)
    reason = _invalid_reason(lambda: answer.is_valid(data, pending.id, True))
    reason = reason or _destination_reason(provider, root)
    if reason is None and answer.get_status() != Saml.STATUS_SUCCESS:
        reason = "idp_error"
    if reason is not None:
        return _refuse(provider, reason, LOGOUT_RESPONSE)

    detail = _detail(provider, LOGOUT_RESPONSE, initiated_by="sp")
    # The hub session ended when the logout began; the IdP confirms its own.
    record_logout({**detail, "idp_confirmed": True}, None)
    if pending.next_path:
        return redirect(pending.next_path, code=303)
    return signed_out_page()


def _logout_request(provider: Provider) -> Response:
    """End the session the IdP names, and answer it with a LogoutResponse."""
    try:
        message = OneLogin_Saml2_Logout_Request(
            provider.settings, request.args["SAMLRequest"]
        )
        root = _root(message.get_xml(), LOGOUT_REQUEST)
    except MALFORMED:
        return _refuse(provider, "malformed", LOGOUT_REQUEST, status=400)

    reason = _signature_reason(provider, "SAMLRequest", required=True)
    data = request_data(request, provider.base_url)
    reason = reason or _invalid_reason(lambda: message.is_valid(data, True))
    reason = reason or _destination_reason(provider, root)
    if reason is None and not _first_use(provider, root):
        reason = "replayed"
    if reason is not None:
        return _refuse(provider, reason, LOGOUT_REQUEST)

    try:
        key = provider.settings.get_sp_key()
        name_id = OneLogin_Saml2_Logout_Request.get_nameid_data(root, key)
    except (*MALFORMED, xmlsec.Error):
        return _refuse(provider, "malformed", LOGOUT_REQUEST, status=400)
    indexes = OneLogin_Saml2_Logout_Request.get_session_indexes(root)
    user_id = _end_session_named(provider.idp.alias, name_id, indexes)

    detail = _detail(provider, LOGOUT_REQUEST, initiated_by="idp")
    record_logout({**detail, "session_ended": user_id is not None}, user_id)
    return redirect(_logout_answer(provider, str(root.get("ID"))), code=303)


def _end_session_named(
    alias: str, name_id: dict[str, str], session_indexes: list[str]
) -> str | None:
    """End the hub session if the IdP's request names it; its User id, or None."""
    subject = SamlSubject.from_record(upstream_record())
    if subject is None or subject.idp_alias != alias:
        return None
    if not subject.is_named_by(name_id, session_indexes):
        return None

    user_id = signed_in_user_id()
    sign_out()
    return user_id


def _logout_answer(provider: Provider, request_id: str) -> str:
    """The redirect URL carrying a LogoutResponse to ``request_id`` (§3.7.2)."""
    auth = _auth(provider)
    answer = OneLogin_Saml2_Logout_Response(provider.settings)
    answer.build(request_id)
    parameters = {"SAMLResponse": answer.get_response()}
    relay_state = request.args.get("RelayState")
    if relay_state is not None:
        parameters["RelayState"] = relay_state

    security = provider.settings.get_security_data()
    if security["logoutResponseSigned"]:
        auth.add_response_signature(parameters, security["signatureAlgorithm"])
    return str(auth.redirect_to(auth.get_slo_response_url(), parameters))


def _answered_request(
    provider: Provider, in_response_to: str | None
) -> PendingLogin | None:
    """Take the outstanding LogoutRequest the answer names, or None."""
    if not in_response_to:
        return None
    return login_requests.consume(
        get_session(), in_response_to, provider.idp.alias, utc_now(), PROTOCOL
    )


def _signature_reason(provider: Provider, kind: str, *, required: bool) -> str | None:
    """Why the Redirect-binding signature fails (Bindings §3.4.4.1), or None.

    The signature is checked over the query string as it arrived.
    """
    if "Signature" not in request.args:
        return "unsigned" if required else None
    if request.args.get("SigAlg", Saml.RSA_SHA1) in Saml.DEPRECATED_ALGORITHMS:
        return "deprecated_algorithm"

    auth = _auth(provider)
    arguments = request.args.to_dict()
    if kind == "SAMLRequest":
        valid = auth.validate_request_signature(arguments)
    else:
        valid = auth.validate_response_signature(arguments)
    return None if valid else "bad_signature"


def _invalid_reason(check: Callable[[], object]) -> str | None:
    """Run a python3-saml ``is_valid`` check; the refusal reason, or None."""
    try:
        check()
    except Invalid as error:
        logger.info("saml logout message invalid code=%s", error.code)
        return REASONS.get(error.code, "invalid_message")
    except MALFORMED as error:
        logger.info("saml logout message unreadable error=%s", type(error).__name__)
        return "malformed"
    return None


def _destination_reason(provider: Provider, root: etree._Element) -> str | None:
    """A signed Redirect message names its endpoint exactly (Bindings §3.4.5.2)."""
    expected = sp_urls(provider.base_url, provider.idp.alias)["sls"]
    return None if root.get("Destination") == expected else "wrong_destination"


def _first_use(provider: Provider, root: etree._Element) -> bool:
    """Record the id of an IdP's LogoutRequest; False if it was seen before."""
    now = utc_now()
    ends = root.get("NotOnOrAfter")
    expires = now + DEFAULT_REPLAY_WINDOW
    if ends:
        moment = OneLogin_Saml2_Utils.parse_SAML_to_time(ends)
        expires = max(now, datetime.fromtimestamp(moment, UTC))
    message_id = str(root.get("ID"))
    return replay.first_use(
        get_session(), provider.idp.issuer, message_id, expires, now
    )


def _root(xml: str, name: str) -> etree._Element:
    """The message's root element, which must be a samlp ``name``."""
    root = OneLogin_Saml2_XML.to_etree(xml)
    if root.tag != f"{{{Saml.NS_SAMLP}}}{name}" or not root.get("ID"):
        raise ValueError(f"not a {name}")
    return root


def _auth(provider: Provider) -> OneLogin_Saml2_Auth:
    data = request_data(request, provider.base_url)
    return OneLogin_Saml2_Auth(data, old_settings=provider.settings)


def _detail(provider: Provider, message: str, *, initiated_by: str) -> dict[str, Any]:
    return {
        "idp": provider.idp.alias,
        "method": METHOD,
        "initiated_by": initiated_by,
        "message": message,
    }


def _refuse(
    provider: Provider, reason: str, message: str, status: int = 403
) -> Response:
    text = MESSAGES.get(reason, "The sign-out message cannot be accepted.")
    initiated_by = "sp" if message == LOGOUT_RESPONSE else "idp"
    detail = _detail(provider, message, initiated_by=initiated_by)
    return refuse_logout(reason, text, detail, status=status)
