"""python3-saml settings for one IdP alias, built from the SSO configuration.

The hub's service provider has one entity id per alias (its metadata URL), so
that each IdP sees a distinct SP. The security settings are strict: signed
assertions are required, SHA-1 and other deprecated algorithms are refused
(``rejectDeprecatedAlgorithm``), and a response naming a request must name one
the hub sent (``rejectUnsolicitedResponsesWithInResponseTo``).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from scimserver.sso.config import SamlIdp, SpKeyPair

logger = logging.getLogger(__name__)

PREFIX = "/sso/saml"


def sp_urls(base_url: str, alias: str) -> dict[str, str]:
    """The hub's SAML endpoints for ``alias``: metadata (entity id), ACS, SLS."""
    root = f"{base_url.rstrip('/')}{PREFIX}/{alias}"
    return {
        "entity_id": f"{root}/metadata",
        "acs": f"{root}/acs",
        "sls": f"{root}/sls",
    }


def saml_settings(
    idp: SamlIdp, base_url: str, sp_keys: SpKeyPair | None
) -> OneLogin_Saml2_Settings:
    """The python3-saml settings of the SP for ``idp``."""
    urls = sp_urls(base_url, idp.alias)
    sp: dict[str, Any] = {
        "entityId": urls["entity_id"],
        "assertionConsumerService": {
            "url": urls["acs"],
            "binding": Saml.BINDING_HTTP_POST,
        },
        "NameIDFormat": Saml.NAMEID_UNSPECIFIED,
    }
    if idp.slo_url is not None:
        sp["singleLogoutService"] = {
            "url": urls["sls"],
            "binding": Saml.BINDING_HTTP_REDIRECT,
        }
    if sp_keys is not None:
        sp["x509cert"] = sp_keys.certificate
        sp["privateKey"] = sp_keys.private_key

    document = {
        "strict": True,
        "debug": False,
        "sp": sp,
        "idp": _idp(idp),
        "security": _security(signed_requests=sp_keys is not None),
    }
    return OneLogin_Saml2_Settings(document, sp_validation_only=False)


def request_data(request: Request, base_url: str) -> dict[str, Any]:
    """The request as python3-saml reads it, addressed by the public base URL.

    Behind a proxy the server's own view of its host differs from the URL the
    IdP posts to, and python3-saml compares ``Destination`` and ``Recipient``
    with this URL (SAML 2.0 Bindings §3.5.5.2). A signature of the
    HTTP-Redirect binding is checked over the query string as it arrived
    (Bindings §3.4.4.1), not over a re-encoding that may differ from the IdP's.
    """
    public = urlsplit(base_url)
    return {
        "https": "on" if public.scheme == "https" else "off",
        "http_host": public.netloc,
        "script_name": public.path.rstrip("/") + request.path,
        "get_data": request.args.to_dict(),
        "post_data": request.form.to_dict(),
        "query_string": request.query_string.decode("ascii", "replace"),
        "validate_signature_from_qs": True,
    }


def _idp(idp: SamlIdp) -> dict[str, Any]:
    data: dict[str, Any] = {
        "entityId": idp.entity_id,
        "singleSignOnService": {
            "url": idp.sso_url,
            "binding": Saml.BINDING_HTTP_REDIRECT,
        },
        "x509certMulti": {"signing": list(idp.certificates)},
    }
    if idp.slo_url is not None:
        data["singleLogoutService"] = {
            "url": idp.slo_url,
            "binding": Saml.BINDING_HTTP_REDIRECT,
        }
    return data


def _security(*, signed_requests: bool) -> dict[str, Any]:
    return {
        "authnRequestsSigned": signed_requests,
        "logoutRequestSigned": signed_requests,
        "logoutResponseSigned": signed_requests,
        "signMetadata": False,
        "wantMessagesSigned": False,
        "wantAssertionsSigned": True,
        "wantNameId": True,
        "wantAttributeStatement": False,
        "requestedAuthnContext": False,
        "rejectDeprecatedAlgorithm": True,
        "rejectUnsolicitedResponsesWithInResponseTo": True,
        "signatureAlgorithm": Saml.RSA_SHA256,
        "digestAlgorithm": Saml.SHA256,
    }
