"""Tuning's RAM budget: a tuned model uses no more RAM (activations + the kernels' workspace) than the
budget, by default the RAM of the same model untuned.

A model's RAM is its activation pool (the static memory plan, the same whatever the schedules) plus
the workspace high water: the largest scratch any one kernel takes from the workspace allocator
while it runs (TVM's C calls TVMBackendAllocWorkspace for each buffer it does not keep on the stack;
the allocator in crt/src/memory/std_allocator.c adds a 16-byte header to each, rounded up to 16).
A tuned kernel's scratch goes in the pool instead where it can (harness.models.compile.scratch:
live only while that kernel runs, it takes the pool's gaps). While activations + scratch + the
largest remaining workspace exceed the budget, a tuned kernel falls back to its next record that
needs no workspace (a tuning database's best trace where its blocked call won), else its default
schedule: first the one whose workspace exceeds what the pool leaves, else the one whose scratch
reaches highest in the pool (greedy: the fallback that frees the most where the peak is).

    compile_model(model, tuning=records.resolve(Budgeted("auto", 16384), target))
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UtvmError

HEADER, UNIT = 16, 16  # crt's workspace allocator: per-block header, payload rounding
_ALLOC = re.compile(r"TVMBackendAllocWorkspace\(([^;]*?)\)\)*;")
_SIZE = re.compile(r"^\s*[^,]+,\s*[^,]+,\s*\(uint64_t\)(\d+)(?:ULL)?\s*,")
UNKNOWN = 1 << 62  # a workspace size the C does not state as a constant: never within a budget


class BudgetError(UtvmError):
    """A RAM budget that is not a positive number of bytes, or that no schedule of a kernel fits."""


@dataclass(frozen=True)
class Budgeted:
    """What `--tuning` names (a database directory, a records file or "auto") with a RAM budget in
    bytes (None: the untuned model's RAM)."""

    source: str | Path
    ram_budget: int | None = None

    def __str__(self) -> str:
        return str(self.source)


def with_budget(tuning: str | Path | None, ram_budget: int | None) -> str | Path | Budgeted | None:
    """`--tuning` with `--ram-budget` (either may be None); BudgetError for a budget without tuning."""
    if ram_budget is None:
        return tuning
    if ram_budget <= 0:
        raise BudgetError(f"--ram-budget must be a positive number of bytes, not {ram_budget}")
    if tuning is None:
        raise BudgetError("--ram-budget limits what tuning may spend: it goes with --tuning")
    return Budgeted(tuning, ram_budget)


def block_bytes(nbytes: int) -> int:
    """What the workspace allocator takes for a request of nbytes."""
    return (max(nbytes, 1) + UNIT - 1) // UNIT * UNIT + HEADER


def kernel_workspace(source_c: str) -> dict[str, int]:
    """Each kernel's workspace in bytes (every TVMBackendAllocWorkspace of its C functions, its packed
    entry's and its plain function's, as if all were held at once: an upper bound), by kernel name;
    kernels that take none are left out."""
    from harness.models.compile.unpacked import PREFIX, kernel_bodies

    out: dict[str, int] = {}
    for prefix in ("__tvm_ffi_", PREFIX):
        for kernel, body in kernel_bodies(source_c, prefix).items():
            total = 0
            for call in _ALLOC.finditer(body):
                size = _SIZE.match(call.group(1))
                total += block_bytes(int(size.group(1))) if size else UNKNOWN
            if total:
                out[kernel] = out.get(kernel, 0) + total
    return out


@dataclass
class Fit:
    """The outcome of fitting a tuned model into its budget."""

    budget: int  # bytes: activations (the pool, scratch included) + workspace
    pool: int  # the activation pool's bytes
    fell_back: dict[str, str]  # kernel -> the schedule it fell back to ("default" or "record")
    in_pool: list[str] = field(default_factory=list)  # kernels whose scratch the pool holds

    @property
    def workspace_cap(self) -> int:
        return self.budget - self.pool

    def describe(self) -> str:
        parts = [f"RAM budget {self.budget} B ({self.pool} B activations + up to {self.workspace_cap} B "
                 "workspace)"]
        if self.in_pool:
            parts.append(f"scratch of {', '.join(self.in_pool)} in the activation pool")
        if self.fell_back:
            names = ", ".join(f"{k} ({v})" for k, v in sorted(self.fell_back.items()))
            parts.append(f"{len(self.fell_back)} kernels fell back to a schedule that fits: {names}")
        else:
            parts.append("no kernel fell back")
        return "; ".join(parts)


def add_argument(parser: argparse.ArgumentParser) -> None:
    """`--ram-budget BYTES`, for the commands that take `--tuning`."""
    parser.add_argument("--ram-budget", type=int, metavar="BYTES", help="with --tuning: the most RAM "
                        "(activations + kernel workspace) the tuned model may use; a tuned kernel that "
                        "would need more falls back to a schedule that fits (default: the untuned model's)")
