"""Graph executor overhead and size on a board, against the limits below.

    .venv/bin/python bench/graph_overhead.py [--target qemu-mps2-an385] [--model cnn|mlp|...]

Times a whole graph run on the device (runtime.RPCTimeEvaluator on the module's `run`)
against the sum of the same kernels called directly on the same tensors (the time
evaluator on each kernel), both in the board's cycles, so overhead = run / sum - 1.
Targets: overhead at most 2% on qemu-mps2-an385; graph executor code at most 6 KiB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.device import Device
from harness.models.compile.model import compile_model
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image, kernel_sizes
from harness.targets import get_target
from tests.models import MODELS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="qemu-mps2-an385")
    ap.add_argument("--model", default="cnn", choices=sorted(MODELS))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    mod, inputs = MODELS[args.model]()
    compiled = compile_model(mod)
    graph = compiled.graph
    out = Path(tempfile.mkdtemp(prefix="utvm-bench-graph-"))
    manifest = build_model_image(compiled, get_target(args.target), out)
    with Device(manifest, workdir=out) as client:
        module = GraphModule(client, graph)
        for i, x in enumerate(inputs):
            module.set_input(i, x)
        run = statistics.median(module.time_run(repeat=args.repeat))
        tensors = {}
        for t in graph.tensors:  # the same data the graph sees, in device memory
            data = t.data if t.data is not None else np.zeros(t.shape, t.dtype)
            tensors[t.id] = client.tensor(data)
        for i, x in enumerate(inputs):
            tensors[graph.inputs[i]].copyfrom(x)
        lib = client.system_lib()
        direct = 0.0
        per_node = []
        for node in graph.nodes:
            with lib.time_evaluator(node.func, number=1, repeat=args.repeat) as te:
                seconds = statistics.median(te(*(tensors[a] for a in node.args)))
            per_node.append((node.func, seconds))
            direct += seconds
    flash = manifest.footprint["flash"].get("graph executor", 0)
    overhead = run / direct - 1
    print(f"graph executor on {args.target}, model {args.model} ({len(graph.nodes)} nodes)")
    for name, seconds in per_node:
        print(f"  {name:<36} {seconds * 1e3:9.4f} ms")
    print(f"  sum of kernels called directly     {direct * 1e3:9.4f} ms")
    print(f"  graph run                          {run * 1e3:9.4f} ms")
    print(f"  overhead                           {overhead * 100:9.3f} %   (target <= 2 %)"
          f"  {'ok' if overhead <= 0.02 else 'MISS'}")
    print(f"  graph executor code (flash)        {flash:9d} B   (target <= 6144 B)"
          f"  {'ok' if flash <= 6144 else 'MISS'}")
    sizes = kernel_sizes(manifest.artifact, manifest.functions)
    print("  kernel code: " + ", ".join(f"{k} {v} B" for k, v in sorted(sizes.items())))
    return 0 if overhead <= 0.02 and flash <= 6144 else 1


if __name__ == "__main__":
    sys.exit(main())
