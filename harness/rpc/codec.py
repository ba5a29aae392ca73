"""Encoding and decoding of TVM RPC 0.8.0 packets and packed argument sequences."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.errors import ProtocolError

# RPC codes
SHUTDOWN, INIT_SERVER, CALL_FUNC, RETURN, EXCEPTION = 1, 2, 3, 4, 5
COPY_FROM_REMOTE, COPY_TO_REMOTE, COPY_ACK = 6, 7, 8
GET_GLOBAL_FUNC, FREE_HANDLE, DEV_SET_DEVICE, DEV_GET_ATTR = 9, 10, 11, 12
DEV_ALLOC_DATA, DEV_FREE_DATA, DEV_STREAM_SYNC, COPY_AMONG_REMOTE = 13, 14, 15, 16
DEV_ALLOC_DATA_WITH_SCOPE = 17
PROTOCOL_VERSION = b"0.8.0"

# TVM-FFI type indices
T_NONE, T_INT, T_BOOL, T_FLOAT, T_PTR, T_DTYPE, T_DEVICE = 0, 1, 2, 3, 4, 5, 6
T_DLTENSOR, T_RAWSTR, T_BYTEARRAY = 7, 8, 9
T_STR, T_BYTES, T_FUNCTION, T_MODULE = 65, 66, 68, 73

KDLCPU = 1


@dataclass(frozen=True)
class Handle:
    """An opaque device pointer (function, module or data)."""

    value: int
    type_index: int = T_PTR


@dataclass(frozen=True)
class Device:
    device_type: int = KDLCPU
    device_id: int = 0


@dataclass(frozen=True)
class TensorRef:
    """Wire form of a DLTensor: device data pointer, shape, dtype, byte offset."""

    data: int
    shape: tuple[int, ...]
    dtype: np.dtype
    byte_offset: int = 0
    device: Device = Device()


_DTYPE_CODES = {"i": 0, "u": 1, "f": 2, "b": 6}
_CODE_KINDS = {v: k for k, v in _DTYPE_CODES.items()}


def dtype_to_dl(dtype: np.dtype) -> bytes:
    dtype = np.dtype(dtype)
    if dtype.kind not in _DTYPE_CODES:
        raise TypeError(f"dtype {dtype} cannot be sent to the device")
    return struct.pack("<BBH", _DTYPE_CODES[dtype.kind], dtype.itemsize * 8, 1)


def dl_to_dtype(raw: bytes) -> np.dtype:
    code, bits, lanes = struct.unpack("<BBH", raw)
    if code not in _CODE_KINDS or lanes != 1:
        raise ProtocolError(f"unsupported dtype code={code} bits={bits} lanes={lanes}")
    return np.dtype(f"{_CODE_KINDS[code]}{bits // 8}") if code != 6 else np.dtype(bool)


def encode_tensor(t: TensorRef) -> bytes:
    return (
        struct.pack("<Qiii", t.data, t.device.device_type, t.device.device_id, len(t.shape))
        + dtype_to_dl(t.dtype)
        + struct.pack(f"<{len(t.shape)}q", *t.shape)
        + struct.pack("<Q", t.byte_offset)
    )


def encode_value(v: Any) -> bytes:
    """One argument: i32 type index + payload."""
    if v is None:
        return struct.pack("<i", T_NONE)
    if isinstance(v, (bool, np.bool_)):
        return struct.pack("<iq", T_BOOL, int(v))
    if isinstance(v, (int, np.integer)):
        if not -(2**63) <= int(v) < 2**63:
            raise OverflowError(f"{v} does not fit the device's int64")
        return struct.pack("<iq", T_INT, int(v))
    if isinstance(v, (float, np.floating)):
        return struct.pack("<id", T_FLOAT, float(v))
    if isinstance(v, str):
        if "\0" in v:  # the ABI passes strings as C strings: the device would see them cut
            raise ValueError("a string with a NUL character cannot be passed to the device; pass bytes")
        raw = v.encode()
        return struct.pack("<iQ", T_RAWSTR, len(raw)) + raw
    if isinstance(v, (bytes, bytearray, memoryview)):
        raw = bytes(v)
        return struct.pack("<iQ", T_BYTEARRAY, len(raw)) + raw
    if isinstance(v, Handle):
        return struct.pack("<iQ", v.type_index, v.value)
    if isinstance(v, Device):
        return struct.pack("<iii", T_DEVICE, v.device_type, v.device_id)
    if isinstance(v, np.dtype):
        return struct.pack("<i", T_DTYPE) + dtype_to_dl(v) + b"\0" * 4
    if isinstance(v, TensorRef):
        return struct.pack("<i", T_DLTENSOR) + encode_tensor(v)
    ref = getattr(v, "rpc_value", None)
    if ref is not None:
        return encode_value(ref())
    raise TypeError(f"cannot pass {type(v).__name__} to the device")


def encode_args(args: tuple[Any, ...] | list[Any]) -> bytes:
    return struct.pack("<i", len(args)) + b"".join(encode_value(a) for a in args)


def packet(code: int, body: bytes) -> bytes:
    return struct.pack("<Qi", 4 + len(body), code) + body


class Reader:
    """Bounds-checked reader over a received packet body."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"truncated reply: wanted {n} bytes at offset {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def value(self) -> Any:
        (t,) = self.unpack("<i")
        if t == T_NONE:
            return None
        if t == T_INT:
            return self.unpack("<q")[0]
        if t == T_BOOL:
            return bool(self.unpack("<q")[0])
        if t == T_FLOAT:
            return self.unpack("<d")[0]
        if t == T_PTR:
            return Handle(self.unpack("<Q")[0])
        if t == T_DTYPE:
            raw = self.take(8)
            return dl_to_dtype(raw[:4])
        if t == T_DEVICE:
            return Device(*self.unpack("<ii"))
        if t in (T_RAWSTR, T_BYTEARRAY):
            (n,) = self.unpack("<Q")
            raw = self.take(n)
            return raw.decode(errors="replace") if t == T_RAWSTR else raw
        raise ProtocolError(f"device returned a value of unsupported type index {t}")

    def values(self) -> list[Any]:
        (n,) = self.unpack("<i")
        if n < 0 or n > 64:
            raise ProtocolError(f"implausible value count {n} in reply")
        return [self.value() for _ in range(n)]
