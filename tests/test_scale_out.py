"""Two gunicorn instances sharing one PostgreSQL database, written to concurrently.

Nothing may be duplicated or lost, and entity tags must agree across instances:
a version seen on one instance is the version on the other, and a stale
``If-Match`` fails with 412 on either (RFC 7644 §3.14).

TODO: once delivery workers exist, run one beside each instance and check that
every change is delivered exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql
from sqlalchemy import make_url
from sqlalchemy.pool import QueuePool

from scimserver import create_app, db, schema_migrations, shared_metrics
from scimserver.db import get_database
from scimserver.scim.schema import SchemaRegistry
from tests.conftest import ScimClient, make_token

ROOT = Path(__file__).resolve().parents[1]
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USERS_PER_INSTANCE = 20
CONCURRENCY = 8
SCALE_USERS = {"filter": 'userName sw "scale"', "count": "1000"}
RACES = 8
WORKERS = 2
HEALTH_CHECKS = 24
STARTUP_SECONDS = 30
REQUEST_SECONDS = 15


@dataclass(frozen=True)
class Reply:
    """Status, headers and JSON body of one HTTP exchange."""

    status: int
    headers: dict[str, str]
    body: Any


class Instance:
    """One gunicorn server on a loopback port, called with a bearer token."""

    def __init__(
        self, database_url: str, log: Path, metrics_folder: Path | None = None
    ) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = ""
        env = {
            **os.environ,
            "SCIMSERVER_DATABASE_URL": database_url,
            "SCIMSERVER_BASE_URL": self.base,
            "SCIMSERVER_RATE_LIMIT_PER_SECOND": "0",
        }
        env.pop(shared_metrics.FOLDER_VARIABLE, None)
        self.metrics_folder = metrics_folder
        if metrics_folder is not None:
            env[shared_metrics.FOLDER_VARIABLE] = str(metrics_folder)
        command = [sys.executable, "-m", "gunicorn", "--config"]
        command += [str(ROOT / "deploy" / "gunicorn.conf.py")]
        command += ["--bind", f"127.0.0.1:{self.port}", "--workers", str(WORKERS)]
        command += ["--threads", "4", "scimserver.wsgi:app"]
        self._log = log.open("w")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if self.call("GET", "/readyz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn on port {self.port} did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/scim+json")
        for name, value in headers.items():
            request.add_header(name.replace("_", "-"), value)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:
                return _reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return _reply(error.code, error.headers, error.read())

    def scim(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        return self.call(method, "/scim/v2" + path, body, **headers)

    def health_checks_counted(self) -> float:
        """The server's count of answered health checks, as one scrape reports it."""
        request = urllib.request.Request(self.base + "/metrics")
        request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (
                    sample.name == "scimserver_http_requests_total"
                    and sample.labels["endpoint"] == "/healthz"
                ):
                    return sample.value
        return 0.0

    def worker_pids(self) -> set[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return {int(child) for child in children.split()}

    def reload(self) -> None:
        """Replace every worker, as gunicorn does on SIGHUP, and wait for it."""
        old = self.worker_pids()
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            workers = self.worker_pids()
            if len(workers) == WORKERS and not workers & old:
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn on port {self.port} kept its old workers")


def _reply(status: int, headers: Any, raw: bytes) -> Reply:
    body = json.loads(raw) if raw else None
    return Reply(status, {k.lower(): v for k, v in headers.items()}, body)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def in_parallel(jobs: Sequence[Callable[[], Reply]]) -> list[Reply]:
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(lambda job: job(), jobs))


def add_member(group_id: str, user_id: str) -> dict[str, Any]:
    operation = {"op": "add", "path": "members", "value": [{"value": user_id}]}
    return {"schemas": [PATCH_SCHEMA], "Operations": [operation]}


def set_title(title: str) -> dict[str, Any]:
    operation = {"op": "replace", "path": "title", "value": title}
    return {"schemas": [PATCH_SCHEMA], "Operations": [operation]}


