"""The ``scimserver`` command line: database, clients, demo data and the server."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from scimserver import (
    cli_clients,
    cli_connectors,
    cli_consents,
    cli_events,
    cli_lifecycle,
    cli_outbox,
    cli_policy,
    cli_report,
    create_app,
    schema_migrations,
)
from scimserver.audit import log as audit_log
from scimserver.audit.events import audit_client_change
from scimserver.config import PROJECT_ROOT, Settings
from scimserver.db import get_database
from scimserver.policy.clients import (
    KNOWN_SCOPES,
    ClientExists,
    create_client,
    issue_token,
)
from scimserver.policy.dictionary import EXPORT_FORMATS, DataDictionary, export
from scimserver.policy.templates import TEMPLATES
from scimserver.scim.api import REGISTRY_KEY
from scimserver.scim.reindex import reindex
from scimserver.sso.provider import cli as oidc_cli


def _configured_app() -> Flask:
    """The application, or a one-line error when its configuration is wrong.

    Settings, and the files they name (connectors, referral rules, SSO, release
    policies), are checked when the application is made; every command needs it.
    """
    try:
        return create_app()
    except (ValueError, OSError) as error:
        raise click.ClickException(f"cannot start: {error}") from None


@click.group(cls=FlaskGroup, create_app=_configured_app, add_version_option=False)
def main() -> None:
    """scimserver: SCIM 2.0 identity and consent hub."""


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to SCIMSERVER_DATABASE_URL."""
    settings = Settings.from_env()
    schema_migrations.upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}", err=True)


@db.command("reindex")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1))
@with_appcontext
def db_reindex(batch: int) -> None:
    """Rebuild the value index (what filters read) of every resource.

    Run it after an upgrade whose notes ask for it; requests may go on meanwhile.
    """
    registry = current_app.extensions[REGISTRY_KEY]
    with get_database(current_app).sessions() as session:
        total = sum(reindex(session, list(registry.resource_types), batch))
    click.echo(f"{total} resources reindexed", err=True)


@main.group()
def clients() -> None:
    """API clients and their bearer tokens."""


@clients.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(KNOWN_SCOPES),
    help="A scope to grant; repeat for several.",
)
@cli_clients.profile_option
@cli_clients.deprovision_option
@click.option(
    "--policy",
    "policy_file",
    type=click.File("r"),
    help="Release policy JSON file; without it (or --policy-template), the "
    "default applies: public attributes under pseudonyms, no writes.",
)
@click.option(
    "--policy-template",
    type=click.Choice(sorted(TEMPLATES)),
    help="Start with a built-in policy template.",
)
@with_appcontext
def clients_create(
    name: str,
    scopes: tuple[str, ...],
    profile: str | None,
    deprovision: str | None,
    policy_file: TextIO | None,
    policy_template: str | None,
) -> None:
    """Register client NAME and print its new bearer token (alone) on stdout."""
    if policy_file is not None and policy_template is not None:
        raise click.UsageError("give --policy or --policy-template, not both")
    with get_database(current_app).sessions() as session:
        try:
            client, token = create_client(session, name, list(scopes))
        except ClientExists as error:
            raise click.ClickException(str(error)) from None
        cli_clients.configure(client, profile, deprovision)
        audit_client_change(session, "client.create", client)
        if policy_file is not None:
            cli_policy.store_policy(session, client, policy_file.read())
        elif policy_template is not None:
            template = cli_policy.template_document(policy_template)
            cli_policy.store_policy(session, client, json.dumps(template))
        session.commit()
    click.echo(token)


clients.add_command(cli_clients.clients_update)
clients.add_command(cli_policy.policy)
main.add_command(cli_lifecycle.lifecycle)
main.add_command(cli_consents.consents)
main.add_command(cli_connectors.connectors)
main.add_command(cli_outbox.worker)
main.add_command(cli_outbox.outbox)
main.add_command(oidc_cli.oidc)
main.add_command(cli_report.report)
main.add_command(cli_events.quarantine)
main.add_command(cli_events.referrals)


@clients.command("token")
@click.argument("name")
@with_appcontext
def clients_token(name: str) -> None:
    """Issue an additional bearer token for client NAME and print it on stdout."""
    with get_database(current_app).sessions() as session:
        client = cli_clients.require_client(session, name)
        token = issue_token(session, client)
        audit_client_change(session, "client.token", client)
        session.commit()
    click.echo(token)


@main.group()
def dictionary() -> None:
    """The data dictionary (privacy classification of every attribute)."""


@dictionary.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default="markdown",
    show_default=True,
)
@with_appcontext
def dictionary_export(fmt: str) -> None:
    """Print the data dictionary for review by HR, L&D and the EAP vendor."""
    registry = current_app.extensions[REGISTRY_KEY]
    data_dictionary = DataDictionary.load(current_app.config["SETTINGS"].schema_dir)
    rows = data_dictionary.rows(registry)
    click.echo(export(rows, data_dictionary.classifications, fmt), nl=False)


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Walk the hash chain; name the first entry altered, removed or reordered."""
    secret = current_app.config["SETTINGS"].secret_key
    with get_database(current_app).sessions() as session:
        result = audit_log.verify(session, secret)
    if not result.ok:
        raise click.ClickException(
            f"audit log broken after {result.checked} good entries: {result.problem}"
        )
    click.echo(f"audit log intact: {result.checked} entries")


@audit.command("export")
@click.option("--output", type=click.File("w"), default="-", show_default=True)
@with_appcontext
def audit_export(output: TextIO) -> None:
    """Write every audit entry as a JSON line, for a SIEM."""
    with get_database(current_app).sessions() as session:
        count = audit_log.export_lines(session, output)
    click.echo(f"{count} entries exported", err=True)


@main.group()
def demo() -> None:
    """Demo data for a first run."""


@demo.command("load")
@with_appcontext
def demo_load() -> None:
    """Load a few demo employees and teams (skips those already there)."""
    from scimserver.demo import load_demo_data

    created = load_demo_data(current_app)
    click.echo(f"demo data: {created} resources created", err=True)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers", type=int, help="Worker processes (default: from the core count)."
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the application under gunicorn, as production does."""
    config = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"
    arguments = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}"]
    if workers is not None:
        arguments += ["--workers", str(workers)]
    if Path(config).exists():
        arguments += ["--config", str(config)]
    arguments.append("scimserver.wsgi:app")
    os.execv(sys.executable, arguments)
