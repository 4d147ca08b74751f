"""Persisted monitor state: one JSON file per model variant, replaced atomically.

A write goes to a temporary file in the same folder, is flushed and fsynced, then renamed over
the old file with ``os.replace`` (atomic on POSIX), and the folder is fsynced so the rename
itself survives a power cut. A crash at any point leaves either the old or the new file whole.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["STATE_FORMAT_VERSION", "atomic_write", "state_path", "save_state", "load_state"]

STATE_FORMAT_VERSION = 1


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def state_path(state_dir: str | os.PathLike[str], model: str, variant: str) -> Path:
    return Path(state_dir) / model / f"{variant}.json"


def save_state(state_dir: str | os.PathLike[str], model: str, variant: str, state: dict[str, Any]) -> Path:
    path = state_path(state_dir, model, variant)
    atomic_write(path, json.dumps({"format_version": STATE_FORMAT_VERSION, **state}).encode("utf-8"))
    return path


def load_state(state_dir: str | os.PathLike[str], model: str, variant: str) -> dict[str, Any] | None:
    """The persisted state, or ``None`` when there is none or it is of another format version."""
    path = state_path(state_dir, model, variant)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as exc:  # not JSON, or not UTF-8: written by something else; never block start-up
        log.warning("state file %s is unreadable (%s); starting afresh", path, exc)
        return None
    if not isinstance(data, dict) or data.get("format_version") != STATE_FORMAT_VERSION:
        return None
    return data
