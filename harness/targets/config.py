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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from harness.errors import UtvmError

if TYPE_CHECKING:
    from harness.targets.base import Target

DEFAULT = "default"
WEIGHTS = ("flash", "ram")
_OPT = re.compile(r"O[0-3sgz]|Ofast")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")  # a declared configuration's name: no '@', '+' or '='
_AXES = ("opt", "weights")  # the axes an ad-hoc name may set, in its order


class ConfigError(UtvmError):
    """A build configuration is malformed or cannot apply to a target."""


class UnknownConfig(ConfigError):
    """No configuration of that name for the target."""


@dataclass(frozen=True)
class BuildConfig:
    name: str = DEFAULT
    opt: str | None = None  # kernel optimisation level ("O2", "O3", "Os"); None: the target's default
    weights: str = "flash"  # "flash", or "ram": copied to RAM at start
    cflags: tuple[str, ...] = ()  # added to the kernels' flags
    defines: tuple[tuple[str, str], ...] = ()  # added to the build's defines (sorted pairs)
    cpu_hz: int | None = None  # the core clock under this configuration, when it changes it
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.opt is not None:
            object.__setattr__(self, "opt", self.opt.lstrip("-"))
            if not _OPT.fullmatch(str(self.opt)):
                raise ConfigError(f"configuration {self.name}: optimisation level {self.opt!r} is not one of "
                                  "O0, O1, O2, O3, Os, Oz, Og, Ofast")
        if self.weights not in WEIGHTS:
            raise ConfigError(f"configuration {self.name}: weights {self.weights!r} is not one of "
                              f"{', '.join(WEIGHTS)}")
        defines = self.defines.items() if isinstance(self.defines, Mapping) else self.defines
        object.__setattr__(self, "defines", tuple(sorted((str(k), str(v)) for k, v in defines)))
        object.__setattr__(self, "cflags", tuple(map(str, self.cflags)))

    @property
    def is_default(self) -> bool:
        return self == BuildConfig()

    @property
    def define_map(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self.defines))

    def axes(self) -> dict[str, Any]:
        """The axes a sweep reports: opt (None: the target's default) and weights."""
        return {"opt": self.opt, "weights": self.weights}

    @classmethod
    def from_axes(cls, opt: str | None = None, weights: str | None = None,
                  base: BuildConfig | None = None) -> BuildConfig:
        """``base`` (default: the default configuration) with the given axes changed; None keeps the
        base's. Named after what it changes (``opt=O3+weights=ram``, ``speed+weights=ram``); the base
        itself when nothing changes."""
        base = base or cls()
        changed = {k: v for k, v in (("opt", opt and opt.lstrip("-")), ("weights", weights))
                   if v is not None and v != getattr(base, k)}
        if not changed:
            return base
        parts = [] if base.is_default else [base.name]
        parts += [f"{k}={changed[k]}" for k in _AXES if k in changed]
        return dataclasses.replace(base, name="+".join(parts), **changed)


DEFAULT_CONFIG = BuildConfig()


def parse_config(name: str, raw: Mapping[str, Any], where: str) -> BuildConfig:
    """One ``configs`` table of a board description."""
    if not _NAME.fullmatch(name) or name == DEFAULT:
        raise ConfigError(f"{where}: configuration name {name!r} must be lower-case letters, digits, "
                          f"'-', '_' or '.', and not {DEFAULT!r}")
    known = {"description", "opt", "weights", "cflags", "defines", "cpu_hz"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: configuration {name!r} has unknown keys {unknown} "
                          f"(known: {', '.join(sorted(known))})")
    try:
        return BuildConfig(name=name, opt=raw.get("opt"), weights=str(raw.get("weights", "flash")),
                           cflags=tuple(raw.get("cflags", ())), defines=dict(raw.get("defines", {})),
                           cpu_hz=None if raw.get("cpu_hz") is None else int(raw["cpu_hz"]),
                           description=str(raw.get("description", "")))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{where}: configuration {name!r} is malformed: {exc}") from exc


def parse_configs(raw: Mapping[str, Any] | None, where: str) -> Mapping[str, BuildConfig]:
    """The ``configs`` tables of a board description, by name (``default`` is implicit)."""
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: configs must be a table of tables")
    return MappingProxyType({str(k): parse_config(str(k), v if isinstance(v, Mapping) else {"?": v}, where)
                             for k, v in raw.items()})


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
        if not sep or axis not in _AXES or axis in axes:
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
    from harness.targets import cortex_m  # the one kind of target whose images place their weights

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
