# DSR Watch: every target sets itself up from a fresh clone (virtual env from the lock, warehouse,
# migrations). See README.md for the settings.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-16)
export PYTHONPATH := $(CURDIR)/plugins
export PYTHONDONTWRITEBYTECODE :=

.PHONY: install run test lint bench shrink-check up down migrate status clean psql accept evaluate

install: $(STAMP)

$(STAMP): requirements.lock
	@command -v uv >/dev/null || python3 -m pip install --quiet uv
	@test -x $(PY) || uv venv --quiet --python 3.11 $(VENV)
	VIRTUAL_ENV=$(VENV) uv pip sync --quiet --compile-bytecode requirements.lock
	@rm -f $(VENV)/.installed-* && touch $@

## run: every DAG once, in dependency order, in process; prints a summary per source
run: install
	$(PY) -m dsrwatch run

## test: the whole suite (DAG integrity, unit, integration against real PostgreSQL and SMTP)
test: install
	$(PY) -m ruff check dags plugins tests bench
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check dags plugins tests bench

## bench: cables pipeline and risk engine at 100x the real snapshot (needs ../shared/public-data),
## then the streaming AidData parse of a synthetic full-size release
bench: install
	$(PY) bench/benchmark.py $(BENCH_ARGS)
	$(PY) bench/aiddata_stream.py

## shrink-check: the real cable snapshot, then cut to a tenth and emptied: both must be quarantined
shrink-check: install
	$(PY) bench/shrink_check.py

migrate: install
	$(PY) -m dsrwatch migrate

status: install
	$(PY) -m dsrwatch status

## evaluate: the warehouse's flags against the gold set (run after `make run` on real data)
evaluate: install
	$(PY) -m dsrwatch evaluate

## accept: load a quarantined run despite its breaches (make accept RUN=42)
accept: install
	$(PY) -m dsrwatch accept $(RUN)

## up: airflow standalone with the project's DAGs on http://localhost:8080 (Ctrl-C or `make down`)
up: install
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m dsrwatch up

down:
	$(PY) -m dsrwatch down

clean:
	rm -rf .airflow outbox bench/out

## psql: a psql shell on the warehouse (the embedded one is started for it)
psql: install
	$(PY) -m dsrwatch psql
