"""Firmware images: compile the runtime, a port and kernels for a target, link them, measure the footprint."""

from harness.build.image import Manifest, build, build_jobs

__all__ = ["Manifest", "build", "build_jobs"]
