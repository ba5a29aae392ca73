"""A lowered model scheduled by tuning records within its RAM budget (harness.models.compile.budget):
the untuned schedules set the default budget and are each kernel's last fallback; a tuned kernel's
scratch goes in the activation pool where it can (harness.models.compile.scratch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.models.compile.budget import BudgetError, Fit, kernel_workspace
from harness.models.compile.graph import Graph
from harness.models.compile.lowering import emit_kernels, extract_graph, schedule
from harness.models.compile.records import alternatives, apply_tuning
from harness.models.compile.scratch import Scratch, add_scratch, hoist


@dataclass
class Tuned:
    scheduled: Any  # the module as scheduled (the Relax entry calls its kernels as lowered)
    for_c: Any  # the same with the hoisted kernels' scratch as parameters: what C is emitted from
    tuned: list[str]  # the kernels that kept a tuned schedule
    scratch: dict[str, list[Scratch]]  # kernel -> its scratch, planned in the pool
    fit: Fit
    graph: Graph  # the Relax entry's graph with that scratch, planned within the budget


def within_budget(lowered: Any, entry: str, tuning: Any, scheduler: Any = None) -> Tuned:
    """The module scheduled by `tuning` (kernels without a record by `scheduler`), its activations,
    scratch and workspace within the budget."""
    untuned = schedule(lowered, scheduler)
    graph = extract_graph(untuned[entry]).plan()
    used = {n.func for n in graph.nodes}
    base = kernel_workspace(emit_kernels(untuned, used))
    least = graph.arena_bytes + max(base.values(), default=0)
    budget = getattr(tuning, "ram_budget", None) or least
    if budget < least:
        raise BudgetError(f"a RAM budget of {budget} B is below what the model needs untuned: {least} B "
                          f"({graph.arena_bytes} B activations + {least - graph.arena_bytes} B workspace)")
    mod, tuned = apply_tuning(lowered, tuning)
    scheduled = schedule(mod, scheduler).clone()
    ws = kernel_workspace(emit_kernels(scheduled, used))
    hoisted = {k: h for k in tuned
               if ws.get(k, 0) and (h := _hoisted(scheduled[k], lowered[k], k))}
    fit = Fit(budget, 0, {})
    while True:
        graph = add_scratch(extract_graph(scheduled[entry]), {k: h[1] for k, h in hoisted.items()}).plan()
        rest = {k: v for k, v in ws.items() if k not in hoisted}
        if graph.arena_bytes + max(rest.values(), default=0) <= budget:
            break
        name = _culprit(graph, rest, budget - graph.arena_bytes, set(tuned) - set(fit.fell_back))
        func, fit.fell_back[name] = _fallback(lowered[name], name, tuning, untuned[name])
        scheduled.update_func(scheduled.get_global_var(name), func)
        hoisted.pop(name, None)
        ws[name] = 0 if fit.fell_back[name] == "record" else base.get(name, 0)  # _fallback checked it
    fit.pool, fit.in_pool = graph.arena_bytes, sorted(hoisted)
    for_c = scheduled.clone()
    for name, (func, _) in hoisted.items():
        for_c.update_func(for_c.get_global_var(name), func)
    kept = [t for t in tuned if fit.fell_back.get(t, "record") == "record"]
    return Tuned(scheduled, for_c, kept, {k: h[1] for k, h in hoisted.items()}, fit, graph)


def _hoisted(func: Any, unscheduled: Any, name: str) -> tuple[Any, list[Scratch]] | None:
    """The kernel with its scratch as parameters, if that leaves it no workspace."""
    import tvm

    found = hoist(func, unscheduled)
    if found is None:
        return None
    module = tvm.IRModule({tvm.ir.GlobalVar(name): found[0]})
    return found if not kernel_workspace(emit_kernels(module, {name})) else None


def _culprit(graph: Graph, rest: dict[str, int], cap: int, tuned: set[str]) -> str:
    """The kernel to fall back next: the tuned kernel with the largest workspace over what the pool
    leaves, else the kernel whose scratch reaches highest in the pool."""
    over = sorted((v, k) for k, v in rest.items() if v > cap and k in tuned)
    if over:
        return over[-1][1]
    top: dict[str, int] = {}
    for node in graph.nodes:
        for tid in node.scratch:
            t = graph.tensors[tid]
            top[node.func] = max(top.get(node.func, 0), t.offset + t.nbytes)
    return max(top, key=lambda k: (top[k], k))


def _fallback(func: Any, name: str, tuning: Any, default: Any) -> tuple[Any, str]:
    """The kernel's next record that needs no workspace, else its default schedule."""
    import tvm

    from harness.models.int8.attrs import SCHEDULED_ATTR

    for candidate in alternatives(tuning, func):
        candidate = candidate.without_attr("global_symbol").with_attr(SCHEDULED_ATTR, True)
        module = tvm.IRModule({tvm.ir.GlobalVar(name): candidate})
        if not kernel_workspace(emit_kernels(module, {name})):
            return candidate, "record"
    return default, "default"
