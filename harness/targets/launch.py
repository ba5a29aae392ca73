"""Start an image of a target and return the byte pipe to it."""

from __future__ import annotations

from pathlib import Path

from harness.link.serial import SerialTransport
from harness.link.transport import Transport
from harness.targets.base import LaunchOptions, Target


def launch(target: Target, artifact: Path, workdir: Path, options: LaunchOptions | None = None) -> Transport:
    options = options or LaunchOptions()
    if options.serial_port:  # a board: whatever its kind, its link is a UART
        return SerialTransport(options.serial_port, options.baud)
    return target.launcher(target, Path(artifact), workdir, options)
