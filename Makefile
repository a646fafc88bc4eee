# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000

.PHONY: run test test-fast test-browser test-cluster lint format bench load cluster cluster-stop worker beat clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

## Serve the shop on http://127.0.0.1:8000 with SQLite, local-memory cache and eager Celery.
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	DJANGO_RUNSERVER_HIDE_WARNING=true $(BIN)/python manage.py runserver $(HOST)

## axe-core for the browser suite's accessibility checks (pinned in package-lock.json).
## Without it those checks skip locally and fail under CI (see tests/browser/conftest.py).
node_modules/.package-lock.json: package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "npm not found: the browser suite's accessibility checks cannot run" >&2; \
	elif ! npm ci --no-audit --no-fund --loglevel=error; then \
	  echo "npm ci failed: the browser suite's accessibility checks cannot run" >&2; fi

## Run the whole suite; PostgreSQL and Redis are used when they answer on 127.0.0.1.
## The browser suite (tests/browser) needs /usr/bin/chromium; without it those tests skip (fail under CI).
test: $(VENV)/.installed node_modules/.package-lock.json
	@exports="$$($(BIN)/python tests/service_env.py)" || exit 1; eval "$$exports"; \
	$(BIN)/pytest $(PYTEST_ARGS)

## Only the browser suite (Playwright + Chromium); screenshots go to artifacts/screenshots/.
test-browser: $(VENV)/.installed node_modules/.package-lock.json
	@exports="$$($(BIN)/python tests/service_env.py)" || exit 1; eval "$$exports"; \
	$(BIN)/pytest tests/browser -m browser $(PYTEST_ARGS)

## The cluster suite alone: two gunicorn behind nginx, two workers, a beat, own PostgreSQL
## and Redis, and the fault tests (deploy/README.md). `make test` runs it too.
test-cluster: $(VENV)/.installed
	$(BIN)/pytest tests/cluster -m cluster $(PYTEST_ARGS)

## The production shape on this machine (deploy/cluster.py); stop it with `make cluster-stop`.
CLUSTER_DIR ?= .cluster
cluster: $(VENV)/.installed
	$(BIN)/python deploy/cluster.py start --dir $(CLUSTER_DIR)

cluster-stop:
	$(BIN)/python deploy/cluster.py stop --dir $(CLUSTER_DIR)

## Locust against a cluster of its own: req/s, p50/p95 per kind, errors, oversell, ledger.
load: $(VENV)/.installed
	$(BIN)/python benchmarks/load_cluster.py $(LOAD_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Benchmarks need PostgreSQL and Redis (see README).
bench: $(VENV)/.installed
	@exports="$$(REQUIRE_SERVICES=1 $(BIN)/python tests/service_env.py)" || exit 1; eval "$$exports"; \
	for b in benchmarks/*.py; do case $$b in */locustfile.py|*/load_cluster.py) continue;; esac; \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done

worker: $(VENV)/.installed
	$(BIN)/celery -A config worker --loglevel=info

beat: $(VENV)/.installed
	$(BIN)/celery -A config beat --loglevel=info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache node_modules artifacts .cluster
