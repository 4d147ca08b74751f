# The two commands of the README: `make up` (the local platform) and `make test`.
# The targets run the `ml-serving` command (cli/) of this checkout: `python -m cli` is
# `.venv/bin/ml-serving`, also where .venv is shared with another checkout.
.PHONY: up test setup tools lint prometheus render check demo bench clean

CLI = .venv/bin/python -m cli

setup:
	@scripts/setup.sh

tools:
	@scripts/ensure-tools.sh

prometheus:
	@scripts/ensure-prometheus.sh

up: setup prometheus
	@$(CLI) up

demo: setup prometheus
	@$(CLI) demo

lint: setup
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy

# Two workers, each given a whole test file at a time (its module fixtures start once). Many
# tests wait on the processes they start; on two cores, two workers take about three quarters
# of the time of one (652 s against 863 s). TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2

test: setup tools lint
	@.venv/bin/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

render: setup
	@$(CLI) render --stack $(or $(STACK),local)

check: setup
	@$(CLI) check --stack $(or $(STACK),local)

clean:
	rm -rf .state .bench
