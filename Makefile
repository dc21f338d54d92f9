# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# axe-core, which the browser tests inject to check accessibility (tests/browser/package.json).
AXE := tests/browser/node_modules/axe-core/axe.min.js

# The port `make run` serves on (`make run PORT=8001` when 8000 is taken). It is passed on to
# the Warehouse as PORT, so WAREHOUSE_URL (invitation links) and the sandbox's redirect URI
# follow it (warehouse/settings.py).
PORT ?= 8000

# Extra pytest arguments, from make's command line only (`make test PYTEST_ARGS=-x`): set here,
# so a PYTEST_ARGS in the shell is ignored.
PYTEST_ARGS :=
# The suite's only inputs are DATABASE_URL and CHROMIUM_PATH (docs/development.md, "Tests and CI"). These
# would change which tests run or how, so the test targets never pass them on.
unexport PYTEST_ADDOPTS PYTEST_PLUGINS DJANGO_SETTINGS_MODULE DJANGO_CONFIGURATION \
	FAIL_INVALID_TEMPLATE_VARS TOX_PARALLEL_ENV DJANGO_ALLOW_ASYNC_UNSAFE
# One pytest-xdist worker per core, each with its own test database.
PYTEST := $(BIN)/python -m pytest -n auto -q

.PHONY: run test test-fast lint typecheck format install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.env:
	$(PYTHON) -m warehouse.envfile

run: $(STAMP) .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_initial_superuser
	PORT=$(PORT) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/browser --no-audit --no-fund --silent && touch $(AXE); \
	else \
		echo "npm is missing: the accessibility tests skip (and fail under CI=true)"; \
	fi

# The tests run on settings of their own (tests/environment.py): they never read .env.
test: $(STAMP) $(AXE)
	$(PYTEST) $(PYTEST_ARGS)

# Everything but the browser tests (marker `browser`).
test-fast: $(STAMP)
	$(PYTEST) -m "not browser" $(PYTEST_ARGS)

lint: $(STAMP) typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy with django-stubs over the app packages (configured in pyproject.toml, [tool.mypy]).
typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
