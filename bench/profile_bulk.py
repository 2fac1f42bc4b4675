"""Time a Bulk import of Users in-process: no gunicorn, no sockets.

The database is migrated and seeded with ``--users`` users and analysed (as
autovacuum would have done by then: without statistics, PostgreSQL's cached plan
for the userName check scans every User), a client with the source-of-record
policy is created (as ``bench/run.py`` does), and ``--requests``
BulkRequests of ``--operations`` User POSTs each go through Flask's test client,
one after the other. Printed: the wall time of each request, with the CPU time
this process spent on it (the rest is the database and waiting for a core), and
of the whole import. ``--profile`` prints where the import's time goes
(cProfile, top 30 by cumulative and by own time).

    .venv/bin/python bench/profile_bulk.py --backend postgresql
    .venv/bin/python bench/profile_bulk.py --backend sqlite --requests 2 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.profile_requests import _environment  # noqa: E402
from bench.profiling import print_profile  # noqa: E402
from bench.run import _bulk_body, _token, database  # noqa: E402
from bench.seed import seed  # noqa: E402
from scimserver import create_app, schema_migrations  # noqa: E402
from scimserver.db import get_database  # noqa: E402
from scimserver.scim.api import REGISTRY_KEY  # noqa: E402


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: backend, size of the import, whether to profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql"], default="postgresql"
    )
    parser.add_argument("--users", type=int, default=10_000, help="users to seed")
    parser.add_argument(
        "--big-group",
        type=int,
        default=10,
        help="members of a seeded group (users of their own, as in bench/run.py)",
    )
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--operations", type=int, default=1_000)
    parser.add_argument("--profile", action="store_true", help="print cProfile")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, then send the BulkRequests and print how long they took."""
    arguments = parse_arguments(argv)
    with (
        tempfile.TemporaryDirectory() as folder,
        database(arguments.backend, Path(folder)) as url,
    ):
        schema_migrations.upgrade(url)
        with _environment(url):
            app = create_app()
        engine = get_database(app).engine
        registry = app.extensions[REGISTRY_KEY]
        seed(engine, registry, arguments.users, arguments.big_group)
        headers = {"Authorization": f"Bearer {_token(app)}"}
        client = app.test_client()

        profiler = cProfile.Profile() if arguments.profile else None
        total = _import(client, headers, arguments, profiler)
        users = arguments.requests * arguments.operations
        print(
            f"{arguments.backend}: {users} users in {total:.2f} s "
            f"({users / total:.0f} users/s)"
        )
        if profiler is not None:
            print_profile(profiler)
        get_database(app).dispose()
    return 0


def _import(
    client: Any,
    headers: dict[str, str],
    arguments: argparse.Namespace,
    profiler: cProfile.Profile | None,
) -> float:
    """Send the BulkRequests; return the seconds they took in all."""
    stamp = time.time_ns()
    total = 0.0
    for number in range(arguments.requests):
        start = number * arguments.operations
        body = _bulk_body(stamp, range(start, start + arguments.operations))
        began, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        response = client.post("/scim/v2/Bulk", json=body, headers=headers)
        if profiler is not None:
            profiler.disable()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        total += seconds
        _check(response, arguments.operations)
        print(
            f"  request {number + 1}: {seconds:.2f} s, {cpu:.2f} s CPU in Python",
            file=sys.stderr,
        )
    return total


def _check(response: Any, sent: int) -> None:
    """Stop unless every operation of the request succeeded."""
    if response.status_code != 200:
        raise SystemExit(f"bulk failed: {response.status_code} {response.data!r}")
    results = response.get_json()["Operations"]
    failed = [op for op in results if not str(op["status"]).startswith("2")]
    if len(results) != sent or failed:
        raise SystemExit(f"{len(failed)} operations failed, e.g. {failed[:1]}")


if __name__ == "__main__":
    raise SystemExit(main())
