"""Whether a model's plan fits a board, checked before anything is built for it.

RAM: the activation arena comes from the data heap, which is the board's RAM less the runtime's own
static data, its stack and the kernels' workspace region (crt/platform/cortex_m), and less the
parameters when the target's configuration runs them from RAM (harness.targets.config). Flash: the
parameters besides the runtime's code, or in the memory the board has for them. The runtime's figures
come from the plain runtime image for the target (built once, cached by content).
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

from harness import resources
from harness.build import build
from harness.models.compile.graph import Graph
from harness.targets.base import Target

STACK_BYTES = 0x4000  # crt/platform/cortex_m/cortex-m.ld's default
WORKSPACE_BYTES = 256 * 1024  # crt/platform/cortex_m/main.c's default UTVM_WORKSPACE_SIZE


class ModelTooBig(ValueError):
    """Raised with a message that says by how much; the caller wraps it in its own error type."""


def workspace_bytes(target: Target) -> int:
    value = target.defines.get("UTVM_WORKSPACE_SIZE", "")
    return int(value.rstrip("uU")) if value else WORKSPACE_BYTES


def check(graph: Graph, target: Target, cache: Path | None = None) -> dict[str, int]:
    """The budget (free data heap and flash for parameters); ModelTooBig if the plan exceeds it."""
    if target.ram_bytes is None or target.flash_bytes is None:
        return {}  # a host process: memory is the host's
    out = (cache or resources.cache_dir()) / f"runtime-{target.name}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):  # processes checking the same target share the build
        runtime = build(target, out)
    static = runtime.size["data"] + runtime.size["bss"]
    heap = target.ram_bytes - static - STACK_BYTES - workspace_bytes(target)
    flash = target.params_bytes or target.flash_bytes - runtime.size["text"] - runtime.size["data"]
    params = graph.plan_stats.get("params_bytes", 0)
    beside = ""
    if target.params_in_ram:  # copied to RAM at start: they take RAM from the heap, and flash too
        heap -= params
        beside = f" beside its {params} B of parameters run from RAM"
    problems = []
    if graph.arena_bytes > heap:
        problems.append(f"its activations need {graph.arena_bytes} B of RAM and {target.name} has {heap} B "
                        f"free for them{beside} ({graph.arena_bytes - heap} B too many)")
    if params > flash:
        problems.append(f"its parameters need {params} B of flash and {target.name} has {flash} B free "
                        f"({params - flash} B too many)")
    if problems:
        raise ModelTooBig("the model does not fit: " + "; ".join(problems))
    return {"data_heap_bytes": heap, "flash_free_bytes": flash}
