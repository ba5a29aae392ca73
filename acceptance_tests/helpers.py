"""Small helpers the acceptance tests share."""

from __future__ import annotations

import pytest

from harness.device.dut import DeviceUnderTest


def needs_functions(dut: DeviceUnderTest, *names: str) -> None:
    """Skip when the image lacks these kernels (a vendor's firmware may carry fewer)."""
    missing = sorted(set(names) - set(dut.functions))
    if missing:
        pytest.skip(f"image lacks kernels {', '.join(missing)}")