@pytest.fixture(scope="module")
def shared_url(postgres_url: str) -> Iterator[str]:
    """A database of its own on the test server, freshly migrated, as in production."""
    url = make_url(postgres_url)
    name = f"scimserver_scale_out_{os.getpid()}"
    server = url.set(drivername="postgresql", database="postgres")
    conninfo = server.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        shared = url.set(database=name).render_as_string(hide_password=False)
        schema_migrations.upgrade(shared)
        yield shared
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            drop = sql.SQL("DROP DATABASE {} WITH (FORCE)")
            connection.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def shared_database(shared_url: str) -> Iterator[Flask]:
    """The application on the shared database, to register a client."""
    app = create_app({"database_url": shared_url})
    yield app
    get_database(app).dispose()


@pytest.fixture(scope="module")
def instances(
    shared_database: Flask, shared_url: str, tmp_path_factory: Any
) -> Iterator[tuple[Instance, Instance]]:
    """Two gunicorn instances on one database, both holding the same token."""
    logs = tmp_path_factory.mktemp("scale-out")
    scopes = ["scim:read", "scim:write", "metrics:read"]
    token = make_token(shared_database, "scale-out", scopes)
    # A metrics folder named by the operator, holding a run's leftovers, for one;
    # the folder gunicorn's settings make for the other.
    (logs / "metrics").mkdir()
    (logs / "metrics" / "counter_0.db").write_bytes(b"left over")
    pair = (
        Instance(shared_url, logs / "a.log", logs / "metrics"),
        Instance(shared_url, logs / "b.log"),
    )
    try:
        for instance in pair:
            instance.token = token
            instance.wait_ready()
        yield pair
    finally:
        for instance in pair:
            instance.stop()


@pytest.fixture(scope="module")
def created(instances: tuple[Instance, Instance]) -> list[Reply]:
    """Users created concurrently, half through each instance."""
    jobs = [
        partial(
            instances[n % 2].scim,
            "POST",
            "/Users",
            {"schemas": [USER_SCHEMA], "userName": f"scale{n}"},
        )
        for n in range(USERS_PER_INSTANCE * 2)
    ]
    return in_parallel(jobs)


def test_concurrent_creates_through_both_instances_are_all_kept(
    instances: tuple[Instance, Instance], created: list[Reply]
) -> None:
    assert [reply.status for reply in created] == [201] * len(created)
    ids = {reply.body["id"] for reply in created}

    for instance in instances:
        listed = instance.scim("GET", "/Users?" + urllib.parse.urlencode(SCALE_USERS))
        assert listed.body["totalResults"] == len(created)
        assert {user["id"] for user in listed.body["Resources"]} == ids


def test_one_user_name_wins_a_race_between_instances(
    instances: tuple[Instance, Instance],
) -> None:
    body = {"schemas": [USER_SCHEMA], "userName": "contested"}
    jobs = [
        partial(instance.scim, "POST", "/Users", body) for instance in instances * 4
    ]

    statuses = sorted(reply.status for reply in in_parallel(jobs))

    assert statuses == [201] + [409] * 7


@dataclass(frozen=True)
class GroupRace:
    """A group, the users added to it concurrently, and the PATCH replies."""

    group_id: str
    user_ids: list[str]
    replies: list[Reply]


@pytest.fixture(scope="module")
def member_race(
    instances: tuple[Instance, Instance], created: list[Reply]
) -> GroupRace:
    """Each user added to one group by its own PATCH, alternating instances."""
    body = {"schemas": [GROUP_SCHEMA], "displayName": "contested group"}
    group_id = instances[0].scim("POST", "/Groups", body).body["id"]
    user_ids = [reply.body["id"] for reply in created]

    replies = in_parallel(
        [
            partial(
                instances[n % 2].scim,
                "PATCH",
                f"/Groups/{group_id}",
                add_member(group_id, user_id),
            )
            for n, user_id in enumerate(user_ids)
        ]
    )
    return GroupRace(group_id, user_ids, replies)


def test_members_added_from_both_instances_are_all_kept(
    instances: tuple[Instance, Instance], member_race: GroupRace
) -> None:
    assert {reply.status for reply in member_race.replies} == {200}

    for instance in instances:
        group = instance.scim("GET", f"/Groups/{member_race.group_id}").body
        members = [member["value"] for member in group["members"]]
        assert sorted(members) == sorted(member_race.user_ids)


