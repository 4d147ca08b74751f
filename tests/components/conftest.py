"""Pulumi mocks for component tests, set once: the cloud is the one thing faked.

Pulumi's test runner works on the thread's current event loop, and what it registers keeps
futures of that loop. Async tests elsewhere in the run (pytest-asyncio) replace the current loop,
so every component test runs on the loop the mocks were set on, whatever ran before it."""

import asyncio
import inspect

import pulumi
import pytest

from tests.components.recorded import MOCKS, MONITOR

_PULUMI_LOOP = asyncio.new_event_loop()
asyncio.set_event_loop(_PULUMI_LOOP)  # the mocks' root stack resource is made on it
pulumi.runtime.set_mocks(MOCKS, project="ml-serving", stack="test", preview=False, monitor=MONITOR)


@pytest.fixture(autouse=True)
def _pulumi_event_loop(request):
    if inspect.iscoroutinefunction(request.function):
        yield  # pytest-asyncio gives async tests their own loop
        return
    asyncio.set_event_loop(_PULUMI_LOOP)
    yield
