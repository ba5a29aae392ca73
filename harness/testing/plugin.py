"""The utvm pytest plugin: run one black-box suite against any target.

    pytest acceptance_tests --target host --target qemu-mps2-an385 [-n auto]
    pytest acceptance_tests --target qemu-mps2-an385 --serial-port /dev/ttyACM0 \\
        --flash-cmd 'pyocd flash {elf}'

Tests ask for `dut` (the device under test: `dut.rpc`, `dut.raw_link()`, `dut.manifest`)
or `rpc` and are parametrized over the chosen targets. `@pytest.mark.requires("fpu")`
skips a test on targets without that feature. Each xdist worker gets its own
devices; images are built once and shared through file locks.

The model tier (`--utvm-models FILE_OR_DIR`): tests that ask for `utvm_model` are
parametrized over those models too (and over the variants the suite names for a target,
pytest_utvm_model_variants: "kws01@tuned"), and not collected when none are given. Such a test
runs on the model's own image through `image_dut(manifest)` (harness.testing.devices)
and records what it measured with `utvm_figures.record({...})`: the figures go with
its result into JUnit, summary.json and the nightly history.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.build import Manifest
from harness.device.dut import DeviceUnderTest
from harness.errors import BuildError, InfrastructureError, UtvmError
from harness.targets import Target
from harness.testing import report as R
from harness.testing.devices import DevicePool, Figures, ImageDevices, set_property
from harness.testing.suite import ModelFile, RunConfig, TargetSpec, image_facts

_RUN = pytest.StashKey[RunConfig]()
_PHASE = pytest.StashKey[dict[str, pytest.TestReport]]()
MODEL = "utvm_model"  # the fixture a model-tier test asks for


class UtvmHookSpecs:
    @pytest.hookspec
    def pytest_utvm_image_sources(self, config: pytest.Config) -> list[Path]:  # type: ignore[empty-body]
        """Kernel sources (C files) the suite's image is built with."""

    @pytest.hookspec
    def pytest_utvm_model_variants(self, config: pytest.Config,  # type: ignore[empty-body]
                                   target: Target) -> list[str]:
        """Variants of each model (a name such as "tuned") the model tier also runs on this target,
        beside the model as compiled by default; a test sees one as `utvm_model.variant`."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(UtvmHookSpecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("utvm", "utvm targets")
    g.addoption("--target", action="append", default=[], metavar="NAME",
                help="run on this target (repeatable; `utvm targets` lists them)")
    g.addoption("--timeout-multiplier", action="append", default=[], metavar="[TARGET=]X",
                help="scale device timeouts, for all targets or one (repeatable)")
    g.addoption("--keep-artifacts", action="store_true",
                help="keep images and device logs under --artifacts-dir")
    g.addoption("--artifacts-dir", default=None, metavar="DIR",
                help="default: utvm-artifacts beside the image cache")
    g.addoption("--utvm-cache", default=None, metavar="DIR",
                help="built images, shared between runs and workers (default: $UTVM_CACHE, "
                "build/utvm-cache of a checkout, or ~/.cache/utvm/utvm-cache)")
    g.addoption("--serial-port", default=None, metavar="PORT",
                help="the target is a board on this serial port (/dev/tty*, a pty, or a pyserial URL)")
    g.addoption("--baud", type=int, default=115200)
    g.addoption("--firmware", default=None, metavar="DIR",
                help="build directory (manifest.json) of the image the serial board carries")
    g.addoption("--flash-cmd", default=None, metavar="CMD",
                help="flash the suite's image onto the serial board first; {elf} and {port} are filled in")
    g.addoption("--reset-cmd", default=None, metavar="CMD",
                help="reset the serial board; {port} is filled in")
    g.addoption("--container", action="store_true", help="run QEMU boards inside Docker containers")
    g.addoption("--infra-retries", type=int, default=0, metavar="N",
                help="re-run a test up to N times after an infrastructure error (never after a failure)")
    g.addoption("--utvm-report-dir", default=None, metavar="DIR",
                help="write junit-<target>.xml and summary.json here")
    g.addoption("--utvm-models", action="append", default=[], metavar="FILE_OR_DIR",
                help="run the model tier with these models (.tflite/.onnx; a directory: all of its models; "
                "repeatable); without it the model tier's tests are not collected")
    g.addoption("--utvm-model-inputs", type=int, default=3, metavar="N",
                help="seeded inputs per model compared with the model's own runtime (default 3)")
    parser.addini("utvm_targets", "targets used when no --target is given", type="args", default=["host"])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(*features): run only on targets that have these features")
    config.addinivalue_line("markers", "utvm_target(name): set by the plugin: the target a test runs on")
    config.pluginmanager.register(ResultsCollector(config), "utvm-results")
    if any(config.getoption(o) for o in ("target", "serial_port", "firmware", "flash_cmd", "utvm_models")):
        _run(config)  # asked for targets: a bad option is a usage error before anything runs


def _run(config: pytest.Config) -> RunConfig:
    """The run's settings, read when a test first needs a target: a pytest run in the same environment
    that uses no target never reads the target registry (so a broken board file cannot stop it)."""
    if _RUN not in config.stash:
        try:
            config.stash[_RUN] = RunConfig.from_options(config)
        except UtvmError as exc:
            raise pytest.UsageError(f"utvm: {exc}") from None
    return config.stash[_RUN]


def pytest_report_header(config: pytest.Config) -> list[str]:
    names = config.getoption("target") or []
    if not names:
        return []
    return [f"utvm targets: {', '.join(names)}"
            + (f" (on {config.getoption('serial_port')})" if config.getoption("serial_port") else "")
            + (" in containers" if config.getoption("container") else "")]


# ---- parametrization, feature skips, order ----
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = set(metafunc.fixturenames)
    if not {"utvm_spec", MODEL} & names:
        return
    run = _run(metafunc.config)
    if MODEL in names and run.models and "utvm_spec" in names:
        pairs = _model_runs(metafunc.config, run)  # each model (and variant) on each target it runs on
        metafunc.parametrize(["utvm_spec", MODEL], pairs, ids=[f"{s.name}-{m.label}" for s, m in pairs],
                             scope="session")
    elif MODEL in names and run.models:  # a test of the models alone, on no target: each model once
        metafunc.parametrize(MODEL, run.models, ids=[m.name for m in run.models], scope="session")
    elif "utvm_spec" in names:
        metafunc.parametrize("utvm_spec", run.specs, ids=[s.name for s in run.specs], scope="session")


def _model_runs(config: pytest.Config, run: RunConfig) -> list[tuple[TargetSpec, ModelFile]]:
    """Every model on every target, and the variants the suite names for a target
    (pytest_utvm_model_variants) on that target only: elsewhere they are not collected."""
    pairs = []
    for spec in run.specs:
        variants = [v for group in config.hook.pytest_utvm_model_variants(config=config, target=spec.target)
                    for v in group]
        pairs += [(spec, m) for m in run.models]
        pairs += [(spec, replace(m, variant=v)) for v in dict.fromkeys(variants) for m in run.models]
    return pairs


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str,
                              obj: object) -> list[pytest.Item] | None:
    """Without --utvm-models the model tier is not part of the run: its tests are not collected, so an
    ordinary suite run is what it was (no skips, no deselected tests)."""
    if not (inspect.isfunction(obj) and MODEL in inspect.signature(obj).parameters):
        return None
    return None if _run(collector.config).models else []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        spec = _spec_of(item)
        if spec is None:
            continue
        item.add_marker(pytest.mark.utvm_target(spec.name))
        for mark in item.iter_markers("requires"):
            missing = sorted(set(mark.args) - spec.features)
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"target {spec.name} lacks {', '.join(missing)}"))
    if _RUN not in config.stash:
        return
    run = config.stash[_RUN]
    specs, models = [s.name for s in run.specs], list(run.models)
    items.sort(key=lambda i: _order(i, specs, models))


def _order(item: pytest.Item, specs: list[str], models: list[ModelFile]) -> tuple[int, int, str, int]:
    """The suite one target after the other (a worker keeps few devices alive), then the model tier
    one model (and variant) after the other (a worker compiles a model once; a serial board is flashed
    least)."""
    spec, model = _spec_of(item), _param(item, MODEL)
    target = specs.index(spec.name) if spec is not None else -1
    if isinstance(model, ModelFile):
        return 1, models.index(replace(model, variant="")), model.variant, target
    return 0, target, "", 0


def _param(item: pytest.Item, name: str) -> Any:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(name) if callspec else None


def _spec_of(item: pytest.Item) -> TargetSpec | None:
    spec = _param(item, "utvm_spec")
    return spec if isinstance(spec, TargetSpec) else None


# ---- fixtures ----
@pytest.fixture(scope="session")
def utvm_run(pytestconfig: pytest.Config) -> RunConfig:
    return _run(pytestconfig)


@pytest.fixture(scope="session")
def utvm_pool(utvm_run: RunConfig, pytestconfig: pytest.Config,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevicePool]:
    worker = getattr(pytestconfig, "workerinput", {}).get("workerid", "main")
    root = (utvm_run.artifacts / "devices" / worker if utvm_run.keep_artifacts
            else tmp_path_factory.mktemp("devices"))
    pool = DevicePool(utvm_run, root)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def utvm_image(utvm_spec: TargetSpec, utvm_run: RunConfig, pytestconfig: pytest.Config) -> Manifest:
    """The suite's image for the target (for a serial board: the one it carries)."""
    if utvm_run.firmware is not None:
        return utvm_run.firmware
    sources = [Path(p) for group in pytestconfig.hook.pytest_utvm_image_sources(config=pytestconfig)
               for p in group]
    return utvm_run.build_image(spec=utvm_spec, sources=sources)  # a serial board: the pool flashes it


