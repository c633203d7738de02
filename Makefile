# Every target sets up its own virtual environment first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint run doctor bench bench-intake bench-stage bench-burst bench-bigfiles bench-bytes \
	bench-outage bench-idle clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bot demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

run: $(STAMP)
	$(BIN)/python -m bot run

doctor: $(STAMP)
	$(BIN)/python -m bot doctor

# Every benchmark runs even when an earlier one misses its target; each prints PASS or FAIL.
bench: $(STAMP)
	-$(MAKE) --no-print-directory bench-intake
	-$(MAKE) --no-print-directory bench-stage
	-$(MAKE) --no-print-directory bench-burst
	-$(MAKE) --no-print-directory bench-bigfiles
	-$(MAKE) --no-print-directory bench-bytes
	-$(MAKE) --no-print-directory bench-outage
	-$(MAKE) --no-print-directory bench-idle

bench-intake: $(STAMP)
	$(BIN)/python -m bench.intake

bench-stage: $(STAMP)
	$(BIN)/python -m bench.stage_to_screen

bench-burst: $(STAMP)
	$(BIN)/python -m bench.burst

bench-bigfiles: $(STAMP)
	$(BIN)/python -m bench.big_files

bench-bytes: $(STAMP)
	$(BIN)/python -m bench.delivery_bytes

bench-outage: $(STAMP)
	$(BIN)/python -m bench.outage_drain

bench-idle: $(STAMP)
	$(BIN)/python -m bench.idle_cpu

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
