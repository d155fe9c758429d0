# Two entry points, each doing its own set-up in .venv:
#   make demo   train the reference model on the embedded synthetic data and run the demo
#   make test   lint, JS unit tests and the whole Python test suite (what CI runs)
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip -q --disable-pip-version-check
# Real UCR/UEA data for tests sits beside the repository (never copied into it).
export TSCAM_WIDGET_DATA ?= $(abspath ../shared/data/ucr)

.PHONY: demo test lint jstest pytest setup setup-test clean

demo: .venv/.stamp-base
	.venv/bin/tscam-widget demo $(ARGS)

test: .venv/.stamp-test lint jstest pytest

lint: .venv/.stamp-test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

jstest: .venv/.stamp-test
	npm run build
	npm test

pytest: .venv/.stamp-test
	$(PY) -m pytest

setup: .venv/.stamp-base
setup-test: .venv/.stamp-test

.venv/bin/python:
	python3 -m venv .venv
	$(PIP) install --upgrade pip

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# The runtime only: a CPU build of torch when none is installed yet.
.venv/.stamp-base: .venv/bin/python node_modules/.package-lock.json pyproject.toml
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

# Everything the tests use: fastai/tsai (torch 2.14.1 + torchvision 0.29.1), captum,
# grad-cam, JupyterLab, Playwright, and Debian's Chromium for the browser tests.
.venv/.stamp-test: .venv/bin/python node_modules/.package-lock.json pyproject.toml
	$(PIP) install torch==2.14.1 torchvision==0.29.1 -e ".[test]"
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	touch .venv/.stamp-base $@

clean:
	rm -rf .venv node_modules tscam_widget/static test-artifacts
