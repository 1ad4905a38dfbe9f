# The two commands a new user runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

AXE := .browser/node_modules/axe-core/axe.min.js

.PHONY: run test install postgres redis dovecot browser screenshots bench clean

# The demo always runs on its own SQLite file in the instance folder, at its own address: a DATABASE_URL (or
# any production setting) left in the shell never receives the demo network.
DEMO_INSTANCE = $(or $(THINKNET_INSTANCE_PATH),$(CURDIR)/instance)
DEMO_ENV = env -u THINKNET_SQLALCHEMY_DATABASE_URI -u THINKNET_PRODUCTION -u THINKNET_BASE_URL \
	-u THINKNET_TRUSTED_HOSTS -u MAIL_SERVER -u MAIL_USERNAME -u MAIL_PASSWORD -u MAIL_DEFAULT_SENDER \
	-u THINKNET_REPLY_ADDRESS -u THINKNET_IMAP_HOST -u THINKNET_IMAP_USER -u THINKNET_IMAP_PASSWORD \
	DATABASE_URL=sqlite:///$(DEMO_INSTANCE)/thinknet.sqlite

run: $(STAMP)
	$(DEMO_ENV) $(BIN)/thinknet db upgrade
	$(DEMO_ENV) $(BIN)/thinknet demo --if-empty
	$(DEMO_ENV) $(BIN)/thinknet run --host $(HOST) --port $(PORT)

test: $(STAMP) postgres redis dovecot browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Screenshots of the product for the README, taken by the browser tests.
screenshots: $(STAMP) browser
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest tests/browser $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "thinknet needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# The tests start their own throwaway PostgreSQL cluster from the server binaries.
postgres:
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1; then :; \
	else \
		echo "Installing the PostgreSQL server for the tests"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q postgresql; \
	fi

# The benchmark: `make bench` (SQLite) or `make bench DB=postgres`; BENCH_SECONDS sets each run's length.
DB ?= sqlite
bench: $(STAMP) postgres
	@command -v wrk >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q wrk; }
	$(BIN)/python bench/run.py --db $(DB)

# The test of two servers sharing one database shares rate limits through a Redis server it starts.
redis:
	@if command -v redis-server >/dev/null 2>&1; then :; \
	else \
		echo "Installing the Redis server for the tests"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q redis-server; \
	fi

# The calendar-reply tests read a real mailbox from a Dovecot IMAP server they start on 127.0.0.1.
dovecot:
	@if [ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null 2>&1; then :; \
	else \
		echo "Installing the Dovecot IMAP server for the tests"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q dovecot-imapd; \
	fi

# The browser tests drive Debian's Chromium and check each page with axe-core from the npm registry.
browser: $(AXE)
	@if command -v chromium >/dev/null 2>&1; then :; \
	else \
		echo "Installing Chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver; \
	fi

$(AXE):
	@command -v npm >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q npm; }
	npm install --silent --no-audit --no-fund --prefix .browser axe-core@4.11

clean:
	rm -rf $(VENV) build dist .pytest_cache .browser
