"""Pulumi mocks for component tests, set once: the cloud is the one thing faked."""

import pulumi

from components.mocks import RenderMocks

pulumi.runtime.set_mocks(RenderMocks(), project="ml-serving", stack="test", preview=False)
