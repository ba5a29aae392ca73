"""RPC client: functions, modules and tensors on the device, with numpy."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from harness.errors import FunctionNotFound, ProtocolError, remote_error
from harness.rpc import codec as c

TENSOR_ALIGNMENT = 64


class Stream(Protocol):
    """A reliable byte stream to the device's RPC server."""

    def send(self, data: bytes) -> None: ...

    def recv_exact(self, n: int, timeout: float | None = None) -> bytes: ...


class RemoteFunction:
    def __init__(self, client: RPCClient, handle: int, name: str) -> None:
        self.client, self.handle, self.name = client, handle, name

    def __call__(self, *args: Any) -> Any:
        return self.client.call(self, *args)

    def rpc_value(self) -> c.Handle:
        return c.Handle(self.handle, c.T_FUNCTION)

    def free(self) -> None:
        self.client.free_handle(self.handle)


class RemoteModule:
    def __init__(self, client: RPCClient, handle: int) -> None:
        self.client, self.handle = client, handle

    def rpc_value(self) -> c.Handle:
        return c.Handle(self.handle, c.T_MODULE)

    def get_function(self, name: str) -> RemoteFunction:
        getter = self.client.get_function("tvm.rpc.server.ModuleGetFunction")
        f = getter(self, name, True)
        if f is None:
            raise FunctionNotFound(f"module has no function {name!r}")
        f.name = name
        return f

    __getitem__ = get_function

    def time_evaluator(self, name: str, **kw: Any) -> TimeEvaluator:
        return self.client.time_evaluator(name, module=self, **kw)


class RemoteTensor:
    """A tensor in device memory; copy with numpy() / copyfrom()."""

    def __init__(self, client: RPCClient, data: int, shape: Sequence[int], dtype: np.dtype) -> None:
        self.client, self.data = client, data
        self.shape, self.dtype = tuple(int(d) for d in shape), np.dtype(dtype)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def rpc_value(self, byte_offset: int = 0) -> c.TensorRef:
        return c.TensorRef(self.data, self.shape, self.dtype, byte_offset)

    def copyfrom(self, array: np.ndarray) -> RemoteTensor:
        array = np.asarray(array, dtype=self.dtype, order="C")  # keeps 0-d arrays 0-d
        if array.shape != self.shape:
            raise ValueError(f"shape {array.shape} does not match tensor shape {self.shape}")
        self.client.copy_to(self, array.tobytes())
        return self

    def numpy(self) -> np.ndarray:
        raw = self.client.copy_from(self)
        return np.frombuffer(raw, dtype=self.dtype).reshape(self.shape).copy()

    def free(self) -> None:
        if self.data:
            self.client.free_data(self.data)
            self.data = 0

    def __enter__(self) -> RemoteTensor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()


class TimeEvaluator:
    """Runs a device function `repeat` times `number` calls; returns seconds per call."""

    def __init__(self, fn: RemoteFunction, repeat: int) -> None:
        self.fn, self.repeat = fn, repeat

    def __call__(self, *args: Any) -> list[float]:
        blob = self.fn(*args)
        if not isinstance(blob, bytes) or len(blob) != 8 * self.repeat:
            raise ProtocolError(f"time evaluator returned {blob!r}, expected {self.repeat} doubles")
        return list(struct.unpack(f"<{self.repeat}d", blob))

    def free(self) -> None:
        self.fn.free()

    def __enter__(self) -> TimeEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()  # a device has few closure slots


