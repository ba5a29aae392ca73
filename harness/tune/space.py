"""The search space: the kernel's design space of harness.models.compile.design_space (rules made for
microcontrollers, the SIMD point, the postprocessors), with the mutators and evolutionary search of
`utvm tune`, and the schedules measured before the search."""

from __future__ import annotations

from typing import Any

from harness.models.compile import records
from harness.models.compile.design_space import (
    SIMD_OPS,
    UNROLL_STEPS,
    default,
    postprocs,
    rules,
    simd_or_default,
    skip_gpu_intrinsics,
    space_generator,
)
from harness.tune.tasks import Task

__all__ = ["UNROLL_STEPS", "context", "default", "mutators", "postprocs", "rules", "seeds"]


def mutators() -> dict[Any, float]:
    from tvm.s_tir.meta_schedule import mutator as mu

    return {mu.MutateTileSize(): 0.9, mu.MutateComputeLocation(): 0.05, mu.MutateUnroll(): 0.05}


def seeds(task: Task) -> list[Any]:
    """Schedules measured before the search and put in the database: the default, and the SIMD one
    where it applies. The search starts from them; the best never falls below the default."""
    return [default, simd_or_default] if task.op in SIMD_OPS else [default]


def context(task: Task, target: str, seed: int = 0) -> Any:
    """The task's TuneContext: its workload, design space and evolutionary search."""
    from tvm.s_tir import meta_schedule as ms

    skip_gpu_intrinsics()

    space = space_generator(mutators())
    # A smaller population than MetaSchedule's default (512): a kernel's space here is a few tile sizes
    # and compute locations, and on 2 cores the default spent more time evolving than the devices
    # spent measuring (kws01, 32 trials: 58 s of 94).
    search = ms.search_strategy.EvolutionarySearch(population_size=128, init_min_unmeasured=32,
                                                   genetic_num_iters=3)
    return ms.TuneContext(mod=task.workload, target=records.meta_target(target), space_generator=space,
                          search_strategy=search,
                          task_name=task.name, rand_state=seed, num_threads=1)
