"""The model tier: a model file run on a target's device, checked against the model's own runtime,
with what it costs.

A model is compiled once per process (keyed by the file's sha256) with whatever
`compile_model` accepts, and its image for each target is built once and cached by content (in
CACHE/models/<name>-<sha256>-<target>, where harness.build reuses it while its build key holds).
Its variants (VARIANTS) are compiled another way, each its own model in the figures and the baseline
(kws01@tuned): "tuned" with the target's shipped records (`--tuning auto`, the default RAM budget),
run only on the boards of TUNED_BOARDS (each over every link: they share the board's records), so
that a change that slows a tuned kernel fails the pre-submit as an untuned regression does.
`measure` runs seeded inputs on the device and through the model's own runtime
(harness.models.deploy.reference), then times one inference on the device. Its figures:

    model, format, model_sha256    which model (the file's digest, first 16 hex digits)
    inputs, max_diff_lsb, top1_agree, outputs_sha256
                                   agreement with the model's own runtime; the digest of the device's
                                   outputs (equal digests on two backends: bit-identical outputs)
    instructions                   per inference, where device time counts them (QEMU -icount): exact
    cycles                         per inference, from the device's timer and the core's clock
    seconds                        per inference, device time (the fastest of a few runs; one run
                                   where device time is exact)
    flash_bytes                    the image's flash: text + data (runtime, graph executor, kernels,
                                   parameters)
    ram_bytes                      the model's RAM: its activation arena + the kernels' workspace high water
    static_ram_bytes, stack_bytes, params_bytes, kernels_bytes
                                   the image's own data + bss; the stack's high water where the port
                                   paints it; parameters; kernel code
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from harness.build import Manifest
from harness.models.compile import records
from harness.models.compile.model import Compiled, compile_model
from harness.models.deploy import fit
from harness.models.deploy import reference as references
from harness.models.deploy.check import Agreement, seeded_agreement
from harness.models.deploy.graph_client import GraphModule
from harness.models.deploy.run import build_model_image, load_inputs
from harness.models.frontends.loaded import LoadedModel, read_model
from harness.rpc import RPCClient
from harness.targets import Target

Figures = dict[str, int | float | str]
TIMED_RUNS = 3  # the fastest of these; where device time is exact (-icount, a cycle counter) one is enough

# The variants the tier runs beside each model: what `--tuning` they compile with.
VARIANTS: dict[str, str] = {"tuned": "auto"}
# The boards the tuned variant runs on: the two cores whose records the tuner was last run on (M4, M3),
# each over every link, to keep the pre-submit's cost bounded (a tuned compile and run per model and
# target); the other QEMU boards ship records too, `utvm run-model --tuning auto` reports them.
TUNED_BOARDS = ("qemu-mps2-an385", "qemu-mps2-an386")

_COMPILED: dict[tuple[str, str], tuple[Compiled, LoadedModel]] = {}  # by sha256 and records: once per process
_REFERENCES: dict[str, references.Reference] = {}


@dataclass(frozen=True)
class ModelImage:
    name: str
    path: Path
    sha256: str
    fmt: str
    compiled: Compiled
    manifest: Manifest


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def variants(target: Target) -> list[str]:
    """The variants the tier runs on this target: "tuned" on a board of TUNED_BOARDS (over any link)
    that ships records for the target's configuration; none elsewhere (the host ships none)."""
    if records.same_core(target.name) not in TUNED_BOARDS:
        return []
    try:
        records.shipped_for(target.name)
    except records.TuningError:
        return []
    return ["tuned"]


def label(name: str, variant: str = "") -> str:
    """A model's (or its variant's) name in the figures and the baseline: kws01, kws01@tuned (as
    harness.testing.suite.ModelFile.label, which the model tier's tests report under)."""
    return f"{name}@{variant}" if variant else name


def _tuning(variant: str, target: Target | None) -> records.BestRecords | None:
    if not variant:
        return None
    if variant not in VARIANTS or target is None:
        raise records.TuningError(f"no model variant {variant!r} on {target}; the tier knows "
                                  f"{', '.join(VARIANTS)}")
    found = records.resolve(VARIANTS[variant], target.name)
    assert isinstance(found, records.BestRecords)
    return found


def compiled(path: Path, sha256: str | None = None, variant: str = "",
             target: Target | None = None) -> tuple[Compiled, LoadedModel]:
    """The model compiled (ModelError if it cannot be) and the model as read (once); once per process
    and content; a variant with the target's records (once per records file)."""
    key = sha256 or file_sha256(path)
    tuning = _tuning(variant, target)
    slot = (key, str(tuning.path) if tuning is not None else "")
    if slot not in _COMPILED:
        loaded = read_model(path)
        _COMPILED[slot] = compile_model(loaded, tuning=tuning), loaded
    return _COMPILED[slot]


def reference(path: Path, sha256: str | None = None) -> references.Reference:
    """The model's own runtime (TFLite Micro, onnxruntime), once per process and content."""
    key = sha256 or file_sha256(path)
    if key not in _REFERENCES:
        model, loaded = compiled(path, key)
        _REFERENCES[key] = references.for_model(loaded, model)
    return _REFERENCES[key]


def image(path: Path, target: Target, cache: Path, sha256: str | None = None,
          variant: str = "") -> ModelImage:
    """The model's image (or its variant's) for the target; fit.ModelTooBig if its plan cannot fit the
    target."""
    key = sha256 or file_sha256(path)
    model, loaded = compiled(path, key, variant, target)
    fit.check(model.graph, target, cache)
    out = cache / "models" / f"{path.stem}-{key[:16]}{'-' + variant if variant else ''}-{target.name}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):  # xdist workers and concurrent runs share it
        manifest = build_model_image(model, target, out)
    return ModelImage(label(path.stem, variant), Path(path), key, loaded.format, model, manifest)


@dataclass
class Measured:
    agreement: Agreement
    figures: Figures


def measure(client: RPCClient, model: ModelImage, target: Target, inputs: int) -> Measured:
    """Seeded inputs on the device and the model's own runtime, then one inference timed."""
    module = GraphModule(client, model.compiled.graph)
    agreement = seeded_agreement(module, reference(model.path, model.sha256), inputs)
    for i, x in enumerate(load_inputs(model.compiled.graph, None, seed=0)):  # time a known input
        module.set_input(i, x)
    seconds = min(module.time_run(repeat=1 if "exact_time" in target.features else TIMED_RUNS))
    stats = client.stats()
    m, graph = model.manifest, model.compiled.graph
    flash = m.footprint.get("flash", {})
    figures: Figures = {
        "model": model.name, "format": model.fmt, "model_sha256": model.sha256[:16],
        "inputs": agreement.inputs, "max_diff_lsb": agreement.max_diff_lsb,
        "top1_agree": agreement.top1_agree, "outputs_sha256": agreement.outputs_sha256[:16],
        "seconds": seconds,
        "flash_bytes": m.size["text"] + m.size["data"],
        "ram_bytes": graph.arena_bytes + int(stats["workspace"]["high_water"]),
        "static_ram_bytes": m.size["data"] + m.size["bss"],
        "params_bytes": int(graph.plan_stats.get("params_bytes", 0)),
        "kernels_bytes": int(flash.get("kernels", 0)),
    }
    counted = {"instructions": target.instructions(seconds), "cycles": target.cycles(seconds),
               "stack_bytes": stats.get("port", {}).get("stack_used")}
    figures.update({k: int(v) for k, v in counted.items() if v is not None})
    return Measured(agreement, figures)
