"""The gateway's policy core: every model's route, shadows and the drift tap, behind one interface.

Every transport (REST with JSON or binary tensors, gRPC) turns its request into an ``Inbound``
and the caller's metadata (HTTP headers or gRPC metadata, lower-case keys), calls ``authorize``,
``route`` and ``infer``, and encodes the ``Outcome`` its own way. Routing (the model's
``RoutingPolicy``, the one reader of sticky keys and routing headers), the latency budget,
retries, fallback, breakers, shadows, the tap and the metrics live here and in the modules this
one calls, never in a transport.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import Counter, Gauge, Histogram

from runtime.errors import MLServingError, ModelNotFound
from runtime.gateway.auth import TokenSet, load_tokens
from runtime.gateway.breaker import Breaker, BreakerState
from runtime.gateway.coalesce import Coalescer
from runtime.gateway.dispatch import ModelRoute, Target
from runtime.gateway.errors import UpstreamError
from runtime.gateway.headers import FALLBACK, REQUEST_ID, VARIANT, forward_headers, request_id
from runtime.gateway.metrics import GatewayMetrics
from runtime.gateway.payload import Inbound
from runtime.gateway.settings import Settings
from runtime.gateway.shadow import ShadowMirror, ShadowTarget
from runtime.gateway.tap import DriftTap
from runtime.gateway.upstream import Upstream, make_upstream
from runtime.protocol.deadline import sooner
from runtime.wiring import GatewayConfig

__all__ = ["SERVER_NAME", "Gateway", "Outcome"]

SERVER_NAME = "ml-serving-gateway"
"""The gateway's name in the V2 server metadata, and the platform of the models it serves."""


@dataclass(slots=True)
class Outcome:
    """What one inference call came to, for a transport to encode."""

    request_id: str
    response: dict[str, Any] | None
    """The V2 inference response; None when ``error`` is set."""
    variant: str
    """The variant that answered, ``fallback``, or ``none`` for an error."""
    fallback_reason: str | None = None
    error: MLServingError | None = None

    def headers(self) -> dict[str, str]:
        """Response headers (or gRPC trailing metadata) every transport sends."""
        out = {REQUEST_ID: self.request_id}
        if self.error is None:
            out[VARIANT] = self.variant
        if self.fallback_reason is not None:
            out[FALLBACK] = self.fallback_reason
        return out


