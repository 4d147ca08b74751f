"""Every experiment of a stack: exposures from the gateway's tap, outcomes from their writers.

Runs inside the drift monitor, which already receives every served request (with its variant,
request id and routing key) from the gateway. Each model with an ``experiment`` gets an
``ExperimentStore``; its state is persisted beside the drift state (``<model>/_experiment.json``,
replaced atomically) at most every ``persist_interval_s`` while events arrive and at shutdown,
and restored at start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import httpx

from runtime.auth import load_tokens
from runtime.drift.settings import MonitorSettings
from runtime.drift.state import load_state, save_state
from runtime.errors import ModelNotFound
from runtime.experiments.readout import build_readout, look
from runtime.experiments.store import ExperimentStore
from runtime.wiring import MonitorConfig, TapRecord

__all__ = ["ExperimentService", "STATE_NAME"]

log = logging.getLogger(__name__)
STATE_NAME = "_experiment"


def _user(record: TapRecord, key_input: str | None) -> str | None:
    if record.routing_key is not None:
        return record.routing_key
    values = record.inputs.get(key_input or "") or []
    return None if not values or values[0] is None else str(values[0])


class ExperimentService:
    def __init__(self, config: MonitorConfig, settings: MonitorSettings) -> None:
        self.config, self.settings = config, settings
        self.stores: dict[str, ExperimentStore] = {}
        self._saved_at: dict[str, float] = {}
        for model, spec in config.models.items():
            if spec.experiment is None or spec.arms is None:
                continue
            store = ExperimentStore(
                spec.arms, max_users=spec.experiment.max_users, max_requests=settings.experiment_requests
            )
            data = load_state(config.state_dir, model, STATE_NAME)
            if data:
                try:
                    store.load(data)
                except (KeyError, ValueError, TypeError) as exc:
                    log.warning("experiment state of %s does not fit its spec (%s); starting afresh", model, exc)
            self.stores[model] = store
            self._saved_at[model] = time.monotonic()

    def store(self, model: str) -> ExperimentStore:
        found = self.stores.get(model)
        if found is None:
            raise ModelNotFound.no_experiment(model, self.stores)
        return found

    def expose(self, records: Iterable[TapRecord]) -> int:
        """Count the served requests of models with an experiment; returns how many were counted."""
        touched, counted = set(), 0
        for record in records:
            store = self.stores.get(record.model)
            if store is None:
                continue
            spec = self.config.models[record.model]
            user = _user(record, spec.routing.sticky.input if spec.routing.sticky else None)
            if user is None:
                continue
            weights = {v.variant_name: v.weight or 0.0 for v in spec.live_variants}
            a, b = store.arms
            if store.expose(user, record.variant, record.request_id, (weights[a], weights[b])):
                counted += 1
                touched.add(record.model)
        for model in touched:
            self._after_change(model)
        return counted

    def outcomes(self, model: str, events: Iterable[Any]) -> tuple[int, list[str]]:
        """Join outcome events to arms: (joined, the ids of those that joined nothing, at most 100)."""
        store = self.store(model)
        joined = 0
        unknown: list[str] = []
        for event in events:
            if store.outcome(event.kind, event.user_id, event.request_id, event.value):
                joined += 1
            elif len(unknown) < 100:
                unknown.append(event.user_id or event.request_id)
        self._after_change(model)
        return joined, unknown

    def _after_change(self, model: str) -> None:
        look(self.stores[model], self.config.models[model])
        self.save(model)

    def save(self, model: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._saved_at[model] >= self.settings.persist_interval_s:
            save_state(self.config.state_dir, model, STATE_NAME, self.stores[model].to_dict())
            self._saved_at[model] = now

    def save_all(self) -> None:
        for model in self.stores:
            self.save(model, force=True)

    async def gateway_report(self, model: str) -> dict[str, Any] | None:
        """The gateway's per-variant report of ``model`` (the guardrails); None when unreachable."""
        if not self.config.gateway_url:
            return None
        tokens = load_tokens(self.settings.gateway_token, self.settings.gateway_token_file)
        headers = {"authorization": f"Bearer {tokens[0]}"} if tokens else {}
        url = f"{self.config.gateway_url.rstrip('/')}/rollouts/{model}/report"
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(url, headers=headers)
            return response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    async def readout(self, model: str) -> dict[str, Any]:
        store = self.store(model)
        return build_readout(model, self.config.models[model], store, await self.gateway_report(model))
