"""``python -m runtime.local up|demo``: the whole platform on loopback from stacks/Pulumi.local.yaml.

``up`` starts it and keeps it running (restarting parts that die) until Ctrl-C or SIGTERM.
``demo`` starts it, or uses one already running, and replays a minute of traffic through it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from runtime.errors import MLServingError, SpecError
from runtime.local.layout import Layout, LocalSettings
from runtime.local.platform import LocalPlatform
from runtime.spec import load_stack


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runtime.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "demo"])
    parser.add_argument("--stack", default="local")
    parser.add_argument("--stacks-dir", type=Path, help="folder holding Pulumi.<stack>.yaml (default: stacks/)")
    parser.add_argument("--state-dir", type=Path, help="state folder (default: the stack's platform.local.stateDir)")
    parser.add_argument("--mlflow-port", type=int)
    parser.add_argument("--gateway-port", type=int)
    parser.add_argument("--monitor-port", type=int)
    parser.add_argument("--model-server-base-port", type=int)
    parser.add_argument("--ready-timeout", type=float, help="seconds each part may take to become ready")
    parser.add_argument("--train-rows", type=int, help="rows per demo model version when training")
    parser.add_argument("--demo-seconds", type=float, default=60.0, help="how long `demo` replays traffic")
    return parser


def _layout(args: argparse.Namespace) -> Layout:
    overrides = {
        "state_dir": args.state_dir.resolve() if args.state_dir else None,
        "mlflow_port": args.mlflow_port,
        "gateway_port": args.gateway_port,
        "monitor_port": args.monitor_port,
        "model_server_base_port": args.model_server_base_port,
        "ready_timeout_s": args.ready_timeout,
    }
    settings = LocalSettings(**{k: v for k, v in overrides.items() if v is not None})
    return Layout.resolve(load_stack(args.stack, args.stacks_dir), settings)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _hold(platform: LocalPlatform) -> None:
    print("\nlistening on loopback:")
    print(platform.summary())
    if not {"gateway", "training script"} & set(platform.missing):
        from runtime.local.traffic import curl_example

        model = next(iter(platform.layout.spec.models))
        token = str(platform.token_file) if platform.token_file else None
        print("\ntry it:")
        print(f"  {curl_example(platform.layout.gateway_url, model, token)}")
    print("\nCtrl-C stops every part.", flush=True)
    threading.Event().wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        layout = _layout(args)
    except SpecError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    platform: LocalPlatform | None = None
    try:
        if args.command == "demo":
            from runtime.local.demo import run_demo

            return run_demo(layout, seconds=args.demo_seconds, train_rows=args.train_rows)
        platform = LocalPlatform(layout, train_rows=args.train_rows)
        platform.up()
        _hold(platform)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    except MLServingError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        if platform is not None:
            # A second Ctrl-C must not cut the shutdown short and leave processes behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            platform.down()
            print("stopped; nothing left running.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