class Gateway:
    def __init__(self, config: GatewayConfig, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.metrics = GatewayMetrics()
        self.tokens = TokenSet(load_tokens(settings.tokens, settings.tokens_file))
        if config.auth_required and not self.tokens:
            raise MLServingError(
                "the gateway requires bearer tokens (authRequired is true) but none are configured: "
                "set ML_SERVING_GATEWAY_TOKENS or ML_SERVING_GATEWAY_TOKENS_FILE"
            )
        for model, spec in config.models.items():
            known = config.endpoints.get(model, {})
            missing = [v.variant_name for v in spec.variants if v.variant_name not in known]
            if missing:
                raise MLServingError(
                    f"gateway config: endpoints.{model} has no entry for variant(s) {', '.join(missing)}"
                )
        self.routes: dict[str, ModelRoute] = {}
        self.mirrors: dict[str, ShadowMirror] = {}
        self.upstreams: dict[str, Upstream] = {}
        self.tap: DriftTap | None = None
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    async def start(self) -> None:
        """Open one connection pool per model server and start the tap (needs a running loop)."""
        s = self.settings
        for model, spec in self.config.models.items():
            endpoints = self.config.endpoints[model]
            targets = {}
            for variant in spec.live_variants:
                name = variant.variant_name
                gauge = self.metrics.breaker_state.labels(model, name)
                gauge.set(0)
                breaker = Breaker(spec.circuit_breaker, on_change=functools.partial(_show_state, gauge))
                upstream, path = self._upstream(endpoints[name].url), _infer_path(endpoints[name].model_name)
                coalescer = Coalescer(
                    upstream, breaker, s.coalesce_max_rows, max_in_flight=s.coalesce_in_flight, join=s.coalesce
                )
                targets[name] = Target(name, upstream, path, breaker, coalescer)
            route = ModelRoute(model, spec, targets, self.metrics)
            shadows = [
                ShadowTarget(
                    v.variant_name,
                    self._upstream(endpoints[v.variant_name].url),
                    _infer_path(endpoints[v.variant_name].model_name),
                    v.mirror_percent or 0.0,
                    route.stats.shadows[v.variant_name],
                )
                for v in spec.shadows
            ]
            self.routes[model] = route
            self.mirrors[model] = ShadowMirror(model, spec, shadows, self.metrics)
        if self.config.monitor_url:
            self.tap = DriftTap(
                self.config.monitor_url,
                self.metrics,
                queue_size=s.tap_queue_size,
                queue_bytes=s.tap_queue_bytes,
                batch_size=s.tap_batch_size,
                flush_interval_s=s.tap_flush_ms / 1000.0,
                timeout_s=s.tap_timeout_ms / 1000.0,
                token=next(iter(load_tokens(s.monitor_token, s.monitor_token_file, what="drift monitor")), None),
            )
            self.tap.start()

    def _upstream(self, url: str) -> Upstream:
        key = url.rstrip("/")
        if key not in self.upstreams:
            self.upstreams[key] = make_upstream(
                self.settings.http_client,
                key,
                self.settings.upstream_connections,
                self.settings.upstream_timeout_ms / 1000,
                self.settings.upstream_max_answer_bytes,
            )
        return self.upstreams[key]

    async def aclose(self) -> None:
        await asyncio.gather(*(mirror.drain(1.0) for mirror in self.mirrors.values()))
        if self.tap is not None:
            await self.tap.aclose()
        await asyncio.gather(*(upstream.aclose() for upstream in self.upstreams.values()))

    # --- request path: the one interface every transport calls --------------------------

    def authorize(self, metadata: Mapping[str, str]) -> None:
        """Raise ``Unauthorized`` unless the caller's ``authorization`` carries a known token."""
        if self.config.auth_required:
            self.tokens.check(metadata.get("authorization"))

    def route(self, model: str) -> ModelRoute:
        route = self.routes.get(model)
        if route is None:
            raise ModelNotFound.not_served(model, self.config.models, by="by this gateway")
        return route

    @property
    def ready(self) -> bool:
        return bool(self.routes) or not self.config.models

    async def infer(
        self,
        route: ModelRoute,
        inbound: Inbound,
        metadata: Mapping[str, str],
        started: float,
        until: float | None = None,
    ) -> Outcome:
        """One inference call through the whole policy; errors come back in the outcome.
        ``until``: the caller's own deadline (monotonic), if the transport carries one; the
        request's own timeout parameter, when it ends sooner, takes its place."""
        if inbound.timeout_s is not None:
            until = sooner(until, started + inbound.timeout_s)
        rid = request_id(metadata)
        forwarded = forward_headers(metadata, rid)
        if inbound.content_headers:
            forwarded.update(inbound.content_headers)
        choice = route.policy.choose(metadata, inbound.inputs)
        try:
            answer = await route.infer(inbound, forwarded, choice.order, started, until)
        except MLServingError as exc:
            self.metrics.requests.labels(route.name, "none", "error").inc()
            return Outcome(rid, None, "none", error=exc)
        response = answer.response
        outputs = response.get("outputs") or []
        variant = answer.variant or "fallback"
        if answer.variant is not None and self.tap is not None:
            self.tap.offer(route.name, answer.variant, rid, inbound.inputs, outputs, choice.key)
        mirror = self.mirrors[route.name]
        if mirror.targets:
            mirror.mirror(inbound.body, forwarded, outputs if answer.variant is not None else None)
        self._answered(route.name, variant, "fallback" if answer.variant is None else "ok", time.monotonic() - started)
        return Outcome(rid, response, variant, answer.fallback_reason)

    def _answered(self, model: str, variant: str, outcome: str, seconds: float) -> None:
        """Count one answer and its latency; each label set's metric children are looked up once
        (``labels`` validates and locks on every call)."""
        key = (model, variant, outcome)
        children = self._children.get(key)
        if children is None:
            m = self.metrics
            children = self._children[key] = (m.requests.labels(*key), m.latency.labels(model, variant))
        count, latency = children
        count.inc()
        latency.observe(seconds)

    async def model_metadata(self, route: ModelRoute) -> dict[str, Any]:
        """The primary's V2 metadata under the gateway's model name, with every live variant."""
        primary = route.targets[route.spec.primary.variant_name]
        document: Any = {}
        try:
            status, body = await primary.upstream.get(primary.path.removesuffix("/infer"), 1.0)
            if status == 200:
                document = orjson.loads(body)
        except (UpstreamError, orjson.JSONDecodeError):
            document = {}
        document = document if isinstance(document, dict) else {}
        document["name"] = route.name
        document["versions"] = list(route.targets)
        document.setdefault("platform", SERVER_NAME)
        document.setdefault("inputs", [])
        document.setdefault("outputs", [])
        return document

    def refresh_breakers(self) -> None:
        for model, route in self.routes.items():
            for name, target in route.targets.items():
                self.metrics.breaker_state.labels(model, name).set(int(target.breaker.state))

    async def model_ready(self, route: ModelRoute) -> bool:
        async def ready(target: Target) -> bool:
            try:
                status, _ = await target.upstream.get(target.path.removesuffix("/infer") + "/ready", 1.0)
            except UpstreamError:
                return False
            return status == 200

        if route.spec.fallback is not None:
            return True
        answers = await asyncio.gather(*(ready(t) for t in route.targets.values()))
        return any(answers)


def _infer_path(model_name: str) -> str:
    return f"/v2/models/{model_name}/infer"


def _show_state(gauge: Gauge, state: BreakerState) -> None:
    gauge.set(int(state))
