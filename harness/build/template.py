"""Generated C from the C templates under crt/templates/: `${name}` placeholders filled by
string.Template, so the C itself lives in C files."""

from __future__ import annotations

from pathlib import Path
from string import Template

from harness import resources


def templates_dir() -> Path:
    return resources.crt() / "templates"


def fill(file: str, /, **values: object) -> str:
    """crt/templates/<file> with every ${placeholder} replaced (a missing one is a KeyError)."""
    return Template((templates_dir() / file).read_text()).substitute({k: str(v) for k, v in values.items()})
