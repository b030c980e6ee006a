# ChatDesk: two commands a new user needs (see README.md).
PY ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin

.PHONY: demo test install

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

install: $(BIN)/.installed

# Install, migrate, seed, and serve the demo (Daphne + the Huey worker) on 127.0.0.1:$(PORT).
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Demo store:  http://127.0.0.1:$(PORT)/demo/"
	@echo "Console:     http://127.0.0.1:$(PORT)/console/   (alice / chatdesk-demo)"
	@echo "Reports:     http://127.0.0.1:$(PORT)/reports/   (sam / chatdesk-demo)"
	$(BIN)/python manage.py run_demo --port $(PORT)

# The whole test suite, on whatever DATABASE_URL / REDIS_URL say (nothing set: SQLite + in-memory layer).
# Without Redis, Huey queues in a SQLite file: the tests get their own, so that
# tasks they schedule are not run later by `make demo` against the demo's data.
test: install
	@queue=$${CHATDESK_HUEY_PATH:-$$(mktemp -u /tmp/chatdesk-test-huey-XXXXXX.sqlite3)}; \
		CHATDESK_HUEY_PATH=$$queue $(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
		[ -n "$$CHATDESK_HUEY_PATH" ] || rm -f $$queue; exit $$status
