"""TVM's RPC protocol: the packet codec and a client that speaks it over a session."""

from harness.rpc.client import RemoteModule, RPCClient

__all__ = ["RPCClient", "RemoteModule"]
