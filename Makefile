# swapadmin: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# Debian's own Python where there is one: `make run` starts web and beat as an unprivileged
# account, which must be able to run the venv's interpreter (a pyenv under /root is root's
# alone). Elsewhere, the python3 on PATH.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v python3)
export SWAPADMIN_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test bench bench-quick bench-live lint typecheck deps venv services services-stop clean

# The user-space kind, a distribution of its own installed as a third party's would be
# (contrib/swapadmin-userspace), after the main package and whenever its files change: not
# editable, and built by the venv's own setuptools (--no-build-isolation: no build
# environment fetched), whose run of its setup.py compiles uswapd into the package. A
# compile error fails the install, and so make. The venv's seeded setuptools (66 on Debian
# 12) builds no wheel by itself and reads no PEP 639 license: a current one first.
# --no-deps: its one dependency, swapadmin, is the editable install above, never fetched.
# Not editable: after editing its files, `make venv` installs them again (the stamp
# depends on them), or pytest runs the copy installed before.
USERSPACE := contrib/swapadmin-userspace
USERSPACE_FILES := $(USERSPACE)/pyproject.toml $(USERSPACE)/setup.py \
	$(USERSPACE)/src/swapadmin_userspace/uswapd.c $(wildcard $(USERSPACE)/src/swapadmin_userspace/*.py)

$(STAMP): pyproject.toml setup.py backends/_aioloop.c $(USERSPACE_FILES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q 'setuptools>=77'
	$(PIP) install -q --no-deps --no-build-isolation ./$(USERSPACE)
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tools and tests use (as root; skipped when all present).
deps:
	bash scripts/apt-deps.sh

# As root, the web server and beat run as SWAPADMIN_RUN_AS (a system account `swapadmin`,
# made here if missing); only the worker stays root. umask 077: every file made is 0600.
SWAPADMIN_RUN_AS ?= swapadmin
run: deps venv
	@if [ "$$(id -u)" = 0 ] && [ "$(SWAPADMIN_RUN_AS)" = swapadmin ] && ! getent passwd swapadmin >/dev/null; then \
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
			--user-group swapadmin && echo "made the system account swapadmin (web and beat run as it)"; \
	fi
	umask 077 && SWAPADMIN_RUN_AS=$(SWAPADMIN_RUN_AS) $(PY) manage.py runall

test: deps venv
	bash scripts/test.sh

bench: deps venv
	bash scripts/bench.sh

# Issue 14's table in under five minutes: fewer, shorter runs (bench/quick.py says which rows).
bench-quick: deps venv
	$(PY) bench/quick.py

# 5,000 synthetic hosts sampling through the real path for a minute while pages are read
# (bench/bench_fleet_live.py; enrolling their 5,000 roles takes about two minutes
# here: ARGS="--hosts 1000 --seconds 40" for the size `make bench` runs).
bench-live: deps venv
	$(PY) bench/bench_fleet_live.py $(ARGS)

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
