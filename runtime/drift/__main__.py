"""``python -m runtime.drift --config monitor.json [--host 127.0.0.1] [--port 8090]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from runtime.errors import MLServingError, validation_problems
from runtime.wiring import MonitorConfig


def _config(path: str | None) -> MonitorConfig:
    source = path or os.environ.get("ML_SERVING_MONITOR_CONFIG")
    if not source:
        raise SystemExit(
            "error: --config: expected the path of a MonitorConfig JSON file (or set ML_SERVING_MONITOR_CONFIG)"
        )
    try:
        return MonitorConfig.model_validate_json(Path(source).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(f"error: --config: cannot read {source} ({exc.strerror or exc})") from None
    except ValidationError as exc:
        lines = [
            f"error: {source}: {line}" for line in validation_problems(exc.errors(include_url=False), root="config")
        ]
        raise SystemExit("\n".join(lines)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.drift", description="The drift monitor.")
    parser.add_argument("--config", help="MonitorConfig JSON (default: $ML_SERVING_MONITOR_CONFIG)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: loopback only; the cluster passes 0.0.0.0)"
    )
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    config = _config(args.config)

    import uvicorn

    from runtime.drift.app import create_app
    from runtime.drift.settings import MonitorSettings
    from runtime.heap import settle
    from runtime.httplimits import guarded_http

    try:
        print(f"drift monitor: loading {sum(len(v) for v in config.profiles.values())} reference profiles", flush=True)
        settings = MonitorSettings()
        app = create_app(config, settings)
    except (MLServingError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settle()  # built: start-up's objects leave the collector's walks (runtime/heap.py)
    print(f"drift monitor: listening on http://{args.host}:{args.port} (state in {config.state_dir})", flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        http=guarded_http(settings.read_timeout_s, "ML_SERVING_DRIFT_READ_TIMEOUT_S"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
