# loop-orchestrator: the bash substrate (shell/) and the Python layers (packages/*).
SHELL := /bin/bash
# uv installs itself into ~/.local/bin (tools/setup.sh): make sure this make run finds it
export PATH := $(HOME)/.local/bin:$(PATH)
BIN ?= $(HOME)/.local/bin
UV ?= uv
PYTEST_ARGS ?=
SKILLS_DIR ?= $(HOME)/.claude/skills

# The CLIs `make install` links into BIN: shell/<name>.sh, shell/scripts/<name>.sh and shell/bin/<name>.
SHELL_CLIS = $(sort $(basename $(notdir $(wildcard shell/loop-*.sh shell/scripts/loop-*.sh shell/hooks/loop-*.sh))) \
                    $(notdir $(wildcard shell/bin/*)))
SHELL_SCRIPTS = $(wildcard shell/*.sh shell/lib/*.sh shell/scripts/*.sh shell/bin/*)

.PHONY: help install uninstall print-paths check check-syntax check-shellcheck check-portability \
        check-shell-tests install-python check-python lint typecheck imports test-python check-all \
        test test-integration test-real bench demo setup install-skill shared test-deep

help:
	@echo "make install [BIN=dir]   link the shell CLIs into BIN (default ~/.local/bin)"
	@echo "make uninstall           remove those links"
	@echo "make print-paths         show what install would link, change nothing"
	@echo "make check               the bash substrate alone: bash -n, shellcheck, bash-3.2 lint, shell tests"
	@echo "make install-python      install the Python layers as uv tools (pip --user fallback)"
	@echo "make check-python        ruff, mypy --strict, import-linter, package tests"
	@echo "make check-all           check + check-python"
	@echo "make test                everything: check-all + integration tests + test-real"
	@echo "make test-real           the real-agent suite alone (claude, codex, pi against a stub model)"
	@echo "make test-deep           the differential reader tests (shell vs loop-schemas) on 20,000 documents each"
	@echo "make shared              refresh loop-schemas' copies of the shell/lib helpers it shares"
	@echo "make bench               run the benchmarks and write bench/results/"
	@echo "make setup               install what is missing (tmux, uv) and sync the workspace"
	@echo "make demo [DEMO_ARGS=…]  the demo loop: simulated agents, the engine, the deck (no AI CLI needed)"
	@echo "make install-skill       link the operator skill into SKILLS_DIR (default ~/.claude/skills)"

print-paths:
	@for n in $(SHELL_CLIS); do \
	  for s in shell/$$n.sh shell/scripts/$$n.sh shell/hooks/$$n.sh shell/bin/$$n; do \
	    if [ -f "$$s" ]; then echo "$(BIN)/$$n -> $(CURDIR)/$$s"; break; fi; \
	  done; \
	done

install:
	@mkdir -p "$(BIN)"
	@for n in $(SHELL_CLIS); do \
	  for s in shell/$$n.sh shell/scripts/$$n.sh shell/hooks/$$n.sh shell/bin/$$n; do \
	    if [ -f "$$s" ]; then ln -sfn "$(CURDIR)/$$s" "$(BIN)/$$n"; echo "linked $(BIN)/$$n"; break; fi; \
	  done; \
	done

uninstall:
	@for n in $(SHELL_CLIS); do \
	  if [ -L "$(BIN)/$$n" ]; then rm -f "$(BIN)/$$n"; echo "removed $(BIN)/$$n"; fi; \
	done

# ---- the substrate alone -------------------------------------------------------------------
check: check-syntax check-shellcheck check-portability check-shell-tests

check-syntax:
	@for f in $(SHELL_SCRIPTS); do bash -n "$$f" || exit 1; done; echo "bash -n: ok"

check-shellcheck:
	@$(UV) run --frozen shellcheck -x $(SHELL_SCRIPTS) && echo "shellcheck: ok"

check-portability:
	@python3 tools/bash32_lint.py shell && echo "bash-3.2 portability lint: ok"

# The scripts run with a bare python3 (a venv with the standard library only); see shell/tests/conftest.py.
check-shell-tests:
	$(UV) run --frozen pytest -n 2 shell/tests $(PYTEST_ARGS)

# ---- the Python layers ---------------------------------------------------------------------
install-python:
	@bash tools/install-python.sh

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check packages tests-integration tools bench

typecheck:
	$(UV) run --frozen mypy

imports:
	$(UV) run --frozen lint-imports

test-python:
	$(UV) run --frozen pytest -n 2 packages $(PYTEST_ARGS)

check-python: lint typecheck imports test-python

check-all: check check-python

# The stdlib helpers loop-schemas shares with the bash substrate: shell/lib is the one source, the package
# carries committed byte-identical copies (so the editable install, sdist and wheel need no build hook);
# packages/loop-schemas/tests/test_one_truth.py fails when a copy drifts.
SHARED_DIR = packages/loop-schemas/src/loop_schemas/_shared
SHARED_FILES = fsread.py frontmatter.py atomic.py tasks.py mail_index.py jsonlite.py
shared:
	@for f in $(SHARED_FILES); do cp shell/lib/$$f $(SHARED_DIR)/$$f; done; echo "refreshed $(SHARED_DIR)"

# The differential tests with the hypothesis profile "deep" (packages/loop-schemas/tests/conftest.py).
test-deep:
	$(UV) run --frozen pytest -n 2 -p no:cacheprovider --hypothesis-profile=deep packages/loop-schemas/tests/test_one_truth.py $(PYTEST_ARGS)

test-integration:
	$(UV) run --frozen pytest -n 2 tests-integration --ignore=tests-integration/real $(PYTEST_ARGS)

# The real agent CLIs (claude, codex, pi; pinned in tools/install-real-agents.sh) in lanes against a stub
# model: one test at a time (each runs a real TUI). Under CI=true a missing CLI fails, elsewhere it skips.
test-real:
	@bash tools/install-real-agents.sh >/dev/null || [ -z "$$CI" ]
	$(UV) run --frozen pytest -n 0 tests-integration/real $(PYTEST_ARGS)

test: setup check-all test-integration test-real

bench:
	$(UV) run --frozen python bench/run.py

# The demo loop (no AI CLI needed): make demo [DEMO_ARGS="--auto"] (loop-demo --help for every flag).
DEMO_ARGS ?=
demo: setup
	$(UV) run --frozen loop-demo $(DEMO_ARGS)

# A bare machine made ready: tmux, make, uv, the workspace (idempotent; quick when all is there).
setup:
	@bash tools/setup.sh

install-skill:
	@mkdir -p "$(SKILLS_DIR)"
	@ln -sfn "$(CURDIR)/skills/loop-orchestrator" "$(SKILLS_DIR)/loop-orchestrator"
	@echo "linked $(SKILLS_DIR)/loop-orchestrator"
