# Two commands on a fresh machine: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run serve chaos soak-faults test bootstrap system-deps venv migrate lint bench soak clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	@# The project root goes first on sys.path for every venv entry point (pytest,
	@# celery, gunicorn), so the `numbers` app wins over the stdlib module it shadows.
	echo "import sys; sys.path.insert(0, '$(CURDIR)')" > "$$($(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/switchboard.pth"
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	scripts/system-deps.sh --browser

bootstrap: system-deps venv

run: bootstrap
	scripts/run.sh

# The stack as deployed, on one machine: gunicorn, DEBUG off, a Celery worker per queue.
serve: bootstrap
	scripts/run.sh serve

test: bootstrap
	scripts/test.sh $(ARGS)

# Benchmarks on a dedicated database (BENCH_QUICK=1 for small sizes); see bench/README.md.
bench: bootstrap
	scripts/bench.sh

# The chaos run for 10,000 sends from 8 clients (about 10 minutes), then invariants.
soak: bootstrap
	CHAOS_SENDS=$${CHAOS_SENDS:-10000} CHAOS_CLIENTS=$${CHAOS_CLIENTS:-8} CHAOS_SECONDS=$${CHAOS_SECONDS:-1500} \
	  CHAOS_EVERY=$${CHAOS_EVERY:-20} CHAOS_OUT=$${CHAOS_OUT:-bench/soak-chaos-results.json} scripts/chaos.sh

# A real worker, web server and sandbox under injected provider faults (SOAK_MINUTES=10).
soak-faults: bootstrap
	scripts/soak.sh

# Sends through the API while workers are killed and Postgres/Redis crash, then invariants
# (CHAOS_SECONDS=120 of traffic, a fault every CHAOS_EVERY=8 s).
chaos: bootstrap
	scripts/chaos.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --config .importlinter
	$(VENV)/bin/mypy

clean:
	-scripts/services.sh down
	rm -rf var/test-media
