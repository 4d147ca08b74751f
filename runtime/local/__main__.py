"""``python -m runtime.local up|demo``: the whole platform on loopback from stacks/Pulumi.local.yaml.

``up`` starts it and keeps it running (restarting parts that die) until Ctrl-C, SIGTERM or
SIGHUP. ``demo`` starts it, or uses one already running, and replays a minute of traffic through
it. However it is stopped, once or twice, from a terminal or through a pipe, nothing is left
running (runtime/local/stopping.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runtime.errors import MLServingError, SpecError
from runtime.local.layout import Layout, LocalSettings
from runtime.local.stopping import Console, StopSignals, serve
from runtime.spec import load_stack


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runtime.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "demo"])
    parser.add_argument("--stack", default="local")
    parser.add_argument("--stacks-dir", type=Path, help="folder holding Pulumi.<stack>.yaml (default: stacks/)")
    parser.add_argument("--state-dir", type=Path, help="state folder (default: the stack's platform.local.stateDir)")
    parser.add_argument("--mlflow-port", type=int)
    parser.add_argument("--gateway-port", type=int)
    parser.add_argument("--gateway-grpc-port", type=int)
    parser.add_argument("--monitor-port", type=int)
    parser.add_argument("--model-server-base-port", type=int)
    parser.add_argument("--prometheus-port", type=int)
    parser.add_argument("--ready-timeout", type=float, help="seconds each part may take to become ready")
    parser.add_argument("--train-rows", type=int, help="rows per demo model version when training")
    parser.add_argument("--demo-seconds", type=float, default=60.0, help="how long `demo` replays traffic")
    return parser


def _layout(args: argparse.Namespace) -> Layout:
    overrides = {
        "state_dir": args.state_dir.resolve() if args.state_dir else None,
        "mlflow_port": args.mlflow_port,
        "gateway_port": args.gateway_port,
        "gateway_grpc_port": args.gateway_grpc_port,
        "monitor_port": args.monitor_port,
        "model_server_base_port": args.model_server_base_port,
        "prometheus_port": args.prometheus_port,
        "ready_timeout_s": args.ready_timeout,
    }
    settings = LocalSettings(**{k: v for k, v in overrides.items() if v is not None})
    return Layout.resolve(load_stack(args.stack, args.stacks_dir), settings)


def _ready(platform, say: Console) -> None:  # noqa: ANN001 - LocalPlatform, imported late
    say("\nlistening on loopback:")
    say(platform.summary())
    if not {"gateway", "training script"} & set(platform.missing):
        from runtime.local.traffic import curl_example

        model = next(iter(platform.layout.spec.models))
        token = str(platform.token_file) if platform.token_file else None
        say("\ntry it:")
        say(f"  {curl_example(platform.layout.gateway_url, model, token)}")
    say("\nCtrl-C stops every part.")


class _Demo:
    """The demo as something ``serve`` starts and stops: it ends by itself or on a signal."""

    def __init__(self, layout: Layout, args: argparse.Namespace, signals: StopSignals) -> None:
        self.layout, self.args, self.signals, self.code = layout, args, signals, 0

    def up(self) -> None:
        from runtime.local.demo import run_demo

        self.code = run_demo(self.layout, seconds=self.args.demo_seconds, train_rows=self.args.train_rows)
        self.signals.wake.set()

    def down(self) -> None:
        pass  # the demo stops its own platform; anything it left is stopped by ``serve``


def main(argv: list[str] | None = None) -> int:
    signals = StopSignals()
    signals.install()  # first: a signal from here on is handled, never a traceback
    say = Console()
    args = _parser().parse_args(argv)
    try:
        layout = _layout(args)
    except SpecError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    try:
        if args.command == "demo":
            demo = _Demo(layout, args, signals)
            code = serve(demo, say, signals, ready=lambda: None, until_stopped=False)
            return code or demo.code
        from runtime.local.platform import LocalPlatform

        platform = LocalPlatform(layout, say=say, train_rows=args.train_rows)
        return serve(platform, say, signals, ready=lambda: _ready(platform, say))
    except MLServingError as exc:
        say(f"error: {exc.message}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
