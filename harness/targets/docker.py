"""Devices inside Docker containers: one container per device session.

Each container runs one QEMU with the image's ELF bind-mounted read-only, no
network, and labels naming its owner. It is removed when the session ends; a
container whose owning process died (a killed run) is removed by the next
session that starts on this machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import select
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

from harness import resources
from harness.errors import InfrastructureError, TransportClosed, TransportError, TransportTimeout
from harness.link.transport import Transport

LABEL = "org.utvm.session"
OWNER_PID = "org.utvm.owner-pid"
OWNER_HOST = "org.utvm.owner-host"
BASE_FALLBACK = "utvm-base:bookworm"
_STDOUT, _STDERR = 1, 2


def _docker():
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise InfrastructureError("the docker Python package is not installed") from exc
    try:
        return docker.from_env(timeout=60)
    except docker.errors.DockerException as exc:
        raise InfrastructureError(
            f"cannot reach the Docker engine (ci/start-dockerd.sh starts it): {exc}") from exc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def session_containers(client=None) -> list[dict]:
    """Summaries (Id, Names, Labels, State) of every utvm session container, without
    inspecting each one: others may be removing theirs at the same moment."""
    client = client or _docker()
    return client.api.containers(all=True, filters={"label": LABEL})


def _remove_quietly(client, container_id: str) -> bool:
    import docker

    try:
        client.api.remove_container(container_id, force=True)
        return True
    except docker.errors.NotFound:
        return False  # already gone
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # another process is removing it
            return False
        raise


def remove_orphans(client=None) -> int:
    """Remove session containers left by dead processes on this host; returns how many."""
    client = client or _docker()
    removed = 0
    for summary in session_containers(client):
        labels = summary.get("Labels") or {}
        if labels.get(OWNER_HOST) != socket.gethostname():
            continue
        if not _pid_alive(int(labels.get(OWNER_PID, "0") or 0)):
            removed += _remove_quietly(client, summary["Id"])
    return removed


def _run_script(script: str, *args: str) -> None:
    proc = subprocess.run(["bash", str(resources.script(script)), *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise InfrastructureError(f"ci/{script} failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")


def ensure_qemu_image(base_image: str | None = None) -> str:
    """Start dockerd if needed and build the Dockerfile's `qemu` stage; returns its tag.

    The tag hashes the Dockerfile and the base, so a change rebuilds it. Without a
    base given (or UTVM_BASE_IMAGE), debian:bookworm-slim is used when present,
    else a local debootstrap base is made (no registry needed).
    """
    return ensure_image("qemu", base_image)


def ensure_image(stage: str, base_image: str | None = None) -> str:
    """The Dockerfile's `stage` (qemu, toolchain, ci) built from the base, as ensure_qemu_image says."""
    _run_script("start-dockerd.sh")
    client = _docker()
    import docker

    base = base_image or os.environ.get("UTVM_BASE_IMAGE")
    if base is None:
        try:
            client.images.get("debian:bookworm-slim")
            base = "debian:bookworm-slim"
        except docker.errors.ImageNotFound:
            _run_script("docker-base.sh", BASE_FALLBACK)
            base = BASE_FALLBACK
    dockerfile = resources.dockerfile().read_bytes()
    tag = f"utvm-{stage}:" + hashlib.sha256(dockerfile + base.encode()).hexdigest()[:12]
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.build(fileobj=io.BytesIO(dockerfile), target=stage, tag=tag, rm=True,
                            buildargs={"BASE_IMAGE": base})
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise InfrastructureError(f"building the {stage} image from {base} failed: {exc}") from exc
    return tag


class ContainerTransport(Transport):
    """One emulated device in its own container, running `argv` with the image's directory
    mounted at /fw; the byte pipe is the container's stdio."""

    def __init__(self, image: str, device: str, argv: list[str], elf: Path,
                 stderr_path: Path | None = None) -> None:
        self.image, self.device, self.argv, self.elf = image, device, argv, Path(elf)
        self.stderr_path = stderr_path
        self.name = f"utvm-{device}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._container = None
        self._sock: socket.socket | None = None
        self._pending = bytearray()  # raw multiplexed stream not yet parsed
        self._stdout = bytearray()

    def open(self) -> None:
        client = _docker()
        import docker

        remove_orphans(client)
        try:
            self._container = client.containers.create(
                self.image, command=self.argv, name=self.name, stdin_open=True, tty=False,
                network_mode="none", cap_drop=["ALL"], security_opt=["no-new-privileges"],
                labels={LABEL: self.device, OWNER_PID: str(os.getpid()),
                                             OWNER_HOST: socket.gethostname()},
                volumes={str(self.elf.parent): {"bind": "/fw", "mode": "ro"}},
            )
            raw = self._container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            self._sock = raw._sock  # the plain socket under docker's wrapper
            self._container.start()
        except docker.errors.DockerException as exc:
            self.close()
            raise InfrastructureError(f"cannot start a container of {self.image}: {exc}") from exc

    def _exit_note(self) -> str:
        if self._container is None:
            return ""
        try:
            self._container.reload()
            state = self._container.attrs["State"]
            return f" (container {self.name}: {state['Status']}, exit code {state['ExitCode']})"
        except Exception:  # only decorates a message
            return f" (container {self.name})"

    def write(self, data: bytes) -> None:
        if self._sock is None:
            raise TransportError("transport is not open")
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise TransportClosed(f"write to the container failed: {exc}{self._exit_note()}") from exc

    def _demux(self) -> None:
        """Docker's attach stream: 8-byte headers (stream, 0, 0, 0, big-endian length)."""
        while len(self._pending) >= 8:
            kind, size = struct.unpack_from(">BxxxI", self._pending)
            if len(self._pending) < 8 + size:
                return
            body = bytes(self._pending[8 : 8 + size])
            del self._pending[: 8 + size]
            if kind == _STDOUT:
                self._stdout += body
            elif kind == _STDERR and self.stderr_path is not None:
                with self.stderr_path.open("ab") as f:
                    f.write(body)

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if self._sock is None:
            raise TransportError("transport is not open")
        deadline = time.monotonic() + timeout
        while not self._stdout:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportTimeout(f"no bytes from the device within {timeout:.3g} s{self._exit_note()}")
            ready, _, _ = select.select([self._sock], [], [], remaining)
            if ready:
                chunk = self._sock.recv(1 << 16)
                if not chunk:
                    raise TransportClosed(f"the container closed the stream{self._exit_note()}")
                self._pending += chunk
                self._demux()
        out = bytes(self._stdout[:max_bytes])
        del self._stdout[:max_bytes]
        return out

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        ctr, self._container = self._container, None
        if ctr is not None:
            with contextlib.suppress(Exception):  # else the next run's orphan sweep removes it
                _remove_quietly(_docker(), ctr.id)

    def describe(self) -> str:
        return f"{self.argv[0]} in container {self.name}"
