"""Fixtures shared by the white-box tests: images built once per run (shared
between xdist workers through a file lock) and devices started per test."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from harness.build import Manifest, build
from harness.device import Device
from harness.rpc import RPCClient
from harness.target import REPO_ROOT, TARGETS, get_target

KERNELS = Path(__file__).parent / "kernels"
BUILD_ROOT = REPO_ROOT / "build" / "test-images"


def build_image(target: str, sources: list[Path]) -> Manifest:
    key = hashlib.sha256("|".join([target, *map(str, sources)]).encode()).hexdigest()[:12]
    out = BUILD_ROOT / f"{target}-{key}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        return build(get_target(target), out, sources)


# Every target the device tests run on: the host builds and each QEMU board over each transport.
DEVICE_TARGETS = ["host", "host-asan", *(n for n, t in TARGETS.items() if t.launcher == "qemu")]
QEMU_TARGETS = [n for n in DEVICE_TARGETS if TARGETS[n].launcher == "qemu"]


@pytest.fixture(scope="session")
def host_image() -> Manifest:
    return build_image("host", [KERNELS / "handwritten.c"])


@pytest.fixture(params=DEVICE_TARGETS)
def image(request: pytest.FixtureRequest) -> Manifest:
    return build_image(request.param, [KERNELS / "handwritten.c"])


@pytest.fixture
def device(image: Manifest, tmp_path: Path) -> Iterator[Device]:
    dev = Device(image, workdir=tmp_path)
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def client(device: Device) -> RPCClient:
    assert device.client is not None
    return device.client


def require_tvm():
    """TVM is installed by the test command; outside CI a missing TVM skips."""
    if os.environ.get("CI"):
        import tvm

        return tvm
    return pytest.importorskip("tvm")
