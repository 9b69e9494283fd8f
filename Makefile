# Two commands matter (see README): `make serve` and `make test`. Both set up .venv themselves.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
PORT   ?= 5000

.PHONY: serve test test-quick train lint format bench clean kernel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/python hatespeech/core/build.py
	touch $@

$(VENV)/.train: requirements.txt requirements-train.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-train.txt
	$(BIN)/python hatespeech/core/build.py
	touch $@ $(VENV)/.runtime

$(VENV)/.dev: requirements.txt requirements-train.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/python hatespeech/core/build.py
	touch $@ $(VENV)/.train $(VENV)/.runtime

## kernel: build the C kernel in place (hatespeech/core/_kernel.c; up to date: nothing done). Without it, NumPy scores
kernel: | $(BIN)/python
	$(BIN)/python hatespeech/core/build.py

## serve: the production server (nginx in front of gunicorn + firefly, as the image runs it) on http://127.0.0.1:$(PORT)
serve: $(VENV)/.runtime kernel
	PORT=$(PORT) $(BIN)/python -m hatespeech.service.launch

## test: lint and type check, then every test (the real data must be at data/ or ../shared/data/davidson/, as for train)
test: $(VENV)/.dev kernel
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

## test-quick: lint and type check, then every test not marked slow (full-data training, fresh environments, fuzzing; > ~10 s)
test-quick: $(VENV)/.dev kernel
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not slow"

## train: retrain from data/labeled_data.csv (else ../shared/data/davidson/) and replace the served model
train: $(VENV)/.train kernel
	$(BIN)/python train.py

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis hatespeech/core/_kernel*.so
