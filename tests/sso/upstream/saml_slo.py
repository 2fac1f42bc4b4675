"""Single logout at the test IdP, over the HTTP-Redirect binding.

SAML 2.0 Bindings §3.4.4.1: the message is DEFLATE-compressed, base64-encoded
and put in the query as ``SAMLRequest`` or ``SAMLResponse``; a signature is
RSA-SHA256 over ``SAMLxxx=..&RelayState=..&SigAlg=..`` exactly as the query
carries them, base64 in ``Signature``. The IdP reads the hub's LogoutRequest,
answers it, and starts logouts of its own; :func:`check_logout_response` lets
python3-saml, in the IdP's seat, judge the LogoutResponse the hub answers with.
"""

from __future__ import annotations

import base64
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import xmlsec
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from tests.sso.upstream.saml_idp import (
    ASSERTION,
    NSMAP,
    PERSISTENT,
    PROTOCOL,
    SUCCESS,
    KeyPair,
    TestIdp,
)

RSA_SHA256 = Saml.RSA_SHA256
RSA_SHA1 = Saml.RSA_SHA1
REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"


@dataclass(frozen=True)
class SeenLogoutRequest:
    """What the IdP reads from the hub's LogoutRequest."""

    id: str
    issuer: str
    destination: str
    name_id: str
    name_id_format: str | None
    session_index: str | None
    relay_state: str | None
    signature_valid: bool | None  # None when unsigned


@dataclass
class LogoutMessage:
    """The parts of a logout message of the IdP that a test may change."""

    destination: str
    in_response_to: str | None = None
    status: str = SUCCESS
    name_id: str = ""
    session_index: str | None = None
    relay_state: str | None = None
    sign: bool = True
    keys: KeyPair | None = None
    signature_algorithm: str = RSA_SHA256


