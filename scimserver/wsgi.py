"""WSGI entry point for gunicorn: ``scimserver.wsgi:app``."""

from scimserver import create_app
from scimserver.connectors.worker import start_embedded_workers

app = create_app()
embedded_workers = start_embedded_workers(app)
