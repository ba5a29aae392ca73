"""What a build configuration is: the value (``BuildConfig``), its errors, and the ``configs`` tables
of a board description read into it. ``harness.targets.config`` applies configurations to targets and
documents the whole API (this module is apart so that ``base.Target`` can hold one)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from harness.errors import UtvmError

DEFAULT = "default"
WEIGHTS = ("flash", "ram")
_OPT = re.compile(r"O[0-3sgz]|Ofast")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")  # a declared configuration's name: no '@', '+' or '='
AXES = ("opt", "weights")  # the axes an ad-hoc name may set, in its order


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
        parts += [f"{k}={changed[k]}" for k in AXES if k in changed]
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
