# Every target that runs code depends on `install`, so on a fresh machine
# `make demo` and `make test` are the only commands a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

# Re-run the install only when the project's dependencies change.
$(STAMP): pyproject.toml tools/kube_binaries.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python tools/kube_binaries.py $(BIN)
	touch $(STAMP)

# Plan the examples against the embedded defaults (state/ and dir:state/cluster), save
# the plan, apply exactly that plan, and show the result.
demo: install
	$(BIN)/reconciler plan -f examples/values.yaml --overrides examples/overrides.yaml --out state/demo.plan
	$(BIN)/reconciler apply state/demo.plan
	$(BIN)/reconciler show

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/ruff format --check reconciler tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
