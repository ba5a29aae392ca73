"""The search space: MetaSchedule design spaces from an explicit rule list made for microcontrollers.

The default CPU rule set crashes apache-tvm 0.27's wheel (design-space generation segfaults in
ToJSONGraph: AutoInline's default disallow_op names "tir.exp", which the wheel registers as
"tirx.exp"), and most of it (parallel loops, vector lanes, layout rewrites) means nothing on a
Cortex-M. What matters there: inlining (the padding into
the accumulation), multi-level tiling with the loop order it implies (keeping inputs and weights
in registers), where the requantization epilogue and producers are computed, and unrolling.
"""

from __future__ import annotations

from typing import Any

from harness.models.compile import records
from harness.models.compile.dsp import DSP_OPS, dsp_schedule
from harness.models.compile.mve import DW_OP, mve_dw_schedule
from harness.models.compile.schedule import DEFAULT_SCHEDULES
from harness.models.int8.attrs import OP_ATTR
from harness.tune.tasks import Task

UNROLL_STEPS = [0, 4, 16, 64]


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


def mutators() -> dict[Any, float]:
    from tvm.s_tir.meta_schedule import mutator as mu

    return {mu.MutateTileSize(): 0.9, mu.MutateComputeLocation(): 0.05, mu.MutateUnroll(): 0.05}


def default(sch: Any) -> Any:
    DEFAULT_SCHEDULES[str(sch.mod["main"].attrs[OP_ATTR])](sch)
    return sch


SIMD_OPS = (*DSP_OPS, DW_OP)


def seeds(task: Task) -> list[Any]:
    """Schedules measured before the search and put in the database: the default, and the SIMD one
    where it applies. The search starts from them; the best never falls below the default."""
    return [default, _simd_or_default] if task.op in SIMD_OPS else [default]


def _simd_or_default(sch: Any) -> Any:
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


def _skip_gpu_intrinsics() -> None:
    """TuneContext imports tvm.s_tir.tensor_intrin, which registers every GPU and CPU tensor intrinsic
    of the wheel: 21 s here, 15 of them CUDA's. None applies to a microcontroller (ours are registered
    by harness.models.compile.intrin), so unless something imported it already, an empty module stands in."""
    import sys
    import types

    name = "tvm.s_tir.tensor_intrin"
    if name not in sys.modules:
        sys.modules[name] = types.ModuleType(name, "skipped by utvm tune: no GPU intrinsics on a device")


def context(task: Task, target: str, seed: int = 0) -> Any:
    """The task's TuneContext: its workload, design space and evolutionary search."""
    from tvm.s_tir import meta_schedule as ms

    _skip_gpu_intrinsics()

    space = ms.space_generator.SpaceGeneratorUnion(
        [ms.space_generator.PostOrderApply(sch_rules=rules(), postprocs=[], mutator_probs={}),
         ms.space_generator.ScheduleFn(_simd_or_default, sch_rules=[], postprocs=[], mutator_probs={})],
        sch_rules=[], postprocs=postprocs(), mutator_probs=mutators())
    # A smaller population than MetaSchedule's default (512): a kernel's space here is a few tile sizes
    # and compute locations, and on 2 cores the default spent more time evolving than the devices
    # spent measuring (kws01, 32 trials: 58 s of 94).
    search = ms.search_strategy.EvolutionarySearch(population_size=128, init_min_unmeasured=32,
                                                   genetic_num_iters=3)
    return ms.TuneContext(mod=task.workload, target=records.meta_target(target), space_generator=space,
                          search_strategy=search,
                          task_name=task.name, rand_state=seed, num_threads=1)
