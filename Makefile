# The two commands of the README: `make up` (the local platform) and `make test`.
.PHONY: up test setup tools lint prometheus render demo bench clean

setup:
	@scripts/setup.sh

tools:
	@scripts/ensure-tools.sh

prometheus:
	@scripts/ensure-prometheus.sh

up: setup prometheus
	@.venv/bin/python -m runtime.local up

demo: setup prometheus
	@.venv/bin/python -m runtime.local demo

lint: setup
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .

test: setup tools lint
	@.venv/bin/python -m pytest $(PYTEST_ARGS)

render: setup
	@.venv/bin/python -m components.render --stack $(or $(STACK),local)

clean:
	rm -rf .state .bench
