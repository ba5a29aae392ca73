"""utvm's own ABI structs have exactly the layout of TVM-FFI's headers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import resources
from tests.conftest import require_tvm

FIELDS = {
    "TVMFFIAny": ["type_index", "zero_padding", "small_str_len", "v_int64", "v_float64", "v_ptr",
                  "v_c_str", "v_obj", "v_dtype", "v_device", "v_bytes", "v_uint64"],
    "TVMFFIObject": ["combined_ref_count", "type_index", "deleter"],
    "TVMFFIByteArray": ["data", "size"],
    "DLTensor": ["data", "device", "ndim", "dtype", "shape", "strides", "byte_offset"],
    "DLDevice": ["device_type", "device_id"],
    "DLDataType": ["code", "bits", "lanes"],
}
CONSTANTS = ["kTVMFFINone", "kTVMFFIInt", "kTVMFFIBool", "kTVMFFIFloat", "kTVMFFIOpaquePtr",
             "kTVMFFIDataType", "kTVMFFIDevice", "kTVMFFIDLTensorPtr", "kTVMFFIRawStr",
             "kTVMFFIByteArrayPtr", "kTVMFFISmallStr", "kTVMFFISmallBytes", "kTVMFFIStr",
             "kTVMFFIBytes", "kTVMFFIFunction", "kTVMFFITensor", "kTVMFFIModule", "kDLCPU",
             "kDLInt", "kDLUInt", "kDLFloat", "kDLBool"]


def layout_program() -> str:
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "tvm/ffi/c_api.h"', "int main(void) {"]
    for struct, fields in FIELDS.items():
        lines.append(f'  printf("{struct} size=%zu align=%zu\\n", sizeof({struct}), _Alignof({struct}));')
        for f in fields:
            lines.append(f'  printf("{struct}.{f} off=%zu size=%zu\\n", offsetof({struct}, {f}),'
                         f" sizeof((({struct}*)0)->{f}));")
    lines += [f'  printf("{k}=%d\\n", (int){k});' for k in CONSTANTS]
    lines += ["  return 0;", "}"]
    return "\n".join(lines)


def layout(tmp: Path, includes: list[Path], name: str) -> str:
    src = tmp / f"{name}.c"
    src.write_text(layout_program())
    exe = tmp / name
    subprocess.run(["gcc", "-std=gnu11", *[f"-I{i}" for i in includes], str(src), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout


def test_layout_matches_tvm_ffi(tmp_path: Path) -> None:
    require_tvm()
    import tvm_ffi

    ffi_root = Path(tvm_ffi.__file__).parent
    theirs = layout(tmp_path, [ffi_root / "include"], "theirs")
    ours = layout(tmp_path, [resources.crt() / "include"], "ours")
    assert ours == theirs
    assert "TVMFFIAny size=16" in ours
