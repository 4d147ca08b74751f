"""A label store on disk: a snapshot plus an append-only journal of what changed since.

A label write costs one appended line, written off the event loop and debounced (the service
flushes every ``label_persist_interval_s``), never a rewrite of the whole store. When the journal
grows past ``compact_after`` changes, a new snapshot (one generation up) replaces it; the journal
is then started afresh for that generation. A crash between the two leaves a journal of the older
generation, which loading ignores because the newer snapshot already holds its changes; a torn
last line (a crash during an append) is skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from runtime.drift.labels import LabelStore
from runtime.drift.state import atomic_write, load_state, save_state, state_path

__all__ = ["LabelJournal", "LABELS"]

log = logging.getLogger(__name__)
LABELS = "_labels"


class LabelJournal:
    def __init__(self, state_dir: str | os.PathLike[str], model: str, compact_after: int) -> None:
        self.state_dir, self.model, self.compact_after = state_dir, model, compact_after
        self.path = state_path(state_dir, model, LABELS).with_suffix(".journal")
        self.generation = 0
        self.lines = 0
        self._lock = asyncio.Lock()

    def load(self, store: LabelStore) -> None:
        """Fill ``store`` from the snapshot and the journal of its generation."""
        data = load_state(self.state_dir, self.model, LABELS)
        if data:
            store.load(data)
            self.generation = int(data.get("generation", 0))
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            lines = []
        changes = []
        for number, line in enumerate(lines):
            try:
                item = json.loads(line)
            except ValueError:
                log.warning("%s: line %d is torn (a crash while appending); skipped", self.path, number + 1)
                continue
            if number == 0:
                if not isinstance(item, dict) or item.get("generation") != self.generation:
                    break  # older than the snapshot, which holds its changes already
                continue
            changes.append(item)
        store.replay(changes)
        self.lines = len(changes)
        store.take_changes()

    async def flush(self, store: LabelStore) -> int:
        """Persist what changed, in a worker thread; returns the changes written."""
        async with self._lock:
            changes = store.take_changes()
            if not changes:
                return 0
            if self.lines + len(changes) > self.compact_after:
                snapshot = store.to_dict()  # on the loop: the store changes under a thread
                await asyncio.to_thread(self._compact, snapshot)
            else:
                await asyncio.to_thread(self._append, changes)
            return len(changes)

    def flush_now(self, store: LabelStore) -> None:
        """Write a snapshot of everything at once (shutdown: nothing else runs)."""
        store.take_changes()
        self._compact(store.to_dict())

    def _append(self, changes: list[list[Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(c, separators=(",", ":")).encode() for c in changes]
        with self.path.open("ab") as handle:
            if handle.tell() == 0:
                lines.insert(0, json.dumps({"generation": self.generation}).encode())
            handle.write(b"\n".join(lines) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.lines += len(changes)

    def _compact(self, snapshot: dict[str, Any]) -> None:
        generation = self.generation + 1
        save_state(self.state_dir, self.model, LABELS, {**snapshot, "generation": generation})
        atomic_write(self.path, json.dumps({"generation": generation}).encode() + b"\n")
        self.generation, self.lines = generation, 0
