# The two commands a newcomer needs: `make run` and `make test` (see README.md).
# Both install whatever is missing first; nothing else needs to be set up by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
HOST ?= 127.0.0.1
PORT ?= 5000
FLASK := $(BIN)/flask --app api
NPM_TOOLS := tools/bpmn-moddle

.PHONY: install run test lint typecheck pytest bench clean chromium

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(NPM_TOOLS)/node_modules/.installed: $(NPM_TOOLS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --silent --no-audit --no-fund --prefix $(NPM_TOOLS) && touch $@; \
	else echo "npm not found: the bpmn-moddle cross-check will be skipped"; fi

install: $(STAMP)

# Prepare the default SQLite database, load the demo data on a fresh one, deploy processes/,
# and serve the API, the pages and the scheduler at http://$(HOST):$(PORT).
run: install
	$(FLASK) init-db
	$(FLASK) load-demo-data --if-empty
	$(FLASK) deploy processes
	CRM_SCHEDULER_ENABLED=true $(BIN)/gunicorn --workers 1 --threads 8 --bind $(HOST):$(PORT) \
		--access-logfile - "api:create_app()"

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy engine api handlers

# The browser test drives Debian's Chromium (never a downloaded one). Where apt-get cannot run
# (not root, not Debian, offline) the test is skipped with its reason; with CI=true it fails.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
				|| echo "Chromium could not be installed: the browser test will be skipped"; \
		else echo "No /usr/bin/chromium and no apt-get as root: the browser test will be skipped"; fi; \
	fi

pytest: install $(NPM_TOOLS)/node_modules/.installed chromium
	$(BIN)/pytest -n auto --dist loadgroup

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) instance .mypy_cache .ruff_cache