@pytest.fixture
def dut(request: pytest.FixtureRequest, utvm_spec: TargetSpec, utvm_image: Manifest,
        utvm_pool: DevicePool) -> Iterator[DeviceUnderTest]:
    device = utvm_pool.get(utvm_spec, utvm_image)
    _attach_facts(request.node, utvm_spec, device)
    device.begin_test()  # an infrastructure fault here is a setup error
    yield device
    report = request.node.stash.get(_PHASE, {}).get("call")
    device.end_test(passed=report is not None and not report.failed)


@pytest.fixture
def image_dut(request: pytest.FixtureRequest, utvm_spec: TargetSpec,
              utvm_pool: DevicePool) -> Iterator[ImageDevices]:
    """`image_dut(manifest)`: a device under test running another image of the test's target."""
    devices = ImageDevices(utvm_pool, utvm_spec)
    yield devices
    report = request.node.stash.get(_PHASE, {}).get("call")
    devices.end_test(passed=report is not None and not report.failed)


@pytest.fixture
def utvm_figures(request: pytest.FixtureRequest) -> Figures:
    """Record what the test measured: `utvm_figures.record({"instructions": n, "flash_bytes": b})`."""
    return Figures(request.node)


class LiveRPC:
    """The client of the device's current session, followed across reconnects and retries."""

    def __init__(self, device: DeviceUnderTest) -> None:
        self._device = device

    def __getattr__(self, name: str) -> Any:
        return getattr(self._device.rpc, name)  # the session begin_test/recover() opened


