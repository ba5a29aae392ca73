"""A planned Graph compiled ahead of time: C that calls the kernels in order (crt/include/utvm/aot.h).

The kernels are their plain C entries (harness.models.compile.unpacked: `utvm_k_<kernel>(args)`), called
with an array of data pointers: a parameter's const array in the params flash section, the workspace plus
the tensor's offset in the static memory plan, or the caller's input or output buffer. Emitted:

    utvm_status_t <name>_run(const void* const* inputs, void* const* outputs, uint8_t* workspace);

and `<name>_model` (utvm_aot_run's). No DLTensors, no shapes but the inputs' and outputs', no kernel
names, no registry lookup: the image carries neither the graph table nor the graph executor, nor the
kernels' packed argument decoding.
"""

from __future__ import annotations

from harness.build import template
from harness.build.image import KERNEL_PREFIX
from harness.errors import ModelError
from harness.models.compile import unpacked
from harness.models.compile.graph import ALIGN as ALIGN  # the arena alignment (aot_package.h)
from harness.models.compile.graph import DEFAULT_PARAM_SECTION, Graph, _dtype_c, layout_include, param_array

MAX_ARGS = 16  # UTVM_AOT_MAX_ARGS
MAX_IO = 16  # UTVM_AOT_MAX_IO
# The model of an image over RPC: one function of its system library (crt/src/aot/aot_rpc.c).
IMAGE_MODEL = "utvm_aot_image"
IMAGE_FUNCTION = f"{IMAGE_MODEL}_run"
_SIGNATURE = f"int32_t {KERNEL_PREFIX}{IMAGE_FUNCTION}(void* self, void* args, int32_t n, void* result)"
IMAGE_ENTRY = (f"/* The model as a system library function: (inputs, outputs, workspace[, times]). */\n"
               f"{_SIGNATURE};\n{_SIGNATURE} {{\n  (void)self;\n"
               f"  return utvm_aot_rpc_run(&{IMAGE_MODEL}_model, args, n, result);\n}}\n")


def check(graph: Graph) -> None:
    """ModelError if the AOT executor cannot run this graph (the limits of crt/include/utvm/aot.h)."""
    if any(t.offset < 0 for t in graph.tensors if t.kind != "param"):
        raise ModelError("plan() the graph before emitting its AOT form")
    wide = [n.func for n in graph.nodes if len(n.args) > MAX_ARGS]
    if wide:
        raise ModelError(f"the AOT executor takes at most {MAX_ARGS} arguments per call; {wide[0]} has more")
    if len(graph.inputs) + len(graph.outputs) > MAX_IO:
        raise ModelError(f"the AOT executor takes at most {MAX_IO} inputs and outputs; the model has "
                        f"{len(graph.inputs) + len(graph.outputs)}")
    if len(graph.nodes) >= 1 << 16:
        raise ModelError("the AOT executor takes at most 65535 calls")
    written = {n.args[-1] for n in graph.nodes}
    unwritten = [graph.tensors[t].name for t in graph.outputs if t not in written]
    if unwritten:
        raise ModelError(f"the AOT executor needs every output written by a kernel; {unwritten[0]} is not")


def _pointer(graph: Graph, tid: int, io: dict[int, int]) -> str:
    """The C expression of tensor tid's data."""
    t = graph.tensors[tid]
    if t.kind == "param":
        return f"(void*)(uintptr_t)k_param_{tid}"
    if tid in io:
        return f"io[{io[tid]}]"
    return f"ws + {t.offset}u" if t.offset else "ws"


def _io_lines(graph: Graph) -> tuple[list[str], list[str]]:
    """The inputs' and outputs' shapes (arrays) and their utvm_aot_io_t rows."""
    shapes, rows = [], []
    for i, tid in enumerate([*graph.inputs, *graph.outputs]):
        t = graph.tensors[tid]
        code, bits, _ = _dtype_c(t.dtype).strip("{}").split(", ")  # one lane
        shapes.append(f"static const int64_t k_shape_{i}[] = {{{', '.join(map(str, t.shape)) or '0'}}};")
        rows.append(f"  {{k_shape_{i}, {t.offset}u, {t.nbytes}u, {code}, {bits}, {len(t.shape)}}},")
    return shapes, rows


def _call_lines(graph: Graph, arity: dict[str, int]) -> tuple[list[str], list[str]]:
    """The kernels' prototypes, and one UTVM_AOT_CALL per node (its arguments' data in an array)."""
    io: dict[int, int] = {}
    for i, tid in enumerate([*graph.inputs, *graph.outputs]):
        io.setdefault(tid, i)
    protos = [f"int32_t {unpacked.PREFIX}{k}(void* args);" for k in sorted({n.func for n in graph.nodes})]
    calls = []
    for i, n in enumerate(graph.nodes):
        if arity.get(n.func) != len(n.args):
            raise ModelError(f"kernel {n.func} takes {arity.get(n.func, 0)} arguments; the graph passes "
                             f"{len(n.args)}")
        args = ", ".join(_pointer(graph, a, io) for a in n.args)
        calls.append(f"  UTVM_AOT_CALL(clock, {i}, {unpacked.PREFIX}{n.func}((void*[]){{{args}}}));")
    return protos, calls


def to_c(graph: Graph, arity: dict[str, int] | None = None, name: str = IMAGE_MODEL,
         section: str = DEFAULT_PARAM_SECTION, rpc: bool = True) -> str:
    """The AOT C source of a planned graph whose kernels take `arity` tensors each (kernel -> count:
    harness.models.compile.unpacked). `rpc`: also make it the image's function `utvm_aot_image_run`
    (an image over RPC); a library leaves it out."""
    check(graph)
    shapes, io = _io_lines(graph)
    protos, calls = _call_lines(graph, arity or {})
    params = [param_array(t, section) for t in graph.tensors if t.kind == "param"]
    source = template.fill(
        "aot_model.c", name=name, num_calls=len(graph.nodes), num_inputs=len(graph.inputs),
        num_outputs=len(graph.outputs), arena_bytes=graph.arena_bytes, io="\n".join(io),
        tables="\n".join([*layout_include(graph.tensors), *params, *shapes, *protos]), calls="\n".join(calls))
    return source + IMAGE_ENTRY if rpc else source
