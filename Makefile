# One entry point per chore; each creates .venv and installs the project on first use.
.PHONY: serve test lint fmt bench clean

VENV := .venv
PYTHON ?= python3

$(VENV)/.ok: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

serve: $(VENV)/.ok
	$(VENV)/bin/lamina serve

test: lint
	$(VENV)/bin/pytest

lint: $(VENV)/.ok
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: $(VENV)/.ok
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.ok
	$(VENV)/bin/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
