"""Targets: the host process, QEMU Cortex-M boards (locally or in containers) and real boards.

``base`` says what a target is, ``registry`` holds them, and one module per kind describes its
targets and starts them: ``host``, ``qemu`` (with ``docker`` for containers), ``boards``; ``cortex_m``
is what every bare-metal Cortex-M target shares.
"""

from harness.targets.base import LaunchOptions, Target
from harness.targets.launch import launch
from harness.targets.registry import all_targets, get_target

__all__ = ["LaunchOptions", "Target", "all_targets", "get_target", "launch"]
