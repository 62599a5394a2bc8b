# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Everything installs into .venv from requirements.lock (hashes pinned; regenerate with `make lock`).
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed

.PHONY: demo test lock clean

# --compile-bytecode, as pip does: where PYTHONDONTWRITEBYTECODE is set, every command would otherwise
# compile its imports from source (about 0.5 s of `ivig-audit classify`).
$(STAMP): requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) pip install --quiet --python $(VENV)/bin/python --require-hashes --compile-bytecode -r requirements.lock
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ivig-audit demo
	$(VENV)/bin/ivig-audit network-demo

# Two workers (pytest-xdist): the tests wait on subprocesses and servers much of the time; the tests
# reading the session's shared run stay on one worker, and so do those sharing a module's fixture
# (pytest is kept below 9.2, where xdist 3.8 no longer groups: docs/performance.md);
# the slowest start first, in the order tests/conftest.py gives (--no-loadscope-reorder keeps it).
test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder

lock:
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) out
