"""The model servers a team would pick today, each in its own virtualenv, for bench/modelserver.py.

Ray Serve (``@serve.batch``), BentoML (a batchable API) and LitServe (``max_batch_size``,
``batch_timeout``), each batching up to 32 requests with a 10 ms wait where the peer has one.
Their servers are the scripts in bench/peers/, run by the virtualenvs under .bench/peers/ that
this module creates from the pinned ``bench/peers/<peer>.txt`` (a ``pip freeze``; bench-only,
not the project's lock). Each venv is made once and remade when its pins change.
"""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / "bench" / "peers"
VENVS = REPO / ".bench" / "peers"
MODEL = "rf"
MAX_BATCH, WAIT_MS = 32, 10

__all__ = ["Peer", "ensure_venv", "new_peers", "MODEL", "PEER_VENVS"]

PEER_VENVS = ("ray", "bentoml", "litserve")


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_venv(name: str) -> Path:
    """The venv for ``name`` with ``bench/peers/<name>.txt`` installed; its ``bin`` folder."""
    pins = PEERS / f"{name}.txt"
    venv = VENVS / f"{name}-venv"
    stamp = venv / ".pins-sha256"
    digest = hashlib.sha256(pins.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return venv / "bin"
    _say(f"creating {venv} from {pins.relative_to(REPO)} (nice pip install; a few minutes, once)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        ["nice", "-n", "19", str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "-r", str(pins)], check=True
    )
    stamp.write_text(digest)
    return venv / "bin"


@dataclass
class Peer:
    label: str
    command: list[str]
    port: int
    path: str = f"/v2/models/{MODEL}/infer"
    body: dict | None = None
    """The request this server takes; None for the V2 body every V2 server gets."""
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    process: subprocess.Popen | None = field(default=None, repr=False)
    """The process the bench started, once it did (its tree is stopped whole)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def new_peers(model_dir: Path, row: list[float], ports: list[int]) -> list[Peer]:
    """Ray Serve, BentoML and LitServe on ``model_dir``; ``row`` is the benchmark's one row."""
    ray, bento, lit = (ensure_venv(name) for name in PEER_VENVS)
    ray_port, bento_port, lit_port = ports
    limits = [str(MAX_BATCH), str(WAIT_MS)]
    return [
        Peer(
            f"(e) Ray Serve 2.60, @serve.batch {MAX_BATCH}/{WAIT_MS}ms",
            [str(ray / "python"), str(PEERS / "ray_serve.py"), str(model_dir), str(ray_port), *limits],
            ray_port,
            # Token auth on (a fresh token per run): Ray binds its internal ports on every interface.
            env={
                "RAY_AUTH_MODE": "token",
                "RAY_AUTH_TOKEN": secrets.token_hex(32),
                "RAY_TMPDIR": str(VENVS / "ray-tmp"),
                "RAY_USAGE_STATS_ENABLED": "0",
            },
        ),
        Peer(
            f"(f) BentoML 1.4, batchable {MAX_BATCH}, own wait",
            [
                str(bento / "bentoml"),
                "serve",
                "bentoml_service:RandomForest",
                "--host",
                "127.0.0.1",
                "--port",
                str(bento_port),
            ],  # fmt: skip
            bento_port,
            path="/predict",
            body={"rows": [row]},
            env={
                "BENCH_MODEL_DIR": str(model_dir),
                "BENCH_MAX_BATCH": str(MAX_BATCH),
                "BENTOML_HOME": str(VENVS / "bentoml-home"),
                "BENTOML_DO_NOT_TRACK": "true",
            },
            cwd=PEERS,
        ),
        Peer(
            f"(g) LitServe 0.2, batching {MAX_BATCH}/{WAIT_MS}ms",
            [str(lit / "python"), str(PEERS / "litserve_server.py"), str(model_dir), str(lit_port), *limits],
            lit_port,
            env={"LITSERVE_TELEMETRY": "0"},
        ),
    ]
