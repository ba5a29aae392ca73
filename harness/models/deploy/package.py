"""`utvm package`: a tested model as a standalone C library for firmware.

The library is the model's kernels and graph, the parts of crt/ a graph needs
(runtime, allocator, graph executor; no RPC) and one header `<name>.h`:

    <name>_model_t m;
    <name>_init(&m, buffer, sizeof buffer);   // or <name>_init_with(&m, data_alloc, workspace_alloc)
    <name>_set_input(&m, 0, x, sizeof x);
    <name>_run(&m);
    <name>_get_output(&m, 0, y, sizeof y);

No malloc: memory comes from the caller's buffer (<NAME>_MEMORY_BYTES of it) or
the caller's allocators. The workspace the kernels need is measured by running
the model on the host build once, with the outputs checked against TVM.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import resources
from harness.build import template
from harness.device import Device
from harness.errors import UtvmError
from harness.models.compile import records
from harness.models.compile.graph import DEFAULT_PARAM_SECTION, Graph
from harness.models.compile.model import Compiled, Scheduler, compile_model
from harness.models.deploy import reference as references
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image, load_inputs
from harness.models.frontends.loaded import read_model
from harness.targets import get_target

RUNTIME_FILES = ("src/runtime/runtime.c", "src/runtime/backend.c", "src/runtime/timer.c",
                 "src/memory/std_allocator.c", "src/graph/graph_executor.c")
HEADERS = ("dlpack/dlpack.h", "tvm/ffi/c_api.h", "tvm/ffi/extra/c_env_api.h", "tvm/runtime/c_backend_api.h",
           "tvm/runtime/base.h", "utvm/config.h", "utvm/dsp.h", "utvm/dsp_mve.h", "utvm/graph.h",
           "utvm/memory.h", "utvm/platform.h", "utvm/runtime.h", "utvm/status.h", "utvm/timer.h",
           "utvm/aot_kernel.h")
KERNEL_WARNINGS = ("-Wunused-parameter", "-Wunused-variable", "-Wunused-but-set-variable",
                   "-Wunused-function")
TABLES_SLACK = 512  # allocator headers and the executor's tables, beyond arena and workspace
WORKSPACE_SLACK = 256


@dataclass
class Package:
    name: str
    out: Path
    graph: Graph
    memory_bytes: int
    workspace_bytes: int
    budget_note: str = ""  # with tuning: its RAM budget and the kernels that fell back to fit it

    @property
    def sources(self) -> list[Path]:
        return sorted((self.out / "src").rglob("*.c"))

    @property
    def include(self) -> Path:
        return self.out / "include"


def _check_name(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise UtvmError(f"package name {name!r}: use lower-case letters, digits and _ (a C identifier)")
    return name


def measure_workspace(compiled: Compiled, workdir: Path, ref: references.Reference) -> int:
    """Run the model once on the host build; the workspace high water is what kernels need. Its
    outputs must match the model's own runtime, or nothing is packaged."""
    manifest = build_model_image(compiled, get_target("host"), workdir)
    inputs = load_inputs(compiled.graph, None)
    with Device(manifest, workdir=workdir) as client:
        outputs = GraphModule(client, compiled.graph)(*inputs)
        high_water = int(client.stats()["workspace"]["high_water"])
    expected = ref.run(inputs)
    if expected is None:  # no runtime of the model's could run it (harness.models.deploy.reference_onnx)
        ref = references.tvm_cpu(compiled)
        expected = ref.run(inputs)
    for got, want, tid in zip(outputs, expected, compiled.graph.outputs, strict=True):
        if not references.compare(got, want, compiled.graph.tensors[tid].scale)["matches_reference"]:
            raise UtvmError(f"the model's outputs on the host build differ from {ref.runtime}; not packaging")
    return high_water


