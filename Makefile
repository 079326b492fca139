# The two commands of the README: `make run` and `make test`. Everything they need installs here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Where `make run` serves: `make run ADDR=0.0.0.0 PORT=8001 SIMULATOR_PORT=9443`.
ADDR           ?= 127.0.0.1
PORT           ?= 8000
SIMULATOR_PORT ?= $(or $(AZURE_SIMULATOR_PORT),8443)

.PHONY: run test lint typecheck install migrate seed check-deploy schema bench chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml cli/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]' -e ./cli
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

## Serve the portal on http://$(ADDR):$(PORT) with a Celery worker and beat on an embedded broker
## and the bundled Azure simulator on $(SIMULATOR_PORT). Ctrl-C stops everything. The demo users
## are printed once everything has started (again later: manage.py seed_demo --show).
run: migrate
	$(BIN)/python manage.py seed_demo --quiet
	AZURE_SIMULATOR_PORT=$(SIMULATOR_PORT) $(BIN)/python manage.py run_portal \
		--addr $(ADDR):$(PORT) --simulator-port $(SIMULATOR_PORT)

## The whole suite. DATABASE_URL / REDIS_URL switch it to real services (CI sets both).
test: install
	$(BIN)/pytest

## Ruff, and the layering contracts in .importlinter (azure.* only under connectivity/azure/,
## kinds and the engine below the views, no import cycles).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy portal connectivity cli/connectivity_cli

check-deploy: install
	DJANGO_SETTINGS_MODULE=portal.settings.production DJANGO_SECRET_KEY=$$(head -c 48 /dev/urandom | base64) \
	DJANGO_ALLOWED_HOSTS=portal.example.com FIELD_ENCRYPTION_KEYS=q0xqH4yQmVnA2rJt1k9m4rL3p7sXzY6wBvC8dE5fG0I= \
	AZURE_PLATFORM_TENANT_ID=11111111-1111-4111-8111-111111111111 \
	AZURE_PLATFORM_SUBSCRIPTION_ID=22222222-2222-4222-8222-222222222222 \
	AZURE_CLIENT_ID=33333333-3333-4333-8333-333333333333 \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

## Fault-injection scenarios against the whole stack; needs DATABASE_URL and REDIS_URL (CI runs
## them within `make test`).
chaos: install
	$(BIN)/pytest tests/chaos

## Benchmarks: scripts that print numbers (docs/benchmarks.md); need DATABASE_URL and REDIS_URL.
bench: install
	$(BIN)/python -m tests.bench.bench_provisioning
	$(BIN)/python -m tests.bench.bench_api

clean:
	rm -rf $(VENV) .run db.sqlite3 staticfiles
