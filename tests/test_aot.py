"""The AOT executor (`--executor aot`): the graph compiled ahead of time into a call table of direct
kernel calls (harness/models/compile/aot.py, crt/src/aot/), run over RPC (one function of the system library)
on the host and a QEMU board, against TVM, TFLite Micro and the graph executor's image of the same model."""

from __future__ import annotations

import copy
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile
from filelock import FileLock

from harness.build import Manifest
from harness.device import Device
from harness.errors import RemoteError, RemoteValueError, UtvmError
from harness.models.compile import aot
from harness.models.compile.graph import Node
from harness.models.compile.model import Compiled, compile_model, reference
from harness.models.deploy import overhead
from harness.models.deploy import reference as references
from harness.models.deploy.aot_client import AotModule
from harness.models.deploy.check import seeded_agreement
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image, compile_for, kernel_sizes, load_inputs
from harness.targets import get_target
from tests import onnx_models
from tests.conftest import REPO_ROOT, kernel_bodies, mlperf_tiny_model, require_tvm, shared_kernels_differ
from tests.models import MODELS

ROOT = REPO_ROOT / "build" / "test-aot"
BOARD = "qemu-mps2-an385-semihosting"
_COMPILED: dict[str, tuple[Compiled, list[np.ndarray]]] = {}


def compiled(name: str) -> tuple[Compiled, list[np.ndarray]]:
    """A model of tests/models.py (with its inputs), or an MLPerf Tiny model (no inputs)."""
    require_tvm()
    if name not in _COMPILED:
        if name in MODELS:
            mod, inputs = MODELS[name]()
            _COMPILED[name] = compile_model(mod), inputs
        else:
            _COMPILED[name] = compile_for(mlperf_tiny_model(name), get_target("host"))[0], []
    return _COMPILED[name]


def image(name: str, target: str, executor: str) -> Manifest:
    out = ROOT / f"{name}-{target}-{executor}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):  # xdist workers share the images
        return build_model_image(compiled(name)[0], get_target(target), out, executor)


def symbols(elf: str) -> set[str]:
    with open(elf, "rb") as f:
        return {s.name for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}


def test_emitted_source_is_direct_calls_with_plain_pointers_and_no_names() -> None:
    c, _ = compiled("cnn")
    source = aot.to_c(c.graph, c.unpacked().arity)
    for i, n in enumerate(c.graph.nodes):
        assert f"UTVM_AOT_CALL(clock, {i}, utvm_k_{n.func}(" in source  # a direct call, in order
        assert f'"{n.func}"' not in source and f"__tvm_ffi_{n.func}" not in source  # no names, no packed ABI
    assert "DLTensor" not in source and "utvm_aot_tensor_t" not in source
    assert "utvm_aot_run(&utvm_aot_image_model, inputs, outputs, workspace, NULL)" in source
    assert "__tvm_ffi_utvm_aot_image_run(" in source  # the image's one function over RPC
    assert "utvm_aot_image_run" not in aot.to_c(c.graph, c.unpacked().arity, name="net", rpc=False)


def test_graph_and_aot_share_each_kernels_loops() -> None:
    """Each kernel's loops exist once, in its plain function: the graph source's packed entry (the one
    tuning measures) only checks its arguments and calls it, and the AOT source is the same plain
    functions, the very same C."""
    c, _ = compiled("kws01")
    unpacked = c.unpacked()
    assert sorted(kernel_bodies(unpacked.source, "utvm_k_")) == sorted({n.func for n in c.graph.nodes})
    assert "TVMFFIErrorSetRaised" not in unpacked.source and not kernel_bodies(unpacked.source, "__tvm_ffi_")
    assert shared_kernels_differ(c.kernels_c, unpacked.source) == []
    for name in kernel_bodies(unpacked.source, "utvm_k_"):  # GCC compiles each regardless of its callers
        assert f"UTVM_KERNEL_ENTRY int32_t utvm_k_{name}(void* utvm_args);" in c.kernels_c
    for n in c.graph.nodes:
        assert unpacked.arity[n.func] == len(n.args)


