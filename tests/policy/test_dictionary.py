"""The data dictionary classifies every attribute and exports for review."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from flask import Flask

from scimserver.cli import main
from scimserver.policy.dictionary import (
    CLASSIFICATIONS,
    DICTIONARY_FILE,
    DataDictionary,
    DictionaryError,
)
from scimserver.scim.schema import SchemaRegistry

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_every_attribute_of_every_schema_is_classified() -> None:
    registry = SchemaRegistry.load(SCHEMAS)
    dictionary = DataDictionary.load(SCHEMAS)

    assert dictionary.missing(registry) == []
    rows = dictionary.rows(registry)
    assert {row.classification for row in rows} <= set(CLASSIFICATIONS)
    assert all(row.owner and row.purpose and row.retention for row in rows)


def test_sub_attributes_inherit_their_attribute() -> None:
    registry = SchemaRegistry.load(SCHEMAS)
    rows = DataDictionary.load(SCHEMAS).rows(registry)

    by_name = {(row.schema, row.attribute): row for row in rows}
    user = "urn:ietf:params:scim:schemas:core:2.0:User"
    assert by_name[(user, "addresses.postalCode")].classification == "restricted"
    assert by_name[(user, "password")].classification == "restricted"


def test_an_unclassified_attribute_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    file = folder / DICTIONARY_FILE
    document = json.loads(file.read_text())
    del document["attributes"]["urn:ietf:params:scim:schemas:core:2.0:User:title"]
    file.write_text(json.dumps(document))

    missing = DataDictionary.load(folder).missing(SchemaRegistry.load(folder))

    assert missing == ["urn:ietf:params:scim:schemas:core:2.0:User:title"]


def test_an_unknown_classification_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    file = folder / DICTIONARY_FILE
    document = json.loads(file.read_text())
    document["attributes"]["urn:ietf:params:scim:schemas:core:2.0:User:title"][
        "classification"
    ] = "secret"
    file.write_text(json.dumps(document))

    with pytest.raises(DictionaryError, match="User:title"):
        DataDictionary.load(folder)


@pytest.mark.parametrize("fmt", ["markdown", "csv", "json"])
def test_export_formats(app: Flask, fmt: str) -> None:
    result = app.test_cli_runner().invoke(
        main, ["dictionary", "export", "--format", fmt]
    )

    assert result.exit_code == 0, result.output
    text = result.stdout
    if fmt == "json":
        attributes = json.loads(text)["attributes"]
        assert {"attribute": "userName", "classification": "internal"}.items() <= next(
            a for a in attributes if a["attribute"] == "userName"
        ).items()
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert any(
            r["attribute"] == "phoneNumbers" and r["classification"] == "restricted"
            for r in rows
        )
    else:
        assert text.startswith("# Data dictionary")
        assert "| urn:ietf:params:scim:schemas:core:2.0:User | userName |" in text
