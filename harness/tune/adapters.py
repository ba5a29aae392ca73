"""MetaSchedule's Builder and Runner interfaces over our image builder and device pool."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from harness.tune.builder import Artifact, ImageBuilder
from harness.tune.runner import DevicePool, Measured


def make_builder(images: ImageBuilder) -> Any:
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.builder import BuilderResult, PyBuilder

    @derived_object
    class _Builder(PyBuilder):
        def build(self, build_inputs: list[Any]) -> list[Any]:
            out = images.build([b.mod for b in build_inputs])
            return [BuilderResult(r.encode(), None) if isinstance(r, Artifact) else BuilderResult(None, r)
                    for r in out]

    return _Builder()


def make_runner(pool: DevicePool) -> Any:
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.runner import PyRunner, PyRunnerFuture, RunnerResult

    @derived_object
    class _Future(PyRunnerFuture):
        def __init__(self, future: Future, index: int) -> None:
            super().__init__()
            self.future, self.index = future, index

        def done(self) -> bool:
            return self.future.done()

        def result(self) -> Any:
            m: Measured = self.future.result()[self.index]
            return RunnerResult([m.seconds] if m.seconds is not None else None, m.error)

    executor = ThreadPoolExecutor(len(pool.slots), thread_name_prefix="utvm-device")

    @derived_object
    class _Runner(PyRunner):
        def run(self, runner_inputs: list[Any]) -> list[Any]:
            groups: dict[str, list[tuple[int, Artifact]]] = defaultdict(list)
            for i, r in enumerate(runner_inputs):
                art = Artifact.decode(str(r.artifact_path))
                groups[art.manifest].append((i, art))
            futures: list[Any] = [None] * len(runner_inputs)
            for manifest, items in groups.items():
                fut = executor.submit(pool.run_image, manifest, [a for _, a in items])
                for j, (i, _) in enumerate(items):
                    futures[i] = _Future(fut, j)
            return futures

    return _Runner()
