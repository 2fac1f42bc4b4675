"""gunicorn settings for scimserver (``scimserver serve`` and production)."""

import multiprocessing
import os

bind = os.environ.get("SCIMSERVER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SCIMSERVER_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("SCIMSERVER_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
control_socket_disable = True
