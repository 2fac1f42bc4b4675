"""gunicorn settings for scimserver (``scimserver serve`` and production).

Workers follow the CPU cores the process may use (cgroup quota included), each
with a few threads on PostgreSQL and one on SQLite; every worker pools as many
database connections as it has threads. ``SCIMSERVER_BIND``,
``SCIMSERVER_WORKERS`` and ``SCIMSERVER_THREADS`` override the computed values.
Logs, access log included, are JSON lines on standard output. The workers' request
metrics are summed at ``/metrics`` (see :mod:`scimserver.shared_metrics`).

Why one thread on SQLite: pysqlite lets go of the GIL for every row it steps
through, and a thread that does so waits for the GIL behind the others' Python
work. Measured with ``bench/run.py`` (2 workers, SQLite): a list page of 100
served 132 requests per second with 4 threads and 317 with 1; a POST's p99 fell
from 1,120 ms to 43 ms. SQLite writes one transaction at a time anyway.
"""

import math
import os
from pathlib import Path
from typing import Any

from scimserver import shared_metrics

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
THREADS_PER_WORKER = 4


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Return the cores this process may use: CPU affinity, capped by a quota."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return max(cores, 1)
    if quota == "max":
        return max(cores, 1)
    return max(min(cores, math.ceil(int(quota) / int(period))), 1)


def threads_per_worker(database_url: str | None) -> int:
    """Threads per worker for the database: one on SQLite (the default)."""
    if database_url is None or database_url.startswith("sqlite"):
        return 1
    return THREADS_PER_WORKER


bind = os.environ.get("SCIMSERVER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SCIMSERVER_WORKERS", usable_cores()))
threads = int(
    os.environ.get(
        "SCIMSERVER_THREADS",
        threads_per_worker(os.environ.get("SCIMSERVER_DATABASE_URL")),
    )
)
worker_class = "gthread"

# Each thread holds at most one connection; workers read this when they start.
os.environ.setdefault("SCIMSERVER_DB_POOL_SIZE", str(threads))

# A request may take up to `timeout` seconds; on SIGTERM, workers finish the
# requests in flight for up to `graceful_timeout` seconds.
timeout = 30
graceful_timeout = 25
keepalive = 5
# Recycle workers now and then, staggered, to bound slow memory growth.
max_requests = 20_000
max_requests_jitter = 2_000
# The heartbeat file lives in memory: container file systems can stall it.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None

# Every worker's request counts are summed at /metrics, from files in a folder the
# workers share: PROMETHEUS_MULTIPROC_DIR, or a fresh one beside the heartbeats.
metrics_folder = shared_metrics.share_folder(os.environ, worker_tmp_dir)


def on_starting(server: Any) -> None:
    shared_metrics.empty_folder(metrics_folder)


def pre_fork(server: Any, worker: Any) -> None:
    live = server.WORKERS.values()
    worker.metrics_slot = shared_metrics.free_slot(
        getattr(other, "metrics_slot", None) for other in live
    )


def post_fork(server: Any, worker: Any) -> None:
    shared_metrics.count_in_slot(worker.metrics_slot)


def on_exit(server: Any) -> None:
    shared_metrics.remove_made_folders()


accesslog = "-"
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "scimserver.logs.JsonFormatter"}},
    "filters": {"request": {"()": "scimserver.logs.RequestContextFilter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request"],
            "stream": "ext://sys.stdout",
        }
    },
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        "gunicorn.access": {
            "level": "INFO",
            "handlers": ["stdout"],
            "propagate": False,
        },
        # Alembic reports each schema-revision read (readiness probes) at INFO.
        "alembic": {"level": "WARNING"},
    },
}

control_socket_disable = True
