"""A cell's build configuration (compiler optimisation, where the weights live, a board's named
configuration) applied to its target, through harness.targets.config when it is there."""

from __future__ import annotations

import importlib
from types import ModuleType

from harness.errors import UtvmError
from harness.sweep.plan import Cell
from harness.targets import Target, get_target

CONFIG_MODULE = "harness.targets.config"


class CellError(UtvmError):
    """Why one cell of the sweep has no figures; the sweep goes on."""


def _config_module() -> ModuleType | None:
    try:
        return importlib.import_module(CONFIG_MODULE)
    except ModuleNotFoundError:
        return None


def configured(cell: Cell) -> Target:
    """The cell's target with its configuration applied; CellError if it cannot be."""
    target = get_target(cell.target)
    if cell.weights is None and cell.opt is None and cell.config is None:
        return target
    module = _config_module()
    if module is None:
        raise CellError("build configurations (--weights, --opt, --config) are not available in this "
                        f"version of utvm ({CONFIG_MODULE} is missing)")
    raise CellError("build configurations: not wired yet")