def package(model: Path | Any, out: Path, name: str = "model",
            param_section: str = DEFAULT_PARAM_SECTION, scheduler: Scheduler | None = None,
            tuning: str | Path | None = None, target: str | None = None) -> Package:
    """Package a TFLite or ONNX file (or a Relax IRModule) as the library `name` in `out`. `tuning` (a
    database directory, or "auto" with `target`) schedules the kernels exactly as they were measured;
    `scheduler` (compile_model's) the others."""
    name = _check_name(name)
    if not re.fullmatch(r"\.[A-Za-z0-9_.]+", param_section):
        raise UtvmError(f"section name {param_section!r}: expected something like .rodata.utvm_params")
    loaded = read_model(model) if isinstance(model, str | Path) else None
    compiled = compile_model(loaded or model, scheduler=scheduler, tuning=records.resolve(tuning, target))
    graph = compiled.graph
    ref = references.for_model(loaded, compiled)
    workspace = measure_workspace(compiled, out / ".measure", ref) + WORKSPACE_SLACK
    if out.exists():
        shutil.rmtree(out / "src", ignore_errors=True)
        shutil.rmtree(out / "include", ignore_errors=True)
    (out / "src" / "crt").mkdir(parents=True)
    for rel in RUNTIME_FILES:
        target = out / "src" / "crt" / Path(rel).name
        target.write_text((resources.crt() / rel).read_text())
    for rel in HEADERS:
        (out / "include" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(resources.crt() / "include" / rel, out / "include" / rel)
    kernels = [m.group(1) for m in re.finditer(r"int32_t __tvm_ffi_(\w+)\(", compiled.kernels_c)]
    kernels = [k for k in dict.fromkeys(kernels) if k not in ("main", "_library_ctx")]
    quiet = "".join(f'#pragma GCC diagnostic ignored "{w}"\n' for w in KERNEL_WARNINGS)
    (out / "src" / f"{name}_kernels.c").write_text(
        "/* Kernels generated by apache-tvm; their unused arguments are part of the ABI. */\n"
        + quiet + compiled.kernels_c)
    graph_c = graph.to_c(param_section)
    graph_c = graph_c.split("/* The image's extra globals")[0]  # no RPC in a library
    (out / "src" / f"{name}_graph.c").write_text(graph_c)
    memory = graph.arena_bytes + workspace + TABLES_SLACK + 16 * len(graph.tensors) * 4
    (out / "include" / f"{name}.h").write_text(_header(name, graph, memory, workspace))
    (out / "src" / f"{name}.c").write_text(_api_source(name, kernels))
    (out / f"{name}.mk").write_text(_makefile(name))
    return Package(name, out, graph, memory, workspace,
                   compiled.budget.describe() if compiled.budget is not None else "")


def _header(name: str, g: Graph, memory: int, workspace: int) -> str:
    """crt/templates/package.h: the API, with this model's sizes."""
    up = name.upper()
    sizes = "\n".join(
        [f"#define {up}_INPUT_{i}_BYTES {g.tensors[t].nbytes}u /* {g.tensors[t].name}: {g.tensors[t].dtype}"
         f"{list(g.tensors[t].shape)} */" for i, t in enumerate(g.inputs)]
        + [f"#define {up}_OUTPUT_{i}_BYTES {g.tensors[t].nbytes}u /* {g.tensors[t].dtype}"
           f"{list(g.tensors[t].shape)} */" for i, t in enumerate(g.outputs)])
    return template.fill("package.h", name=name, NAME=up, num_inputs=len(g.inputs),
                         num_outputs=len(g.outputs), sizes=sizes, arena_bytes=g.arena_bytes,
                         workspace=workspace, memory=memory)


def _api_source(name: str, kernels: list[str]) -> str:
    """crt/templates/package_api.c: the API over the graph executor, with this model's kernel registry."""
    decls = "\n".join(f"int32_t __tvm_ffi_{k}(void*, void*, int32_t, void*);" for k in kernels)
    entries = "\n".join(f'    {{"{k}", __tvm_ffi_{k}, NULL}},' for k in sorted(kernels))
    return template.fill("package_api.c", name=name, NAME=name.upper(), decls=decls, entries=entries,
                         tables_slack=TABLES_SLACK)


def _makefile(name: str) -> str:
    return f"""# {name}: add these to your firmware's build (C11, any optimisation level).
{name.upper()}_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
{name.upper()}_SRCS := $(wildcard $({name.upper()}_DIR)src/*.c $({name.upper()}_DIR)src/crt/*.c)
{name.upper()}_CFLAGS := -std=c11 -I$({name.upper()}_DIR)include
# Parameters are in the section named in src/{name}_graph.c; place it in flash (the default,
# {DEFAULT_PARAM_SECTION}, lands there with every usual .rodata rule). Link with -lm.
"""