def read_logout_request(
    redirect_url: str, sp_certificate: str | None = None
) -> SeenLogoutRequest:
    """Decode the hub's LogoutRequest and check its signature with the SP cert."""
    raw_query = urlsplit(redirect_url).query
    query = parse_qs(raw_query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    request = etree.fromstring(xml)
    name_id = request.find("saml:NameID", NSMAP)
    index = request.find("samlp:SessionIndex", NSMAP)
    issuer = request.find("saml:Issuer", NSMAP)
    return SeenLogoutRequest(
        id=request.get("ID"),
        issuer="" if issuer is None else issuer.text or "",
        destination=request.get("Destination"),
        name_id="" if name_id is None else name_id.text or "",
        name_id_format=None if name_id is None else name_id.get("Format"),
        session_index=None if index is None else index.text,
        relay_state=query.get("RelayState", [None])[0],
        signature_valid=_signature_valid(raw_query, query, sp_certificate),
    )


def logout_response_url(idp: TestIdp, endpoint: str, message: LogoutMessage) -> str:
    """The hub's SLS URL with a LogoutResponse of ``idp`` (Core §3.7.2)."""
    response = _message("LogoutResponse", idp, message)
    if message.in_response_to is not None:
        response.set("InResponseTo", message.in_response_to)
    status = etree.SubElement(response, f"{{{PROTOCOL}}}Status")
    etree.SubElement(status, f"{{{PROTOCOL}}}StatusCode", Value=message.status)
    return redirect_url(idp, endpoint, "SAMLResponse", response, message)


def logout_request_url(idp: TestIdp, endpoint: str, message: LogoutMessage) -> str:
    """The hub's SLS URL with a LogoutRequest of ``idp`` (Core §3.7.1)."""
    request = _message("LogoutRequest", idp, message)
    ends = datetime.now(UTC) + timedelta(minutes=5)
    request.set("NotOnOrAfter", ends.strftime("%Y-%m-%dT%H:%M:%SZ"))
    name_id = etree.SubElement(request, f"{{{ASSERTION}}}NameID", Format=PERSISTENT)
    name_id.text = message.name_id
    if message.session_index is not None:
        index = etree.SubElement(request, f"{{{PROTOCOL}}}SessionIndex")
        index.text = message.session_index
    return redirect_url(idp, endpoint, "SAMLRequest", request, message)


def redirect_url(
    idp: TestIdp,
    endpoint: str,
    kind: str,
    element: etree._Element,
    message: LogoutMessage,
) -> str:
    """``endpoint`` with ``element`` encoded, and signed unless told not to."""
    compressor = zlib.compressobj(wbits=-15)
    deflated = compressor.compress(etree.tostring(element)) + compressor.flush()
    parts = [f"{kind}={quote(base64.b64encode(deflated).decode(), safe='')}"]
    if message.relay_state is not None:
        parts.append(f"RelayState={quote(message.relay_state, safe='')}")
    if message.sign:
        parts.append(f"SigAlg={quote(message.signature_algorithm, safe='')}")
        keys = message.keys or idp.keys
        signature = sign_query("&".join(parts), keys, message.signature_algorithm)
        parts.append(f"Signature={quote(signature, safe='')}")
    return f"{endpoint}?{'&'.join(parts)}"


def sign_query(signed_part: str, keys: KeyPair, algorithm: str) -> str:
    """The base64 RSA signature over the query's signed part, made with xmlsec."""
    transform = (
        xmlsec.constants.TransformRsaSha1
        if algorithm == RSA_SHA1
        else xmlsec.constants.TransformRsaSha256
    )
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(
        keys.private_key, xmlsec.constants.KeyDataFormatPem
    )
    signature = context.sign_binary(signed_part.encode(), transform)
    return base64.b64encode(signature).decode()


def check_logout_response(
    redirect_url: str,
    idp: TestIdp,
    *,
    hub_entity_id: str,
    hub_certificate: str,
    request_id: str,
) -> list[str]:
    """python3-saml's errors for the hub's LogoutResponse, seen from the IdP.

    The settings put the IdP in the service provider's seat and the hub in the
    IdP's, so that python3-saml checks the signature over the query string,
    Destination, Issuer and InResponseTo as a real IdP's toolkit would.
    """
    parts = urlsplit(redirect_url)
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": idp.entity_id,
                "assertionConsumerService": {"url": f"https://{parts.netloc}/acs"},
                "singleLogoutService": {"url": redirect_url.split("?")[0]},
            },
            "idp": {
                "entityId": hub_entity_id,
                "singleSignOnService": {"url": f"{hub_entity_id}/unused"},
                "x509cert": hub_certificate,
            },
            "security": {"wantMessagesSigned": True, "rejectDeprecatedAlgorithm": True},
        },
        sp_validation_only=True,
    )
    request_data = {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path,
        "get_data": {key: values[0] for key, values in parse_qs(parts.query).items()},
        "query_string": parts.query,
        "validate_signature_from_qs": True,
    }
    auth = OneLogin_Saml2_Auth(request_data, old_settings=settings)
    auth.process_slo(keep_local_session=True, request_id=request_id)
    errors: list[str] = auth.get_errors()
    return errors


def _message(name: str, idp: TestIdp, message: LogoutMessage) -> etree._Element:
    element = etree.Element(f"{{{PROTOCOL}}}{name}", nsmap=NSMAP)
    element.attrib.update(
        {
            "ID": f"_{uuid.uuid4().hex}",
            "Version": "2.0",
            "IssueInstant": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Destination": message.destination,
        }
    )
    etree.SubElement(element, f"{{{ASSERTION}}}Issuer").text = idp.entity_id
    return element


def _signature_valid(
    raw_query: str, query: dict[str, list[str]], certificate: str | None
) -> bool | None:
    if "Signature" not in query:
        return None
    if certificate is None:
        return False
    signed = "&".join(
        part
        for name in ("SAMLRequest=", "RelayState=", "SigAlg=")
        for part in raw_query.split("&")
        if part.startswith(name)
    )
    signature = base64.b64decode(query["Signature"][0])
    valid: bool = OneLogin_Saml2_Utils.validate_binary_sign(
        signed, signature, certificate, query["SigAlg"][0]
    )
    return valid
