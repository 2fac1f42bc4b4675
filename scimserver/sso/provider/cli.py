"""``scimserver oidc``: register relying parties and rotate ID token signing keys."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, TextIO

import click
from flask import current_app
from flask.cli import with_appcontext

from scimserver.audit.events import audit
from scimserver.db import get_database
from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.policy_document import PolicyError, dump_policy, parse_policy
from scimserver.scim.api import REGISTRY_KEY
from scimserver.sso.provider.models import RelyingParty
from scimserver.sso.provider.relying_parties import (
    AUTH_METHODS,
    GRANT_TYPES,
    Registration,
    RegistrationError,
    find_relying_party,
    list_relying_parties,
    register,
)
from scimserver.sso.provider.signing_keys import SigningKeys, key_statuses

logger = logging.getLogger(__name__)


@click.group("oidc")
def oidc() -> None:
    """The OpenID Provider: relying parties (LMS, EAP) and signing keys."""


@oidc.group("clients")
def clients() -> None:
    """Relying parties that sign employees in through the hub."""


@clients.command("create")
@click.argument("client_id")
@click.option("--redirect-uri", multiple=True, help="Registered redirect URI.")
@click.option(
    "--post-logout-redirect-uri", multiple=True, help="Where logout may return."
)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(GRANT_TYPES),
    default=("authorization_code",),
    show_default=True,
)
@click.option("--scope", default="openid profile email", show_default=True)
@click.option("--sector", help="Pairwise subject sector [default: CLIENT_ID].")
@click.option(
    "--auth-method",
    type=click.Choice(AUTH_METHODS),
    default="client_secret_basic",
    show_default=True,
    help="How it authenticates at the token endpoint; 'none' for a public client.",
)
@click.option("--scim-client", help="SCIM client whose release policy applies.")
@click.option("--policy", "policy_file", type=click.File("r"), help="Inline policy.")
@click.option("--consent-purpose", help="Purpose an employee must consent to first.")
@click.option("--consent-recipient", help="Recipient of that consent [CLIENT_ID].")
@click.option("--launch-url", help="Where /sso/launch/CLIENT_ID lands the employee.")
@click.option("--initiate-login-uri", help="The app's third-party login URI.")
@with_appcontext
def clients_create(
    client_id: str,
    redirect_uri: tuple[str, ...],
    post_logout_redirect_uri: tuple[str, ...],
    grant_types: tuple[str, ...],
    policy_file: TextIO | None,
    **options: str | None,
) -> None:
    """Register relying party CLIENT_ID; print its client secret (alone) on stdout."""
    registration = Registration(
        client_id=client_id,
        redirect_uris=redirect_uri,
        post_logout_redirect_uris=post_logout_redirect_uri,
        grant_types=grant_types,
        policy=_policy(policy_file.read()) if policy_file else None,
        **options,  # type: ignore[arg-type]
    )
    with get_database(current_app).sessions() as session:
        try:
            party, secret = register(session, registration)
        except RegistrationError as error:
            raise click.ClickException(str(error)) from None
        audit(
            "oidc.client.create",
            resource_type="RelyingParty",
            resource_id=str(party.id),
            detail={"client_id": party.client_id, "sector": party.sector},
            session=session,
            actor="cli",
        )
        session.commit()
    click.echo(f"registered relying party {client_id}", err=True)
    click.echo(secret or "(public client: no secret)")


@clients.command("list")
@with_appcontext
def clients_list() -> None:
    """One line per relying party: client_id, sector, grant types, consent."""
    with get_database(current_app).sessions() as session:
        for party in list_relying_parties(session):
            consent = party.consent_purpose or "-"
            grants = ",".join(party.grant_types)
            click.echo(f"{party.client_id}\t{party.sector}\t{grants}\t{consent}")


@clients.command("show")
@click.argument("client_id")
@with_appcontext
def clients_show(client_id: str) -> None:
    """Print the registration of CLIENT_ID as JSON (never its secret)."""
    with get_database(current_app).sessions() as session:
        party = find_relying_party(session, client_id)
        if party is None:
            raise click.ClickException(f"no relying party {client_id!r}")
        click.echo(json.dumps(_registration_body(party), indent=2))


@oidc.group("keys")
def keys() -> None:
    """ID token signing keys."""


@keys.command("list")
@with_appcontext
def keys_list() -> None:
    """One line per key: kid, role (next, current, retired), generation."""
    with get_database(current_app).sessions() as session:
        for status in key_statuses(session):
            click.echo(f"{status.kid}\t{status.role}\t{status.generation}")


@keys.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Sign with the next key from now on, publish a new next key."""
    settings = current_app.config["SETTINGS"]
    store = SigningKeys(settings.secret_key, settings.oidc_retired_key_seconds)
    with get_database(current_app).sessions() as session:
        kid = store.rotate(session, datetime.now(UTC))
        audit(
            "oidc.keys.rotate", detail={"next_kid": kid}, session=session, actor="cli"
        )
        session.commit()
    click.echo(f"rotated: new next key {kid}")


def _policy(text: str) -> dict[str, Any]:
    """Validate an inline policy against the schemas and the data dictionary."""
    settings = current_app.config["SETTINGS"]
    registry = current_app.extensions[REGISTRY_KEY]
    try:
        document = parse_policy(
            text, registry, DataDictionary.load(settings.schema_dir)
        )
    except PolicyError as error:
        raise click.ClickException(f"invalid policy: {error}") from None
    return dump_policy(document)


def _registration_body(party: RelyingParty) -> dict[str, Any]:
    return {
        "client_id": party.client_id,
        "token_endpoint_auth_method": party.auth_method,
        "redirect_uris": party.redirect_uris,
        "post_logout_redirect_uris": party.post_logout_redirect_uris,
        "grant_types": party.grant_types,
        "scope": party.scope,
        "sector": party.sector,
        "scim_client_id": party.scim_client_id,
        "policy": party.policy,
        "consent_purpose": party.consent_purpose,
        "consent_recipient": party.consent_recipient,
        "launch_url": party.launch_url,
        "initiate_login_uri": party.initiate_login_uri,
    }
