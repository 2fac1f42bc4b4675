"""Alembic migrations of the scimserver database."""
