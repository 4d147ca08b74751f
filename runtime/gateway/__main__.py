"""``python -m runtime.gateway --config gateway.json [--host 0.0.0.0] [--port 8080] [--grpc-port 8081]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from runtime.errors import MLServingError, validation_problems
from runtime.wiring import GatewayConfig

KEEP_ALIVE_S = 75
"""How long an idle client connection stays open. uvicorn's default, 5 s, is shorter than the
pools of the clients that reuse connections (aiohttp's in tritonclient.http.aio, Envoy's in the
mesh): a request they write on a connection the gateway has just closed fails with a broken pipe
instead of being answered. 75 s is nginx's default."""

YOUNG_COLLECTION_AT = 10_000
"""Net allocations between young collections (runtime/heap.py): above what the requests in flight
hold at concurrency 32 (some 4,000 objects), so that under load one seldom runs."""


def _load(path: str) -> GatewayConfig:
    try:
        return GatewayConfig.model_validate_json(Path(path).read_text())
    except OSError as exc:
        raise MLServingError(f"cannot read the gateway config {path}: {exc.strerror}") from None
    except ValidationError as exc:
        lines = [f"{path}: {line}" for line in validation_problems(exc.errors(include_url=False), root="config")]
        raise MLServingError("\n".join(lines)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.gateway", description="The ml-serving gateway.")
    parser.add_argument("--config", default=os.environ.get("ML_SERVING_GATEWAY_CONFIG"), help="a GatewayConfig as JSON")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--grpc-port", type=int, default=None, help="serve the V2 gRPC API too, on this port")
    args = parser.parse_args(argv)
    if not args.config:
        print("error: --config (or ML_SERVING_GATEWAY_CONFIG) is required: a GatewayConfig as JSON", file=sys.stderr)
        return 2
    import uvicorn

    # The gRPC service's messages come from kserve, whose package parses sys.argv when imported
    # (and takes --config for an abbreviation of its own --configure_logging).
    sys.argv[1:] = []
    from runtime.gateway.app import create_app
    from runtime.gateway.settings import Settings
    from runtime.heap import settle
    from runtime.httplimits import guarded_http

    try:
        settings = Settings(grpc_port=args.grpc_port, grpc_host=args.host) if args.grpc_port is not None else Settings()
        app = create_app(_load(args.config), settings)
    except MLServingError as exc:
        for line in exc.message.splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    if args.grpc_port is not None:
        import runtime.gateway.grpc_server  # noqa: F401 - imported before the heap is settled
    # Built: freeze start-up's objects out of the collector before serving (runtime/heap.py).
    settle(young=YOUNG_COLLECTION_AT)
    grpc = f" and gRPC on {args.host}:{args.grpc_port}" if args.grpc_port is not None else ""
    print(
        f"gateway: serving {', '.join(app.state.gateway.config.models) or 'no models'} on {args.host}:{args.port}{grpc}",
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http=guarded_http(settings.read_timeout_s, "ML_SERVING_GATEWAY_READ_TIMEOUT_S"),
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
