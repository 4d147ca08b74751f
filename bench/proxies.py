"""nginx and HAProxy as plain reverse proxies in front of a model server, for bench/gateway.py.

Both are Debian packages (``apt-get install -y nginx-light haproxy``); ``ensure`` installs them
when apt-get is there and says how otherwise, with the package scripts told not to start the
system services. Each runs in the foreground from a config written under the bench's work
folder: one worker process (nginx) or one thread (HAProxy), like the gateway's one event loop,
keep-alive connections to the model server, no access log, loopback only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["ensure", "nginx_command", "haproxy_command", "PACKAGES"]

PACKAGES = {"nginx": "nginx-light", "haproxy": "haproxy"}


def ensure() -> list[str]:
    """The proxies found (installing the missing ones when apt-get can); says what to run otherwise."""
    missing = [name for name in PACKAGES if shutil.which(name) is None]
    if missing and shutil.which("apt-get") and os.geteuid() == 0:
        packages = [PACKAGES[name] for name in missing]
        print(f"[bench] installing {', '.join(packages)} (apt-get)", file=sys.stderr, flush=True)
        policy = Path("/tmp") / f"ml-serving-bench-policy-rc.d-{os.getpid()}"
        policy.write_text("#!/bin/sh\nexit 101\n")  # the packages' services are not started
        policy.chmod(0o755)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "POLICYRCD": str(policy)}
        try:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env, capture_output=True)
        finally:
            policy.unlink(missing_ok=True)
    found = [name for name in PACKAGES if shutil.which(name)]
    for name in PACKAGES:
        if name not in found:
            print(
                f"[bench] {name} is not installed and is left out; install it with: apt-get install -y {PACKAGES[name]}",
                file=sys.stderr,
            )
    return found


def nginx_command(work: Path, port: int, upstream: str) -> list[str]:
    """nginx in the foreground proxying 127.0.0.1:port to ``upstream`` (host:port)."""
    prefix = work / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    temp = {k: prefix / k for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    client_max_body_size 8m;
    upstream model {{ server {upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://model;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""
    )
    return ["nginx", "-p", str(prefix), "-c", str(conf)]


def haproxy_command(work: Path, port: int, upstream: str) -> list[str]:
    """HAProxy in the foreground (``-db``) proxying 127.0.0.1:port to ``upstream`` (host:port)."""
    conf = work / "haproxy.cfg"
    conf.write_text(
        f"""global
    nbthread 1
    maxconn 1024
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend bench
    bind 127.0.0.1:{port}
    default_backend model
backend model
    server model {upstream} maxconn 256
"""
    )
    return ["haproxy", "-db", "-f", str(conf)]
