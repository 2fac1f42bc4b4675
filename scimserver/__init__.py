"""scimserver: the SCIM 2.0 identity and consent hub."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from scimserver.config import Settings


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Create the application; ``overrides`` replace settings read from the env."""
    from scimserver import db, health, logs
    from scimserver.consent import api as consent_api
    from scimserver.policy import auth, rate_limit
    from scimserver.scim import api, responses

    settings = Settings.from_env().with_overrides(overrides or {})
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    logs.init_app(app)
    db.init_app(app)
    auth.init_app(app)
    rate_limit.init_app(app)
    responses.init_app(app)
    api.init_app(app)
    consent_api.init_app(app)
    health.init_app(app)
    return app
