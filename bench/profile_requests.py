"""Profile single SCIM requests in-process, beside the baseline app.

No gunicorn, no sockets: each workload's requests go through Flask's test client,
and so do the baseline's primary-key SELECTs, one after the other on one thread.
The printed ratio is the baseline's time per request over the workload's, the
CPU cost that ``bench/run.py`` measures over HTTP, without the noise of a
shared machine's scheduler. ``--profile NAME`` prints where that workload's time
goes (cProfile, by cumulative and by own time).

    .venv/bin/python bench/profile_requests.py --users 2000
    .venv/bin/python bench/profile_requests.py --backend postgresql --profile get_user
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import baseline  # noqa: E402
from bench.profiling import print_profile  # noqa: E402
from bench.run import _token, database  # noqa: E402
from bench.seed import seed, user_payload  # noqa: E402
from scimserver import create_app, schema_migrations  # noqa: E402
from scimserver.db import get_database  # noqa: E402
from scimserver.scim.api import REGISTRY_KEY  # noqa: E402

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

Send = Callable[[int], Any]


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: backend, directory size, requests, what to profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--workload", action="append", help="only these workloads")
    parser.add_argument("--profile", action="append", default=[], help="workloads")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, then time and optionally profile each workload and the baseline."""
    arguments = parse_arguments(argv)
    with (
        tempfile.TemporaryDirectory() as folder,
        database(arguments.backend, Path(folder)) as url,
    ):
        schema_migrations.upgrade(url)
        baseline.seed(url, 1_000)
        with _environment(url):
            scim, base = create_app(), baseline.create_app()
        workloads = _workloads(scim, arguments.users)
        base_client = base.test_client()
        base_seconds = _time(
            lambda n: base_client.get(f"/items/{n % 1000 + 1}"), arguments.requests
        )
        print(f"baseline: {base_seconds * 1000:.2f} ms per request")
        for name, send in workloads.items():
            if arguments.workload and name not in arguments.workload:
                continue
            seconds = _time(send, arguments.requests)
            ratio = base_seconds / seconds
            print(f"{name:14} {seconds * 1000:7.2f} ms  ratio {ratio:.2f}")
            if name in arguments.profile:
                _profile(send, arguments.requests)
        get_database(scim).dispose()
    return 0


@contextlib.contextmanager
def _environment(url: str) -> Iterator[None]:
    names = {
        "SCIMSERVER_DATABASE_URL": url,
        "SCIMSERVER_RATE_LIMIT_PER_SECOND": "0",
        "SCIMSERVER_LOG_LEVEL": os.environ.get("SCIMSERVER_LOG_LEVEL", "WARNING"),
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _workloads(app: Any, users: int) -> dict[str, Send]:
    """Each workload as a function of the request's number."""
    registry = app.extensions[REGISTRY_KEY]
    seeded = seed(get_database(app).engine, registry, users, 10)
    token = _token(app)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    ids, names = seeded.user_ids, seeded.user_names
    pick = random.Random(7)

    def patch_active(n: int) -> Any:
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": n % 2 == 0}],
        }
        url = f"/scim/v2/Users/{pick.choice(ids)}"
        return client.patch(url, json=body, headers=headers)

    return {
        "get_user": lambda n: client.get(
            f"/scim/v2/Users/{pick.choice(ids)}", headers=headers
        ),
        "filter_eq": lambda n: client.get(
            f'/scim/v2/Users?filter=userName eq "{pick.choice(names)}"',
            headers=headers,
        ),
        "list_page": lambda n: client.get(
            "/scim/v2/Users?count=100&startIndex=1", headers=headers
        ),
        "create_user": lambda n: client.post(
            "/scim/v2/Users",
            json=user_payload(f"new{n:07d}-{time.monotonic_ns()}", n),
            headers=headers,
        ),
        "patch_active": patch_active,
    }


def _time(send: Send, requests: int) -> float:
    """CPU seconds per request, after a few requests of warm-up.

    CPU time rather than wall time, so that other work on the machine counts
    less; the database (SQLite in this process, or PostgreSQL's server) is
    counted only for SQLite.
    """
    for n in range(10):
        _check(send(n))
    started = time.process_time()
    for n in range(requests):
        _check(send(n))
    return (time.process_time() - started) / requests


def _check(response: Any) -> None:
    if response.status_code >= 400:
        raise SystemExit(f"request failed: {response.status_code} {response.data!r}")


def _profile(send: Send, requests: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(requests):
        send(n)
    profiler.disable()
    print_profile(profiler)


if __name__ == "__main__":
    raise SystemExit(main())
