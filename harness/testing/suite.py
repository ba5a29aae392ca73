"""What a suite run is asked to do: targets, how to reach them, where images go.

Read once from the pytest options (RunConfig.from_options); the plugin's
fixtures only look things up here.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from harness import resources
from harness.build import Manifest, build
from harness.errors import UtvmError
from harness.targets import StartOptions, Target, get_target

if TYPE_CHECKING:
    import pytest

    from harness.device.dut import DeviceUnderTest


MODEL_SUFFIXES = (".tflite", ".onnx")
ANY_IMAGE = "any_image"  # feature: the run can start other images on the target (a model's, say)


@dataclass(frozen=True)
class ModelFile:
    """A model the run's model tier runs on every target (`--utvm-models`)."""

    name: str  # the file's stem: kws01
    path: Path
    sha256: str  # its images are keyed by it
    variant: str = ""  # how it is compiled: "" by default, else a variant the suite names ("tuned")

    @property
    def label(self) -> str:
        """Its name in test ids, figures and the baseline: kws01, kws01@tuned (harness.models.deploy.tier.
        label, which this layer does not import)."""
        return f"{self.name}@{self.variant}" if self.variant else self.name

    def __repr__(self) -> str:  # shown in test ids
        return self.label


def model_files(paths: list[str]) -> tuple[ModelFile, ...]:
    """Files as given, and every .tflite/.onnx file of a directory (sorted); one name once."""
    found: dict[str, ModelFile] = {}
    for given in paths:
        path = Path(given).absolute()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in MODEL_SUFFIXES)
            if not files:
                raise UtvmError(f"--utvm-models {given}: no {'/'.join(MODEL_SUFFIXES)} files in it")
        elif path.is_file():
            files = [path]
        else:
            raise UtvmError(f"--utvm-models {given}: no such file or directory")
        for f in files:
            if f.stem in found and found[f.stem].path != f:
                raise UtvmError(f"--utvm-models: two models are named {f.stem} ({found[f.stem].path}, {f})")
            found[f.stem] = ModelFile(f.stem, f, hashlib.sha256(f.read_bytes()).hexdigest())
    return tuple(found.values())


@dataclass(frozen=True)
class TargetSpec:
    """A target as this run sees it: its features here and the run's scale of its timeouts
    (--timeout-multiplier; the device adds the target's own timeout_multiplier)."""

    name: str
    target: Target
    features: frozenset[str]
    timeout_multiplier: float

    def __repr__(self) -> str:  # shown in test ids and failure reports
        return self.name


def parse_multipliers(values: list[str], targets: list[str]) -> dict[str, float]:
    """`X` applies to every target, `TARGET=X` to one; later values win."""
    out = dict.fromkeys(targets, 1.0)
    for value in values:
        name, sep, raw = value.rpartition("=")
        try:
            factor = float(raw)
        except ValueError:
            raise UtvmError(f"--timeout-multiplier {value!r}: {raw!r} is not a number") from None
        if factor <= 0:
            raise UtvmError(f"--timeout-multiplier {value!r}: must be positive")
        if sep and name not in out:
            raise UtvmError(f"--timeout-multiplier {value!r}: {name} is not a target of this run")
        for target in [name] if sep else targets:
            out[target] = factor
    return out


