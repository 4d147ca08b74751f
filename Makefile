# The two commands of the README: `make up` (the local platform) and `make test`.
.PHONY: up test setup tools prometheus render demo bench clean

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

test: setup tools
	@.venv/bin/python -m pytest $(PYTEST_ARGS)

render: setup
	@.venv/bin/python -m components.render --stack $(or $(STACK),local)

clean:
	rm -rf .state .bench
