"""containerd's Tasks gRPC API (the calls ctr makes), for what ctr 1.6 cannot say to a non-runc
runtime: Checkpoint with options (exit, image_path, ...)."""
import pathlib

import grpc

from .cri import RPC_TIMEOUT, compile_proto

REPO_PROTO_DIR = pathlib.Path(__file__).resolve().parents[3] / "proto"

RUNC_CHECKPOINT_OPTIONS = "containerd.runc.v1.CheckpointOptions"


def checkpoint(address, namespace, container_id, timeout=RPC_TIMEOUT, **options):
    """Tasks.Checkpoint; options are CheckpointOptions fields (exit=True, image_path=...), sent
    as containerd's Go client encodes them (type URL = bare message name). Returns the
    CheckpointTaskResponse; raises grpc.RpcError with containerd's status."""
    pb = compile_proto("tasks")
    runc = compile_proto("runc", REPO_PROTO_DIR)  # the shim's own copy of the message
    req = pb.CheckpointTaskRequest(container_id=container_id)
    if options:
        req.options.type_url = RUNC_CHECKPOINT_OPTIONS
        req.options.value = runc.CheckpointOptions(**options).SerializeToString()
    with grpc.insecure_channel(f"unix://{address}") as channel:
        call = channel.unary_unary("/containerd.services.tasks.v1.Tasks/Checkpoint",
                                   request_serializer=pb.CheckpointTaskRequest.SerializeToString,
                                   response_deserializer=pb.CheckpointTaskResponse.FromString)
        return call(req, timeout=timeout, metadata=[("containerd-namespace", namespace)])
