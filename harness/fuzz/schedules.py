"""Which schedules the fuzzed kernels get (`utvm fuzz --schedules`): each op's default, a random
legal point of the tuner's design space per kernel (seeded), or the micro-kernel schedules (the DSP
dot products, the register-blocked kernels, Helium's depthwise). Every one but the default is
compared with the default-scheduled (untuned) image of the same cases, bit for bit, and with the
reference."""

from __future__ import annotations

from collections.abc import Callable

from harness.models.compile.model import Scheduler


def _random(seed: int, target: str) -> Scheduler:
    from harness.models.compile.design_space import random_schedules

    return random_schedules(seed, target)


def _dsp(seed: int, target: str) -> Scheduler:
    from harness.models.compile.dsp import apply_dsp

    return apply_dsp


def _blocked(seed: int, target: str) -> Scheduler:
    from harness.models.compile.blocked import apply_blocked

    return apply_blocked


def _mve(seed: int, target: str) -> Scheduler:
    from harness.models.compile.mve import apply_mve

    return apply_mve


SCHEDULES: dict[str, Callable[[int, str], Scheduler] | None] = {
    "default": None, "random": _random, "dsp": _dsp, "blocked": _blocked, "mve": _mve}


def scheduler(name: str, seed: int, target: str) -> Scheduler | None:
    """The scheduler `--schedules name` stands for (None: each op's default schedule)."""
    make = SCHEDULES[name]
    return None if make is None else make(seed, target)
