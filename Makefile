# provisioner — `make demo` runs the main job end to end, `make test` runs the test suite.
# Both create their own virtual environment in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LAMBDA_PYTHON ?= 3.12
LAMBDA_ARCH   ?= x86_64
LAMBDA_DIR    := build/lambda
LAMBDA_ZIP    := build/provisioner-lambda.zip

.PHONY: venv test test-unit test-integration test-pg-matrix demo lint clean lambda fuzz bench coverage bench-noop

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The fast loop: no servers, seconds.
test-unit: venv
	$(BIN)/python -m pytest -q tests/unit

# Real PostgreSQL, MariaDB and moto's Secrets Manager server, started by the suite.
test-integration: venv
	$(BIN)/python -m pytest -q tests/integration

# The PostgreSQL engine's integration tests and the crash tests on every other supported major (15 runs above).
PG_MATRIX ?= 14 16 17 18
PG_MATRIX_TESTS := tests/integration/test_postgres.py tests/integration/test_least_privilege.py \
	tests/integration/test_convergence.py tests/integration/test_differential.py tests/integration/test_role_settings.py \
	tests/integration/test_public.py tests/integration/test_retire.py tests/integration/test_iam_auth.py \
	tests/integration/test_crash.py tests/integration/test_clusters.py \
	tests/integration/test_object_kinds.py
# The cluster crash test runs on 15 only (it kills the process at every boundary: 20 s per version).
# Every version runs, whatever the one before it did; the target fails at the end if any did (one run shows all).
test-pg-matrix: venv
	bash devtools/install-postgres-versions.sh
	@failed=""; for version in $(PG_MATRIX); do \
		echo "== PostgreSQL $$version"; \
		PROVISIONER_PG_VERSION=$$version PROVISIONER_DIFF_CASES=12 $(BIN)/python -m pytest -q -k "not mariadb and not killed_between_its_databases" $(PG_MATRIX_TESTS) || failed="$$failed $$version"; \
	done; \
	if [ -n "$$failed" ]; then echo "PostgreSQL matrix failed on:$$failed"; exit 1; fi

# Every part runs, whatever the one before it did; `make test` fails at the end if any did.
test: venv
	@status=0; \
	$(BIN)/python -m pytest -q tests/unit tests/integration || status=1; \
	$(MAKE) --no-print-directory coverage || status=1; \
	$(MAKE) --no-print-directory test-pg-matrix || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: a part failed (see above)"; fi; \
	exit $$status

demo: venv
	$(BIN)/python -m devtools.demo

# The Lambda zip of both functions (rotation and the scheduled reconcile): our package (schemas included) plus
# Linux wheels of the drivers and of the manifest loader for the Lambda runtime (boto3 is provided).
lambda:
	rm -rf $(LAMBDA_DIR) $(LAMBDA_ZIP) && mkdir -p $(LAMBDA_DIR)
	$(PYTHON) -m pip install -q --target $(LAMBDA_DIR) --implementation cp --python-version $(LAMBDA_PYTHON) \
		--platform manylinux2014_$(LAMBDA_ARCH) --only-binary=:all: 'psycopg[binary]>=3.1.18' 'pymysql>=1.1' \
		'pyyaml>=6.0' 'jsonschema>=4.18' 'jsonschema-rs>=0.20'
	cp -rL provisioner $(LAMBDA_DIR)/
	find $(LAMBDA_DIR) -name __pycache__ -prune -exec rm -rf {} +
	cd $(LAMBDA_DIR) && $(PYTHON) -m zipfile -c ../$(notdir $(LAMBDA_ZIP)) *
	@echo "built $(LAMBDA_ZIP) (handlers: provisioner.rotation.lambda_handler, provisioner.reconcile.lambda_handler; runtime python$(LAMBDA_PYTHON))"

# Many more generated hostile manifests than CI runs (30,000 + 400 per engine on real servers), and the
# differential test with thousands of seeds (FUZZ_CASES per engine and PostgreSQL major, from seed 1000).
FUZZ_CASES ?= 1000
fuzz: venv
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -s tests/integration/test_hostile.py
	PROVISIONER_DIFF_SEED=1000 PROVISIONER_DIFF_CASES=$(FUZZ_CASES) $(BIN)/python -m pytest -q \
		tests/integration/test_differential.py
	bash devtools/install-postgres-versions.sh
	@for version in $(PG_MATRIX); do \
		PROVISIONER_PG_VERSION=$$version PROVISIONER_DIFF_SEED=1000 PROVISIONER_DIFF_CASES=$(FUZZ_CASES) \
			$(BIN)/python -m pytest -q -k postgres tests/integration/test_differential.py || exit 1; \
	done

# ruff; mypy (strict on core/ and engines/, which keeps every `match` over the change vocabulary exhaustive);
# the import contract between the wings (pyproject.toml [tool.importlinter]).
lint: venv
	$(BIN)/ruff check provisioner devtools tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m devtools.import_cycles provisioner devtools benchmarks
	$(BIN)/python -m devtools.complexity provisioner
	$(BIN)/python -m devtools.aws_stack --check
	$(BIN)/cfn-lint deploy/cloudformation/provisioner.yaml

# The fast loop covers the pure parts: every module of core/ and each engine's compiler, >= 90% of lines each.
coverage: venv
	$(BIN)/python -m pytest -q tests/unit --cov=provisioner --cov-report=json:build/unit-coverage.json
	$(BIN)/python -m devtools.coverage_gate build/unit-coverage.json 90 provisioner/core/ \
		provisioner/engines/postgres/compiler.py provisioner/engines/mysql/compiler.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

# The no-op plan at 1,000 x 2,000 of this tree against another checkout (AGAINST=PATH), interleaved runs.
AGAINST ?=
bench-noop: venv
	@test -n "$(AGAINST)" || (echo "make bench-noop AGAINST=/path/to/another/checkout"; exit 2)
	PYTHONPATH=. $(BIN)/python benchmarks/noop_plan.py --against $(AGAINST)

# Side-by-side benchmark (provisioner, ldap2pg 5.9, pgbedrock 0.4.2 in their own venv), under 15 minutes.
bench: venv
	PYTHONPATH=. $(BIN)/python benchmarks/bench.py