def test_each_concurrent_change_gets_its_own_version(
    instances: tuple[Instance, Instance], member_race: GroupRace
) -> None:
    tags = [reply.headers["etag"] for reply in member_race.replies]
    final = [i.scim("GET", f"/Groups/{member_race.group_id}") for i in instances]

    assert len(set(tags)) == len(tags)
    assert {reply.headers["etag"] for reply in final} == {f'W/"{len(tags) + 1}"'}


def test_a_stale_if_match_fails_on_either_instance(
    instances: tuple[Instance, Instance], created: list[Reply]
) -> None:
    first, second = instances
    user_id = created[0].body["id"]
    stale = first.scim("GET", f"/Users/{user_id}").headers["etag"]
    fresh = second.scim("PATCH", f"/Users/{user_id}", set_title("Lead"))

    assert fresh.status == 200
    for instance in instances:
        reply = instance.scim(
            "PATCH", f"/Users/{user_id}", set_title("Stale"), If_Match=stale
        )
        assert reply.status == 412
    current = first.scim("GET", f"/Users/{user_id}")
    assert current.headers["etag"] == fresh.headers["etag"] != stale
    assert current.body["title"] == "Lead"


def test_the_same_if_match_lets_one_of_two_concurrent_writers_win(
    instances: tuple[Instance, Instance], created: list[Reply]
) -> None:
    user_id = created[1].body["id"]
    outcomes = []

    for race in range(RACES):
        version = instances[0].scim("GET", f"/Users/{user_id}").headers["etag"]
        replies = in_parallel(
            [
                partial(
                    instance.scim,
                    "PATCH",
                    f"/Users/{user_id}",
                    set_title(f"race {race}"),
                    If_Match=version,
                )
                for instance in instances
            ]
        )
        outcomes.append(sorted(reply.status for reply in replies))

    assert outcomes == [[200, 412]] * RACES


def test_requests_reuse_the_engine_and_the_loaded_schemas(
    scim: ScimClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("created while serving a request")

    monkeypatch.setattr(sqlalchemy, "create_engine", forbidden)
    monkeypatch.setattr(db, "create_engine", forbidden)
    monkeypatch.setattr(SchemaRegistry, "load", forbidden)
    user = {"schemas": [USER_SCHEMA], "userName": "pooled"}

    created = scim.post("/Users", user)
    replies = [
        scim.get(f"/Users/{created.get_json()['id']}"),
        scim.get("/Users", query_string={"filter": 'userName eq "pooled"'}),
        scim.get("/Schemas"),
    ]

    assert created.status_code == 201
    assert [reply.status_code for reply in replies] == [200] * len(replies)


def test_the_pool_is_sized_by_the_setting(postgres_url: str) -> None:
    app = create_app({"database_url": postgres_url, "db_pool_size": 3})
    engine = get_database(app).engine

    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.size() == 3
    engine.dispose()


def test_every_scrape_reports_the_requests_of_both_workers(
    instances: tuple[Instance, Instance],
) -> None:
    for instance in instances:
        before = instance.health_checks_counted()
        checks = [partial(instance.call, "GET", "/healthz")] * HEALTH_CHECKS

        statuses = {reply.status for reply in in_parallel(checks)}
        scrapes = [instance.health_checks_counted() for _ in range(8)]

        assert statuses == {200}
        assert scrapes == [before + HEALTH_CHECKS] * 8


def test_replaced_workers_keep_the_counts_in_a_bounded_folder(
    instances: tuple[Instance, Instance],
) -> None:
    instance = instances[0]
    assert instance.metrics_folder is not None
    before = instance.health_checks_counted()

    for _ in range(3):
        instance.reload()
        instance.call("GET", "/healthz")
    after = [instance.health_checks_counted() for _ in range(4)]

    assert after == [before + 3] * 4
    # A counter and a histogram file per slot; at most twice the workers ran at
    # once, while a reload started the new ones before stopping the old.
    assert len(list(instance.metrics_folder.glob("*.db"))) <= 2 * 2 * WORKERS