class RPCClient:
    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.max_packet_size = 1024
        self._funcs: dict[str, RemoteFunction] = {}

    # ---- transport of packets ----
    def _request(self, code: int, body: bytes, what: str, timeout: float | None = None) -> c.Reader:
        self.stream.send(c.packet(code, body))
        (nbytes,) = struct.unpack("<Q", self.stream.recv_exact(8, timeout))
        if nbytes < 4 or nbytes > (1 << 31):
            raise ProtocolError(f"{what}: implausible reply length {nbytes}")
        reply = c.Reader(self.stream.recv_exact(nbytes, timeout))
        (code_back,) = reply.unpack("<i")
        if code_back == c.EXCEPTION:
            values = reply.values()
            raise remote_error(str(values[0]) if values else "unknown device error")
        if code_back not in (c.RETURN, c.COPY_ACK):
            raise ProtocolError(f"{what}: unexpected reply code {code_back}")
        return reply

    def _syscall(self, code: int, *args: Any) -> Any:
        values = self._request(code, c.encode_args(args), f"syscall {code}").values()
        return values[0] if values else None

    # ---- session ----
    def init_server(self) -> None:
        body = struct.pack("<Q", len(c.PROTOCOL_VERSION)) + c.PROTOCOL_VERSION + c.encode_args(())
        self._request(c.INIT_SERVER, body, "InitServer")
        self.max_packet_size = int(self.get_function("tvm.rpc.server.GetCRTMaxPacketSize")())

    # ---- functions ----
    def get_function(self, name: str) -> RemoteFunction:
        cached = self._funcs.get(name)
        if cached is not None:
            return cached
        handle = self._syscall(c.GET_GLOBAL_FUNC, name)
        if handle is None:
            raise FunctionNotFound(f"device has no global function {name!r}")
        fn = self._funcs[name] = RemoteFunction(self, handle.value, name)
        return fn

    def call(self, fn: RemoteFunction, *args: Any, timeout: float | None = None) -> Any:
        body = struct.pack("<Q", fn.handle) + c.encode_args(args)
        values = self._request(c.CALL_FUNC, body, f"call {fn.name}", timeout).values()
        if len(values) != 2 or not isinstance(values[0], int):
            raise ProtocolError(f"call {fn.name}: malformed return {values!r}")
        type_index, value = values
        if type_index == c.T_FUNCTION:
            return RemoteFunction(self, value.value, "<returned>")
        if type_index == c.T_MODULE:
            return RemoteModule(self, value.value)
        return value

    def free_handle(self, handle: int) -> None:
        self._syscall(c.FREE_HANDLE, c.Handle(handle))

    def system_lib(self) -> RemoteModule:
        return self.get_function("ffi.SystemLib")()

    def time_evaluator(self, name: str, module: RemoteModule | None = None, number: int = 1,
                       repeat: int = 1, min_repeat_ms: int = 0) -> TimeEvaluator:
        make = self.get_function("runtime.RPCTimeEvaluator")
        fn = make(module, name, c.KDLCPU, 0, number, repeat, min_repeat_ms, 100, 0, 1, 0, "")
        return TimeEvaluator(fn, repeat)

    def stats(self) -> dict[str, Any]:
        return json.loads(self.get_function("utvm.Stats")())

    # ---- memory ----
    def alloc(self, nbytes: int, alignment: int = TENSOR_ALIGNMENT) -> int:
        h = self._syscall(c.DEV_ALLOC_DATA, c.Device(), nbytes, alignment, np.dtype("uint8"))
        return h.value

    def free_data(self, ptr: int) -> None:
        self._syscall(c.DEV_FREE_DATA, c.Device(), c.Handle(ptr))

    def empty(self, shape: Sequence[int], dtype: Any = "float32") -> RemoteTensor:
        ref = c.TensorRef(0, tuple(int(d) for d in shape), np.dtype(dtype))
        h = self._syscall(c.DEV_ALLOC_DATA_WITH_SCOPE, ref, None)
        return RemoteTensor(self, h.value, ref.shape, ref.dtype)

    def tensor(self, array: np.ndarray) -> RemoteTensor:
        array = np.asarray(array, order="C")
        return self.empty(array.shape, array.dtype).copyfrom(array)

    def _block(self, t: RemoteTensor) -> int:
        """Data bytes per copy packet: the max packet less code, tensor and length fields."""
        overhead = 4 + len(c.encode_tensor(t.rpc_value())) + 8
        return max(1, self.max_packet_size - overhead)

    def copy_to(self, t: RemoteTensor, raw: bytes, byte_offset: int = 0) -> None:
        view, block = memoryview(raw), self._block(t)
        for start in range(0, max(len(raw), 1), block):
            chunk = view[start : start + block]
            body = c.encode_tensor(t.rpc_value(byte_offset + start)) + struct.pack("<Q", len(chunk))
            self._request(c.COPY_TO_REMOTE, body + bytes(chunk), "CopyToRemote")

    def copy_from(self, t: RemoteTensor, byte_offset: int = 0, nbytes: int | None = None) -> bytes:
        total = t.nbytes - byte_offset if nbytes is None else nbytes
        out, block = bytearray(), self._block(t)
        for start in range(0, total, block):
            n = min(block, total - start)
            body = c.encode_tensor(t.rpc_value(byte_offset + start)) + struct.pack("<Q", n)
            reply = self._request(c.COPY_FROM_REMOTE, body, "CopyFromRemote")
            out += reply.take(n)
        return bytes(out)
