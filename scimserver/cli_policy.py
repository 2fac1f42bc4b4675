"""``scimserver clients policy``: set, show and list a client's release policies."""

from __future__ import annotations

import json
from typing import TextIO

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from scimserver.cli_clients import require_client
from scimserver.db import get_database
from scimserver.models import Client
from scimserver.policy.client_policies import policy_history, set_policy
from scimserver.policy.client_view import EXTENSION_KEY
from scimserver.policy.policy_document import DEFAULT_POLICY, PolicyError, dump_policy
from scimserver.policy.pseudonym_register import register_all
from scimserver.policy.templates import TEMPLATES

OPERATOR = "cli"


@click.group("policy")
def policy() -> None:
    """Release policies: what a client may read and write (versions are kept)."""


@policy.command("set")
@click.argument("name")
@click.option("--file", "source", type=click.File("r"), help="A policy JSON file.")
@click.option(
    "--template",
    type=click.Choice(sorted(TEMPLATES)),
    help="Start from a built-in template instead of a file.",
)
@with_appcontext
def policy_set(name: str, source: TextIO | None, template: str | None) -> None:
    """Make a new policy version for client NAME; print its version and digest."""
    if (source is None) == (template is None):
        raise click.UsageError("give exactly one of --file and --template")
    document = (
        source.read() if source is not None else json.dumps(template_document(template))
    )

    with get_database(current_app).sessions() as session:
        client = require_client(session, name)
        version = store_policy(session, client, document)
        session.commit()
    click.echo(f"client {name}: policy version {version} {client.policy_digest}")


@policy.command("show")
@click.argument("name")
@with_appcontext
def policy_show(name: str) -> None:
    """Print the policy in force for client NAME (the default when it has none)."""
    with get_database(current_app).sessions() as session:
        client = require_client(session, name)
        stored = client.policy
    if stored is None:
        click.echo("no policy stored: the default policy applies", err=True)
        stored = dump_policy(DEFAULT_POLICY)
    click.echo(json.dumps(stored, indent=2, sort_keys=True))


@policy.command("history")
@click.argument("name")
@with_appcontext
def policy_history_command(name: str) -> None:
    """List every policy version of client NAME, oldest first."""
    with get_database(current_app).sessions() as session:
        client = require_client(session, name)
        for version in policy_history(session, client):
            current = " (in force)" if version.digest == client.policy_digest else ""
            click.echo(
                f"{version.version}\t{version.created.isoformat()}\t"
                f"{version.created_by}\t{version.digest}{current}"
            )


@policy.command("template")
@click.argument("template", type=click.Choice(sorted(TEMPLATES)))
@with_appcontext
def policy_template(template: str) -> None:
    """Print a template policy for the schemas this server loads, to edit."""
    click.echo(json.dumps(template_document(template), indent=2))


def store_policy(session: Session, client: Client, document: str) -> int:
    """Validate and store ``document`` for ``client``; backfill a new sector.

    Raises :class:`click.ClickException` listing every problem of the document.
    """
    release = current_app.extensions[EXTENSION_KEY]
    try:
        version = set_policy(
            session,
            client,
            document,
            release.registry,
            release.dictionary,
            actor=OPERATOR,
        )
    except PolicyError as error:
        problems = "\n".join(f"  - {problem}" for problem in error.problems)
        raise click.ClickException(f"the policy is not valid:\n{problems}") from None

    pseudonymous = version.document["pseudonymous"]
    if pseudonymous["enabled"]:
        sector = pseudonymous.get("sector") or client.name
        register_all(session, release.pseudonym_key, sector)
    return version.version


def template_document(name: str | None) -> dict[str, object]:
    """The built-in template ``name`` for the schemas this server loads."""
    release = current_app.extensions[EXTENSION_KEY]
    return TEMPLATES[name or ""](release.registry, release.dictionary)
