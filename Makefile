# hcasim — every target that runs something first makes sure the machine is set up.
SHELL := /bin/bash
# A young generation that holds the transactions a lockstep run keeps in flight: with
# V8's default they are promoted and collected in the old generation, which costs high-rate
# blocks up to 3x (make bench).
NODE := node --max-semi-space-size=128
HCASIM := $(NODE) bin/hcasim.mjs
APT_PACKAGES := verilator libzmq3-dev yosys tshark pkg-config g++ make

.PHONY: setup demo test lint bench clean

# Idempotent: installs only what is missing (Debian packages as root, then npm ci).
setup: node_modules/.setup-stamp
	@missing=""; \
	command -v verilator >/dev/null || missing="$$missing verilator"; \
	command -v yosys >/dev/null || missing="$$missing yosys"; \
	command -v tshark >/dev/null || missing="$$missing tshark"; \
	pkg-config --exists libzmq 2>/dev/null || missing="$$missing libzmq3-dev pkg-config"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

node_modules/.setup-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# The main job: the default co-simulation testbench with its report.
demo: setup
	$(HCASIM) run testbench/scenarios/icrc.yaml --json out/icrc.json

# The tests: typecheck and RTL lint first, then every vitest suite.
test: setup lint
	npx vitest run

lint: setup
	npx tsc --noEmit
	$(HCASIM) lint --synth

bench: setup
	@$(NODE) --import tsx bench/run.ts

clean:
	rm -rf build out
