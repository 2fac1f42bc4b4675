"""A real downstream SCIM server for the push connector's tests.

A second scimserver application on its own SQLite database, served over HTTP on
127.0.0.1 by werkzeug in a thread: the connector talks to it exactly as it
would to an LMS that speaks SCIM.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from werkzeug.serving import make_server

from scimserver import create_app
from scimserver.connectors.scim_push import ScimPushConnector
from scimserver.db import get_database
from tests.conftest import make_token

TOKEN_ENV = "SCIMSERVER_TEST_DOWNSTREAM_TOKEN"
#: Builds a connector on the downstream server: ``make(name, **options)``.
MakeConnector = Callable[..., ScimPushConnector]


@dataclass
class Downstream:
    """The running downstream server: its SCIM base URL and an HTTP client."""

    url: str
    token: str
    http: httpx.Client

    def get(self, path: str, **params: Any) -> Any:
        """GET a SCIM path and return the JSON body (asserting success)."""
        response = self.http.get(self.url + path, params=params)
        response.raise_for_status()
        return response.json()

    def status(self, path: str) -> int:
        """The status code of a GET on ``path``."""
        return self.http.get(self.url + path).status_code

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a resource directly (as another provisioning source would)."""
        response = self.http.post(self.url + path, json=body)
        response.raise_for_status()
        return response.json()

    def users(self) -> list[dict[str, Any]]:
        """Every downstream User."""
        return list(self.get("/Users", count=1000).get("Resources", []))


@contextmanager
def serve_downstream(
    template: Path, folder: Path, schema_dir: str
) -> Iterator[Downstream]:
    """Serve a copy of the migrated ``template`` database on a free port."""
    database = folder / "downstream.db"
    shutil.copy(template, database)
    app = create_app(
        {
            "database_url": f"sqlite:///{database}",
            "base_url": "http://downstream.test",
            "schema_dir": schema_dir,
        }
    )
    token = make_token(app, "hub", ["scim:read", "scim:write"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/scim/v2"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(headers=headers, timeout=10) as http:
            yield Downstream(url, token, http)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        get_database(app).dispose()


def connectors_file(folder: Path, url: str, **options: Any) -> Path:
    """A connectors file declaring one ``scim`` connector ``lms`` at ``url``."""
    lines = [
        "[[connectors]]",
        'name = "lms"',
        'type = "scim"',
        f'url = "{url}"',
        f'auth = {{ type = "bearer", token_env = "{TOKEN_ENV}" }}',
        'policy = { read = { classifications = ["public", "internal"] } }',
        *(f"{key} = {value!r}".replace("'", '"') for key, value in options.items()),
    ]
    path = folder / "connectors.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
