"""``python -m runtime.gateway --config gateway.json [--host 0.0.0.0] [--port 8080]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from runtime.errors import MLServingError
from runtime.wiring import GatewayConfig


def _load(path: str) -> GatewayConfig:
    try:
        return GatewayConfig.model_validate_json(Path(path).read_text())
    except OSError as exc:
        raise MLServingError(f"cannot read the gateway config {path}: {exc.strerror}") from None
    except ValidationError as exc:
        lines = [
            f"{path}: {'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors(include_url=False)
        ]
        raise MLServingError("\n".join(lines)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.gateway", description="The ml-serving gateway.")
    parser.add_argument("--config", default=os.environ.get("ML_SERVING_GATEWAY_CONFIG"), help="a GatewayConfig as JSON")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if not args.config:
        print("error: --config (or ML_SERVING_GATEWAY_CONFIG) is required: a GatewayConfig as JSON", file=sys.stderr)
        return 2
    import uvicorn

    from runtime.gateway.app import create_app

    try:
        app = create_app(_load(args.config))
    except MLServingError as exc:
        for line in exc.message.splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    print(f"gateway: serving {', '.join(app.state.gateway.config.models) or 'no models'} on {args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, loop="uvloop", http="httptools", log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
