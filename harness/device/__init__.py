"""A running image: start it, open its session and RPC server; the device under test; the bench."""

from harness.device.device import Device

__all__ = ["Device"]
