# Every target sets up its own virtual environment first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make bench` only prints the tables; `make bench-record` (or BENCH_FLAGS=--write) also updates
# bench/RESULTS.md, so a run on any machine leaves the recorded figures alone unless asked.
BENCH_FLAGS ?=

.DEFAULT_GOAL := help
.PHONY: help demo test test-deploy lint run doctor bench bench-record bench-intake bench-stage bench-burst \
	bench-bigfiles bench-bytes bench-outage bench-idle bench-inline bench-storage bench-replicas clean

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z][a-z-]*:.*## / { printf "  make %-15s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP) ## the whole bot against built-in emulators, offline; audio lands in demo-output/
	$(BIN)/python -m bot demo

# Three workers on two cores: the tests mostly wait on loopback servers and timers, not on the CPU.
PYTEST_WORKERS ?= 3

test: $(STAMP) ## lint, then the whole test suite on SQLite and PostgreSQL (offline, about nine minutes)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS)

# The deployment for real: image, docker-compose.yml and HTTPS through Caddy (deploy/test-deploy.sh).
test-deploy: ## build the image, run docker-compose.yml with podman, check it through Caddy over HTTPS
	deploy/test-deploy.sh

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

run: $(STAMP) ## run the bot with the settings in .env
	$(BIN)/python -m bot run

doctor: $(STAMP) ## check .env, the token, the provider key, the webhook, storage and the port
	$(BIN)/python -m bot doctor

# Every benchmark runs even when an earlier one misses its target; each prints PASS or FAIL.
bench: $(STAMP) ## every benchmark; prints the tables, writes nothing
	-$(MAKE) --no-print-directory bench-intake
	-$(MAKE) --no-print-directory bench-stage
	-$(MAKE) --no-print-directory bench-burst
	-$(MAKE) --no-print-directory bench-bigfiles
	-$(MAKE) --no-print-directory bench-bytes
	-$(MAKE) --no-print-directory bench-outage
	-$(MAKE) --no-print-directory bench-idle
	-$(MAKE) --no-print-directory bench-inline
	-$(MAKE) --no-print-directory bench-storage
	-$(MAKE) --no-print-directory bench-replicas

bench-record: ## every benchmark, and their tables written into bench/RESULTS.md
	$(MAKE) --no-print-directory bench BENCH_FLAGS=--write

bench-intake: $(STAMP) ## provider callbacks taken per second, and their latency
	$(BIN)/python -m bench.intake $(BENCH_FLAGS)

bench-stage: $(STAMP) ## from a provider stage to the person's screen
	$(BIN)/python -m bench.stage_to_screen $(BENCH_FLAGS)

bench-burst: $(STAMP) ## many people at once within Telegram's limits
	$(BIN)/python -m bench.burst $(BENCH_FLAGS)

bench-bigfiles: $(STAMP) ## memory while delivering big tracks
	$(BIN)/python -m bench.big_files $(BENCH_FLAGS)

bench-bytes: $(STAMP) ## bytes moved per delivered track
	$(BIN)/python -m bench.delivery_bytes $(BENCH_FLAGS)

bench-outage: $(STAMP) ## deliveries piled up during a Telegram outage drain at Telegram's global rate
	$(BIN)/python -m bench.outage_drain $(BENCH_FLAGS)

bench-idle: $(STAMP) ## the bot's CPU with 1,000 pending items and nothing due
	$(BIN)/python -m bench.idle_cpu $(BENCH_FLAGS)

bench-inline: $(STAMP) ## inline answers with 10,000 songs in the library
	$(BIN)/python -m bench.inline $(BENCH_FLAGS)

bench-storage: $(STAMP) ## hot storage paths, p50/p99 on PostgreSQL beside SQLite
	$(BIN)/python -m bench.storage_paths $(BENCH_FLAGS)

bench-replicas: $(STAMP) ## a burst on two replicas against one, and recovering from a kill -9
	$(BIN)/python -m bench.replicas $(BENCH_FLAGS)

clean: ## remove the virtual environment, demo output and caches
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
