"""A tiny real part for the supervisor tests: an HTTP server that answers 200 on every GET.

Options make it misbehave the way real parts do: fail at start with a message, exit some time
after it came up, ignore SIGTERM, or fork a worker into its process group.
"""

from __future__ import annotations

import argparse
import http.server
import signal
import subprocess
import sys
import threading
import time


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fail", help="print this and exit 3 before listening")
    parser.add_argument("--exit-after", type=float, help="exit with code 1 this many seconds after listening")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--worker", action="store_true", help="fork a sleeping worker into the group")
    parser.add_argument("--ready-after", type=float, default=0.0, help="listen only after this many seconds")
    args = parser.parse_args()
    print(f"tiny part on port {args.port}", flush=True)
    if args.fail:
        print(args.fail, flush=True)
        return 3
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.worker:
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    time.sleep(args.ready_after)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if args.exit_after is not None:
        time.sleep(args.exit_after)
        print("tiny part exits on purpose", flush=True)
        return 1
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
