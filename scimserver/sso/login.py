"""``/sso/login``: where every part of the hub sends a person who must sign in.

With one identity provider, or one marked ``default``, the browser goes
straight to it; with several, a small page lets the person choose. ``next``
must be a path on this server (:func:`.next_path.safe_next`).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import Blueprint, Flask, redirect, render_template, request
from werkzeug.wrappers import Response

from scimserver.sso import config, csrf, error_page, oidc_rp, saml, saml_logout
from scimserver.sso.config import OidcIdp, SamlIdp, sso_config
from scimserver.sso.next_path import safe_next
from scimserver.sso.saml_subject import SamlSubject
from scimserver.sso.session import (
    sign_out,
    signed_in_method,
    signed_in_user_id,
    upstream_record,
)
from scimserver.sso.signout import record_logout, signed_out_page

logger = logging.getLogger(__name__)

blueprint = Blueprint("sso_login", __name__, url_prefix="/sso")
error_page.register(blueprint)
_BAD_NEXT = "The page to return to must be on this server."


def init_app(app: Flask) -> None:
    """Read the SSO configuration and register the upstream login endpoints."""
    config.init_app(app)
    csrf.init_app(app)
    for part in (blueprint, saml.blueprint, saml_logout.blueprint, oidc_rp.blueprint):
        app.register_blueprint(part)


@blueprint.get("/login")
def choose() -> Response:
    """Start a login with the default IdP, or let the person pick one."""
    next_path = safe_next(request.args.get("next"))
    if next_path is None:
        return _page("sso/refused.html", 400, message=_BAD_NEXT, reason="bad_next")

    providers = sso_config().identity_providers
    if not providers:
        message = "Single sign-on is not configured on this server."
        return _page("sso/refused.html", 404, message=message, reason="no_idp")
    defaults = [p for p in providers if p.default]
    if len(providers) == 1 or len(defaults) == 1:
        chosen = providers[0] if len(providers) == 1 else defaults[0]
        return redirect(login_url(chosen, next_path), code=303)

    choices = [(p.display_name, login_url(p, next_path)) for p in providers]
    return _page("sso/choose.html", 200, choices=choices)


@blueprint.post("/logout")
def logout() -> Response:
    """End the hub session, then the SAML IdP's session where it offers SLO.

    ``next``, optional, is where to land once the IdP has answered; without it
    the signed-out page is shown. After an OpenID Connect login, or with an IdP
    that has no single logout service, only the hub session ends.
    """
    csrf.check_csrf()
    next_path = safe_next(request.form.get("next")) if "next" in request.form else ""
    if next_path is None:
        return _page("sso/refused.html", 400, message=_BAD_NEXT, reason="bad_next")

    user_id, method = signed_in_user_id(), signed_in_method()
    subject = SamlSubject.from_record(upstream_record())
    sign_out()
    upstream = None if subject is None else saml_logout.start_logout(subject, next_path)
    if user_id is not None:
        detail = {
            "idp": None if subject is None else subject.idp_alias,
            "method": method,
            "initiated_by": "sp",
            "message": None if upstream is None else saml_logout.LOGOUT_REQUEST,
            "session_ended": True,
        }
        record_logout(detail, user_id)
    return upstream or signed_out_page()


def login_url(idp: SamlIdp | OidcIdp, next_path: str) -> str:
    """The hub URL that starts a login with ``idp``."""
    protocol = "saml" if isinstance(idp, SamlIdp) else "oidc"
    return f"/sso/{protocol}/{idp.alias}/login?{urlencode({'next': next_path})}"


def _page(template: str, status: int, **context: object) -> Response:
    return Response(render_template(template, **context), status=status)
