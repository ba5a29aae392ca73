"""Simulated hardware: a QEMU board behind a pseudo-terminal and a fault relay, like a USB serial board."""
