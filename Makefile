# cryptopay: the two commands are `make demo` and `make test`. Both set everything up on a fresh machine
# (uv, the virtualenv with every workspace member, the npm tools anvil and solc) and are quick on a second run.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(PYTHON) -m uv
MEMBERS := $(wildcard packages/*/pyproject.toml apps/*/pyproject.toml)
PYTEST_ARGS ?=
# PYTEST_WORKERS: pytest-xdist workers (conftest.py keeps them apart); 2 (the default, measured on 2 cores); 0: one process.
PYTEST_WORKERS ?= 2

.PHONY: help setup demo demo-btc-tron test lint typecheck unit translations screenshots lighthouse bench-ledger bench-chains bench-api bench-settlement bench-wallet bench-dead-jobs bench-screening chaos clean

help:
	@echo "make demo   - run the end-to-end demo on the embedded defaults"
	@echo "make demo-btc-tron - the second demo flow: BTC (Esplora simulator) and USDT on Tron (TronGrid simulator)"
	@echo "make test   - lint, type checks, import contracts and the whole test suite (real PostgreSQL/Redis/anvil)"
	@echo "make bench-ledger | bench-chains | bench-api | bench-settlement | bench-wallet | bench-dead-jobs | bench-screening - benchmarks (print figures, never assert timings)"
	@echo "make chaos  - kill processes, crash the database, pause Redis while invoices are paid; check the money"
	@echo "make screenshots | lighthouse - PNGs of every page into docs/screenshots / Lighthouse scores (mobile)"
	@echo "make translations - extract the pages' messages into the catalogues (then translate the new ones)"

$(VENV)/.synced: pyproject.toml uv.lock $(MEMBERS)
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install -q uv
	$(UV) sync --locked --all-packages --quiet
	@touch $@

# The installed packages' bytecode (see setup); -q prints only files that do not compile (none of ours), not fatal.
$(VENV)/.bytecode: $(VENV)/.synced
	-$(BIN)/python -m compileall -q -j 0 $(VENV)/lib
	@touch $@

# npm ci refuses a lockfile that lists only this platform's optional anvil binary; npm install honours the lock.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required (Node.js) for anvil and solc"; exit 1; }
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# The web pages' static assets (htmx and Pico CSS from node_modules, our own CSS/JS, fingerprinted, gzipped) and the
# compiled message catalogues; rebuilt when a source, package.json or a catalogue changes.
WEB := apps/http/src/cryptopay_http/pages
WEB_SOURCES := $(wildcard $(WEB)/assets/*) $(wildcard $(WEB)/translations/*/LC_MESSAGES/messages.po)
$(WEB)/static/manifest.json: scripts/build_web_assets.py $(WEB_SOURCES) node_modules/.installed $(VENV)/.synced
	$(BIN)/python scripts/build_web_assets.py

# Bytecode compiled ahead: with PYTHONDONTWRITEBYTECODE set (as CI shells often have it) no .pyc is ever written, so
# every Python process (each CLI call, API and worker process of the demos and end-to-end tests) compiled every module
# it imports from source again: ~3 s of CPU per process. compileall skips what is up to date (about a second).
# pytest's own bytecode of the test modules (their asserts rewritten) likewise: each xdist worker rewrote them all
# at collection, ~20 s of CPU of its 34 (scripts/rewrite_tests.py: written once, in parallel, when out of date).
setup: $(VENV)/.synced $(VENV)/.bytecode node_modules/.installed $(WEB)/static/manifest.json
	@$(BIN)/python -m compileall -q -j 0 packages apps tests features scripts
	@$(BIN)/python scripts/rewrite_tests.py

# The pages on the real stack: PNGs of every page (phone and desktop) / Lighthouse scores (mobile), Debian's Chromium.
screenshots: setup
	$(BIN)/python -m tests.browser.tour screenshots docs/screenshots

lighthouse: setup
	$(BIN)/python -m tests.browser.tour lighthouse

translations: $(VENV)/.synced
	$(BIN)/python scripts/update_translations.py

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.synced
	$(BIN)/mypy

# A hung test never silences the run: pytest-timeout fails a test still running after 900 s with every thread's stack
# (a hang guard, not a timed assertion: see conftest.py and pyproject.toml); PYTEST_ARGS=--timeout=0 turns it off.
# Whatever else might hang (a worker between tests, the end of the session), pytest is interrupted (SIGINT, to all
# its processes) after PYTEST_TIME_LIMIT seconds and ends with its summary, before CI's 90 minutes end it unsaid.
PYTEST_TIME_LIMIT ?= 4800
test: setup lint typecheck
	scripts/with-services.sh timeout --signal=INT --kill-after=120 $(PYTEST_TIME_LIMIT) $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=10 $(PYTEST_ARGS)

unit: $(VENV)/.synced
	$(BIN)/pytest tests/unit packages/cryptopay-core/src $(PYTEST_ARGS)

demo: setup
	$(BIN)/cryptopay demo
	$(BIN)/cryptopay demo wallet

demo-btc-tron: setup
	$(BIN)/cryptopay demo btc-tron

bench-ledger: setup
	scripts/with-services.sh $(BIN)/python tests/bench/bench_ledger.py

bench-screening: setup
	$(BIN)/python tests/bench/bench_screening.py

bench-chains: setup
	$(BIN)/python tests/bench/bench_chains.py

bench-api: setup
	scripts/with-services.sh $(BIN)/python tests/bench/bench_api.py

bench-settlement: setup
	scripts/with-services.sh $(BIN)/python tests/bench/bench_settlement.py

bench-wallet: setup
	scripts/with-services.sh $(BIN)/python tests/bench/bench_wallet.py

bench-dead-jobs: setup
	scripts/with-services.sh $(BIN)/python tests/bench/bench_dead_jobs.py

CHAOS_SEEDS ?= 1
CHAOS_SETUPS ?= postgres-rq sqlite-inline
# Bounded and self-stopping: throw-away PostgreSQL/Redis of its own, loopback only; the last line is JSON.
chaos: setup
	@for setup in $(CHAOS_SETUPS); do for seed in $(CHAOS_SEEDS); do \
	  $(BIN)/python -m tests.chaos.run --setup $$setup --seed $$seed || exit 1; \
	done; done

clean:
	rm -rf $(VENV) node_modules .cryptopay .mypy_cache .ruff_cache
