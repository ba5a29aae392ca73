"""A device that stops answering is noticed after its session timeout: DEFAULT_TIMEOUT x the target's
timeout_multiplier (x the run's --timeout-multiplier in the plugin), each applied once. The hung device
is real: a QEMU board started normally, then stopped with SIGSTOP."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.device import Device
from harness.device.device import DEFAULT_TIMEOUT
from harness.errors import InfrastructureError
from harness.link.transport import ChildProcessTransport
from harness.targets import get_target
from tests.conftest import KERNELS, build_image
from tests.test_plugin import run

BOARD = "qemu-mps2-an385"  # timeout_multiplier 3: the square (9) is far from it
SCALE = 0.05  # the timeout kept small: 10 s x 0.05 x 3 = 1.5 s
SLACK = 1.0  # the handshake gives up at its deadline; a loaded machine adds a little


def _expected() -> float:
    multiplier = get_target(BOARD).timeout_multiplier
    assert multiplier > 1, "a multiplier of 1 cannot tell once from twice"
    return DEFAULT_TIMEOUT * SCALE * multiplier


def _hang_and_time(transport: object, reconnect: Callable[[], object]) -> float:
    assert isinstance(transport, ChildProcessTransport)
    pid = transport.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(InfrastructureError):
            reconnect()
        return time.monotonic() - start
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_hung_device_is_noticed_after_default_timeout_times_the_targets_multiplier(tmp_path: Path) -> None:
    image = build_image(BOARD, [KERNELS / "handwritten.c"])
    device = Device(image, timeout=DEFAULT_TIMEOUT * SCALE, workdir=tmp_path)
    assert device.timeout == pytest.approx(_expected())
    device.start()
    try:
        elapsed = _hang_and_time(device.transport, device.reconnect)
    finally:
        device.stop()
    assert _expected() <= elapsed < _expected() + SLACK, elapsed


HUNG = """
import json, os, signal, time
import pytest
from harness.errors import InfrastructureError

def test_hung(dut):
    pid = dut.raw_link().proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(InfrastructureError):
            dut.reconnect()
        elapsed = time.monotonic() - start
    finally:
        os.kill(pid, signal.SIGCONT)
    with open(os.environ["UTVM_TEST_ELAPSED"], "w") as f:
        json.dump(elapsed, f)
"""


def test_the_plugin_applies_the_targets_multiplier_once(pytester: pytest.Pytester, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """--timeout-multiplier scales the default; the target's own multiplier is applied on top, once
    (it was applied twice: a hung QEMU board was noticed after 90 s instead of 30 s)."""
    pytester.makepyfile(test_hung=HUNG)
    out = tmp_path / "elapsed.json"
    monkeypatch.setenv("UTVM_TEST_ELAPSED", str(out))
    result = run(pytester, "--target", BOARD, "--timeout-multiplier", str(SCALE))
    result.assert_outcomes(passed=1)
    elapsed = json.loads(out.read_text())
    assert _expected() <= elapsed < _expected() + SLACK, elapsed
