"""The files the package carries besides Python: the C runtime, board descriptions, the Cortex-M
startup code and linker script, the Dockerfile and the set-up scripts.

A wheel carries them inside the package (``harness/_data``, copied there by the build; see setup.py).
In a source tree they are the checkout's own top-level directories, which the wheel's copy mirrors.
Every other module asks here, so nothing depends on where the package is installed.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import metadata
from pathlib import Path

# Top-level entries of the source tree that the wheel carries under harness/_data (setup.py reads this).
DATA_ENTRIES = ("crt", "boards", "tuning", "Dockerfile", "ci/start-dockerd.sh", "ci/docker-base.sh",
                "ci/install-system.sh")


@cache
def data_root() -> Path:
    """Where the carried files are: harness/_data in a wheel, the checkout in a source tree."""
    package = Path(__file__).resolve().parent
    packaged = package / "_data"
    if (packaged / "crt").is_dir():
        return packaged
    return package.parent


def crt() -> Path:
    """The C runtime: include/, src/, platform/<port>/."""
    return data_root() / "crt"


def boards_dir() -> Path:
    """Descriptions of real boards (boards/<name>.toml)."""
    return data_root() / "boards"


def cortex_m() -> Path:
    """Startup code, linker script and firmware entry shared by every bare-metal Cortex-M target."""
    return crt() / "platform" / "cortex_m"


def script(name: str) -> Path:
    """A set-up script (start-dockerd.sh, docker-base.sh, install-system.sh)."""
    return data_root() / "ci" / name


def dockerfile() -> Path:
    return data_root() / "Dockerfile"


def source_checkout() -> Path | None:
    """The git checkout this package runs from, if it does (an editable install); None for a wheel."""
    root = data_root()
    return root if (root / ".git").exists() else None


def work_root() -> Path:
    """Where utvm keeps what it builds and records: $UTVM_HOME, else build/ of the checkout it runs
    from, else $XDG_CACHE_HOME/utvm (~/.cache/utvm)."""
    if os.environ.get("UTVM_HOME"):
        return Path(os.environ["UTVM_HOME"])
    checkout = source_checkout()
    if checkout is not None:
        return checkout / "build"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "utvm"


def cache_dir() -> Path:
    """Built images shared between runs and workers ($UTVM_CACHE overrides)."""
    return Path(os.environ.get("UTVM_CACHE") or work_root() / "utvm-cache")


def version() -> str:
    try:
        return metadata.version("utvm")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed, editable or not
        return "unknown"
