# Partner Portal: `make run` starts everything on the embedded defaults, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test test-browser lint format check clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt $(BIN)/activate
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# A local .env with a random SECRET_KEY and DEBUG on; real environment variables override it.
.env:
	@printf 'DEBUG=true\nSECRET_KEY=dev-%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))')" > .env
	@echo "Wrote .env (development settings)."

run: $(VENV)/.installed .env
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "Partner Portal: http://127.0.0.1:8000/   (admin: /admin/, API docs: /api/docs/, health: /healthz)"
	@echo "Demo logins, password demo12345:"
	@echo "  partner-admin@demo.test  partner-user@demo.test  other-partner@demo.test"
	@echo "  l1@demo.test  l2@demo.test  engineer@demo.test  support-manager@demo.test"
	@echo "  manager@demo.test (program manager)  admin@demo.test (superuser)"
	@echo "Staff also enter a two-factor code: run '.venv/bin/python manage.py demo_code' (demo key in README)."
	@echo "Ctrl-C stops the web server and the Celery worker with beat."
	@echo ""
	exec $(BIN)/honcho -f Procfile.dev start

test: $(VENV)/.installed .env
	$(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

test-browser: $(VENV)/.installed .env
	DJANGO_ALLOW_ASYNC_UNSAFE=true $(BIN)/pytest -m browser $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache
