"""A platform of tiny parts, stopped by the same code as ``python -m runtime.local up``.

Start-up has the phases of the real one: two parts (one forks a worker), a job run as a child
process (like training), then a part that is slow to become ready. Each phase prints a line, so
a test can send its signal in the phase it means.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from runtime.local.process import PartSpec
from runtime.local.stopping import Console, StopSignals, serve
from runtime.local.supervisor import Supervisor

TINY_PART = Path(__file__).with_name("tiny_part.py")
READY_LINE = "Ctrl-C stops every part."


def _part(name: str, port: int, *options: str) -> PartSpec:
    argv = (sys.executable, str(TINY_PART), "--port", str(port), *options)
    return PartSpec(name=name, argv=argv, host="127.0.0.1", port=port, ready_path="/")


class TinyPlatform:
    def __init__(self, args: argparse.Namespace, say: Console) -> None:
        self.args, self.say = args, say
        self.supervisor = Supervisor(args.log_dir, say=say, poll_s=0.05, grace_s=5.0)

    def up(self) -> None:
        first, second, third = self.args.ports
        self.supervisor.start([_part("alpha", first, "--worker"), _part("beta", second)])
        self.say(f"job: running for {self.args.job_s:g} s ...")
        subprocess.run([sys.executable, "-c", f"import time; time.sleep({self.args.job_s})"], check=True)
        self.supervisor.start([_part("gamma", third, "--ready-after", str(self.args.slow_s))])
        self.supervisor.watch()

    def down(self) -> None:
        self.supervisor.stop()


def main() -> int:
    signals = StopSignals()
    signals.install()
    say = Console()
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", type=lambda text: [int(p) for p in text.split(",")], required=True)
    parser.add_argument("--log-dir", type=Path, required=True)
    parser.add_argument("--job-s", type=float, default=0.0)
    parser.add_argument("--slow-s", type=float, default=0.0)
    args = parser.parse_args()
    return serve(TinyPlatform(args, say), say, signals, ready=lambda: say(READY_LINE), grace_s=5.0)


if __name__ == "__main__":
    sys.exit(main())
