"""`utvm package --mlperf-tiny`: a firmware image that speaks MLPerf Tiny's device protocol
(mlcommons/tiny, benchmark/api) over the board's UART, so the benchmark's own runner can
drive a utvm-compiled model.

The image is the packaged model (harness.models.deploy.package, or with the AOT executor
harness.models.deploy.aot_package: <name>_run, no graph executor), the protocol parser of
crt/mlperf/mlperf.c, the target port's platform functions (harness.models.deploy.standalone's
build_firmware) and a generated main that carries what the parser needs to know about the
model: its input size, its outputs (count, dtype, scale and zero point) and its name.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness import resources
from harness.build import template
from harness.errors import BuildError, UtvmError
from harness.models.compile.graph import DEFAULT_PARAM_SECTION, Graph
from harness.models.deploy.aot_package import package_aot
from harness.models.deploy.package import Package, package
from harness.models.deploy.standalone import build_firmware
from harness.models.frontends import formats
from harness.targets import get_target

MODELS = ("kws01", "vww01", "ic01", "ad01")  # the names the runner's tests.yaml knows
PIXEL_MODELS = ("ic01", "vww01")  # the runner sends uint8 pixels; an int8 model gets them less 128
BAUD = 115200
_DTYPES = {"float32": "F32", "int8": "I8", "uint8": "U8", "int16": "I16", "uint16": "U16", "int32": "I32"}
STRICT = ("-Wall", "-Wextra", "-Werror")


@dataclass(frozen=True)
class Output:
    count: int
    dtype: str  # numpy name
    scale: float | None  # quantized integer output: real = scale * (q - zero_point)
    zero_point: int = 0


@dataclass
class MlperfFirmware:
    package: Package
    target: str
    model_name: str  # m-model-[...]
    device_name: str  # m-name-dut-[...]
    elf: Path
    flash_images: list[Path]  # .bin and .hex beside the ELF, for a board's flashing tool
    input_bytes: int
    outputs: list[Output]
    pixel_offset: bool  # the loaded bytes are uint8 pixels, shifted to int8 on the device


def _check_label(text: str, what: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.+-]{1,40}", text):
        raise UtvmError(f"{what} {text!r}: use 1 to 40 letters, digits and _ . + -")
    return text


def output_quantization(model: Path | Any, n_outputs: int) -> list[tuple[float, int] | None]:
    """Scale and zero point of each model output, from the model file: a .tflite output tensor's
    quantization, an ONNX output made by QuantizeLinear. None where an output has none."""
    none: list[tuple[float, int] | None] = [None] * n_outputs
    if not isinstance(model, str | Path):
        return none
    fmt = formats.detect(Path(model))
    found = _tflite_quantization(Path(model)) if fmt == formats.TFLITE else _onnx_quantization(Path(model))
    return found if len(found) == n_outputs else none


def _tflite_quantization(path: Path) -> list[tuple[float, int] | None]:
    import tflite

    sg = tflite.Model.GetRootAsModel(path.read_bytes(), 0).Subgraphs(0)
    out: list[tuple[float, int] | None] = []
    for i in range(sg.OutputsLength()):
        q = sg.Tensors(sg.Outputs(i)).Quantization()
        scales = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else None
        if scales is None or len(scales) != 1:
            out.append(None)
            continue
        zero = q.ZeroPointAsNumpy() if q.ZeroPointLength() else [0]
        out.append((float(scales[0]), int(zero[0])))
    return out


def _onnx_quantization(path: Path) -> list[tuple[float, int] | None]:
    import onnx
    from onnx import numpy_helper

    g = onnx.load(str(path)).graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for node in g.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    producers = {o: n for n in g.node for o in n.output}
    out: list[tuple[float, int] | None] = []
    for o in g.output:
        node = producers.get(o.name)
        scale = consts.get(node.input[1]) if node is not None and node.op_type == "QuantizeLinear" else None
        if scale is None or np.size(scale) != 1:
            out.append(None)
            continue
        zero = consts.get(node.input[2], np.zeros(1)) if len(node.input) > 2 else np.zeros(1)
        out.append((float(np.ravel(scale)[0]), int(np.ravel(zero)[0])))
    return out


def describe_outputs(graph: Graph, quant: list[tuple[float, int] | None]) -> list[Output]:
    outs = []
    for tid, q in zip(graph.outputs, quant, strict=True):
        t = graph.tensors[tid]
        if t.dtype not in _DTYPES:
            raise UtvmError(f"output {t.name} is {t.dtype}; m-results can report "
                            f"{', '.join(_DTYPES)}")
        integer = np.dtype(t.dtype).kind in "iu"
        scale, zero = q if (q is not None and integer) else (None, 0)
        outs.append(Output(int(np.prod(t.shape, dtype=np.int64)), t.dtype, scale, zero))
    return outs


_C_TYPES = {"float32": "float", "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t",
            "uint16": "uint16_t", "int32": "int32_t"}


def _outputs_c(outputs: list[Output], attribute: str = "") -> tuple[str, str]:
    """The output buffers g_out_<i> and their table for m-results."""
    bufs = "\n".join(f"static {_C_TYPES[o.dtype]} g_out_{i}[{o.count}]{attribute};"
                     for i, o in enumerate(outputs))
    table = "\n".join(
        f"    {{g_out_{i}, {o.count}u, UTVM_MLPERF_{_DTYPES[o.dtype]}, {int(o.scale is not None)}, "
        f"{float(np.float32(o.scale or 0.0))!r}f, {o.zero_point}}},  /* {o.dtype}[{o.count}] */"
        for i, o in enumerate(outputs))
    return bufs, table


def main_source(pkg: Package, model_name: str, device_name: str, outputs: list[Output],
                pixel_offset: bool) -> str:
    """crt/templates/mlperf_main.c for this model: its output buffers, their table for m-results,
    the output fetches and (for pixel models) the uint8 <-> int8 shift around set_input."""
    n = pkg.name
    bufs, table = _outputs_c(outputs)
    gets = "\n".join(f"  if (st == UTVM_OK) st = {n}_get_output(&g_model, {i}, g_out_{i}, sizeof(g_out_{i}));"
                     for i in range(len(outputs)))
    shift = ("  for (size_t i = 0; i < n; ++i) g_input[i] ^= 0x80u; /* uint8 pixels <-> int8: less 128 */\n"
             if pixel_offset else "")
    return template.fill("mlperf_main.c", name=n, NAME=n.upper(), bufs=bufs, table=table, gets=gets,
                         shift=shift, device_name=device_name, model_name=model_name)


def aot_main_source(pkg: Package, model_name: str, device_name: str, outputs: list[Output],
                    pixel_offset: bool) -> str:
    """crt/templates/mlperf_aot_main.c: <name>_run on the loaded input (a pixel model's on its int8
    copy, less 128), writing the output buffers of m-results in place."""
    n, up = pkg.name, pkg.name.upper()
    bufs, table = _outputs_c(outputs, " __attribute__((aligned(64)))")
    if pixel_offset:
        bufs += f"\nstatic uint8_t g_pixels[{up}_INPUT_0_BYTES] __attribute__((aligned(64)));"
    shift = ("  for (size_t i = 0; i < sizeof(g_pixels); ++i) g_pixels[i] = g_input[i] ^ 0x80u; "
             "/* uint8 pixels -> int8: less 128 */\n" if pixel_offset else "")
    return template.fill("mlperf_aot_main.c", name=n, NAME=up, bufs=bufs, table=table, shift=shift,
                         input="g_pixels" if pixel_offset else "g_input",
                         outs=", ".join(f"g_out_{i}" for i in range(len(outputs))),
                         device_name=device_name, model_name=model_name)


# What the firmware is built from, by executor (--executor): the package and the main over its API.
FIRMWARE_PARTS: dict[str, tuple[Callable[..., Package], Callable[..., str]]] = {
    "graph": (package, main_source),
    "aot": (package_aot, aot_main_source),
}


def build_mlperf_firmware(model: Path | Any, target_name: str, out: Path, model_name: str | None = None,
                          name: str = "model", param_section: str = DEFAULT_PARAM_SECTION,
                          device_name: str | None = None, tuning: str | Path | None = None,
                          executor: str = "graph") -> MlperfFirmware:
    """Package the model in `out` and build the protocol firmware for the target in out/firmware.
    `executor`: "graph" (the package's graph executor API) or "aot" (<name>_run, no graph executor)."""
    if executor not in FIRMWARE_PARTS:
        raise UtvmError(f"unknown executor {executor!r}; expected one of {', '.join(FIRMWARE_PARTS)}")
    make_package, make_main = FIRMWARE_PARTS[executor]
    if model_name is None:
        if not isinstance(model, str | Path):
            raise UtvmError("name the model for MLPerf Tiny (--mlperf-name kws01, vww01, ic01 or ad01)")
        model_name = Path(model).stem
    model_name = _check_label(model_name, "MLPerf model name")
    target = get_target(target_name)  # an unknown target fails before the model compiles
    default_name = re.sub(r"[^A-Za-z0-9_.+-]", "+", f"utvm-{target.name}")[:40]  # '@' of a configuration
    device_name = _check_label(device_name or default_name, "device name")
    pkg = make_package(model, out, name=name, param_section=param_section, tuning=tuning, target=target.name)
    graph = pkg.graph
    if len(graph.inputs) != 1:
        raise UtvmError(f"the model has {len(graph.inputs)} inputs; MLPerf Tiny's db command loads one")
    outputs = describe_outputs(graph, output_quantization(model, len(graph.outputs)))
    pixel_offset = model_name in PIXEL_MODELS and graph.tensors[graph.inputs[0]].dtype == "int8"
    src = out / "mlperf"
    src.mkdir(parents=True, exist_ok=True)
    for header in ("mlperf.h", "mlperf_serve.h"):
        shutil.copyfile(resources.crt() / "include" / "utvm" / header, pkg.include / "utvm" / header)
    parser = []
    mlperf = resources.crt() / "mlperf"  # the protocol, and (serve/) what both mains share
    for f in [*sorted(p for p in mlperf.iterdir() if p.is_file()), *sorted((mlperf / "serve").iterdir())]:
        shutil.copyfile(f, src / f.name)
        parser += [src / f.name] if f.suffix == ".c" else []
    main = src / "mlperf_main.c"
    main.write_text(make_main(pkg, model_name, device_name, outputs, pixel_offset))
    elf = build_firmware(pkg, target_name, [*parser, main], out / "firmware", "mlperf",
                         cflags=STRICT)
    return MlperfFirmware(pkg, target_name, model_name, device_name, elf, _flash_images(target.cc, elf),
                          graph.tensors[graph.inputs[0]].nbytes, outputs, pixel_offset)


def _flash_images(cc: str, elf: Path) -> list[Path]:
    """Raw binary and Intel hex of a bare-metal image (flashing tools take one or the other)."""
    if not cc.endswith("-gcc") or "none-eabi" not in cc:
        return []
    objcopy = cc[: -len("gcc")] + "objcopy"
    if shutil.which(objcopy) is None:
        return []
    images = []
    for fmt, suffix in (("binary", ".bin"), ("ihex", ".hex")):
        image = elf.with_suffix(suffix)
        proc = subprocess.run([objcopy, "-O", fmt, str(elf), str(image)], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise BuildError(f"{objcopy} -O {fmt} failed: {proc.stderr.strip()[-300:]}")
        images.append(image)
    return images
