# Two commands for a newcomer: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.install-stamp
DEMO_OUTPUT ?= demo_output
# Test processes (pytest-xdist); each test file runs whole in one of them, so
# module fixtures are built once.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

.PHONY: install demo test test-all bench lock clean

$(STAMP): requirements.lock requirements-nodeps.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==0.13.9
	$(UV) pip install --python $(PY) -r requirements.lock
	# Installed without dependencies: they would pull PyTorch, unused here.
	$(UV) pip install --python $(PY) --no-deps -r requirements-nodeps.txt
	$(UV) pip install --python $(PY) --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/vqa demo --output $(DEMO_OUTPUT)

test: install
	$(PYTEST)

test-all: install
	$(PYTEST) -m ''

bench: install
	$(PY) benchmarks/preprocess_bench.py

# Re-resolves requirements.lock from requirements.in (needs uv on PATH or in the venv).
lock: install
	$(UV) pip compile --python-version 3.11 requirements.in -o requirements.lock

clean:
	rm -rf $(VENV) $(DEMO_OUTPUT) *.egg-info
