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

test: setup tools lint
	@.venv/bin/python -m pytest $(PYTEST_ARGS)

render: setup
	@$(CLI) render --stack $(or $(STACK),local)

check: setup
	@$(CLI) check --stack $(or $(STACK),local)

clean:
	rm -rf .state .bench
