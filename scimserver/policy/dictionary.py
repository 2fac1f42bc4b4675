"""The data dictionary: privacy classification, owner, purpose and retention.

Every attribute of every schema the hub serves has an entry in
``schemas/privacy/data_dictionary.json``; a sub-attribute inherits the entry of
its attribute unless it has one of its own. Release policies decide by these
classifications, and ``scimserver dictionary export`` prints the dictionary for
HR, L&D and the EAP vendor to review together.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scimserver.scim.schema import COMMON_SCHEMA, Attribute, Schema, SchemaRegistry

logger = logging.getLogger(__name__)

CLASSIFICATIONS = ("public", "internal", "restricted", "sensitive")
DICTIONARY_FILE = Path("privacy") / "data_dictionary.json"
EXPORT_FORMATS = ("markdown", "csv", "json")


class DictionaryError(ValueError):
    """The data dictionary is incomplete or names an unknown classification."""


@dataclass(frozen=True)
class Entry:
    """What the dictionary says about one attribute."""

    classification: str
    owner: str
    purpose: str
    retention: str


@dataclass(frozen=True)
class Row:
    """One line of the exported dictionary: an attribute and its entry."""

    schema: str
    attribute: str
    type: str
    multi_valued: bool
    classification: str
    owner: str
    purpose: str
    retention: str


class DataDictionary:
    """Entries keyed by ``<schema urn>:<attribute>[.<sub-attribute>]``."""

    def __init__(self, entries: dict[str, Entry], classifications: dict[str, str]):
        self.entries = entries
        self.classifications = classifications

    @classmethod
    def load(cls, schema_dir: str | Path) -> DataDictionary:
        """Read the dictionary file kept beside the schemas."""
        document = json.loads((Path(schema_dir) / DICTIONARY_FILE).read_text("utf-8"))
        entries = {key: Entry(**value) for key, value in document["attributes"].items()}
        unknown = sorted(
            key for key, e in entries.items() if e.classification not in CLASSIFICATIONS
        )
        if unknown:
            raise DictionaryError(f"unknown classification for: {', '.join(unknown)}")
        return cls(entries, document["classifications"])

    def entry(
        self, schema_id: str, attribute: Attribute, sub: Attribute | None
    ) -> Entry:
        """Return the entry of an attribute, or of its parent for a sub-attribute."""
        if sub is not None:
            own = self.entries.get(f"{schema_id}:{attribute.name}.{sub.name}")
            if own is not None:
                return own
        found = self.entries.get(f"{schema_id}:{attribute.name}")
        if found is None:
            raise DictionaryError(f"{schema_id}:{attribute.name} is not classified")
        return found

    def rows(self, registry: SchemaRegistry) -> list[Row]:
        """Every attribute and sub-attribute of every served schema, classified."""
        rows: list[Row] = []
        for schema in _all_schemas(registry):
            for attribute in schema.attributes:
                rows.append(self._row(schema.id, attribute, None))
                rows += [
                    self._row(schema.id, attribute, s) for s in attribute.sub_attributes
                ]
        return rows

    def missing(self, registry: SchemaRegistry) -> list[str]:
        """Attributes that have no entry (a complete dictionary returns [])."""
        return [
            f"{schema.id}:{attribute.name}"
            for schema in _all_schemas(registry)
            for attribute in schema.attributes
            if f"{schema.id}:{attribute.name}" not in self.entries
        ]

    def _row(self, schema_id: str, attribute: Attribute, sub: Attribute | None) -> Row:
        entry = self.entry(schema_id, attribute, sub)
        name = attribute.name if sub is None else f"{attribute.name}.{sub.name}"
        shown = sub or attribute
        return Row(
            schema="(every resource)" if schema_id == COMMON_SCHEMA else schema_id,
            attribute=name,
            type=shown.type,
            multi_valued=shown.multi_valued,
            **asdict(entry),
        )


def _all_schemas(registry: SchemaRegistry) -> list[Schema]:
    """The common attributes' schema first, then every served schema."""
    common = [registry.resource_types[0].common] if registry.resource_types else []
    return [*common, *registry.schemas.values()]


def export(rows: list[Row], classifications: dict[str, str], fmt: str) -> str:
    """Render the dictionary as Markdown, CSV or JSON."""
    if fmt == "json":
        body: dict[str, Any] = {
            "classifications": classifications,
            "attributes": [asdict(row) for row in rows],
        }
        return json.dumps(body, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=list(asdict(rows[0])), lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
        return buffer.getvalue()
    if fmt == "markdown":
        return _markdown(rows, classifications)
    raise DictionaryError(
        f"unknown format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}"
    )


def _markdown(rows: list[Row], classifications: dict[str, str]) -> str:
    lines = ["# Data dictionary", "", "| classification | meaning |", "|---|---|"]
    lines += [f"| {name} | {meaning} |" for name, meaning in classifications.items()]
    lines += [
        "",
        "| schema | attribute | type | classification | owner | purpose | retention |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        kind = row.type + ("[]" if row.multi_valued else "")
        lines.append(
            f"| {row.schema} | {row.attribute} | {kind} | {row.classification} "
            f"| {row.owner} | {row.purpose} | {row.retention} |"
        )
    return "\n".join(lines) + "\n"
