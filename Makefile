# provisioner — `make demo` runs the main job end to end, `make test` runs the test suite.
# Both create their own virtual environment in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv test demo lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: venv
	$(BIN)/python -m pytest -q

demo: venv
	$(BIN)/python -m provisioner.demo

lint: venv
	$(BIN)/ruff check provisioner tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
