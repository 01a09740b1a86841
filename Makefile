# openroom: `make run` serves the embedded default; `make test` passes the whole suite.
# Both set up everything they need on a fresh Debian machine with Python 3.11 and Node 20.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT   ?= 8080

RUN_STAMP  := $(VENV)/.run-installed
DEV_STAMP  := $(VENV)/.dev-installed
NPM_STAMP  := web/node_modules/.installed

.PHONY: run setup setup-dev test test-deps lint format screenshots bench clean

# --demo: the room "demo" opens with dashboards that a demo feed keeps moving.
run: setup
	$(BIN)/openroom serve --port $(PORT) --demo

setup: $(RUN_STAMP) $(NPM_STAMP)

setup-dev: $(DEV_STAMP) $(NPM_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

# Front-end libraries come from the npm registry at setup time and are served locally.
$(NPM_STAMP): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund
	touch $@

# What the tests need from Debian: a real redis-server and Debian's chromium (never a
# browser downloaded by Playwright), and CJK fonts so Korean renders in screenshots.
test-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup-dev test-deps lint
	$(BIN)/pytest

# Refresh the README's screenshots from real calls and boards in Chromium.
screenshots: setup-dev test-deps
	OPENROOM_SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest -q tests/web/test_browser_call.py \
	  tests/web/test_browser_meeting.py tests/web/test_browser_board.py \
	  tests/web/test_browser_wall.py

# The SFU benchmark (default sizes and the transcoding baseline, ~6 min); results in bench-results/.
bench: setup-dev
	$(BIN)/openroom bench sfu

clean:
	rm -rf $(VENV) web/node_modules .mypy_cache .ruff_cache .pytest_cache
