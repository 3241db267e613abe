# Entry points; see scripts/ for the local stack. State of running services lives in .local/.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.PHONY: tools dev down key load test lint validate bench bench-export scale ttl-sweep export package console

# Local-stack tools (.venv from requirements-dev.txt); reinstalled only when that file changes.
tools:
	@scripts/bootstrap-tools

# Local stack on http://127.0.0.1:9000 with demo data; prints a demo API key.
dev:
	scripts/dev up

down:
	scripts/dev down

# N executions of a realistic volume (PROJECT=volume) in a stack of its own (API on :9200,
# DynamoDB Local kept on disk in .local/volume), with a progress line; make bench reuses it.
load:
	@[[ -n "$(N)" ]] || { echo "usage: make load N=100000 [PROJECT=volume]" >&2; exit 2; }
	scripts/load "$(N)" $(PROJECT)

# RUNLEDGER_STACK_ENV names another stack's env file (scripts/readme-check: the test stack's).
RUNLEDGER_STACK_ENV ?= .local/functions.env

# Prints a new API key for PROJECT, and nothing else, on stdout (needs `make dev` running).
key:
	@[[ -n "$(PROJECT)" ]] || { echo "usage: make key PROJECT=<projectId> [NAME=<label>]" >&2; exit 2; }
	@[[ -f "$(RUNLEDGER_STACK_ENV)" ]] || { echo "no $(RUNLEDGER_STACK_ENV): run make dev first" >&2; exit 2; }
	@set -a; . "$(RUNLEDGER_STACK_ENV)"; set +a; \
	  cargo run -q --bin runledger -- key create --project "$(PROJECT)" --name "$(or $(NAME),cli)"

# One TTL sweep as if at NOW: deletes what expired, hands the deletions to `archive` as the stream
# would, prints what it deleted and archived (needs make dev running). REPLAY=1 sends the last
# sweep's batches again; PROJECT=p sweeps one project only.
ttl-sweep: tools
	@[[ -n "$(NOW)$(REPLAY)" ]] || { echo "usage: make ttl-sweep NOW=2027-03-01T00:00:00Z [PROJECT=demo] [REPLAY=1]" >&2; exit 2; }
	@[[ -f "$(RUNLEDGER_STACK_ENV)" ]] || { echo "no $(RUNLEDGER_STACK_ENV): run make dev first" >&2; exit 2; }
	@set -a; . "$(RUNLEDGER_STACK_ENV)"; set +a; \
	  .venv/bin/python scripts/ttl_sweep.py --now "$(or $(NOW),1970-01-01T00:00:00Z)" \
	    $(if $(PROJECT),--project "$(PROJECT)") $(if $(REPLAY),--replay)

# An on-demand export of PROJECT's records dated [AFTER, BEFORE); prints each day's manifest (needs
# make dev running).
export: tools
	@[[ -n "$(PROJECT)" && -n "$(AFTER)" && -n "$(BEFORE)" ]] || { echo "usage: make export PROJECT=demo AFTER=2026-11-01 BEFORE=2026-12-01 [FORMAT=jsonl]" >&2; exit 2; }
	@[[ -f "$(RUNLEDGER_STACK_ENV)" ]] || { echo "no $(RUNLEDGER_STACK_ENV): run make dev first" >&2; exit 2; }
	@set -a; . "$(RUNLEDGER_STACK_ENV)"; set +a; \
	  .venv/bin/python scripts/export.py --project "$(PROJECT)" --after "$(AFTER)" --before "$(BEFORE)" \
	    $(if $(FORMAT),--format "$(FORMAT)")

# Builds everything, runs the suite against its own stack (ports 4577/9100), always stops it.
test: tools
	cargo build --workspace --all-targets
	trap 'scripts/test-stack down' EXIT; \
	  scripts/test-stack up; \
	  set -a; . .local/test.env; set +a; \
	  cargo nextest run --workspace --no-fail-fast; \
	  scripts/readme-check; \
	  scripts/api-check; \
	  scripts/abuse-check; \
	  scripts/console-check
	scripts/console-build --check
	scripts/validate

# Rust (fmt, clippy) and the scripts: ruff on every Python file, shellcheck on every shell one
# (scripts/lint-scripts finds them by extension and shebang).
lint: tools
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	scripts/lint-scripts

# SAM transform offline, cfn-lint on the template and its transform, and proof a broken one fails.
validate: tools
	scripts/validate

bench:
	bash scripts/bench

# The capacity model of the target workload (README, "Capacity at the target"), in memory: fails
# when a limit is passed. SHARDS=n sets the listing shards (default: the fewest that fit).
scale:
	@cargo run -q --bin runledger -- scale $(if $(SHARDS),--list-shards "$(SHARDS)")

# Peak memory of an export of N executions (default 100,000); slow: seeding takes most of it.
bench-export:
	bash scripts/bench-export $(N)

# Rebuilds console/dist from console/src (pinned npm packages, esbuild); commit the result.
console:
	scripts/console-build

# The arm64 Lambda zips (cargo-lambda) and their sizes.
package: tools
	scripts/package
