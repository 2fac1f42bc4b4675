"""``scimserver connectors``: attribute mappings and sync of SCIM push connectors.

::

    scimserver connectors mapping show NAME [--version N]
    scimserver connectors mapping history NAME
    scimserver connectors mapping set NAME FILE [--activate] [--resync]
    scimserver connectors mapping preview NAME USER_ID [--version N]
    scimserver connectors mapping activate NAME VERSION [--resync]
    scimserver connectors sync NAME [--dry-run]
    scimserver connectors add NAME --type T --url U ...

Connectors come from the connectors file (:mod:`scimserver.connectors.config`);
:func:`resolve_scim_connector` is the one place that looks them up.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TextIO

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.cli_connectors_add import connectors_add
from scimserver.connectors.config import current_catalog
from scimserver.connectors.hub_view import HubView
from scimserver.connectors.mapping import AttributeMapping, MappingError, parse_mapping
from scimserver.connectors.mapping_versions import (
    UnknownVersion,
    activate,
    active_version,
    get_version,
    history,
    store_version,
)
from scimserver.connectors.push_models import MappingVersion
from scimserver.connectors.reconcile import SyncReport, synchronise
from scimserver.connectors.scim_client import DownstreamFailure
from scimserver.connectors.scim_push import ScimPushConnector
from scimserver.db import get_database
from scimserver.scim.api import REGISTRY_KEY

logger = logging.getLogger(__name__)

ACTOR = "cli"


def resolve_scim_connector(name: str) -> tuple[ScimPushConnector, HubView]:
    """The ``scim`` connector called ``name`` and its view of the hub."""
    catalog = current_catalog()
    config = catalog.get(name)
    if config is None:
        raise click.ClickException(f"no connector named {name!r} is configured")
    sender = catalog.sender(name)
    if not isinstance(sender, ScimPushConnector):
        raise click.ClickException(f"connector {name!r} is not of type scim")
    settings = current_app.config["SETTINGS"]
    registry = current_app.extensions[REGISTRY_KEY]
    return sender, HubView(config, registry, settings.base_url)


@click.group("connectors")
def connectors() -> None:
    """Outbound connectors: attribute mappings and reconciliation."""


@connectors.group("mapping")
def mapping() -> None:
    """Versioned attribute mappings (hub attribute -> downstream attribute)."""


version_option = click.option(
    "--version", "number", type=int, help="A stored version (default: the active one)."
)
resync_option = click.option(
    "--resync", is_flag=True, help="Then sync the downstream Users (see sync)."
)


@mapping.command("show")
@click.argument("name")
@version_option
@with_appcontext
def mapping_show(name: str, number: int | None) -> None:
    """Print the active (or a given) mapping version of connector NAME."""
    resolve_scim_connector(name)
    with get_database(current_app).sessions() as session:
        found = _version(session, name, number)
        if found is None:
            click.echo(
                f"connector {name} has no active mapping: it sends what its "
                "release policy releases",
                err=True,
            )
            return
        click.echo(_json(found.document))


@mapping.command("history")
@click.argument("name")
@with_appcontext
def mapping_history(name: str) -> None:
    """List every mapping version of connector NAME, newest first."""
    resolve_scim_connector(name)
    with get_database(current_app).sessions() as session:
        versions = history(session, name)
    if not versions:
        click.echo(f"connector {name} has no mapping versions", err=True)
    for version in versions:
        state = "active" if version.active else "      "
        activated = _time(version.activated) if version.activated else "never"
        click.echo(
            f"v{version.version}  {state}  stored {_time(version.created)} by "
            f"{version.created_by}, last activated {activated}"
        )


@mapping.command("set")
@click.argument("name")
@click.argument("document", type=click.File("r"))
@click.option("--activate", "make_active", is_flag=True, help="Activate it at once.")
@resync_option
@with_appcontext
def mapping_set(name: str, document: TextIO, make_active: bool, resync: bool) -> None:
    """Store the JSON mapping in DOCUMENT (- for stdin) as a new version."""
    connector, view = resolve_scim_connector(name)
    source = _read_mapping(document)
    with get_database(current_app).sessions() as session:
        try:
            version = store_version(session, name, source, ACTOR)
        except MappingError as error:
            raise click.ClickException(
                "invalid mapping:\n  " + "\n  ".join(error.problems)
            ) from None
        _audit(session, "connector.mapping.store", name, version.version, source)
        if make_active:
            _activate(session, name, version.version)
        session.commit()
        click.echo(f"connector {name}: stored mapping v{version.version}", err=True)
        if make_active and resync:
            _sync(session, connector, view, dry_run=False)


@mapping.command("activate")
@click.argument("name")
@click.argument("number", metavar="VERSION", type=int)
@resync_option
@with_appcontext
def mapping_activate(name: str, number: int, resync: bool) -> None:
    """Make VERSION the active mapping of NAME (an older one rolls back)."""
    connector, view = resolve_scim_connector(name)
    with get_database(current_app).sessions() as session:
        _activate(session, name, number)
        session.commit()
        if resync:
            _sync(session, connector, view, dry_run=False)


@mapping.command("preview")
@click.argument("name")
@click.argument("user_id")
@version_option
@with_appcontext
def mapping_preview(name: str, user_id: str, number: int | None) -> None:
    """Print the exact document NAME would push for USER_ID; sends nothing."""
    connector, view = resolve_scim_connector(name)
    with get_database(current_app).sessions() as session:
        chosen = _mapping(session, name, number)
        payload = view.payload(session, "User", user_id, datetime.now(UTC))
        if not payload:
            raise click.ClickException(
                f"connector {name} holds no User {user_id} (unknown, "
                "deprovisioned, or outside its scope or consent)"
            )
        document = connector.document_for(
            session, "User", user_id, payload, chosen, preview=True
        )
        audit(
            "connector.mapping.preview",
            resource_type="User",
            resource_id=user_id,
            attributes=sorted(k for k in document if k != "schemas"),
            detail={"connector": name, "version": number},
            session=session,
            actor=ACTOR,
        )
        session.commit()
    click.echo(_json(document))


@connectors.command("sync")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Only report; change nothing.")
@with_appcontext
def connectors_sync(name: str, dry_run: bool) -> None:
    """Reconcile the downstream Users of NAME with the hub and print a summary."""
    connector, view = resolve_scim_connector(name)
    with get_database(current_app).sessions() as session:
        _sync(session, connector, view, dry_run=dry_run)


def _sync(
    session: Session, connector: ScimPushConnector, view: HubView, *, dry_run: bool
) -> SyncReport:
    try:
        report = synchronise(session, connector, view, dry_run=dry_run)
    except DownstreamFailure as failure:
        raise click.ClickException(
            f"cannot read the downstream Users: {failure.detail}"
        ) from None
    if not dry_run:
        tallies = {name: asdict(tally) for name, tally in report.tallies.items()}
        audit(
            "connector.sync",
            detail={
                "connector": connector.name,
                **tallies,
                "failed": len(report.failures),
            },
            session=session,
            actor=ACTOR,
        )
    session.commit()
    for problem in report.failures:
        click.echo(f"failed: {problem}", err=True)
    click.echo(report.summary(connector.name, connector.options.on_leave))
    if report.failures:
        raise click.exceptions.Exit(1)
    return report


def _activate(session: Session, name: str, number: int) -> None:
    previous = active_version(session, name)
    try:
        activate(session, name, number)
    except UnknownVersion as error:
        raise click.ClickException(str(error)) from None
    audit(
        "connector.mapping.activate",
        detail={
            "connector": name,
            "version": number,
            "previous": previous.version if previous else None,
        },
        session=session,
        actor=ACTOR,
    )
    click.echo(f"connector {name}: mapping v{number} is active", err=True)


def _audit(
    session: Session, action: str, name: str, version: int, source: dict[str, Any]
) -> None:
    """Audit a mapping change, naming the downstream attributes it writes."""
    targets = {
        f"{resource_type}:{rule.get('to')}"
        for resource_type, rules in source.items()
        for rule in rules
    }
    audit(
        action,
        attributes=sorted(targets),
        detail={"connector": name, "version": version},
        session=session,
        actor=ACTOR,
    )


def _version(session: Session, name: str, number: int | None) -> MappingVersion | None:
    if number is None:
        return active_version(session, name)
    try:
        return get_version(session, name, number)
    except UnknownVersion as error:
        raise click.ClickException(str(error)) from None


def _mapping(
    session: Session, name: str, number: int | None
) -> AttributeMapping | None:
    """The mapping of version ``number``; None means the one in force."""
    if number is None:
        return None
    found = _version(session, name, number)
    return None if found is None else parse_mapping(found.document)


def _read_mapping(document: TextIO) -> dict[str, Any]:
    try:
        source = json.load(document)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"the mapping is not JSON: {error}") from None
    if not isinstance(source, dict):
        raise click.ClickException("a mapping is a JSON object of rule lists")
    return source


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


connectors.add_command(connectors_add)
