"""V2 conformance of the real model server and gateway processes, with clients nobody here wrote.

Each client (tritonclient.http with binary on and off, tritonclient.grpc, KServe's
InferenceRESTClient in binary and JSON, KServe's InferenceGRPCClient) runs every case of
tests/conformance/clients.py against both processes, REST and gRPC as the client speaks.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conformance.clients import CLIENTS
from tests.conformance.matrix import ROWS
from tests.runtime.modelserver.servers import REPO

# What a client refuses before sending (the case is then "n/a", and must be this one).
NOT_OFFERED = {
    *(
        (kserve, case)
        for kserve in ("kserve.rest/binary", "kserve.rest/json", "kserve.grpc")
        for case in ("model metadata", "server metadata", "model repository: unload refused")
    ),
    ("kserve.rest/json", "infer FP16"),
}

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("client", CLIENTS)
def test_client_passes_every_case_against_both_processes(targets, client, record_property):
    command = [sys.executable, "-m", "tests.conformance.clients", client, *(t.arg for t in targets)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    record_property(ROWS, rows)  # printed in the terminal summary, from any worker
    assert {r["target"] for r in rows} == {"modelserver", "gateway"}
    failed = [f"{r['target']}: {r['case']}: {r['seen']}" for r in rows if r["ok"] is False]
    assert not failed, "\n".join(failed)
    skipped = {(client, r["case"]) for r in rows if r["ok"] is None}
    assert skipped <= NOT_OFFERED, f"cases the client unexpectedly could not run: {sorted(skipped - NOT_OFFERED)}"
