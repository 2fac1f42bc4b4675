"""scimserver: the SCIM 2.0 identity and consent hub."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from scimserver.config import Settings


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Create the application; ``overrides`` replace settings read from the env."""
    from scimserver import db, health, logs, metrics
    from scimserver.connectors import config as connectors
    from scimserver.consent import api as consent_api
    from scimserver.consent import page as consent_page
    from scimserver.events import api as events_api
    from scimserver.policy import auth, rate_limit
    from scimserver.scim import api, responses
    from scimserver.sso import login as sso_login
    from scimserver.sso.provider import views as oidc_provider

    settings = Settings.from_env().with_overrides(overrides or {})
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # The sign-in session: never sent by cross-site subrequests, HTTPS-only when
    # the server is served over HTTPS.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.base_url.startswith("https://")

    logs.init_app(app)
    db.init_app(app)
    auth.init_app(app)
    rate_limit.init_app(app)
    responses.init_app(app)
    api.init_app(app)
    connectors.init_app(app, app.extensions[api.REGISTRY_KEY])
    consent_api.init_app(app)
    events_api.init_app(app)
    sso_login.init_app(app)
    consent_page.init_app(app)
    oidc_provider.init_app(app)
    health.init_app(app)
    metrics.init_app(app)
    return app
