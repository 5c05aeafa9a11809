# AWS Research Wizard - developer entry points.
#   make demo   create .venv, install, run the main flow on the local sandbox
#   make test   run the test suite (offline)
#   make bench  run the benchmarks in bench/
#   make lint   ruff
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=compat -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	ARW_HOME=$${ARW_HOME:-$(CURDIR)/.demo-home} $(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# An installed package has bytecode (pip compiles it); an editable checkout run with
# PYTHONDONTWRITEBYTECODE would recompile every module on every start, so compile first.
bench: $(STAMP)
	$(BIN)/python -m compileall -q registry_tools
	status=0; for b in bench/bench_cli.py bench/bench_validate.py bench/bench_build.py bench/bench_client.py bench/bench_sessions.py bench/bench_site.py; do \
	  $(BIN)/python $$b || status=1; done; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check registry_tools tests bench scripts

clean:
	rm -rf $(VENV) .demo-home .pytest_cache build *.egg-info
