"""The int8 dot-product micro-kernels (crt/include/utvm/dsp.h) and the tensor intrinsics that call
them (harness.models.compile.intrin; harness.models.compile.dsp's opt-in schedule): the micro-kernels
against a naive loop on the host under ASan/UBSan and on the boards (Cortex-M3: portable path; Cortex-M4:
SMLAD), and a small int8 model whose convolutions and fully connected layer are tensorized,
bit-exact with the default schedule and with TFLite Micro on both boards, in fewer instructions
on the Cortex-M4."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from filelock import FileLock

from harness import resources
from harness.build import Manifest
from harness.device import Device
from harness.fuzz.tflite_model import editor, tflite_micro_outputs
from harness.models.deploy.graph_client import GraphModule
from harness.targets import get_target
from tests.conftest import REPO_ROOT, build_image, require_tvm
from tests.test_c_units import compile_c

TESTS = resources.crt() / "tests"
BOARDS = ["qemu-mps2-an385", "qemu-mps2-an386"]  # Cortex-M3 (no DSP), Cortex-M4 (DSP)
ROOT = REPO_ROOT / "build" / "test-dsp"
CASES, RESULTS, MAX_N = 200, 7, 40  # as crt/tests/dsp_cases.h
A_BYTES, B_BYTES = MAX_N + 4, 4 + 3 * (MAX_N + 4) + MAX_N
CORES = {"cortex-m3": False, "cortex-m4": True, "cortex-m7": True, "cortex-m33": True, "cortex-m55": True}


def test_micro_kernels_match_a_naive_loop_under_sanitizers(tmp_path: Path) -> None:
    for cc in ("gcc", "clang-14"):
        if shutil.which(cc) is None:
            continue
        exe = compile_c(tmp_path / f"dsp_{cc}", [str(TESTS / "dsp_check.c")], cc=cc, extra=(f"-I{TESTS}",))
        proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stderr == "", proc.stdout + proc.stderr
        assert "0 mismatches (portable path)" in proc.stdout, proc.stdout


@pytest.mark.parametrize("cpu", sorted(CORES))
def test_micro_kernels_build_warning_free_and_use_smlad_on_dsp_cores(cpu: str, tmp_path: Path) -> None:
    obj = tmp_path / "k.o"
    subprocess.run(["arm-none-eabi-gcc", "-std=c11", "-pedantic-errors", "-Wall", "-Wextra", "-Werror", "-O3",
                    f"-mcpu={cpu}", "-mthumb", f"-I{resources.crt() / 'include'}", "-c",
                    str(TESTS / "dsp_kernel.c"), "-o", str(obj)], check=True, capture_output=True, text=True)
    asm = subprocess.run(["arm-none-eabi-objdump", "-d", str(obj)], check=True, capture_output=True,
                         text=True).stdout
    assert ("smlad" in asm) == CORES[cpu]


def _wrap(x: np.ndarray) -> np.ndarray:
    return ((x.astype(np.int64) + 2**31) % 2**32 - 2**31).astype(np.int32)


def expected_cases(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """What crt/tests/dsp_cases.h's cases compute, in numpy."""
    out = np.zeros((CASES, RESULTS), np.int64)
    for i in range(CASES):
        n, oa, ob, stride = i % (MAX_N + 1), i % 4, (i // 4) % 4, i % (MAX_N + 1) + (i // 16) % 5
        acc = 2**31 - 1 - 3000 if i % 7 == 0 else -(2**31) + 3000 if i % 11 == 0 else (i - 100) * 1000
        x = a[oa:oa + n].astype(np.int64)
        dots = [int(x @ b[ob + r * stride:ob + r * stride + n].astype(np.int64)) for r in range(4)]
        out[i] = [acc + dots[0], acc + dots[0], acc - 1 + dots[1], *(acc + r + dots[r] for r in range(4))]
    return _wrap(out).reshape(-1)


def _bytes(rng: np.random.Generator, n: int, random: bool) -> np.ndarray:
    return rng.integers(-128, 128, n, dtype=np.int8) if random else np.full(n, -128, np.int8)


@pytest.mark.parametrize("target", ["host", *BOARDS])
def test_micro_kernels_on_the_device(target: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    with Device(build_image(target, [TESTS / "dsp_kernel.c"]), workdir=tmp_path) as client:
        run = client.system_lib()["dsp_cases"]
        for pattern in range(4):  # all -128 (the largest products), half of them, then random bytes
            a = _bytes(rng, A_BYTES, random=pattern > 1)
            b = _bytes(rng, B_BYTES, random=pattern != 1)
            with client.tensor(a) as ta, client.tensor(b) as tb, client.empty((CASES * RESULTS,), "i4") as to:
                run(ta, tb, to)
                np.testing.assert_array_equal(to.numpy(), expected_cases(a, b), err_msg=f"pattern {pattern}")


def small_model() -> bytes:
    """in (1,16,8,1) -> CONV 5x4 stride 2 SAME (one input channel) -> CONV 3x3 SAME 8->8 -> CONV 1x1
    -> RESHAPE (1,256) -> FULLY_CONNECTED 8, per-channel int8 weights, ReLU on the convolutions."""
    me, fb = editor()
    rng = np.random.default_rng(5)

    def act(name: str, shape: tuple[int, ...], scale: float, zp: int) -> Any:
        quant = me.Quantization(scale, zp)
        return me.Tensor(shape=shape, dtype=fb.TensorType.INT8, quantization=quant, name=name)

    def const(name: str, data: np.ndarray, scales: list[float]) -> Any:
        kind = fb.TensorType.INT8 if data.dtype == np.int8 else fb.TensorType.INT32
        quant = me.Quantization(scales, [0] * len(scales), axis=0)
        return me.Tensor(shape=data.shape, dtype=kind, data=data, quantization=quant, name=name)

    def layer(code: str, x: Any, x_scale: float, w_shape: tuple[int, ...], out: Any, stride: int = 1,
              padding: int = 0) -> tuple[Any, list[Any]]:
        scales = [float(s) for s in np.float32(rng.uniform(0.004, 0.02, w_shape[0]))]
        w = const(out.name + "_w", rng.integers(-127, 128, size=w_shape, dtype=np.int8), scales)
        bias = rng.integers(-3000, 3000, size=(w_shape[0],), dtype=np.int32)
        b = const(out.name + "_b", bias, [x_scale * s for s in scales])
        op = me.Operator(opcode=getattr(fb.BuiltinOperator, code), inputs=[x, w, b], outputs=[out])
        if code == "CONV_2D":
            opts = fb.Conv2DOptionsT()
            opts.padding, opts.strideW, opts.strideH = padding, stride, stride
            opts.fusedActivationFunction = 1  # RELU
            op._fb.builtinOptionsType = fb.BuiltinOptions.Conv2DOptions
            op._fb.builtinOptions = opts
        return op, [w, b]

    x, y = act("in", (1, 16, 8, 1), 0.05, 3), act("out", (1, 8), 8.0, 5)
    c1, c2 = act("c1", (1, 8, 4, 8), 0.4, -100), act("c2", (1, 8, 4, 8), 0.8, -110)
    c3, flat = act("c3", (1, 8, 4, 8), 0.6, -100), act("flat", (1, 256), 0.6, -100)
    op1, t1 = layer("CONV_2D", x, 0.05, (8, 5, 4, 1), c1, stride=2)
    op2, t2 = layer("CONV_2D", c1, 0.4, (8, 3, 3, 8), c2)
    op3, t3 = layer("CONV_2D", c2, 0.8, (8, 1, 1, 8), c3, padding=1)
    op4 = me.Operator(opcode=fb.BuiltinOperator.RESHAPE, inputs=[c3], outputs=[flat])
    op5, t5 = layer("FULLY_CONNECTED", flat, 0.6, (8, 256), y)
    sg = me.Subgraph(tensors=[x, c1, c2, c3, flat, y, *t1, *t2, *t3, *t5],
                     operators=[op1, op2, op3, op4, op5], inputs=[x], outputs=[y])
    model = me.Model(subgraphs=[sg])
    model._fb.version = 3
    return bytes(model.build())


_BUILT: dict[str, Any] = {}


def compiled(variant: str) -> Any:
    require_tvm()
    from harness.models.compile.dsp import apply_dsp
    from harness.models.compile.model import compile_model

    if variant not in _BUILT:
        _BUILT[variant] = compile_model(small_model(), scheduler=apply_dsp if variant == "dsp" else None)
    return _BUILT[variant]


def image(variant: str, target: str) -> Manifest:
    from harness.models.deploy.run import build_model_image

    out = ROOT / f"small-{variant}-{target}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        return build_model_image(compiled(variant), get_target(target), out)


def test_every_dot_product_of_the_small_model_is_tensorized() -> None:
    calls = re.findall(r"\b(utvm_dot_s8\w*)\(", compiled("dsp").kernels_c)
    assert calls == ["utvm_dot_s8_x4"] * 4, calls  # conv 5x4 (K 4x1), conv 3x3 (K 3x8), conv 1x1, FC (K 256)
    assert compiled("dsp").kernels_c.startswith('#include "utvm/dsp.h"\n')
    assert "utvm_dot_s8" not in compiled("default").kernels_c


@pytest.mark.parametrize("target", BOARDS)
def test_tensorized_kernels_bit_exact_and_fewer_instructions_with_dsp(target: str, tmp_path: Path) -> None:
    data = small_model()
    rng = np.random.default_rng(2)
    xs = [rng.integers(-128, 128, size=(1, 16, 8, 1), dtype=np.int8) for _ in range(4)]
    tgt = get_target(target)
    got: dict[str, list[np.ndarray]] = {}
    instructions: dict[str, int] = {}
    for variant in ("default", "dsp"):
        graph = compiled(variant).graph
        (tmp_path / variant).mkdir()
        with Device(image(variant, target), workdir=tmp_path / variant) as client:
            module = GraphModule(client, graph)
            got[variant] = [module(x)[0] for x in xs]
            counts = [tgt.instructions(t) or 0 for t in module.time_run(repeat=3)]
        instructions[variant] = int(statistics.median(counts))
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(got["dsp"][i], got["default"][i], err_msg=f"input {i}")
        np.testing.assert_array_equal(got["dsp"][i], tflite_micro_outputs(data, [x]), err_msg=f"input {i}")
    print(f"{target}: {instructions['default']} instructions per inference with the default schedule, "
          f"{instructions['dsp']} with the dot products tensorized")
    if "dsp" in tgt.features:
        assert instructions["dsp"] < 0.8 * instructions["default"], instructions


def test_tensorize_dot_after_the_default_schedules() -> None:
    """tensorize_dot on the default schedules' accumulation blocks: the 1x1 convolution and the fully
    connected layer fit; a padded convolution (padding inlined: a bounds test in every tap) does not,
    and keeps its schedule; several outputs per call need the output loop to hold only the
    accumulation (apply_dsp's schedule), not the default's."""
    tvm = require_tvm()
    from harness.models.compile.intrin import tensorize_dot
    from harness.models.compile.model import load, lower
    from harness.models.compile.schedule import DEFAULT_SCHEDULES
    from harness.models.int8.attrs import OP_ATTR

    mod, entry = load(small_model())
    fits: dict[str, tuple[bool, bool]] = {}
    for gv, func in lower(mod, entry).functions.items():
        op = str(func.attrs[OP_ATTR]) if getattr(func, "attrs", None) and OP_ATTR in func.attrs else ""
        if op not in ("conv2d", "fully_connected"):
            continue
        sch = tvm.s_tir.Schedule(func)
        DEFAULT_SCHEDULES[op](sch)
        before = sch.mod.script()
        four = tensorize_dot(sch, sch.get_sblock("acc_update"), outputs=4)
        one = tensorize_dot(sch, sch.get_sblock("acc_update"))
        fits[gv.name_hint] = (four, one)
        assert one or sch.mod.script() == before
    assert fits == {"conv2d_0": (False, False), "conv2d_1": (False, False), "conv2d_2": (False, True),
                    "fully_connected_4": (False, True)}


def test_packaged_tensorized_model_runs_standalone_on_cortex_m4(tmp_path: Path) -> None:
    """The library of `utvm package` with the tensorized kernels carries utvm/dsp.h and builds
    on its own in firmware; its outputs match TFLite Micro."""
    require_tvm()
    from harness.models.compile.dsp import apply_dsp
    from harness.models.deploy.package import package
    from harness.models.deploy.run import load_inputs
    from harness.models.deploy.standalone import build_standalone, run_standalone

    model = tmp_path / "small.tflite"
    model.write_bytes(small_model())
    pkg = package(model, tmp_path / "pkg", name="small", scheduler=apply_dsp)
    assert (pkg.include / "utvm" / "dsp.h").is_file()
    inputs = load_inputs(pkg.graph, None, seed=4)
    elf = build_standalone(pkg, "qemu-mps2-an386", inputs, tmp_path / "fw")
    (raw,) = run_standalone(elf, "qemu-mps2-an386")
    expected = tflite_micro_outputs(small_model(), inputs)
    np.testing.assert_array_equal(np.frombuffer(raw, np.int8).reshape(expected.shape), expected)
