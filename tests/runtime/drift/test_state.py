import json
import os

import pytest

from runtime.drift.state import atomic_write, load_state, save_state, state_path


def test_save_and_load_round_trip(tmp_path):
    path = save_state(tmp_path, "fraud", "v3", {"rows_seen": 7})
    assert path == state_path(tmp_path, "fraud", "v3") and path.exists()
    assert load_state(tmp_path, "fraud", "v3") == {"format_version": 1, "rows_seen": 7}
    assert load_state(tmp_path, "fraud", "v4") is None


def test_a_crash_mid_write_leaves_the_old_state_whole(tmp_path, monkeypatch):
    save_state(tmp_path, "fraud", "v3", {"rows_seen": 1})

    def crash(*_):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        save_state(tmp_path, "fraud", "v3", {"rows_seen": 2})
    monkeypatch.undo()
    assert load_state(tmp_path, "fraud", "v3")["rows_seen"] == 1
    assert [p.name for p in (tmp_path / "fraud").iterdir()] == ["v3.json"]  # no temporary file left behind


def test_unknown_state_version_is_ignored(tmp_path):
    atomic_write(state_path(tmp_path, "fraud", "v3"), json.dumps({"format_version": 99}).encode())
    assert load_state(tmp_path, "fraud", "v3") is None


@pytest.mark.parametrize("garbage", [b'{"format_version": 1, "rows_se', b"\xff\xfe not utf-8", b""])
def test_an_unreadable_state_file_is_ignored_not_fatal(tmp_path, garbage):
    atomic_write(state_path(tmp_path, "fraud", "v3"), garbage)
    assert load_state(tmp_path, "fraud", "v3") is None
