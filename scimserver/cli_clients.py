"""``scimserver clients update``: profile, deprovisioning and JWT trust of a client."""

from __future__ import annotations

import json
from typing import TextIO

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from scimserver.audit.events import audit_client_change
from scimserver.db import get_database
from scimserver.models import Client
from scimserver.policy.client_settings import (
    Deprovisioning,
    InvalidKeySet,
    Profile,
    configure_client,
    distrust_jwt,
    trust_jwt_issuer,
)
from scimserver.policy.clients import find_client

PROFILES = tuple(profile.value for profile in Profile)
DEPROVISIONING = tuple(mode.value for mode in Deprovisioning)

profile_option = click.option(
    "--profile",
    type=click.Choice(PROFILES),
    help="Compatibility profile: what the server tolerates from this client.",
)
deprovision_option = click.option(
    "--deprovision",
    type=click.Choice(DEPROVISIONING),
    help="What DELETE does to a User: remove it (hard) or deactivate it (soft).",
)


@click.command("update")
@click.argument("name")
@profile_option
@deprovision_option
@click.option("--jwt-issuer", help="Accept JWT bearer tokens from this issuer.")
@click.option("--jwt-audience", help="... addressed to this audience.")
@click.option(
    "--jwt-keys",
    type=click.File("r"),
    help="... signed by a key of this JWKS file (public keys; never fetched).",
)
@click.option("--no-jwt", is_flag=True, help="Stop accepting JWT bearer tokens.")
@with_appcontext
def clients_update(
    name: str,
    profile: str | None,
    deprovision: str | None,
    jwt_issuer: str | None,
    jwt_audience: str | None,
    jwt_keys: TextIO | None,
    no_jwt: bool,
) -> None:
    """Change the settings of client NAME; options not given stay as they are."""
    with get_database(current_app).sessions() as session:
        client = require_client(session, name)
        configure(client, profile, deprovision)
        if no_jwt:
            distrust_jwt(client)
        elif jwt_issuer or jwt_audience or jwt_keys:
            _trust(client, jwt_issuer, jwt_audience, jwt_keys)
        audit_client_change(session, "client.update", client)
        session.commit()
        click.echo(_summary(client), err=True)


def require_client(session: Session, name: str) -> Client:
    """The client called ``name``; a CLI error when there is none."""
    client = find_client(session, name)
    if client is None:
        raise click.ClickException(f"no client named {name!r}")
    return client


def configure(client: Client, profile: str | None, deprovision: str | None) -> None:
    """Apply the ``--profile`` and ``--deprovision`` options that were given."""
    configure_client(
        client,
        profile=Profile(profile) if profile else None,
        deprovision=Deprovisioning(deprovision) if deprovision else None,
    )


def _trust(
    client: Client,
    issuer: str | None,
    audience: str | None,
    keys: TextIO | None,
) -> None:
    """Set the JWT trust; a value not given keeps the stored one (key rotation)."""
    if keys is None and client.jwt_keys is None:
        raise click.ClickException("give the issuer's public keys with --jwt-keys")
    text = keys.read() if keys is not None else json.dumps(client.jwt_keys)
    try:
        trust_jwt_issuer(
            client,
            issuer or client.jwt_issuer or "",
            audience or client.jwt_audience or "",
            text,
        )
    except InvalidKeySet as error:
        raise click.ClickException(str(error)) from None


def _summary(client: Client) -> str:
    jwt = f"issuer {client.jwt_issuer}" if client.jwt_issuer else "off"
    return (
        f"client {client.name}: profile {client.profile}, "
        f"deprovision {client.deprovision}, JWT bearer {jwt}"
    )
