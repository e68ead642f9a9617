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
SERVING_VENV := .venv-serving
SERVING_STAMP := $(SERVING_VENV)/.installed
# make bench only: aws-cdk-lib and the CDK CLI (Node.js), to time `cdk synth` beside our render.
CDK_DIR := tests/benchmarks/cdk
CDK_VENV := .venv-cdk
CDK_STAMP := $(CDK_VENV)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check --no-input
# The checks keep the bytecode they compile (__pycache__, git-ignored) even where PYTHONDONTWRITEBYTECODE is set, as
# on CI: each pytest worker and each Python subprocess of a test otherwise compiles the project's modules again.
KEEP_BYTECODE := PYTHONDONTWRITEBYTECODE=
# One clear line, before any venv or pip, when an interpreter is older than the pins need (pip would say
# only "No matching distribution found for rpds-py==…"). $(1): the interpreter; $(2): what to do about it.
check_python = @command -v $(1) >/dev/null 2>&1 || { echo "error: $(1) not found; this project needs Python 3.11 or newer" >&2; exit 2; }; \
	$(1) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: $(1) is Python %d.%d; this project needs Python 3.11 or newer ($(2))" % tuple(sys.version_info[:2]))'
NEWER_PYTHON := run make with PYTHON=python3.11 or newer

# Values given on the command line that recipes paste into shell commands: each may hold only letters, digits and
# - _ . : / @ + = , (env and region names, version numbers, role ARNs, file paths), or make stops with one line
# naming it. Read with $(value …), never expanded: a value holding $(shell …) runs nothing, not even here.
# SCENARIOS is a list: its words may be apart by spaces (only spaces: a newline would end the recipe's command).
PASTED := ENV VERSION CFN_ROLE_ARN CONFIRM PURGE REGION INPUT SCENARIOS SCENARIO
PASTED_LISTS := SCENARIOS
comma := ,
space := $(subst ,, )
SAFE_CHARS := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W X Y Z \
	0 1 2 3 4 5 6 7 8 9 - _ . : / @ + = $(comma)
