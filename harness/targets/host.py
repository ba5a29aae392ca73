"""The runtime as an x86 child process, plain or under AddressSanitizer and UBSan."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from harness import resources
from harness.link.transport import ChildProcessTransport, Transport
from harness.targets.base import StartOptions, Target
from harness.targets.docker import ContainerTransport

_DEFINES = MappingProxyType({
    "UTVM_MAX_PACKET_SIZE": "131072",
    "UTVM_RX_CHUNK": "65536",
    "UTVM_TX_CHUNK": "4096",
    "UTVM_ARG_ARENA_SIZE": "4096",
    "UTVM_MAX_CLOSURES": "8",
    "UTVM_MAX_TIMER_REPEATS": "64",
})
_SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g")


@dataclass(frozen=True)
class ProcessStarter:
    """A host image is an executable: started as a local child process, its stdio the link, or in a
    container of the given image with its directory mounted."""

    def start(self, target: Target, artifact: Path, workdir: Path, options: StartOptions) -> Transport:
        if options.container_image:
            return ContainerTransport(options.container_image, target.name, _process(f"/fw/{artifact.name}"),
                                      artifact, stderr_path=workdir / "device.stderr")
        return ChildProcessTransport([str(artifact)], stderr_path=workdir / "device.stderr")


def _process(elf: str) -> list[str]:
    return [elf]


def targets() -> list[Target]:
    common = {"port_dir": resources.crt() / "platform" / "host", "starter": ProcessStarter(),
              "defines": _DEFINES, "self_hosted": True, "process": _process}
    return [
        Target(name="host",
               description="the runtime as an x86 child process (framed session on stdin/stdout)",
               features=frozenset({"host", "process"}), **common),
        Target(name="host-asan",
               description="host target built with AddressSanitizer and UndefinedBehaviorSanitizer",
               cflags=("-std=c11", "-O1", *_SANITIZE), ldflags=_SANITIZE,
               features=frozenset({"host", "process", "sanitizers"}), timeout_multiplier=3.0, **common),
    ]
