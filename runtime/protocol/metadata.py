"""The V2 server metadata (``GET /v2``, gRPC ``ServerMetadata``) of the project's servers.

The extensions named are the ones served: the binary tensor data extension, on REST. KServe's
own answer named its model repository extension, which the model server does not serve
(runtime/modelserver/front.py), and left out the binary extension, which it does.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["EXTENSIONS", "server_metadata"]

EXTENSIONS = ("binary_tensor_data",)

try:
    _VERSION = version("ml-serving")
except PackageNotFoundError:  # run from a source tree that was not installed
    _VERSION = "unknown"


def server_metadata(name: str) -> dict[str, object]:
    """``{"name", "version", "extensions"}`` as the Open Inference Protocol defines them."""
    return {"name": name, "version": _VERSION, "extensions": list(EXTENSIONS)}
