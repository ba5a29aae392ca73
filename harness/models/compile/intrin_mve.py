"""TIR tensor intrinsics for cores with Helium (target feature "mve": Cortex-M55, M85), implemented
by the Helium micro-kernels of crt/include/utvm/dsp_mve.h (which utvm/dsp.h selects when the
compiler enables MVE; elsewhere the same calls take the SMLAD or portable paths, same results).

- Dot products, as harness.models.compile.intrin's (same descriptions, same C calls utvm_dot_s8,
  utvm_dot_s8_x2, utvm_dot_s8_x4) under their own names, with the reduction lengths Helium favours
  pre-registered (K = 16, 32, 64: whole VMLADAVA steps, no predicated tail):

      utvm_mve_dot_s8_k{K}, utvm_mve_dot_s8_x{M}_k{K}, utvm_mve_dot_s8_x{M}_k{K}_w4

- Depthwise tile: C[c] += int32(A[y, x, c]) * int32(B[y, x, c]) for c < CH, y < KH, x < KW, A an
  NHWC input window (rows and columns any stride apart, channels contiguous), B the weights
  [KH, KW, CH] (same), C contiguous: utvm_dw_mac_s8, 16 channels per vector per tap.

      utvm_mve_dw_s8_c{CH}_k{KH}x{KW}

The generated C must include "utvm/dsp.h": harness.models.compile.intrin.with_header does it for these
calls too.
Registering is explicit (register_mve_intrinsics, or a name function on first use); nothing here
schedules a kernel yet: harness.models.compile.dsp's schedules use harness.models.compile.intrin's names.
"""

from __future__ import annotations

import tvm
from tvm.s_tir import TensorIntrin

from harness.models.compile import intrin

FEATURE = "mve"
PREFIX = "utvm_mve_"
DW_EXTERN = "utvm_dw_mac_s8"
PREREGISTERED_K = (16, 32, 64)


def applies(features: tuple[str, ...] | list[str] | set[str]) -> bool:
    """Whether a target with these features (harness.targets: Target.features) runs the Helium
    kernels behind these intrinsics."""
    return FEATURE in features


def dot_name(inner: tuple[int, ...], outputs: int = 1, rank: int = 2) -> str:
    """The Helium name of harness.models.compile.intrin.intrin_name(inner, outputs, rank), registered on
    first use with the same description and implementation."""
    base = intrin.intrin_name(inner, outputs, rank)  # validates and registers the generic one
    name = PREFIX + base.removeprefix("utvm_")
    if TensorIntrin.get(name, allow_missing=True) is None:
        generic = TensorIntrin.get(base)
        TensorIntrin.register(name, generic.desc, generic.impl)
    return name


def dw_name(channels: int, kh: int, kw: int) -> str:
    """The depthwise tile intrinsic over `channels` channels and a kh x kw window, registered on
    first use."""
    if min(channels, kh, kw) < 1:
        raise ValueError(f"no depthwise intrinsic for {channels} channels over {kh}x{kw} taps")
    name = f"{PREFIX}dw_s8_c{channels}_k{kh}x{kw}"
    if TensorIntrin.get(name, allow_missing=True) is None:
        desc, impl = (tvm.script.from_source(text) for text in _dw_scripts(channels, kh, kw))
        TensorIntrin.register(name, desc, impl)
    return name


def _dw_scripts(ch: int, kh: int, kw: int) -> tuple[str, str]:
    """TVMScript of the depthwise tile's description and implementation (4-D buffers, as the NHWC
    tensors and [1, KH, KW, CH] weights they match)."""
    strides = "[T.int32(), T.int32(), T.int32(), 1]"
    head = f"""
@T.prim_func(s_tir=True)
def func(a: T.handle, b: T.handle, c: T.handle):
    A = T.match_buffer(a, (1, {kh}, {kw}, {ch}), "int8", offset_factor=1, strides={strides})
    B = T.match_buffer(b, (1, {kh}, {kw}, {ch}), "int8", offset_factor=1, strides={strides})
    C = T.match_buffer(c, (1, 1, 1, {ch}), "int32", offset_factor=1, strides={strides})
    with T.sblock("root"):
        T.reads(C[0, 0, 0, 0:{ch}], A[0, 0:{kh}, 0:{kw}, 0:{ch}], B[0, 0:{kh}, 0:{kw}, 0:{ch}])
        T.writes(C[0, 0, 0, 0:{ch}])
"""
    desc = head + f"""\
        for c, y, x in T.grid({ch}, {kh}, {kw}):
            with T.sblock("update"):
                vc, vy, vx = T.axis.remap("SRR", [c, y, x])
                C[0, 0, 0, vc] = C[0, 0, 0, vc] + (
                    T.Cast("int32", A[0, vy, vx, vc]) * T.Cast("int32", B[0, vy, vx, vc]))
"""
    # utvm_dw_mac_s8(in, in_col, in_row, w, w_col, w_row, kh, kw, channels, acc)
    call = (f'T.evaluate(T.call_extern("int32", "{DW_EXTERN}", A.access_ptr("r"), A.strides[2], '
            f'A.strides[1], B.access_ptr("r"), B.strides[2], B.strides[1], {kh}, {kw}, {ch}, '
            'C.access_ptr("rw")))')
    return desc, head + "        " + call + "\n"


def register_mve_intrinsics() -> list[str]:
    """The dot-product intrinsics for K = 16, 32, 64 (1, 2 and 4 outputs, both weight layouts)."""
    return [dot_name((k,), m, rank) for k in PREREGISTERED_K for m in intrin.OUTPUTS
            for rank in ((2, 4) if m > 1 else (2,))]
