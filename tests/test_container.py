"""QEMU devices inside Docker containers, for real: the engine is started and
the image built by the set-up when needed (ci/start-dockerd.sh, the Dockerfile's
qemu stage on a debootstrap base when no registry is reachable)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from filelock import FileLock

from harness.device import Device
from harness.targets import StartOptions
from harness.targets.docker import (
    LABEL,
    OWNER_HOST,
    OWNER_PID,
    _docker,
    ensure_qemu_image,
    session_containers,
)
from tests.conftest import BUILD_ROOT, KERNELS, build_image

BOARDS = ["qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505", "qemu-mps3-an547",
          "qemu-mps2-an385-semihosting"]


@pytest.fixture(scope="session")
def qemu_image() -> str:
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(BUILD_ROOT / "docker-image.lock")):  # one build for all xdist workers
        return ensure_qemu_image()


@pytest.fixture
def options(qemu_image: str) -> StartOptions:
    return StartOptions(container_image=qemu_image)


def _session_containers(name: str) -> list[dict]:
    return [c for c in session_containers() if f"/{name}" in c["Names"]]


@pytest.mark.parametrize("target", BOARDS)
def test_device_runs_in_a_labelled_container_removed_at_the_end(
        target: str, options: StartOptions, tmp_path: Path) -> None:
    image = build_image(target, [KERNELS / "handwritten.c"])
    dev = Device(image, workdir=tmp_path, options=options)
    client = dev.start()
    try:
        name = dev.transport.name  # type: ignore[union-attr]
        (ctr,) = _session_containers(name)
        assert ctr["State"] == "running" and ctr["Labels"][LABEL] in target
        assert client.get_function("add_int")(40, 2) == 42
        assert dev.session is not None
        # every StartInit that reached the device started a session (a slow container start makes the
        # host send another), and no other: the link is this device's alone
        assert 1 <= client.stats()["sessions_started"] <= dev.session.stats.start_inits
    finally:
        dev.stop()
    assert _session_containers(name) == []


def test_container_removed_when_the_test_body_fails(options: StartOptions, tmp_path: Path) -> None:
    image = build_image("qemu-mps2-an385", [KERNELS / "handwritten.c"])
    dev = Device(image, workdir=tmp_path, options=options)
    with pytest.raises(ZeroDivisionError), dev:
        name = dev.transport.name  # type: ignore[union-attr]
        assert _session_containers(name)
        _ = 1 / 0
    assert _session_containers(name) == []


@pytest.fixture
def orphan(qemu_image: str) -> Iterator[str]:
    """A session container whose owner died, as a killed run leaves behind."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    ctr = _docker().containers.create(qemu_image, command=["sleep", "600"], name=f"utvm-orphan-{dead.pid}",
                                      labels={LABEL: "orphan", OWNER_PID: str(dead.pid),
                                              OWNER_HOST: __import__("socket").gethostname()})
    yield ctr.name
    if _session_containers(ctr.name):
        ctr.remove(force=True)


def test_next_session_removes_containers_of_killed_runs(orphan: str, options: StartOptions,
                                                         tmp_path: Path) -> None:
    assert _session_containers(orphan)
    with Device(build_image("qemu-mps2-an385", [KERNELS / "handwritten.c"]), workdir=tmp_path,
                options=options) as client:
        assert client.get_function("add_int")(1, 1) == 2
    assert _session_containers(orphan) == []


def test_instances_side_by_side_are_independent(options: StartOptions, tmp_path: Path) -> None:
    image = build_image("qemu-mps2-an385-semihosting", [KERNELS / "handwritten.c"])

    def one(i: int) -> tuple[str, bool]:
        device = Device(image, workdir=tmp_path, options=options)
        with device as client:
            data = client.alloc(1000 + i)
            client.free_data(data)
            started = client.stats()["sessions_started"]
            assert device.session is not None
            # every StartInit that reached this device started a session (a slow reply under load
            # makes the host send another); a device that saw another's handshake would count more
            own = 1 <= started <= device.session.stats.start_inits
            return client.get_function("utvm.testing.echo")(f"device {i}"), own

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(4)))
    assert results == [(f"device {i}", True) for i in range(4)]
