# Kapu: `make run` serves the app, `make test` runs every test; both set up first (idempotent).
# The virtualenvs are made from the system's own Python 3 when it is 3.11 or newer and can make one (a distribution
# builds it with profile-guided and link-time optimisation: on the development machine Debian's spent 18% less CPU
# on a live check than pyenv's default build of the same version, and `make test-fast` took 12% less time), else
# from `python3` on the PATH. `make PYTHON=/path/to/python3 ...` chooses another (after `make clean`).
SYSTEM_PYTHON := $(shell /usr/bin/python3 -c 'import ensurepip, sys; sys.exit(sys.version_info < (3, 11))' \
  2>/dev/null && echo /usr/bin/python3)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HTMX := static/vendor/htmx.min.js
CATALOGS := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

.PHONY: setup run test test-fast bench bench-dist lint translations-extract db clean dist

setup: $(BIN)/.installed $(HTMX) $(CATALOGS) db

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Kapu needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(HTMX): node_modules/.installed
	mkdir -p $(dir $@)
	cp node_modules/htmx.org/dist/htmx.min.js $@

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d translations -l $* >/dev/null

db: $(BIN)/.installed
	@$(FLASK) init-db

run: setup
	KAPU_DEV_MAILBOX=1 $(FLASK) serve --demo

# Tests keep their compiled bytecode (pytest's assertion rewriting costs seconds per process) even where the
# environment sets PYTHONDONTWRITEBYTECODE; __pycache__ is ignored by git.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

test: setup
	$(PYTEST)

# The in-process tests on SQLite, on every core: what to run after each change (`make test` runs everything).
# Their databases are thrown away, so they live on the RAM disk where there is one (a commit's flush costs nothing);
# they build their own, so the development database is not needed; every test in tests/browser drives Chromium (slow).
test-fast: $(BIN)/.installed $(HTMX) $(CATALOGS)
	$(if $(wildcard /dev/shm),TMPDIR=$${TMPDIR:-/dev/shm}) $(PYTEST) -q -m "not slow" -n auto --dist worksteal --hypothesis-profile=quick --databases=sqlite --ignore=tests/browser

bench: setup
	$(BIN)/python bench/speed_bench.py
	$(BIN)/python bench/requests_bench.py
	$(BIN)/python bench/serve_bench.py
	$(BIN)/python bench/databases.py

# The one-file binary: built in its own venv from the runtime pins only, plus the PyInstaller pinned for development.
# What it carries, and so how fast it starts (it unpacks everything at every start), is in packaging/kapu.spec.
# PYTHONPATH: collect_submodules imports the packages to list them (the migration steps are found by name).
DIST_VENV := build/venv
PYINSTALLER_PIN = $$(grep -i '^pyinstaller==' requirements-dev.txt)

$(DIST_VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(DIST_VENV)/bin/python || $(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt $(PYINSTALLER_PIN)
	touch $@

dist: $(HTMX) $(CATALOGS) $(DIST_VENV)/.installed
	mkdir -p build
	echo "$$(git describe --always --dirty 2>/dev/null || echo unknown) built $$(date -u +%Y-%m-%dT%H:%M:%SZ)" > build/VERSION
	PYTHONPATH=$(CURDIR) $(DIST_VENV)/bin/pyinstaller --noconfirm --log-level WARN --distpath dist \
	  --workpath build/pyinstaller packaging/kapu.spec
	@ls -l dist/kapu

# Cold start of the one-file binary: --version, and serve to its first answer (wall and CPU time).
bench-dist: dist
	$(BIN)/python bench/coldstart.py dist/kapu

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Refresh the catalogs after changing user-facing strings (then translate the new entries).
translations-extract: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) node_modules static/vendor instance/kapu.db* instance/static build dist
