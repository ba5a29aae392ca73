"""The registry of targets. Each kind of target contributes its own (host, QEMU boards, real boards);
they are loaded explicitly, the first time a target is looked up, so a broken board description fails
that lookup with a clear error instead of every import of the package."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from harness.errors import UtvmError
from harness.targets import boards, host, qemu
from harness.targets.base import Target
from harness.targets.config import ConfigError, configure, named_config

# Every kind of target, in listing order: each returns its targets.
KINDS: tuple[Callable[[], Iterable[Target]], ...] = (host.targets, qemu.targets, boards.targets)

_targets: dict[str, Target] | None = None
_configured: dict[str, Target] = {}  # "<target>@<config>" -> that target configured, made once


def all_targets() -> dict[str, Target]:
    """Name -> Target of every kind; read once per process."""
    global _targets
    if _targets is None:
        found: dict[str, Target] = {}
        for kind in KINDS:
            for target in kind():
                if target.name in found:
                    raise UtvmError(f"target {target.name} is described twice")
                found[target.name] = target
        _targets = found
    return _targets


def get_target(name: str) -> Target:
    """A target by name; ``<target>@<config>`` is the target under one of its build configurations
    (harness.targets.config), made once per process."""
    targets = all_targets()
    if name in targets:
        return targets[name]
    base, _, config = name.partition("@")
    if base not in targets:
        known = ", ".join(sorted(targets))
        raise UtvmError(f"unknown target {base!r}; known targets: {known}") from None
    if name not in _configured:
        _configured[name] = configure(targets[base], named_config(targets[base], config))
    return _configured[name]


def with_config(target: str | None, config: str | None) -> str | None:
    """``--target T --config NAME``: the name of T under that configuration (T itself without one, or
    for ``default``), checked here so that an unknown configuration fails before anything is built."""
    if config is None:
        return target
    if target is None:
        raise ConfigError(f"--config {config} goes with --target: a build configuration is a target's")
    if "@" in target:
        raise ConfigError(f"target {target} already names a configuration; drop --config {config} or the "
                          "'@' part")
    return get_target(f"{target}@{config}").name
