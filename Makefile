# The README's commands, as targets. `make help` lists them.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON_PATHS := src client/src tests bench

.PHONY: help install serve test test-postgres lint format clients client-alone ci

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/todo-api: requirements.lock pyproject.toml client/pyproject.toml
	python3 -m venv $(VENV) && $(BIN)/pip install -r requirements.lock -e .

install: $(BIN)/todo-api ## create the virtual environment from the lock file (service and client)

serve: install ## run the service on the SQLite default
	$(BIN)/todo-api serve

test: install ## run the test suite on SQLite
	$(BIN)/python -m pytest

test-postgres: install ## run the test suite on SQLite and PostgreSQL
	TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres $(BIN)/python -m pytest

lint: install ## ruff and mypy
	$(BIN)/ruff check $(PYTHON_PATHS) && $(BIN)/ruff format --check $(PYTHON_PATHS) && $(BIN)/mypy

format: install ## apply ruff's formatting and fixes
	$(BIN)/ruff check --fix $(PYTHON_PATHS) && $(BIN)/ruff format $(PYTHON_PATHS)

client-alone: ## check that the `todo` client installs and runs without the server's packages
	bash .ci/client-alone

clients: install ## type-check TypeScript and Python clients generated from the OpenAPI document
	bash generated-clients/check

ci: ## what CI runs
	bash .ci/run
