"""No import cycle anywhere in `harness`: a module that imports, directly or not, a module that
imports it back makes both hard to read, move and test alone (there was one of 22 files through
models/compile.py, where ModelError lived). The graph is grimp's (import-linter's), with every
import counted, those inside functions included."""

from __future__ import annotations

import grimp


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One cycle as the list of its modules (the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for nxt in sorted(graph.find_modules_directly_imported_by(module)):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph.modules):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_no_import_cycle_in_harness() -> None:
    cycle = _cycle(grimp.build_graph("harness"))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
