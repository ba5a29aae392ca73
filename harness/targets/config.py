"""Build configurations: one target built several ways (kernel optimisation, where the weights live,
extra compiler flags and defines), each a target of its own name so that build caches, tuning records
and reports keep them apart.

API:

- ``BuildConfig``: a typed, frozen, hashable description: ``name``; ``opt``, the kernels' optimisation
  level ("O2", "O3", "Os", ...; None: the target's default, -O3 on Cortex-M); ``weights``, "flash"
  (parameters stay with the constants) or "ram" (linked to run from RAM, their load image in flash,
  copied at start by crt/platform/cortex_m/startup.c like .data); ``cflags``, added to the kernels' flags
  (after the level, so they win); ``defines``, added to the whole build's defines (they win over the
  target's); ``cpu_hz``, the core clock the configuration runs at when it changes it (a real board's
  start-up code sets the clock from its defines).
- ``BuildConfig.from_axes(opt=..., weights=..., base=...)``: an ad-hoc configuration from axes, over a
  named one (``base``, default: the default). Its name lists what it changes, ``opt=O3+weights=ram`` or
  ``speed+weights=ram``, and ``named_config`` reads such names back.
- ``configure(target, config) -> Target``: the target built that way, named ``<target>@<config>``
  (``qemu-mps2-an386@weights-ram``); the default configuration gives back the target itself.
  ``harness.targets.get_target`` understands those names too, so a configured target can be named on
  any command line, in a manifest or in a worker process.
- ``named_config(target, name) -> BuildConfig``: a configuration the target's board declares, or an
  ad-hoc name as above; an unknown one is an ``UnknownConfig`` whose one line lists the known ones.
- ``parse_configs(raw, where)``: the ``configs`` tables of a board description, by name.
  (The value, its errors and the reading live in ``harness.targets.buildconfig``, which ``base.Target``
  imports to hold one; this module re-exports them.)
- ``add_config_argument(parser)``: ``--config NAME`` on a command that takes ``--target``
  (``harness.targets.with_config`` turns the pair into the configured target's name).

Board descriptions (boards/qemu/boards.toml, [defaults] and per board; a real board's <name>.toml)
declare named configurations as tables; every board has ``default`` (the plain target)::

    [defaults.configs.speed]                 # [configs.speed] in a real board's description
    description = "kernels at -O3 with unrolled loops"
    opt = "O3"
    cflags = ["-funroll-loops"]
    weights = "flash"                        # or "ram"
    defines = { UTVM_BOARD_CLOCK = "2" }     # start-up settings a real board's own start-up code applies
    cpu_hz = 160_000_000                     # the clock those settings give (cycles come from it)

Start-up settings (clock, caches, flash wait states) are defines the board's own start-up code reads;
QEMU boards have none (the emulator has no clock tree, caches or wait states).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

from harness.targets import cortex_m
from harness.targets.base import Target
from harness.targets.buildconfig import (
    AXES,
    DEFAULT,
    DEFAULT_CONFIG,
    WEIGHTS,
    BuildConfig,
    ConfigError,
    UnknownConfig,
    parse_config,
    parse_configs,
)

__all__ = ["DEFAULT", "DEFAULT_CONFIG", "WEIGHTS", "BuildConfig", "ConfigError", "UnknownConfig",
           "add_config_argument", "configure", "configured", "known_configs", "named_config", "parse_config",
           "parse_configs"]


def known_configs(target: Target) -> list[str]:
    return [DEFAULT, *sorted(target.configs)]


def named_config(target: Target, name: str) -> BuildConfig:
    """The configuration ``name`` of the target: ``default``, one its board declares, or an ad-hoc name
    ``[NAMED+]axis=value[+axis=value]`` (axes: opt, weights)."""
    head, *rest = name.split("+")
    if "=" in head:
        head, rest = DEFAULT, [head, *rest]
    if head == DEFAULT:
        base = BuildConfig()
    elif head in target.configs:
        base = target.configs[head]
    else:
        raise UnknownConfig(f"unknown configuration {name!r} for {target.name}; known: "
                            f"{', '.join(known_configs(target))} (or opt=LEVEL, weights=flash|ram, "
                            "joined by '+')")
    axes: dict[str, str] = {}
    for part in rest:
        axis, sep, value = part.partition("=")
        if not sep or axis not in AXES or axis in axes:
            raise UnknownConfig(f"configuration {name!r}: {part!r} is not an axis setting "
                                f"(opt=LEVEL or weights=flash|ram)")
        axes[axis] = value
    config = BuildConfig.from_axes(base=base, **axes)
    if config.name != name:  # an axis that changes nothing, or axes out of order: one spelling per config
        raise UnknownConfig(f"configuration {name!r} is spelt {config.name!r}")
    return config


def configure(target: Target, config: BuildConfig) -> Target:
    """The target built under ``config``, named ``<target>@<config>``; the target itself for the
    default configuration."""
    if config == target.config:
        return target
    if not target.config.is_default:
        raise ConfigError(f"target {target.name} is already configured; configure "
                          f"{target.name.split('@')[0]}")
    if config.is_default:
        return target
    level = target.kernel_cflags if config.opt is None else (f"-{config.opt}",)
    defines = {**target.defines, **dict(config.defines)}
    changes: dict[str, Any] = {"name": f"{target.name}@{config.name}", "config": config,
                               "kernel_cflags": (*level, *config.cflags)}
    if config.cpu_hz is not None:
        changes["cpu_hz"] = config.cpu_hz
        defines["UTVM_BOARD_CPU_HZ"] = f"{config.cpu_hz}u"
    changes["defines"] = MappingProxyType(defines)
    if config.weights == "ram":
        changes.update(_weights_in_ram(target))
    return dataclasses.replace(target, **changes)


def _weights_in_ram(target: Target) -> dict[str, Any]:
    if cortex_m.PARAMS_LD not in target.link_files:
        raise ConfigError(f"target {target.name} cannot place its weights in RAM (a host process: its "
                          "weights are wherever the host puts them)")
    link_files = {**target.link_files, cortex_m.PARAMS_LD: cortex_m.params_ld("ram")}
    return {"link_files": MappingProxyType(link_files), "params_bytes": None, "params_in_ram": True}


def configured(targets: Iterable[Target], name: str) -> list[Target]:
    """Each target under its configuration ``name`` (UnknownConfig if one of them has none)."""
    return [configure(t, named_config(t, name)) for t in targets]


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="NAME", help="build the target under one of its named build "
                        "configurations (boards/qemu/boards.toml: default, weights-ram, size, speed), or "
                        "axes such as opt=O3+weights=ram; builds and tuning records are kept apart by it")
