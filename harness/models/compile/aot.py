"""A planned Graph compiled ahead of time: the C data the AOT executor (crt/src/aot/) walks.

What is emitted is data, not code: shape arrays, a table of tensors (shape, dtype, and where the
data is: an offset of the static memory plan in the caller's workspace, or a parameter's const
array in the params flash section), a table of calls (the kernel's `__tvm_ffi_<name>` function,
resolved by the linker, and its argument tensor ids) and `<name>_model`, plus one function

    utvm_status_t <name>_run(const void* const* inputs, void* const* outputs, uint8_t* workspace);

that runs it (utvm_aot_run; see crt/include/utvm/aot.h). No kernel names, no tensor names, no
registry lookup: the image carries neither the graph table nor the graph executor.
"""

from __future__ import annotations

from harness.build import template
from harness.build.image import KERNEL_PREFIX
from harness.errors import ModelError
from harness.models.compile.graph import ALIGN as ALIGN  # the arena alignment (aot_package.h)
from harness.models.compile.graph import DEFAULT_PARAM_SECTION, PARAM_ALIGN, Graph, _bytes_c, _dtype_c

MAX_ARGS = 16  # UTVM_AOT_MAX_ARGS
MAX_IO = 16  # UTVM_AOT_MAX_IO
_WORKSPACE, _PARAM, _IO = 0, 1, 2  # UTVM_AOT_WORKSPACE, UTVM_AOT_PARAM, UTVM_AOT_IO
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
    if len(graph.nodes) >= 1 << 16 or len(graph.tensors) >= 1 << 16:
        raise ModelError("the AOT executor takes at most 65535 calls and tensors")


def _where(graph: Graph) -> dict[int, tuple[int, str]]:
    """Tensor id -> (place, initializer of `at`): a parameter's array, else its workspace offset."""
    io = {tid: _IO + i for i, tid in enumerate([*graph.inputs, *graph.outputs])}
    return {t.id: (_PARAM, f"{{.param = k_param_{t.id}}}") if t.kind == "param"
            else (io.get(t.id, _WORKSPACE), f"{{.offset = {t.offset}u}}") for t in graph.tensors}


def _shapes(graph: Graph) -> tuple[list[str], dict[int, str]]:
    """One const array per distinct shape (many tensors share one), and each tensor's array."""
    arrays: dict[tuple[int, ...], str] = {}
    for t in graph.tensors:
        arrays.setdefault(t.shape, f"k_shape_{len(arrays)}")
    lines = [f"static const int64_t {n}[] = {{{', '.join(map(str, shape)) or '0'}}};"
             for shape, n in arrays.items()]
    return lines, {t.id: arrays[t.shape] for t in graph.tensors}


def _ids(values: list[int]) -> str:
    return ", ".join(map(str, values)) or "0"


def _tensor_lines(graph: Graph, section: str) -> list[str]:
    out = []
    for t in graph.tensors:
        if t.kind == "param":
            assert t.data is not None
            out.append(f'static const uint8_t k_param_{t.id}[] __attribute__((section("{section}"), '
                       f"aligned({PARAM_ALIGN}))) = {{\n  {_bytes_c(t.data)}\n}};")
    shape_lines, shape_of = _shapes(graph)
    where = _where(graph)
    out += [*shape_lines, "static const utvm_aot_tensor_t k_tensors[] = {"]
    for t in graph.tensors:
        place, at = where[t.id]
        code, bits, _ = _dtype_c(t.dtype).strip("{}").split(", ")  # one lane
        out.append(f"  {{{shape_of[t.id]}, {at}, {code}, {bits}, {len(t.shape)}, {place}}},")
    return [*out, "};"]


def _call_lines(graph: Graph) -> list[str]:
    kernels = sorted({n.func for n in graph.nodes})
    out = [f"int32_t {KERNEL_PREFIX}{k}(void*, void*, int32_t, void*);" for k in kernels]
    out.append(f"static const uint16_t k_args[] = {{{_ids([a for n in graph.nodes for a in n.args])}}};")
    out.append("static const utvm_aot_call_t k_calls[] = {")
    at = 0
    for n in graph.nodes:
        out.append(f"  {{{KERNEL_PREFIX}{n.func}, {at}u, {len(n.args)}u}},")
        at += len(n.args)
    return [*out, "};"]


def to_c(graph: Graph, name: str = IMAGE_MODEL, section: str = DEFAULT_PARAM_SECTION,
         rpc: bool = True) -> str:
    """The AOT C source of a planned graph. `rpc`: also make it the image's function
    `utvm_aot_image_run` (an image over RPC); a library leaves it out."""
    check(graph)
    source = template.fill(
        "aot_model.c", name=name, num_calls=len(graph.nodes), num_inputs=len(graph.inputs),
        num_outputs=len(graph.outputs), arena_bytes=graph.arena_bytes, inputs=_ids(graph.inputs),
        outputs=_ids(graph.outputs), tables="\n".join([*_tensor_lines(graph, section), *_call_lines(graph)]))
    return source + IMAGE_ENTRY if rpc else source
