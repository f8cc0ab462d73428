# election — build and test entry points.
#
#   make test        venv + ZooKeeper + lint, then the whole pytest suite (bounded, parallel)
#   make soak        the chaos soaks `make test` leaves out: 45 s without a job, then
#                    10 minutes each of tools/chaos without and with jobs (SOAK_SECONDS)
#   make lint        ruff check, ruff format --check, mypy
#   make lock        refresh the pinned dependencies (requirements*.lock) with uv
#   make zookeeper   Debian's zookeeper package, a JRE, tmux, openssl, systemd, promtool: if missing
#   make demo        python -m election_testkit.demo: ZooKeeper, three replicas, `election top`
#   make clean       caches and build output; `make distclean` also drops .venv
#
# Works as root on a fresh Debian/Ubuntu machine (`bash .ci/run`) and as a user with sudo.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The pins, with hashes: what make test, make demo and CI install (DEV_LOCK), and the
# runtime alone (RUNTIME_LOCK: the container image). `make lock` refreshes both.
DEV_LOCK := requirements-dev.lock
RUNTIME_LOCK := requirements.lock
UV_VERSION := 0.13.10
LOCK_ARGS ?= --upgrade
ZOOKEEPER_JAR := /usr/share/java/zookeeper.jar

# Hard upper bound for the test run (the suite must stay well under 15 minutes).
TEST_TIMEOUT ?= 840
# Parallel pytest workers: most tests wait on processes and ZooKeeper rather than compute,
# so twice the CPUs of a 2-CPU machine. Each worker is handed one test at a time
# (--maxschedchunk 1), the `long` ones first (tests/conftest.py). Bytecode is cached even
# where the environment says not to: every worker and each of the hundreds of daemons the
# suite starts would otherwise compile (and pytest rewrite) every module it imports.
TEST_WORKERS ?= 4
PYTEST_ARGS ?=

# Type-check only the directories that exist and hold Python files (others land in parallel).
MYPY_DIRS = $(shell for d in election journal tools tests; do \
  [ -n "$$(find $$d -name '*.py' -print -quit 2>/dev/null)" ] && echo $$d; done; true)

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: venv lock zookeeper lint test soak demo clean distclean

## venv: .venv with the pinned dependencies (requirements-dev.lock: runtime, [test] and the
## build backend, every file checked against its hash) and the project, editable
venv: $(STAMP)

$(STAMP): pyproject.toml $(DEV_LOCK)
	@if [ ! -x $(BIN)/python ]; then \
	  if ! $(PYTHON) -m venv $(VENV) 2>/dev/null; then \
	    echo "== $(PYTHON) -m venv failed; installing python3-venv"; \
	    rm -rf $(VENV); \
	    $(APT_GET) update -qq; \
	    $(APT_GET) install -y -qq python3 python3-venv python3-pip; \
	    $(PYTHON) -m venv $(VENV); \
	  fi; \
	fi
	$(BIN)/pip install -q --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $@

## lock: resolve the pins again (the newest releases within pyproject.toml's ranges; give
## LOCK_ARGS='--upgrade-package kazoo' to move one), with the hashes of every file
lock:
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) $(UV_LOCK_FLAGS) -o $(RUNTIME_LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra test --group build -c $(RUNTIME_LOCK) \
	  $(LOCK_ARGS) $(UV_LOCK_FLAGS) -o $(DEV_LOCK)

# For every platform and Python the project supports (>= 3.11), hashes of every file.
UV_LOCK_FLAGS = --generate-hashes --universal --python-version 3.11 \
  --custom-compile-command 'make lock'

## zookeeper: Debian's ZooKeeper server (jar in /usr/share/java), a java runtime, tmux,
## openssl, systemd (for systemd-analyze verify of deploy/election.service), and
## Debian's prometheus package for promtool (the alert rules' tests; on a host run by
## systemd the package also starts a Prometheus service: `systemctl disable --now
## prometheus` if it is not wanted)
zookeeper:
	@if [ ! -f $(ZOOKEEPER_JAR) ]; then \
	  echo "== $(ZOOKEEPER_JAR) missing: installing the zookeeper package"; \
	  $(APT_GET) update -qq; \
	  $(APT_GET) install -y -qq zookeeper; \
	fi
	@if ! command -v java >/dev/null; then \
	  echo "== java missing: installing default-jre-headless"; \
	  $(APT_GET) update -qq; \
	  $(APT_GET) install -y -qq default-jre-headless; \
	fi
	@if ! command -v tmux >/dev/null; then \
	  echo "== tmux missing (the live-view tests drive a real terminal): installing it"; \
	  $(APT_GET) update -qq; \
	  $(APT_GET) install -y -qq tmux; \
	fi
	@if ! command -v openssl >/dev/null; then \
	  echo "== openssl missing (the TLS tests make their certificates): installing it"; \
	  $(APT_GET) update -qq; \
	  $(APT_GET) install -y -qq openssl; \
	fi
	@if ! command -v systemd-analyze >/dev/null; then \
	  echo "== systemd-analyze missing (the unit's test runs systemd-analyze verify): installing systemd"; \
	  $(APT_GET) update -qq; \
	  $(APT_GET) install -y -qq systemd; \
	fi
	@if ! command -v promtool >/dev/null; then \
	  echo "== promtool missing (the alert rules' tests run promtool): installing prometheus"; \
	  $(APT_GET) update -qq; \
	  $(APT_GET) install -y -qq --no-install-recommends prometheus; \
	fi
	@command -v java >/dev/null || { echo "java still not on PATH" >&2; exit 1; }
	@command -v promtool >/dev/null || { echo "promtool still not on PATH" >&2; exit 1; }
	@test -f $(ZOOKEEPER_JAR) || { echo "$(ZOOKEEPER_JAR) still missing" >&2; exit 1; }

## lint: ruff (lint + format check) and mypy
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(if $(MYPY_DIRS),$(BIN)/mypy $(MYPY_DIRS),@echo "mypy: nothing to check")

## test: the whole suite (unit, integration against a real ZooKeeper, end-to-end)
test: venv zookeeper lint
	PYTHONDONTWRITEBYTECODE= timeout --kill-after=30 $(TEST_TIMEOUT) \
	  $(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist load --maxschedchunk 1 \
	  $(PYTEST_ARGS)

## soak: the chaos soaks (docs/faults.md): the short one without a job, then the long ones
SOAK_SECONDS ?= 600
soak: venv zookeeper
	$(BIN)/pytest -q -p no:cacheprovider -m soak
	$(BIN)/python -m tools.chaos --duration $(SOAK_SECONDS) --seed 2027
	$(BIN)/python -m tools.chaos --duration $(SOAK_SECONDS) --seed 2029 --job

## demo: the scripted demo against a real ZooKeeper
demo: venv zookeeper
	$(BIN)/python -m election_testkit.demo

clean:
	rm -rf build dist .demo .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) \
	  -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
