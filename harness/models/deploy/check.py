"""A model on a device checked against its own runtime over many seeded inputs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from harness.errors import UtvmError
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.reference import Reference, compare
from harness.models.deploy.run import load_inputs


@dataclass
class Agreement:
    inputs: int
    max_diff_lsb: float  # the worst output element over every input (inf: shapes differ)
    top1_agree: int  # inputs whose every output's top-1 agreed
    max_abs_diff: float
    outputs_sha256: str = ""  # of the device's outputs over every input: equal digests, equal outputs

    @property
    def within_one_lsb(self) -> bool:
        return self.max_diff_lsb <= 1.0 and self.top1_agree == self.inputs

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "max_diff_lsb": self.max_diff_lsb, "top1_agree": self.top1_agree,
                "max_abs_diff": self.max_abs_diff, "outputs_sha256": self.outputs_sha256}


def seeded_agreement(module: GraphModule, reference: Reference, count: int, seed: int = 0) -> Agreement:
    """Run `count` seeded random inputs (seeds seed, seed+1, ...) on the device and the reference."""
    worst_lsb = worst_abs = 0.0
    agree = 0
    digest = hashlib.sha256()
    for i in range(count):
        xs = load_inputs(module.graph, None, seed=seed + i)
        got, expected = module(*xs), reference.run(xs)
        if expected is None:
            raise UtvmError(f"no reference could run the model ({getattr(reference, 'note', '')})")
        for g in got:
            digest.update(f"{g.dtype}{g.shape}".encode() + g.tobytes())
        scales = [module.graph.tensors[t].scale for t in module.graph.outputs]
        results = [compare(g, e, s) for g, e, s in zip(got, expected, scales, strict=True)]
        lsb = [r["max_diff_lsb"] if r["max_diff_lsb"] is not None else r["max_abs_diff"] for r in results]
        worst_lsb = max(worst_lsb, *lsb)
        worst_abs = max(worst_abs, *(r["max_abs_diff"] for r in results))
        agree += all(r["top1_agrees"] for r in results)
    return Agreement(count, worst_lsb, agree, worst_abs, digest.hexdigest())
