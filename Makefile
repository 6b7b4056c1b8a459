# dfos: the two commands (make demo, make test) do all set-up on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dfos-installed
PIPELINES := uves giraf naco hawki muse vimos visir amber
DEBS   := esorex $(addprefix cpl-plugin-,$(PIPELINES))
DEMO   ?= demo-workspace
DEMO_DATE ?= 2013-02-12
# The demo pretends it is the afternoon after the night (past 12:00 UT), so the night is no longer TODAY.
DEMO_NOW  ?= 2013-02-13T14:00:00
# ... and while the night grows, it is still that night (TODAY).
DEMO_NIGHT_NOW ?= 2013-02-12T23:59:00
# make demo INSTRUMENT=NACO (calibrations and science) or UVES (calibrations); see demo/run.sh.
INSTRUMENT ?= NACO
# make demo ends by serving the monitor (Ctrl-C stops it); SERVE=0 writes the static export instead.
SERVE ?= 1
PORT  ?= 8080

.PHONY: help demo test test-condor fuzz bench system-deps venv lint clean

help:
	@echo "make demo   - set up everything, run a synthetic night end to end, serve its monitor (SERVE=0: export;"
	@echo "              INSTRUMENT=NACO: calibrations and science (default), INSTRUMENT=UVES: calibrations)"
	@echo "make test   - set up everything, then run linters, type checks and the test suite (a private Slurm"
	@echo "              cluster included), then make test-condor"
	@echo "make test-condor - the HTCondor tests on a personal pool (Debian trixie chroot, set up once)"
	@echo "make fuzz   - fuzz every parser longer than make test does (FUZZ_EXAMPLES inputs each, default 5000)"
	@echo "make bench  - run the benchmarks in benchmarks/ and print their figures"
	@echo "make clean  - remove the virtual environment and the demo workspace"

# --- set-up -----------------------------------------------------------------
system-deps:
	@missing=""; \
	command -v esorex >/dev/null 2>&1 || missing="$$missing esorex"; \
	for p in $(PIPELINES); do \
	  ls -d /usr/lib/*/cpl/plugins/$$p-* >/dev/null 2>&1 || missing="$$missing cpl-plugin-$$p"; \
	done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v slurmctld >/dev/null 2>&1 || missing="$$missing slurmctld"; \
	command -v slurmd >/dev/null 2>&1 || missing="$$missing slurmd"; \
	command -v sbatch >/dev/null 2>&1 || missing="$$missing slurm-client"; \
	command -v munged >/dev/null 2>&1 || missing="$$missing munge"; \
	command -v debootstrap >/dev/null 2>&1 || missing="$$missing debootstrap"; \
	$(PYTHON) -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "Error: missing Debian packages:$$missing; install them as root: apt-get install$$missing" >&2; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends$$missing >/dev/null; \
	fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Error: dfos needs Python >= 3.11, found " + sys.version.split()[0])'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

venv: system-deps $(STAMP)

# --- the main job -------------------------------------------------------------
demo: venv
	BIN=$(BIN) DEMO=$(DEMO) DEMO_DATE=$(DEMO_DATE) DEMO_NOW=$(DEMO_NOW) DEMO_NIGHT_NOW=$(DEMO_NIGHT_NOW) \
	  SERVE=$(SERVE) PORT=$(PORT) demo/run.sh $(INSTRUMENT)

# --- tests --------------------------------------------------------------------
lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite starts its own single-node Slurm cluster; its tests run on one worker (--dist loadgroup).
# The HTCondor tests need the personal pool of test-condor (a chroot set up once, ~2 min): run after.
test: lint
	$(BIN)/pytest -n 2 --dist loadgroup -m "not condor" --durations=10
	$(MAKE) test-condor

test-condor: venv
	$(BIN)/python tests/engines/condor_pool.py setup
	$(BIN)/pytest -n 1 -m condor --durations=5

# make test fuzzes every parser briefly (150 inputs each); this runs longer and prints the inputs tried per parser.
FUZZ_EXAMPLES ?= 5000
fuzz: venv
	set -o pipefail; FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -p no:xdist -q tests/fuzz \
	  --hypothesis-show-statistics | grep -E "^tests/fuzz|[0-9]+ passing|passed|failed"

bench: venv
	@test -x .venv-bench/bin/snakemake || { $(PYTHON) -m venv .venv-bench && .venv-bench/bin/pip install -q snakemake; }
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/oca_rules.py
	$(BIN)/python benchmarks/naco_night.py
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/plan_campaign.py
	$(BIN)/python benchmarks/phoenix_month.py
	$(BIN)/python benchmarks/phoenix_monitor.py
	$(BIN)/python benchmarks/health_page.py

clean:
	rm -rf $(VENV) .venv-bench $(DEMO)
