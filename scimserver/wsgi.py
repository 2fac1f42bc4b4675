"""WSGI entry point for gunicorn: ``scimserver.wsgi:app``."""

from scimserver import create_app

app = create_app()
