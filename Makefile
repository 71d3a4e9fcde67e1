# swapadmin: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export SWAPADMIN_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test bench lint typecheck deps venv services services-stop clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tools and tests use (as root; skipped when all present).
deps:
	bash scripts/apt-deps.sh

run: deps venv
	$(PY) manage.py runall

test: deps venv
	bash scripts/test.sh

bench: deps venv
	bash scripts/bench.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

typecheck: venv
	$(VENV)/bin/mypy

services: deps
	bash scripts/services.sh start

services-stop:
	bash scripts/services.sh stop

clean:
	rm -rf $(VENV) var