@pytest.fixture
def rpc(dut: DeviceUnderTest) -> LiveRPC:
    return LiveRPC(dut)


def _attach_facts(node: pytest.Item, spec: TargetSpec, device: DeviceUnderTest) -> None:
    for key, value in image_facts(spec, device).items():
        node.user_properties.append((R.P_TARGET_FACTS + key, value))


# ---- outcomes: infrastructure errors vs failures, retries ----
@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Re-run the test body after an infrastructure error, on a fresh session; never after a failure."""
    device, images = pyfuncitem.funcargs.get("dut"), pyfuncitem.funcargs.get("image_dut")
    if not isinstance(device, DeviceUnderTest) and not isinstance(images, ImageDevices):
        return None
    retries = _run(pyfuncitem.config).infra_retries
    if not retries:
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    for attempt in range(retries + 1):
        try:
            pyfuncitem.obj(**args)
            return True
        except InfrastructureError:
            if attempt == retries:
                raise
            set_property(pyfuncitem, R.P_RETRIES, attempt + 1)
            if isinstance(images, ImageDevices):
                images.mark_broken()  # the test's next image_dut() call opens a new session
            if isinstance(device, DeviceUnderTest):
                device.mark_broken()
                device.recover()
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    rep: pytest.TestReport = outcome.get_result()
    item.stash.setdefault(_PHASE, {})[rep.when] = rep
    spec = _spec_of(item)
    if spec is None:
        return
    set_property(item, R.P_TARGET, spec.name)
    model = _param(item, MODEL)
    if isinstance(model, ModelFile):  # a model-tier result says which model, even when it skipped
        set_property(item, R.P_FIGURE + "model", model.label)
    rep.user_properties = list(item.user_properties)
    if rep.failed and call.excinfo is not None:
        for kind, error_class in ((InfrastructureError, R.ErrorClass.INFRASTRUCTURE),
                                  (BuildError, R.ErrorClass.BUILD)):
            if call.excinfo.errisinstance(kind):
                rep.user_properties.append((R.P_ERROR_CLASS, error_class.value))


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """A fault of the machinery during a test is an error; a build that fails is a failure."""
    error_class = dict(getattr(report, "user_properties", ())).get(R.P_ERROR_CLASS)
    if report.when == "call" and report.failed and error_class == R.ErrorClass.INFRASTRUCTURE:
        return "error", "E", ("ERROR", {"red": True})
    if report.when == "setup" and report.failed and error_class == R.ErrorClass.BUILD:
        return "failed", "F", ("FAILED", {"red": True})
    return None


class ResultsCollector:
    """Folds test reports (from this process or from xdist workers) into per-target results."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results = R.RunResults()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if R.P_TARGET not in props:
            return
        message = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2])
        elif report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else report.longreprtext.strip()[-300:]
        self.results.record(report.nodeid, report.when, report.outcome, report.duration, props, message,
                            report.longreprtext if report.failed else "")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results.tests or hasattr(self.config, "workerinput"):
            return
        terminalreporter.section("utvm summary")
        for line in self.results.table():
            terminalreporter.write_line(line)
        out = self.config.getoption("utvm_report_dir")
        if out:
            for path in self.results.write(Path(out)):
                terminalreporter.write_line(f"wrote {path}")