def test_kernels_of_different_modules_emit_at_once_on_several_threads() -> None:
    """The split emission registers its TIR pipelines for each module's kernels: the tuner's builder
    threads emitting different modules at once each get their own kernels (they raced: "kernel
    ref_...: not among the kernels to unpack")."""
    from concurrent.futures import ThreadPoolExecutor

    from harness.models.compile.unpacked import kernels_c

    modules = [compiled(name)[0].kernels for name in ("cnn", "mlp")]
    with ThreadPoolExecutor(4) as pool:
        sources = list(pool.map(kernels_c, modules * 4))
    for module, source in zip(modules * 4, sources, strict=True):
        assert sorted(kernel_bodies(source, "utvm_k_")) == sorted(gv.name_hint for gv in module.functions)


def test_graphs_the_executor_cannot_run_are_errors() -> None:
    c, _ = compiled("mlp")
    wide = copy.deepcopy(c.graph)
    wide.nodes.append(Node("many", [wide.inputs[0]] * 17))
    with pytest.raises(UtvmError, match="at most 16 arguments per call; many has more"):
        aot.to_c(wide)
    unplanned = copy.deepcopy(c.graph)
    unplanned.tensors[unplanned.inputs[0]].offset = -1
    with pytest.raises(UtvmError, match="plan"):
        aot.to_c(unplanned)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_aot_on_the_host_matches_tvm(model: str, tmp_path: Path) -> None:
    c, inputs = compiled(model)
    expected = reference(c, inputs)
    with Device(image(model, "host", "aot"), workdir=tmp_path) as client:
        module = AotModule(client, c.graph)
        assert module.num_inputs == len(inputs) and module.num_outputs == len(expected)
        for _ in range(2):  # a second run on the same module
            got = module(*inputs)
            for g, e in zip(got, expected, strict=True):
                assert g.shape == e.shape and g.dtype == e.dtype
                np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
        nodes = module.profile()
        assert [n for n, _ in nodes] == [n.func for n in c.graph.nodes] and all(t > 0 for _, t in nodes)
        stats = module.stats()
        assert stats == {"runs": 3, "workspace_bytes": c.graph.arena_bytes, "calls": len(c.graph.nodes)}


def test_aot_module_by_name_and_its_errors(tmp_path: Path) -> None:
    c, inputs = compiled("two_outputs")
    expected = reference(c, inputs)
    with Device(image("two_outputs", "host", "aot"), workdir=tmp_path) as client:
        module = AotModule(client, c.graph)
        module.set_input("y", inputs[1])
        module.set_input("x", inputs[0])
        module.run()
        for i, e in enumerate(expected):
            np.testing.assert_allclose(module.get_output(i), e, rtol=1e-5, atol=1e-6)
        assert module.get_input_index("y") == 1
        with pytest.raises(KeyError, match="no tensor named 'z'"):
            module.set_input("z", inputs[0])
        with pytest.raises(IndexError, match="no output 5"):
            module.get_output(5)
        with client.empty((3,), "float32") as wrong:
            with pytest.raises(RemoteValueError, match="size or dtype does not match"):
                module.function(wrong, *module.io[1:], module.workspace)
            with pytest.raises(RemoteError, match="expected the inputs, the outputs, the workspace"):
                module.function(*module.io)
            with pytest.raises(RemoteValueError, match="workspace is smaller than the model's"):
                module.function(*module.io, wrong)
            with pytest.raises(RemoteValueError, match="times are not float64, one per call"):
                module.function(*module.io, module.workspace, wrong)


def plain_code(manifest: Manifest) -> dict[str, tuple[bytes, list[tuple[int, int, str]]]]:
    """Each plain kernel function's machine code in the image's kernels object (-ffunction-sections: a
    section each), with its relocations (offset, type, symbol)."""
    (obj,) = Path(manifest.artifact).parent.glob("*_kernels.o")
    out = {}
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        table = elf.get_section_by_name(".symtab")
        for sec in elf.iter_sections():
            if sec.name.startswith(".text.utvm_k_"):
                rel = elf.get_section_by_name(f".rel{sec.name}")  # Arm: REL
                relocs = [(r["r_offset"], r["r_info_type"], table.get_symbol(r["r_info_sym"]).name)
                          for r in (rel.iter_relocations() if rel else [])]
                out[sec.name.removeprefix(".text.")] = (sec.data(), relocs)
    return out


