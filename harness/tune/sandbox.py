"""Where a `utvm tune-worker` builds and runs what it is sent: the project's container image.

A payload is compiled and linked in one container of the Dockerfile's `toolchain` stage with no
network, no capabilities, a read-only root and only three directories mounted at their own paths:
the payload's (read-write), the runtime's sources (read-only) and the runtime objects sandboxes
compile once per target (read-write; builds outside the sandbox keep theirs apart). The image then
runs in a container of the same image, with only its directory mounted (harness.targets:
ContainerTransport), when the target runs as a process (the host target, QEMU boards); a board on a
serial port is flashed, and the firmware runs on the board. `Sandbox.run` is the seam:
harness.build.build takes it as its runner.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

from harness import resources
from harness.errors import InfrastructureError
from harness.targets import StartOptions, Target
from harness.targets.docker import LABEL, OWNER_HOST, OWNER_PID, _docker, ensure_image, remove_orphans

STAGE = "toolchain"
MEMORY = "2g"
PIDS = 256
COMMAND_SECONDS = 600  # one compiler or linker run (a payload can be slow to compile, not endless)


def image() -> str:
    """The toolchain image's tag (built on demand, as the QEMU image is)."""
    return ensure_image(STAGE)


def runtime_objects_dir() -> Path:
    """The runtime's objects the sandbox compiles, apart from those of builds on this machine (which
    never link what a sandbox wrote)."""
    return resources.cache_dir() / "tune-worker" / "runtime-objects"


class Sandbox:
    """One container for one payload's build: `run` executes a command in it, at the same paths."""

    def __init__(self, tag: str, payload_dir: Path) -> None:
        self.tag, self.payload_dir = tag, Path(payload_dir).resolve()
        self.name = f"utvm-sandbox-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._container: Any = None

    def mounts(self) -> dict[str, dict[str, str]]:
        runtime = runtime_objects_dir().resolve()
        runtime.mkdir(parents=True, exist_ok=True)
        crt = resources.crt().resolve()
        return {str(self.payload_dir): {"bind": str(self.payload_dir), "mode": "rw"},
                str(crt): {"bind": str(crt), "mode": "ro"},
                str(runtime): {"bind": str(runtime), "mode": "rw"}}

    def __enter__(self) -> Sandbox:
        import docker

        client = _docker()
        remove_orphans(client)
        try:
            self._container = client.containers.run(
                self.tag, ["sleep", "infinity"], name=self.name, detach=True, network_mode="none",
                volumes=self.mounts(), user=f"{os.getuid()}:{os.getgid()}", read_only=True,
                tmpfs={"/tmp": "rw,size=512m"}, environment={"TMPDIR": "/tmp"}, cap_drop=["ALL"],
                security_opt=["no-new-privileges"], mem_limit=MEMORY, pids_limit=PIDS,
                labels={LABEL: "tune-worker-build", OWNER_PID: str(os.getpid()),
                        OWNER_HOST: socket.gethostname()})
        except docker.errors.DockerException as exc:
            self.__exit__()
            raise InfrastructureError(f"cannot start a build sandbox of {self.tag}: {exc}") from exc
        return self

    def run(self, cmd: list[str]) -> subprocess.CompletedProcess[str]:
        """A compiler or linker command inside the container (a Runner for harness.build)."""
        if self._container is None:
            raise InfrastructureError("the build sandbox is not started")
        limited = ["timeout", "-k", "10", str(COMMAND_SECONDS), *cmd]
        code, (out, err) = self._container.exec_run(limited, demux=True, workdir=str(self.payload_dir))
        if code in (126, 127):
            raise OSError(f"{cmd[0]} is not runnable in {self.tag}: {(err or out or b'').decode()[-200:]}")
        stderr = (err or b"").decode(errors="replace")
        if code in (124, 137):
            stderr += f"\nerror: {cmd[0]} ran for more than {COMMAND_SECONDS} s in the build sandbox"
        return subprocess.CompletedProcess(cmd, code, (out or b"").decode(errors="replace"), stderr)

    def __exit__(self, *exc: object) -> None:
        ctr, self._container = self._container, None
        if ctr is not None:
            with contextlib.suppress(Exception):  # else the next sandbox's orphan sweep removes it
                ctr.remove(force=True)


def start_options(target: Target, tag: str) -> StartOptions:
    """How the worker starts an image: in a container of `tag` when the target runs as a process
    (the host target, QEMU); a board on a serial port runs it itself."""
    return StartOptions(container_image=tag) if target.process is not None else StartOptions()
