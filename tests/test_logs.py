"""Structured JSON logs and the request id echoed in ``X-Request-Id``."""

from __future__ import annotations

import json
import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from scimserver.db import get_database
from scimserver.logs import JsonFormatter, RequestContextFilter, request_id_from
from tests.conftest import ScimClient

GENERATED = re.compile(r"[0-9a-f]{32}")
USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "secret-user-name",
    "name": {"familyName": "Secretfamily"},
}


@pytest.mark.parametrize(
    "incoming",
    ["a", "req-1", "A.b_c-9", "x" * 64, "0f8fad5b-d9cb-469f-a165-70867728950e"],
)
def test_a_well_formed_request_id_is_kept(incoming: str) -> None:
    assert request_id_from(incoming) == incoming


@pytest.mark.parametrize(
    "incoming",
    [None, "", "x" * 65, "a b", 'a"b', "a\nb", "a/b", "caf\u00e9", "{}", "a;b"],
)
def test_a_malformed_request_id_is_replaced(incoming: str | None) -> None:
    assert GENERATED.fullmatch(request_id_from(incoming))


def test_the_response_echoes_a_well_formed_request_id(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": "trace.42"})

    assert response.headers["X-Request-Id"] == "trace.42"


def test_the_response_carries_a_new_id_instead_of_a_malformed_one(
    client: FlaskClient,
) -> None:
    response = client.get(
        "/scim/v2/Users", headers={"X-Request-Id": "'; DROP TABLE logs --"}
    )

    assert response.status_code == 401
    assert GENERATED.fullmatch(response.headers["X-Request-Id"])


def test_requests_get_distinct_ids(client: FlaskClient) -> None:
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]

    assert first != second


def test_a_record_is_one_json_object_with_its_fields() -> None:
    record = logging.LogRecord(
        "scimserver.x", logging.INFO, __file__, 1, "created %s", ("User",), None
    )
    record.fields = {"id": "42"}

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "created User"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "scimserver.x"
    assert entry["id"] == "42"
    assert entry["time"].endswith("Z")


def test_records_logged_during_a_request_carry_its_id(
    app: Flask, scim: ScimClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scimserver")
    caplog.handler.addFilter(RequestContextFilter())

    response = scim.post("/Users", USER, headers={"X-Request-Id": "create-1"})

    assert response.status_code == 201
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    request_lines = [line for line in lines if line.get("request_id") == "create-1"]
    assert {line["logger"] for line in request_lines} >= {
        "scimserver.scim.store",
        "scimserver.logs",
    }
    summary = next(
        line for line in request_lines if line["logger"] == "scimserver.logs"
    )
    assert summary["status"] == 201
    assert summary["client"] == "hris"


def test_logs_name_no_token_and_no_attribute_value(
    app: Flask, scim: ScimClient, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scimserver")

    scim.post("/Users", USER)
    scim.get("/Users", query_string={"filter": 'name.familyName eq "Secretfamily"'})
    ScimClient(scim.client, "scs_not-a-real-token").get("/Users")

    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert '"status": 201' in logged
    for secret in (token, "scs_not-a-real-token", "secret-user-name", "Secretfamily"):
        assert secret not in logged


def test_an_access_line_keeps_only_safe_atoms() -> None:
    atoms = {
        "m": "GET",
        "U": "/scim/v2/Users",
        "q": "filter=userName%20eq%20%22bjensen%22",
        "s": "200",
        "B": 512,
        "M": 7,
        "h": "127.0.0.1",
        "a": "curl/8",
        "{authorization}i": "Bearer scs_secret",
        "{x-request-id}o": "abc",
        "{scimserver.client}e": "hris",
    }
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, "%(m)s", (atoms,), None
    )

    line = JsonFormatter().format(record)
    entry = json.loads(line)

    assert entry["message"] == "GET /scim/v2/Users 200"
    assert entry["status"] == 200
    assert entry["request_id"] == "abc"
    assert entry["client"] == "hris"
    assert entry["duration_ms"] == 7
    assert "scs_secret" not in line
    assert "bjensen" not in line


def test_database_errors_do_not_carry_statement_parameters(app: Flask) -> None:
    statement = text("SELECT no_such_column FROM scim_resources WHERE id = :id")

    with (
        pytest.raises(DBAPIError) as raised,
        get_database(app).engine.connect() as connection,
    ):
        connection.execute(statement, {"id": "secret-parameter-value"})

    assert "secret-parameter-value" not in str(raised.value)