def _measure(module: GraphModule | AotModule, xs: list[np.ndarray]) -> dict[str, float]:
    for i, x in enumerate(xs):
        module.set_input(i, x)
    run = statistics.median(module.time_run(repeat=3))
    return {"run": run, "profile": sum(t for _, t in module.profile())}


@pytest.mark.parametrize("model, board", [("kws01", BOARD), ("kws01", "qemu-mps2-an386-semihosting"),
                                          ("ad01", BOARD), ("ad01", "qemu-mps2-an386-semihosting")])
def test_mlperf_tiny_aot_on_a_board_beside_the_graph_executor(model: str, board: str, tmp_path: Path) -> None:
    """Issue 21's criterion: bit-exact with TFLite Micro; no graph executor, no graph table and no packed
    kernel in the image; its flash less than the graph image's by at least the graph executor and its
    table; the kernels' very machine code of the graph image; no more instructions per inference
    (-icount: exact), and less than the graph executor's run less its kernels (timed directly, through
    their packed entries, on the graph image)."""
    c, _ = compiled(model)
    ref = references.tflite_micro(mlperf_tiny_model(model))
    target = get_target(board)
    xs = load_inputs(c.graph, None)
    figures = {}
    for executor, cls in (("graph", GraphModule), ("aot", AotModule)):
        manifest = image(model, board, executor)
        (tmp_path / executor).mkdir()
        with Device(manifest, workdir=tmp_path / executor) as client:
            module = cls(client, c.graph)
            if executor == "aot":
                agreement = seeded_agreement(module, ref, 5)  # type: ignore[arg-type]
                assert agreement.max_diff_lsb == 0 and agreement.top1_agree == 5, agreement
            figures[executor] = {**_measure(module, xs), "flash": manifest.footprint["flash"],
                                 "bytes": manifest.size["text"] + manifest.size["data"],
                                 "elf": manifest.artifact, "code": plain_code(manifest)}
            if executor == "graph":
                kernels = sum(overhead.kernel_seconds(client, module.graph, xs))
    g, a = figures["graph"], figures["aot"]
    assert "graph executor" not in a["flash"] and "graph table" not in a["flash"], a["flash"]
    names = symbols(a["elf"])
    assert not {"utvm_graph_init", "utvm_graph_run", "utvm_model_graph"} & names
    assert not {s for s in names if s.startswith("__tvm_ffi_") and s != "__tvm_ffi_utvm_aot_image_run"}, names
    assert g["bytes"] - a["bytes"] >= g["flash"]["graph executor"] + g["flash"]["graph table"], (g, a)
    assert a["flash"]["kernels"] < g["flash"]["kernels"]  # the same loops, without the argument decoding
    assert sorted(a["code"]) == sorted(f"utvm_k_{k}" for k in {n.func for n in c.graph.nodes})
    assert a["code"] == g["code"]  # each kernel's loops: the same bytes and relocations in both images
    funcs = sorted({n.func for n in c.graph.nodes})  # a kernel's code: its loops (and the graph's entry)
    sizes = {e: kernel_sizes(figures[e]["elf"], funcs) for e in ("graph", "aot")}
    assert all(sizes["graph"][k] > sizes["aot"][k] > 0 for k in funcs), sizes
    count = target.instructions
    assert count(a["run"]) <= count(g["run"]), (count(a["run"]), count(g["run"]))
    assert count(a["run"]) - count(kernels) < count(g["run"]) - count(kernels)
    assert a["run"] <= a["profile"] <= a["run"] * 1.001  # the run, plus a counter read after each call


