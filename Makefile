PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

BIN := $(VENV)/bin
# Touched after a successful install: the venv is rebuilt when pyproject.toml
# changes, and only then.
STAMP := $(VENV)/.installed

.PHONY: venv run test lint typecheck check conformance deploy-check bench clean

venv: $(STAMP)

# The machine's pip configuration names extra indexes that lack most packages,
# so pip warns "Location ... is ignored" once per package. Two --quiet keep
# errors and drop those warnings; pip's exit status alone decides success.
# lxml and xmlsec come as wheels only: xmlsec built from source links Debian's
# older libxml2 and fails at import beside lxml's.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --only-binary lxml,xmlsec \
		--editable '.[dev]'
	touch $@

# The first run creates the demo client; later runs issue it a fresh token.
# The server delivers the outbox itself (one embedded worker thread per
# process) when SCIMSERVER_CONNECTORS_FILE names connectors.
run: venv
	mkdir -p var
	$(BIN)/scimserver db upgrade
	$(BIN)/scimserver demo load
	@if token=$$($(BIN)/scimserver clients create demo \
		--scope scim:read --scope scim:write \
		--policy-template source-of-record 2>/dev/null \
		|| $(BIN)/scimserver clients token demo); then \
	  echo; \
	  echo "Demo bearer token: $$token"; \
	  echo "Try:"; \
	  echo "  curl -H \"Authorization: Bearer $$token\"" \
	    "http://$(HOST):$(PORT)/scim/v2/Users"; \
	  echo; \
	else \
	  echo "Could not issue a demo token; see the error above."; exit 1; \
	fi
	SCIMSERVER_EMBEDDED_WORKERS=$${SCIMSERVER_EMBEDDED_WORKERS:-1} \
		$(BIN)/scimserver serve --host $(HOST) --port $(PORT)

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy --strict scimserver tests bench

check: lint typecheck test

conformance: venv
	$(BIN)/python scripts/conformance.py

# Validates deploy/ offline: compose schema, Kubernetes schemas, hadolint, systemd.
deploy-check: venv
	$(BIN)/pytest tests/test_deploy.py

# Not part of `make test`: seeds data, starts gunicorn, drives it with wrk.
# BENCH_ARGS="--users 100000" or "--users 1000000" for larger runs.
BENCH_ARGS ?=
bench: venv
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
	rm -rf *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
