"""A cell's build configuration (compiler optimisation, where the weights live, a board's named
configuration) applied to its target (harness.targets.config: a target of its own name,
<target>@<config>, so images and caches keep configurations apart)."""

from __future__ import annotations

from harness.errors import UtvmError
from harness.sweep.plan import Cell, SweepUsageError
from harness.targets import Target, get_target
from harness.targets.config import BuildConfig, ConfigError, configure, named_config


class CellError(UtvmError):
    """Why one cell of the sweep has no figures; the sweep goes on."""


def build_config(cell: Cell, target: Target) -> BuildConfig:
    """The cell's configuration: its named one (default: the default) with its opt and weights."""
    try:
        base = named_config(target, cell.config) if cell.config is not None else None
        return BuildConfig.from_axes(opt=cell.opt, weights=cell.weights, base=base)
    except ConfigError as exc:
        raise CellError(str(exc)) from None


def configured(cell: Cell) -> tuple[Target, BuildConfig]:
    """The cell's target with its configuration applied, and the configuration; CellError if it cannot
    be (a configuration the board does not declare, weights in RAM on the host)."""
    target = get_target(cell.target)
    config = build_config(cell, target)
    try:
        return configure(target, config), config
    except ConfigError as exc:
        raise CellError(str(exc)) from None


def check_configs(targets: tuple[str, ...], configs: tuple[str | None, ...]) -> None:
    """SweepUsageError for a --config no target knows (one some targets lack: those cells say so)."""
    for name in configs:
        if name is None:
            continue
        errors = []
        for t in targets:
            try:
                named_config(get_target(t), name)
            except ConfigError as exc:
                errors.append(str(exc))
        if len(errors) == len(targets):
            raise SweepUsageError(f"--config: {errors[0]}")
