"""The tuner's design space of a kernel, shared by `utvm tune` (harness.tune.space searches it) and
the fuzzer (harness.fuzz samples random points of it): MetaSchedule rules made for microcontrollers,
united with the one-point SIMD space, and the postprocessors every candidate goes through.

The default CPU rule set crashes apache-tvm 0.27's wheel (design-space generation segfaults in
ToJSONGraph: AutoInline's default disallow_op names "tir.exp", which the wheel registers as
"tirx.exp"), and most of it (parallel loops, vector lanes, layout rewrites) means nothing on a
Cortex-M. What matters there: inlining (the padding into the accumulation), multi-level tiling with
the loop order it implies (keeping inputs and weights in registers), where the requantization
epilogue and producers are computed, and unrolling.

    func = random_schedule(kernel, seed)       # one random legal point, or None
    compile_model(model, scheduler=random_schedules(seed))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.models.compile import records
from harness.models.compile.dsp import DSP_OPS, dsp_schedule
from harness.models.compile.mve import DW_OP, mve_dw_schedule
from harness.models.compile.schedule import DEFAULT_SCHEDULES, apply_default_schedules
from harness.models.int8.attrs import OP_ATTR, SCHEDULED_ATTR

UNROLL_STEPS = [0, 4, 16, 64]
UNTUNED_OPS = {"reshape"}  # a copy: nothing to schedule
RANDOM_ATTR = "utvm.random_schedule"  # on a kernel scheduled by a random point: the sample's seed


def rules() -> list[Any]:
    from tvm.s_tir.meta_schedule import schedule_rule as sr

    return [
        sr.AutoInline(into_producer=False, into_consumer=True, inline_const_tensor=True,
                      disallow_if_then_else=False, require_injective=True, require_ordered=True,
                      disallow_op=["tirx.exp"]),  # the wheel's default names "tir.exp" and crashes
        sr.MultiLevelTiling(structure="SSRSRS", tile_binds=None, max_innermost_factor=64,
                            vector_load_lens=None, reuse_read=None,
                            reuse_write=sr.ReuseType(req="may", levels=[1, 2], scope="global")),
        # Unrolled by the C compiler, not by TVM: TVM's C codegen reuses a temporary across explicitly
        # unrolled copies of the requantization (it caches an expression by its text while the scalar
        # buffers it reads are rewritten in between): wrong results, rejected by the output check.
        sr.ParallelizeVectorizeUnroll(max_jobs_per_core=-1, max_vectorize_extent=-1,
                                      unroll_max_steps=UNROLL_STEPS, unroll_explicit=False),
        sr.RandomComputeLocation(),
    ]


def postprocs() -> list[Any]:
    from tvm.s_tir.meta_schedule import postproc as pp

    return [pp.DisallowDynamicLoop(), pp.RewriteParallelVectorizeUnroll(), pp.RewriteReductionBlock()]


def default(sch: Any) -> Any:
    DEFAULT_SCHEDULES[str(sch.mod["main"].attrs[OP_ATTR])](sch)
    return sch


SIMD_OPS = (*DSP_OPS, DW_OP)


def simd_or_default(sch: Any) -> Any:
    """A design space of one point: the kernel on its micro-kernels where they fit, else its default
    schedule. Convolutions and fully connected layers take the int8 dot products (SMLAD on DSP
    cores, Helium on the M55), depthwise convolutions the depthwise tile (Helium on the M55). The
    same C runs portable loops elsewhere, so the search measures on the device which pays, board
    by board; the rule-based space searches around the default."""
    op = str(sch.mod["main"].attrs[OP_ATTR])
    if op in DSP_OPS and dsp_schedule(sch, 4):
        return sch
    if op == DW_OP and mve_dw_schedule(sch):
        return sch
    DEFAULT_SCHEDULES[op](sch)
    return sch


def skip_gpu_intrinsics() -> None:
    """TuneContext imports tvm.s_tir.tensor_intrin, which registers every GPU and CPU tensor intrinsic
    of the wheel: 21 s here, 15 of them CUDA's. None applies to a microcontroller (ours are registered
    by harness.models.compile.intrin), so unless something imported it already, an empty module stands in."""
    import sys
    import types

    name = "tvm.s_tir.tensor_intrin"
    if name not in sys.modules:
        sys.modules[name] = types.ModuleType(name, "skipped by utvm tune: no GPU intrinsics on a device")


def space_generator(mutator_probs: dict[Any, float] | None = None) -> Any:
    """The rule-based space and the SIMD point, with the postprocessors and the caller's mutators."""
    from tvm.s_tir import meta_schedule as ms

    return ms.space_generator.SpaceGeneratorUnion(
        [ms.space_generator.PostOrderApply(sch_rules=rules(), postprocs=[], mutator_probs={}),
         ms.space_generator.ScheduleFn(simd_or_default, sch_rules=[], postprocs=[], mutator_probs={})],
        sch_rules=[], postprocs=postprocs(), mutator_probs=mutator_probs or {})


def random_schedule(func: Any, seed: int, target: str = "host", tries: int = 4) -> Any | None:
    """The kernel scheduled by a random point of its design space: a design space drawn with the seed,
    its sampling decisions (tile sizes, compute locations, unroll steps) drawn again by a schedule
    seeded from it, and the postprocessors applied. None when no draw passes them in `tries`."""
    import tvm
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.schedule import Trace

    skip_gpu_intrinsics()
    mod = records.workload(func)
    ctx = ms.TuneContext(mod=mod, target=records.meta_target(target), space_generator=space_generator(),
                         task_name="fuzz", rand_state=seed & 0x7FFFFFFF, num_threads=1)
    spaces = ctx.space_generator.generate_design_space(mod)
    checks = postprocs()
    for p in checks:
        p._initialize_with_tune_context(ctx)
    rng = np.random.default_rng([seed, 24])
    for _ in range(tries):
        design = spaces[int(rng.integers(len(spaces)))]
        sch = tvm.s_tir.Schedule(mod, seed=int(rng.integers(1, 2**31 - 1)))
        try:
            Trace(design.trace.insts, {}).apply_to_schedule(sch, remove_postproc=True)
        except Exception:  # a draw the trace's own checks refuse: draw again
            continue
        if all(p.apply(sch) for p in checks):
            return sch.mod["main"]
    return None


def _kernel_seed(seed: int, func: Any) -> int:
    """A kernel's sample seed: the run's seed and the kernel's computation, not its place in the model."""
    return int(np.random.default_rng([seed, int(records.task_key(func), 16)]).integers(0, 2**31 - 1))


def random_schedules(seed: int, target: str = "host") -> Any:
    """A scheduler (compile_model's `scheduler`): every tunable kernel at a random point of its design
    space (seeded by `seed` and the kernel's task key), the rest as apply_default_schedules."""
    def scheduler(mod: Any) -> Any:
        updates = {}
        for gv, func in mod.functions.items():
            if type(func).__name__ != "PrimFunc" or not records.tunable(func):
                continue
            if str(func.attrs[OP_ATTR]) in UNTUNED_OPS:
                continue
            kernel_seed = _kernel_seed(seed, func)
            scheduled = random_schedule(func, kernel_seed, target)
            if scheduled is not None:
                updates[gv] = (scheduled.without_attr("global_symbol").with_attr(SCHEDULED_ATTR, True)
                               .with_attr(RANDOM_ATTR, kernel_seed))
        if updates:
            mod = mod.clone()
            for gv, func in updates.items():
                mod.update_func(gv, func)
        return apply_default_schedules(mod)

    return scheduler
