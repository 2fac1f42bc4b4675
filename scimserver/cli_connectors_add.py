"""``scimserver connectors add``: declare a connector in the connectors file.

The command writes the same ``[[connectors]]`` entry an operator would write by
hand (:mod:`scimserver.connectors.config`), after checking it the way the server
does at start-up, so the file stays the one place where connectors are
declared. Secrets stay in the environment: the entry names the variables.
Servers and workers read the file when they start.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from scimserver.audit.events import audit
from scimserver.connectors.config import (
    TYPES,
    ConnectorsFileError,
    parse_connector,
    read_entries,
)
from scimserver.db import get_database
from scimserver.policy.client_view import EXTENSION_KEY

logger = logging.getLogger(__name__)


@click.command("add")
@click.argument("name")
@click.option("--type", "kind", type=click.Choice(TYPES), required=True)
@click.option("--url", required=True, help="Where the connector delivers.")
@click.option(
    "--secret-env",
    multiple=True,
    help="webhook: environment variable holding a signing secret (repeat to rotate).",
)
@click.option("--token-env", help="scim: environment variable holding a bearer token.")
@click.option("--scope-group", help="Deliver only members of this Group (id or name).")
@click.option(
    "--policy-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Release policy JSON; without it the default policy applies.",
)
@click.option("--consent-purpose", help="Deliver only Users who consented to this.")
@click.option("--consent-recipient", help="... and named this recipient.")
@click.option(
    "--file",
    "path_text",
    type=click.Path(dir_okay=False),
    help="The connectors file (default: SCIMSERVER_CONNECTORS_FILE).",
)
@with_appcontext
def connectors_add(
    name: str,
    kind: str,
    url: str,
    secret_env: tuple[str, ...],
    token_env: str | None,
    scope_group: str | None,
    policy_file: str | None,
    consent_purpose: str | None,
    consent_recipient: str | None,
    path_text: str | None,
) -> None:
    """Append connector NAME to the connectors file, checked as at start-up."""
    path = _connectors_file(path_text)
    table = _entry(name, kind, url, secret_env, token_env, scope_group, policy_file)
    if consent_purpose or consent_recipient:
        table["consent"] = {
            "purpose": consent_purpose or "",
            "recipient": consent_recipient or "",
        }

    _check(path, table)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(render_entry(table))
    with get_database(current_app).sessions() as session:
        audit(
            "connector.add",
            detail={"name": name, "type": kind, "file": str(path)},
            session=session,
            actor="cli",
        )
        session.commit()
    click.echo(f"connector {name} added to {path}; restart servers and workers")


def render_entry(table: dict[str, Any]) -> str:
    """One ``[[connectors]]`` entry in TOML; strings are written as JSON strings.

    TOML basic strings and JSON strings escape the same characters the same
    way, so ``json.dumps`` writes valid TOML for every value used here.
    """
    lines = ["", "[[connectors]]"]
    for key, value in table.items():
        lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def _entry(
    name: str,
    kind: str,
    url: str,
    secret_env: tuple[str, ...],
    token_env: str | None,
    scope_group: str | None,
    policy_file: str | None,
) -> dict[str, Any]:
    table: dict[str, Any] = {"name": name, "type": kind, "url": url}
    if secret_env:
        table["secret_env"] = list(secret_env)
    if token_env:
        table["auth"] = {"type": "bearer", "token_env": token_env}
    if scope_group:
        table["scope"] = {"group": scope_group}
    if policy_file:
        table["policy_file"] = str(Path(policy_file).resolve())
    return table


def _check(path: Path, table: dict[str, Any]) -> None:
    """Refuse a duplicate name or an entry the server would refuse to load."""
    existing = read_entries(path) if path.exists() else []
    if any(entry.get("name") == table["name"] for entry in existing):
        raise click.ClickException(f"{path} declares {table['name']!r} already")
    release = current_app.extensions[EXTENSION_KEY]
    try:
        parse_connector(
            table,
            path.parent,
            release.registry,
            release.dictionary,
            release.pseudonym_key,
        )
    except ConnectorsFileError as error:
        raise click.ClickException(str(error)) from None


def _connectors_file(path_text: str | None) -> Path:
    text = path_text or current_app.config["SETTINGS"].connectors_file
    if not text:
        raise click.UsageError(
            "give --file or set SCIMSERVER_CONNECTORS_FILE to the connectors file"
        )
    return Path(text)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{key} = {_value(item)}" for key, item in value.items())
        return "{ " + inner + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return json.dumps(value)
