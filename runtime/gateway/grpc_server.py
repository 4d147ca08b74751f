"""The gateway's gRPC transport: the V2 ``GRPCInferenceService`` over the same policy core as REST.

Every rule (auth, routing, sticky keys from metadata or the input, budget, retries, fallback,
breakers, shadows, the tap) is the core's (runtime/gateway/gateway.py); this module only turns
messages into an ``Inbound`` and an ``Outcome`` into a message or a status. Errors leave with
the gRPC code of their HTTP status and the same message REST sends; the variant, the request id
and a fallback's reason go back as trailing metadata.

The service is registered from its descriptor, as the generated ``add_..._to_server`` does, but
``ModelInfer`` reads its request with ``read_infer_request`` (runtime/gateway/grpc_wire.py), so
its raw tensors are not copied twice on the way in.
"""

from __future__ import annotations

import time

import grpc
from google.protobuf import message_factory
from grpc import aio
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

from runtime.errors import MLServingError
from runtime.gateway.dispatch import ModelRoute
from runtime.gateway.gateway import SERVER_NAME, Gateway
from runtime.gateway.grpc_codec import inbound_of, infer_response, metadata_response
from runtime.gateway.grpc_wire import WireInferRequest, read_infer_request
from runtime.gateway.headers import REQUEST_ID
from runtime.protocol.grpc_status import grpc_code
from runtime.protocol.metadata import server_metadata

__all__ = ["GatewayServicer", "start_grpc"]

SERVICE = "inference.GRPCInferenceService"


def _metadata(context: aio.ServicerContext) -> dict[str, str]:
    return {key.lower(): value for key, value in context.invocation_metadata() or () if isinstance(value, str)}


async def _abort(context: aio.ServicerContext, exc: MLServingError) -> None:
    await context.abort(grpc_code(int(exc.status)), exc.message)


_NO_REPOSITORY = "the model repository extension is not served: the gateway's models are its stack file's"


class GatewayServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    async def ServerLive(self, request: pb.ServerLiveRequest, context: aio.ServicerContext) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: pb.ServerReadyRequest, context: aio.ServicerContext) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.gw.ready)

    async def ServerMetadata(self, request, context: aio.ServicerContext) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(**server_metadata(SERVER_NAME))

    async def RepositoryModelLoad(self, request, context: aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NO_REPOSITORY)

    async def RepositoryModelUnload(self, request, context: aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NO_REPOSITORY)

    async def _route(self, name: str, context: aio.ServicerContext) -> ModelRoute:
        try:
            self.gw.authorize(_metadata(context))
            return self.gw.route(name)
        except MLServingError as exc:
            await _abort(context, exc)
            raise

    async def ModelReady(self, request: pb.ModelReadyRequest, context: aio.ServicerContext) -> pb.ModelReadyResponse:
        return pb.ModelReadyResponse(ready=await self.gw.model_ready(await self._route(request.name, context)))

    async def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: aio.ServicerContext
    ) -> pb.ModelMetadataResponse:
        return metadata_response(await self.gw.model_metadata(await self._route(request.name, context)))

    async def ModelInfer(self, wire: WireInferRequest, context: aio.ServicerContext) -> pb.ModelInferResponse:
        started = time.monotonic()
        request = wire.message
        metadata = _metadata(context)
        if request.id and REQUEST_ID not in metadata:
            metadata[REQUEST_ID] = request.id  # gRPC has no header for it: the message's id is it
        try:
            self.gw.authorize(metadata)
            route = self.gw.route(request.model_name)
            inbound = inbound_of(wire)
        except MLServingError as exc:
            await _abort(context, exc)
        # The client's gRPC deadline, when shorter than the budget, is this call's budget.
        remaining = context.time_remaining()
        until = None if remaining is None else time.monotonic() + remaining
        outcome = await self.gw.infer(route, inbound, metadata, started, until)
        context.set_trailing_metadata(tuple(outcome.headers().items()))
        if outcome.error is not None:
            await _abort(context, outcome.error)
        return infer_response(outcome.response or {}, outcome.request_id)


def _handlers(servicer: GatewayServicer) -> dict[str, grpc.RpcMethodHandler]:
    """Every method of the service, by name, as the generated registration builds them."""
    handlers = {}
    for method in pb.DESCRIPTOR.services_by_name[SERVICE.rpartition(".")[2]].methods:
        request = message_factory.GetMessageClass(method.input_type)
        response = message_factory.GetMessageClass(method.output_type)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name),
            request_deserializer=read_infer_request if method.name == "ModelInfer" else request.FromString,
            response_serializer=response.SerializeToString,
        )
    return handlers


async def start_grpc(gateway: Gateway, host: str, port: int) -> tuple[aio.Server, int]:
    """Serve the gateway's gRPC API on ``host:port`` (0 picks a free port); returns the bound port."""
    limit = gateway.config.max_body_bytes
    server = aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", max(limit, 64 * 1024 * 1024)),
        ]
    )
    handlers = _handlers(GatewayServicer(gateway))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise MLServingError(f"cannot listen for gRPC on {host}:{port}")
    await server.start()
    return server, bound