@dataclass
class RunConfig:
    specs: list[TargetSpec]
    cache: Path  # built images, shared by runs and workers
    artifacts: Path
    keep_artifacts: bool = False
    serial_port: str | None = None
    baud: int = 115200
    firmware: Manifest | None = None
    flash_cmd: str | None = None
    reset_cmd: str | None = None
    container: bool = False
    infra_retries: int = 0
    models: tuple[ModelFile, ...] = ()  # the model tier (none: its tests are not collected)
    model_inputs: int = 3  # seeded inputs per model compared with the model's own runtime
    _container_image: str | None = field(default=None, repr=False)

    @classmethod
    def from_options(cls, config: pytest.Config) -> RunConfig:
        opt = config.getoption
        names = list(dict.fromkeys(opt("target") or config.getini("utvm_targets")))
        firmware = _load_firmware(opt("firmware"))
        if firmware is not None and not opt("target"):
            names = [firmware.target.name]
        known = {firmware.target.name: firmware.target} if firmware is not None else {}
        targets = [known.get(n) or get_target(n) for n in names]  # each looked up once, here
        multipliers = parse_multipliers(opt("timeout_multiplier"), names)
        serial = opt("serial_port")
        _check_serial(serial, names, firmware, opt("flash_cmd"), config)
        specs = [TargetSpec(t.name, t, _features(t, serial, bool(opt("container")), opt("reset_cmd"),
                                                      opt("flash_cmd")),
                            multipliers[t.name]) for t in targets]
        if opt("infra_retries") < 0:
            raise UtvmError("--infra-retries must not be negative")
        if opt("utvm_model_inputs") < 1:
            raise UtvmError("--utvm-model-inputs must be at least 1")
        return cls(specs=specs, cache=Path(opt("utvm_cache") or resources.cache_dir()),
                   artifacts=Path(opt("artifacts_dir") or resources.work_root() / "utvm-artifacts"),
                   keep_artifacts=opt("keep_artifacts"), serial_port=serial, baud=opt("baud"),
                   firmware=firmware, flash_cmd=opt("flash_cmd"), reset_cmd=opt("reset_cmd"),
                   container=opt("container"), infra_retries=opt("infra_retries"),
                   models=model_files(opt("utvm_models")), model_inputs=opt("utvm_model_inputs"))

    def build_image(self, spec: TargetSpec, sources: list[Path]) -> Manifest:
        key = hashlib.sha256("|".join([spec.name, *map(str, sources)]).encode()).hexdigest()[:12]
        out = self.cache / f"{spec.name}-{key}"
        out.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(out) + ".lock"):
            return build(spec.target, out, sources, testing=True)  # the suite calls utvm.testing.*

    def start_options(self, spec: TargetSpec) -> StartOptions:
        if self.serial_port:
            return StartOptions(serial_port=self.serial_port, baud=self.baud)
        if self.container and "container" in spec.features:
            return StartOptions(container_image=self.container_image())
        return StartOptions()

    def container_image(self) -> str:
        if self._container_image is None:
            from harness.targets.docker import ensure_qemu_image, remove_orphans

            self.cache.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self.cache / "docker-image.lock")):
                self._container_image = ensure_qemu_image()
                remove_orphans()  # containers of earlier runs that were killed
        return self._container_image


def _load_firmware(directory: str | None) -> Manifest | None:
    if directory is None:
        return None
    path = Path(directory)
    manifest = Manifest.load(path / "manifest.json" if path.is_dir() else path)
    if not manifest.testing:
        raise UtvmError(f"--firmware {directory} was built without the utvm.testing.* functions the suite "
                        "calls: build it with `utvm build --testing`")
    return manifest


def _check_serial(port: str | None, names: list[str], firmware: Manifest | None, flash_cmd: str | None,
                  config: pytest.Config) -> None:
    if port is None:
        if firmware is not None or flash_cmd:
            raise UtvmError("--firmware and --flash-cmd are for a board on --serial-port")
        return
    if len(names) != 1:
        raise UtvmError(f"a serial port holds one board; got targets {', '.join(names)}")
    if firmware is None and not flash_cmd:
        raise UtvmError("a board on --serial-port needs --firmware DIR (what it carries) or --flash-cmd")
    if firmware is not None and firmware.target.name != names[0]:
        raise UtvmError(f"--firmware was built for {firmware.target.name}, not for target {names[0]}")
    if config.getoption("numprocesses", None) not in (None, 0):
        raise UtvmError("a serial board serves one session: run without -n")


def _features(target: Target, serial: str | None, container: bool, reset_cmd: str | None,
              flash_cmd: str | None) -> frozenset[str]:
    features = set(target.features) | {"reset", ANY_IMAGE}
    if serial:
        features = (features - {"process", "qemu", "semihosting"}) | {"serial"}
        if not reset_cmd:
            features.discard("reset")
        if not flash_cmd:  # the board runs what it carries (--firmware)
            features.discard(ANY_IMAGE)
    elif container and target.containerized:
        features.add("container")
    return frozenset(features)


@cache
def command_version(argv: tuple[str, ...]) -> str:
    """The first line a tool prints of its version, or "unknown"."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False).stdout
    except OSError:
        return "unknown"
    return (out.strip().splitlines() or ["unknown"])[0]


def revision() -> str:
    """The checkout's `git describe` (with -dirty for local changes) when utvm runs from one,
    else the installed package's version."""
    checkout = resources.source_checkout()
    if checkout is None:
        return f"utvm {resources.version()}"
    return command_version(("git", "-C", str(checkout), "describe", "--always", "--dirty"))


def image_facts(spec: TargetSpec, device: DeviceUnderTest) -> dict[str, str]:
    """Facts a report needs to reproduce a result: the image, its toolchain, the emulator."""
    facts = {"target": spec.name, "image_sha256": device.sha256, "toolchain": device.manifest.toolchain,
             "features": ",".join(sorted(spec.features)),
             "revision": revision()}
    options = device.options
    if options.serial_port:
        facts["serial_port"] = options.serial_port
    elif spec.target.emulated:
        query = (spec.target.emulator[0], "--version")
        if options.container_image:
            query = ("docker", "run", "--rm", "--network", "none", options.container_image, *query)
        facts["qemu"] = command_version(query)
        if options.container_image:
            facts["container_image"] = options.container_image
    return facts