without_safe = $(if $(2),$(call without_safe,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
$(foreach v,$(PASTED),$(if $(or $(findstring $$,$(value $(v))), \
	$(if $(filter $(v),$(PASTED_LISTS)),,$(filter-out 0 1,$(words $(value $(v))))), \
	$(call without_safe,$(if $(filter $(v),$(PASTED_LISTS)),$(subst $(space),,$(value $(v))),$(value $(v))),$(SAFE_CHARS))), \
	$(error error: $(v) may hold only letters$(comma) digits and - _ . : / @ + = $(comma) [no spaces$(comma) quotes or $$])))

.PHONY: help templates lint imports security test pytest bench clean venv dev-venv serving-venv check deploy diff demo run train-local status approve reject destroy adopter-check

templates: $(GEN_STAMP)
	$(PY) generate.py

# The README's "Make targets" table, in the terminal (standard library only: no venv needed).
help:
	@$(PYTHON) -m infra.ops.make_help

$(VENV)/bin/python:
	$(call check_python,$(PYTHON),$(NEWER_PYTHON))
	$(PYTHON) -m venv $(VENV)

$(GEN_STAMP): requirements.txt | $(VENV)/bin/python
	$(call check_python,$(PY),make clean; then $(NEWER_PYTHON))
	$(PY) -m pip install $(PIP_FLAGS) -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(call check_python,$(PY),make clean; then $(NEWER_PYTHON))
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	@touch $@ $(GEN_STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	$(call check_python,$(PYTHON),$(NEWER_PYTHON))
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements-checkov.txt
	@touch $@

# The serving image's own libraries (requirements-serving.txt), apart: its pins (pandas 2.2, Flask 3.1 over
# sagemaker-containers' flask==1.1.1) are not the test venv's. sagemaker-containers builds a small C extension.
$(SERVING_STAMP): requirements-serving.txt
	$(call check_python,$(PYTHON),$(NEWER_PYTHON))
	$(PYTHON) -m venv $(SERVING_VENV)
	$(SERVING_VENV)/bin/python -m pip install $(PIP_FLAGS) --no-deps -r requirements-serving.txt
	@touch $@

venv: $(GEN_STAMP)
dev-venv: $(DEV_STAMP)
serving-venv: $(SERVING_STAMP)

check: $(GEN_STAMP)
	$(KEEP_BYTECODE) $(PY) generate.py --check

# cfn-lint over each env's templates, for its region, failing on warnings too.
lint: $(DEV_STAMP)
	$(PY) -m infra.ops.lint_regions | while read -r env region; do \
		$(VENV)/bin/cfn-lint --non-zero-exit-code warning --regions $$region -- templates/$$env/*.yaml || exit 1; done

# The architecture's contracts (.importlinter): layers, independent stacks, no cycles, Lambdas that ship alone.
imports: $(DEV_STAMP)
	$(VENV)/bin/lint-imports --no-cache

# checkov over the rendered templates, offline (--skip-download). Skips live in each resource's Metadata.
security: $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --directory templates --framework cloudformation \
		--skip-download --compact --quiet

# Every check, side by side: the templates are a fresh render, the import contracts hold, checkov scans
# them, and pytest runs on all cores (cfn-lint runs inside it, tests/templates/test_templates_pass_cfn_lint.py, so
# not here too). -k runs every check even when one fails; -O prints each check's output whole, when it
# ends, so nothing interleaves.
test: $(DEV_STAMP) $(CHECKOV_STAMP) $(SERVING_STAMP)
	@$(MAKE) --no-print-directory -k -j3 -O check imports security pytest

# --dist loadfile: a file's tests share one worker, so a module's fixture (a served model, the demo's runs) is built
# once, not once per worker.
pytest: $(DEV_STAMP) $(SERVING_STAMP)
	$(KEEP_BYTECODE) $(PY) -m pytest -q -n auto --dist loadfile

# The whole suite on copies of the repo edited as an adopter would (renamed, envs added and dropped, other
# e-mails): any valid config passes `make test`. SCENARIOS= picks some (tests/adopter_check.sh lists them).
adopter-check: $(DEV_STAMP)
	tests/adopter_check.sh $(SCENARIOS)

# Bootstrap ENV (deploy roles, boundaries, IAM, then the pipeline stack); the pipeline deploys the rest. Needs AWS credentials.
# CFN_ROLE_ARN: a CloudFormation service role to act as (a key or bucket policy change, once the pipeline has
# updated its own stack: CloudFormation otherwise keeps using the pipeline's deploy role, which may not make it).
deploy: $(DEV_STAMP)
	$(PY) -m infra.ops.deploy deploy --env $(ENV)$(if $(CFN_ROLE_ARN), --cfn-role-arn $(CFN_ROLE_ARN))

# Print a change set per stack of ENV without executing any.
diff: $(DEV_STAMP)
	$(PY) -m infra.ops.deploy diff --env $(ENV)

# Start an execution of ENV's SageMaker pipeline; prints its ARN and where to watch it. Needs AWS credentials.
run: $(DEV_STAMP)
	$(PY) -m pipeline_def start --env $(ENV)

# Where ENV stands: stacks, delivery pipeline runs, SageMaker executions, model versions. Needs AWS credentials.
status: $(DEV_STAMP)
	$(PY) -m infra.ops.status --env $(ENV)

# Decide a model version as yourself: make approve ENV=dev VERSION=3 DESCRIPTION="why". Needs AWS credentials.
approve reject: $(DEV_STAMP)
	$(PY) -m infra.ops.approve $@ --env $(ENV) --version "$(VERSION)" --description "$$DESCRIPTION"

# Delete ENV's stacks in reverse order after a confirmation (CONFIRM=<env> for automation); PURGE=<env> also
# deletes the retained data (bucket, keys, model versions, queues, log groups). Needs AWS credentials.
# REGION=<region>: an env taken out of config (its stacks are found by name; config no longer says where).
destroy: $(DEV_STAMP)
	$(PY) -m infra.ops.destroy --env $(ENV) $(if $(CONFIRM),--confirm "$(CONFIRM)") $(if $(PURGE),--purge-retained "$(PURGE)") $(if $(CFN_ROLE_ARN),--cfn-role-arn $(CFN_ROLE_ARN)) $(if $(REGION),--region "$(REGION)")

# Rehearse one execution of ENV offline with the real step scripts and XGBoost (docs/train-local.md).
# INPUT=file.csv trains on that file instead of the generated sample.
train-local: $(DEV_STAMP)
	$(PY) -m pipeline_def train-local --env $(ENV) $(if $(INPUT),--input $(INPUT))

# The approval path of ENV rehearsed on moto (in-process): no AWS account, no network. See docs/demo.md.
# SCENARIO=promotion: a version approved in one account served from another (docs/promotion.md); the default for
# an env whose config serves another env's models.
demo: $(DEV_STAMP)
	$(PY) -m tests.demo --env $(ENV)$(if $(SCENARIO), --scenario $(SCENARIO))

$(CDK_STAMP): $(CDK_DIR)/requirements.txt $(CDK_DIR)/package-lock.json
	$(call check_python,$(PYTHON),$(NEWER_PYTHON))
	@command -v npm >/dev/null 2>&1 || { echo "error: npm not found; make bench times cdk synth, which needs Node.js 18 or newer" >&2; exit 2; }
	$(PYTHON) -m venv $(CDK_VENV)
	$(CDK_VENV)/bin/python -m pip install $(PIP_FLAGS) -r $(CDK_DIR)/requirements.txt
	cp $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json $(CDK_VENV)/
	npm ci --prefix $(CDK_VENV) --no-audit --no-fund --silent
	@touch $@

bench: $(DEV_STAMP) $(CDK_STAMP)
	$(PY) -m tests.benchmarks

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(SERVING_VENV) $(CDK_VENV) .pytest_cache .hypothesis build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
