"""A board's health check: flash a known-good image, handshake, echo.

The known-good image is the plain runtime for the board's target (no kernels),
built from this checkout. A board that fails the check is out of rotation for
the night; the check runs again on the next night, and a pass brings it back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from harness.build import Manifest, build
from harness.device import Device
from harness.device.dut import Hooks
from harness.errors import InfrastructureError
from harness.targets import StartOptions, get_target

ECHO = "utvm.testing.echo"
PROBE = (12345, "utvm health", 2.5)


@dataclass(frozen=True)
class Health:
    ok: bool
    message: str
    seconds: float


def known_good_image(target: str, cache: Path) -> Manifest:
    out = cache / f"known-good-{target}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        return build(get_target(target), out, testing=True)  # the check calls utvm.testing.echo


def check(image: Manifest, port: str, baud: int, hooks: Hooks, timeout: float = 10.0) -> Health:
    """Flash, reset into a session, and echo a few values; never raises for a sick board."""
    start = time.monotonic()
    try:
        hooks.run("flash", image, port)
        device = Device(image, timeout=timeout, options=StartOptions(serial_port=port, baud=baud))
        reset = (lambda: hooks.run("reset", image, port)) if hooks.reset else None
        try:
            client = device.start(after_open=reset)
            echo = client.get_function(ECHO)
            for value in PROBE:
                got = echo(value)
                if got != value:
                    raise InfrastructureError(f"echo of {value!r} came back as {got!r}")
        finally:
            device.stop()
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {exc}", time.monotonic() - start)
    return Health(True, "flash, handshake and echo passed", time.monotonic() - start)
