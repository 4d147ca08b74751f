"""What the engine sends a policy pack in a preview, made from the real program under mocks.

    python -m tests.policies.previews --stack prod [--stacks-dir DIR] --preview first|steady

prints one JSON document: ``analyze`` (an ``AnalyzeRequest`` per resource, the root stack first,
in registration order) and ``stack`` (the ``AnalyzeStackRequest``), as protobuf JSON. The shapes
follow pulumi/pulumi ``pkg/resource/deploy/step_generator.go``:

- ``Analyze`` gets a resource's inputs as the SDK sent them (unknowns and secrets as on the wire);
- ``AnalyzeStack`` gets outputs, with parents and property dependencies.

``first``: a new stack. Nothing exists, so every output is unknown (the mocks return none and the
SDK resolves them as unknown in a preview); inputs made from outputs are unknown too; a
Kubernetes resource, whose provider's kubeconfig is unknown, reaches ``AnalyzeStack`` with no
outputs; an AWS resource with its inputs and the computed fields unknown (pulumi-aws 7 computes a
bucket's inline encryption and versioning). ``steady``: the stack exists; every output is known
(the render's mocks), and outputs are inputs plus what the provider computed.

Run in a subprocess: running the program replaces the mocks of the process.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_COMPUTED = {
    "aws:s3/bucket:Bucket": ("id", "arn", "bucket", "serverSideEncryptionConfiguration", "versioning", "policy"),
}


def _struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _first_preview_outputs(registration: Any) -> dict:
    if registration.type.startswith("kubernetes:"):
        return {}
    outputs = json_format.MessageToDict(registration.wire)
    for key in ("id", *_COMPUTED.get(registration.type, ())):
        outputs[key] = UNKNOWN
    return outputs


def _steady_outputs(registration: Any) -> dict:
    from pulumi.runtime import MockResourceArgs

    from components.mocks import RenderMocks

    inputs = json_format.MessageToDict(registration.wire)
    if not registration.custom:
        return inputs
    mock_id, outputs = RenderMocks().new_resource(MockResourceArgs(registration.type, registration.name, dict(inputs)))
    return json.loads(json.dumps({**outputs, "id": mock_id}, default=str))


def requests(stack: str, stacks_dir: Path | None, preview: str) -> dict:
    from pulumi.runtime.proto import analyzer_pb2

    from components.mocks import RenderMocks
    from components.render import run_program

    class NothingExists(RenderMocks):
        def new_resource(self, args):
            return None, {}

    first = preview == "first"
    monitor, _, _ = run_program(stack, stacks_dir, mocks=NothingExists() if first else None, preview=first)
    root = f"urn:pulumi:{stack}::ml-serving::pulumi:pulumi:Stack::ml-serving-{stack}"
    analyze = [analyzer_pb2.AnalyzeRequest(type="pulumi:pulumi:Stack", name=f"ml-serving-{stack}", urn=root)]
    resources = []
    for r in monitor.registrations:
        options = analyzer_pb2.AnalyzerResourceOptions(parent=r.parent or root)
        analyze.append(
            analyzer_pb2.AnalyzeRequest(type=r.type, name=r.name, urn=r.urn, properties=r.wire, options=options)
        )
        outputs = _first_preview_outputs(r) if first else _steady_outputs(r)
        resources.append(
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                name=r.name,
                urn=r.urn,
                properties=_struct(outputs),
                options=options,
                parent=r.parent or root,
                dependencies=list(r.dependencies),
                propertyDependencies={
                    k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
                    for k, v in r.property_dependencies.items()
                },
            )
        )
    stack_request = analyzer_pb2.AnalyzeStackRequest(resources=resources)
    return {
        "analyze": [json_format.MessageToDict(a) for a in analyze],
        "stack": json_format.MessageToDict(stack_request),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", required=True)
    parser.add_argument("--stacks-dir", type=Path, default=None)
    parser.add_argument("--preview", choices=("first", "steady"), required=True)
    args = parser.parse_args(argv)
    json.dump(requests(args.stack, args.stacks_dir, args.preview), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
