"""Helpers the test suite uses to run the services it needs."""
