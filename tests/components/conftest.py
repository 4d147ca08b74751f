"""Pulumi mocks for component tests, set once: the cloud is the one thing faked."""

import pulumi

from tests.components.recorded import MOCKS, MONITOR

pulumi.runtime.set_mocks(MOCKS, project="ml-serving", stack="test", preview=False, monitor=MONITOR)