def test_run_model_executor_flag(tmp_path: Path) -> None:
    require_tvm()
    model = onnx_models.mlp(tmp_path / "mlp.onnx")
    cmd = [sys.executable, "-m", "harness.cli", "run-model", str(model), "--target", "host", "--repeat", "3",
           "--json", "--overhead", "--out", str(tmp_path / "b")]
    proc = subprocess.run([*cmd, "--executor", "aot"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["executor"] == "aot" and report["outputs"][0]["matches_reference"]
    assert report["code_size"]["aot_executor"] > 0
    assert report["executor_overhead"]["kernels_ms"] > 0
    bad = subprocess.run([*cmd, "--executor", "vm"], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=60, check=False)
    assert bad.returncode == 2 and re.search(r"invalid choice: 'vm'", bad.stderr), bad.stderr


def test_run_model_prints_each_calls_time_with_aot(tmp_path: Path) -> None:
    """run-model's per-node profile with AOT (a timer read after each call, only in the profiled run), end
    to end from the CLI on a board: every call, in order, and together the whole run."""
    require_tvm()
    model = onnx_models.mlp(tmp_path / "mlp.onnx")
    board = "qemu-mps2-an386-semihosting"
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run-model", str(model), "--target", board,
                           "--executor", "aot", "--repeat", "3", "--out", str(tmp_path / "b")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    calls = re.findall(r"^    (\w+) +([\d.]+) ms +\d+ B of code$", proc.stdout, re.M)
    graph = compile_for(model, get_target(board))[0].graph
    assert [k for k, _ in calls] == [n.func for n in graph.nodes], proc.stdout
    run = float(re.search(r"time on device: median ([\d.]+) ms", proc.stdout).group(1))  # type: ignore[union-attr]
    total = sum(float(t) for _, t in calls)
    # the run, plus a counter read after each call (a few us on this small model) and rounding
    assert all(float(t) > 0 for _, t in calls) and run <= total <= run * 1.01 + 0.01, (run, total)


MAIN_C = """#include <stdio.h>
#include "{name}.h"
{arrays}
static uint8_t workspace[{up}_WORKSPACE_BYTES] __attribute__((aligned(64)));
static uint8_t scratch[{up}_KERNEL_WORKSPACE_BYTES];
static utvm_std_allocator_t kernels;

int main(void) {{
  const void* in[] = {{{ins}}};
  void* out[] = {{{outs}}};
  if (utvm_aot_init(&kernels, scratch, sizeof scratch) != UTVM_OK) return 1;
  if ({name}_run(in, out, workspace) != UTVM_OK) return 2;
  for (unsigned i = 0; i < sizeof(y0); ++i) printf("%02x", ((const unsigned char*)y0)[i]);
  return 0;
}}
"""


def test_package_aot_links_into_a_users_main_without_the_graph_executor(tmp_path: Path) -> None:
    """`utvm package --executor aot`: a library whose <name>_run a plain main.c calls (the README's example),
    inputs and outputs in the caller's buffers; the outputs are TVM's."""
    from harness.models.deploy.aot_package import package_aot

    c, inputs = compiled("mlp")
    mod, _ = MODELS["mlp"]()
    pkg = package_aot(mod, tmp_path / "pkg", name="net")
    assert not list((pkg.out / "src").rglob("graph*.c")) and not (pkg.include / "utvm" / "graph.h").exists()
    x = np.ascontiguousarray(inputs[0], dtype="float32")
    expected = reference(c, inputs)[0]
    arrays = (f"static const float x0[{x.size}] = {{{', '.join(repr(float(v)) for v in x.flat)}}};\n"
              f"static float y0[{expected.size}];")
    main = tmp_path / "main.c"
    main.write_text(MAIN_C.format(name="net", up="NET", arrays=arrays, ins="x0", outs="y0"))
    srcs = [*map(str, pkg.sources), str(main)]
    flags = ["-std=c11", "-Os", "-Wall", "-Wextra", "-Werror", f"-I{pkg.include}"]
    subprocess.run(["gcc", *flags, *srcs, "-o", str(tmp_path / "a.out"), "-lm"], check=True,
                   capture_output=True)
    run = subprocess.run([str(tmp_path / "a.out")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run
    got = np.frombuffer(bytes.fromhex(run.stdout), dtype=expected.dtype).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    arm = tmp_path / "arm"
    arm.mkdir()
    subprocess.run(["arm-none-eabi-gcc", *flags, "-mcpu=cortex-m4", "-mthumb", "-c", *srcs], cwd=arm,
                   check=True, capture_output=True)
