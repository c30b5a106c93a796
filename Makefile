# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/leadflow --db sqlite:///demo.db demo --reset
	$(BIN)/leadflow --db sqlite:///demo.db score --train --all
	@echo
	@echo "Demo workspace: demo.db. Try:"
	@echo "  $(BIN)/leadflow --db sqlite:///demo.db reps list"
	@echo "  $(BIN)/leadflow --db sqlite:///demo.db leads list --stage opportunity --limit 20"
	@echo "  $(BIN)/leadflow --db sqlite:///demo.db leads show 77"
	@echo "  $(BIN)/leadflow --db sqlite:///demo.db report profile"
	@echo "  $(BIN)/leadflow --db sqlite:///demo.db report reps"
	@echo "  $(BIN)/leadflow --db sqlite:///demo.db report conversion --by territory,month"
	@echo "  $(BIN)/leadflow --db sqlite:///demo.db serve    # then open http://127.0.0.1:8000/web/ with a login above"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/import.py

clean:
	rm -rf $(VENV) demo.db .pytest_cache .mypy_cache .ruff_cache
