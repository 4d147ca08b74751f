"""``ml-serving up|demo`` (``python -m runtime.local up|demo``): the platform on loopback from stacks/Pulumi.local.yaml.

``up`` starts it and keeps it running (restarting parts that die) until Ctrl-C, SIGTERM or
SIGHUP. ``demo`` starts it, or uses one already running, and replays a minute of traffic through
it. However it is stopped, once or twice, from a terminal or through a pipe, nothing is left
running (runtime/local/stopping.py). The options are declared in cli/up.py and cli/demo.py.
"""

from __future__ import annotations

import argparse
import sys

from runtime.errors import MLServingError, SpecError
from runtime.local.layout import Layout, LocalSettings
from runtime.local.stopping import Console, StopSignals, serve
from runtime.spec import load_stack


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


def run(command: str, args: argparse.Namespace) -> int:
    """``command`` is ``up`` or ``demo``; ``args`` as ``ml-serving up|demo`` parses them."""
    signals = StopSignals()
    signals.install()  # first: a signal from here on is handled, never a traceback
    say = Console()
    try:
        layout = _layout(args)
    except SpecError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    try:
        if command == "demo":
            demo = _Demo(layout, args, signals)
            code = serve(demo, say, signals, ready=lambda: None, until_stopped=False)
            return code or demo.code
        from runtime.local.platform import LocalPlatform

        platform = LocalPlatform(layout, say=say, train_rows=args.train_rows)
        return serve(platform, say, signals, ready=lambda: _ready(platform, say))
    except MLServingError as exc:
        say(f"error: {exc.message}")
        return 1


def main(argv: list[str] | None = None) -> int:
    from cli import forward

    return forward([], argv)


if __name__ == "__main__":
    sys.exit(main())
