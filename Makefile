# Two commands matter: `make templates` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV ?= dev
# Stamp files: the venv is rebuilt when its requirements change.
GEN_STAMP := $(VENV)/.generator-installed
DEV_STAMP := $(VENV)/.dev-installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check --no-input

.PHONY: templates lint security test pytest bench clean venv dev-venv check deploy diff demo run train-local adopter-check

templates: $(GEN_STAMP)
	$(PY) generate.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(GEN_STAMP): requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install $(PIP_FLAGS) -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	@touch $@ $(GEN_STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements-checkov.txt
	@touch $@

venv: $(GEN_STAMP)
dev-venv: $(DEV_STAMP)

check: $(GEN_STAMP)
	$(PY) generate.py --check

# cfn-lint for every region the config names, failing on warnings too.
lint: $(DEV_STAMP)
	$(VENV)/bin/cfn-lint --non-zero-exit-code warning --regions $$($(PY) -m infra.regions) -- templates/*.yaml

# checkov over the rendered templates, offline (--skip-download). Skips live in each resource's Metadata.
security: $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --directory templates --framework cloudformation \
		--skip-download --compact --quiet

# Every check, side by side: the templates are a fresh render, checkov scans them, and pytest runs on
# all cores (cfn-lint runs inside it, tests/test_lint.py, so not here too). -k runs every check even
# when one fails; -O prints each check's output whole, when it ends, so nothing interleaves.
test: $(DEV_STAMP) $(CHECKOV_STAMP)
	@$(MAKE) --no-print-directory -k -j3 -O check security pytest

pytest: $(DEV_STAMP)
	$(PY) -m pytest -q -n auto

# The whole suite on copies of the repo edited as an adopter would (renamed, envs added and dropped, other
# e-mails): any valid config passes `make test`. SCENARIOS= picks some (tests/adopter_check.sh lists them).
adopter-check: $(DEV_STAMP)
	tests/adopter_check.sh $(SCENARIOS)

# Bootstrap ENV (IAM, then pipeline stack); the pipeline deploys the rest. Needs AWS credentials.
deploy: $(DEV_STAMP)
	$(PY) -m infra.deploy deploy --env $(ENV)

# Print a change set per stack of ENV without executing any.
diff: $(DEV_STAMP)
	$(PY) -m infra.deploy diff --env $(ENV)

# Start an execution of ENV's SageMaker pipeline; prints its ARN and where to watch it. Needs AWS credentials.
run: $(DEV_STAMP)
	$(PY) -m pipeline_def start --env $(ENV)

# Rehearse one execution of ENV offline with the real step scripts and XGBoost (docs/train-local.md).
# INPUT=file.csv trains on that file instead of the generated sample.
train-local: $(DEV_STAMP)
	$(PY) -m pipeline_def train-local --env $(ENV) $(if $(INPUT),--input $(INPUT))

# The approval path of ENV rehearsed on moto (in-process): no AWS account, no network. See docs/demo.md.
demo: $(DEV_STAMP)
	$(PY) -m tests.demo --env $(ENV)

bench: $(DEV_STAMP)
	$(PY) -m tests.benchmarks

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .hypothesis build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
