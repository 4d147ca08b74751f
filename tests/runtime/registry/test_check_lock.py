"""The lock check against the stack file, on the shipped prod lock (no registry needed)."""

from __future__ import annotations

import pytest

from runtime.errors import LockError
from runtime.registry.lock import check_lock, read_lock
from runtime.spec import load_stack

PROD = load_stack("prod")


def tampered(key: str, **changes):
    lock = read_lock("prod")
    entry = lock.versions[key].model_copy(update=changes)
    return lock.model_copy(update={"versions": {**lock.versions, key: entry}})


def test_the_shipped_prod_lock_passes():
    check_lock(PROD, read_lock("prod"))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"version": 999}, "version 999"),
        ({"uri": "models:/other/1"}, "uri 'models:/other/1'"),
        ({"name": "other"}, "name 'other'"),
    ],
)
def test_an_entry_that_pins_something_else_is_refused(changes, named):
    with pytest.raises(LockError) as caught:
        check_lock(PROD, tampered("models:/fraud/5", **changes))
    message = caught.value.message
    assert "model 'fraud': the lock entry for models:/fraud/5 records" in message and named in message
    assert "ml-serving lock --stack prod" in message


def test_an_unknown_lock_format_is_refused():
    lock = read_lock("prod").model_copy(update={"format": 7})
    with pytest.raises(LockError, match=r"has format 7; this version reads format 1; run `ml-serving lock"):
        check_lock(PROD, lock)


def test_extra_entries_make_the_lock_stale():
    lock = read_lock("prod")
    extra = lock.versions["models:/fraud/5"].model_copy(update={"uri": "models:/fraud/1", "version": 1})
    lock = lock.model_copy(update={"versions": {**lock.versions, "models:/fraud/1": extra}})
    with pytest.raises(LockError, match="older than the stack file"):
        check_lock(PROD, lock)
