"""Targets: the host process, QEMU Cortex-M boards (locally or in containers) and real boards.

``base`` says what a target is and how an image of it starts (``Target.start``), ``registry`` holds
them, ``config`` builds one several ways (``<target>@<config>``), and one module per kind describes
its targets and its ``Starter``: ``host``, ``qemu`` (with ``docker`` for containers), ``boards``;
``cortex_m`` is what every bare-metal Cortex-M target shares.
"""

from harness.targets.base import StartOptions, Target
from harness.targets.registry import all_targets, get_target, with_config

__all__ = ["StartOptions", "Target", "all_targets", "get_target", "with_config"]
