"""Faults a relay injects into a byte stream: drop, corrupt, delay and split.

A FaultPlan is written `drop=0.001,corrupt=0.001,delay=0.005,split=0.5,seed=7`:
drop and corrupt are per-byte probabilities, delay is the longest pause (s)
before a chunk is passed on, split the probability that a chunk is cut into
pieces written separately. The same seed gives the same faults.

A virtual board also takes faults of the board itself (BoardFaults), in the
same spec: `flash-fail=N` (the next N flashes fail; -1: every one), `no-boot=1`
(flashing works, the image never starts), `vanish=BYTES` (the serial port
disappears after that many bytes to the host, as an unplugged USB board), and
`dead=1` (nothing works, for good), and `stale-image=1` (flashing reports
success but the board keeps running the image it had: a broken port, which the
suite must report as failures, not as the lab's trouble).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from harness.errors import UtvmError


@dataclass(frozen=True)
class FaultPlan:
    drop: float = 0.0
    corrupt: float = 0.0
    delay: float = 0.0
    split: float = 0.0
    seed: int = 0

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """`key=value,...`; an empty spec is no faults."""
        plan, board = parse_faults(spec)
        if str(board):
            raise UtvmError(f"{board}: faults of a board, not of a link")
        return plan

    def check(self) -> FaultPlan:
        plan = self
        for name in ("drop", "corrupt", "split"):
            if not 0.0 <= getattr(plan, name) <= 1.0:
                raise UtvmError(f"bad fault {name}={getattr(plan, name)}: a probability is in [0, 1]")
        if plan.delay < 0:
            raise UtvmError(f"bad fault delay={plan.delay}: must not be negative")
        return plan

    def __str__(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


@dataclass(frozen=True)
class BoardFaults:
    """Faults of the board rather than of its link."""

    flash_fail: int = 0  # the next N flashes fail; -1: all of them
    no_boot: int = 0
    vanish: int = 0  # bytes to the host before the port disappears; 0: never
    dead: int = 0
    stale_image: int = 0  # flashing "works" but the board keeps its old image (a port bug)

    def __str__(self) -> str:
        return ",".join(f"{f.name.replace('_', '-')}={getattr(self, f.name)}" for f in fields(self)
                        if getattr(self, f.name))


def parse_faults(spec: str) -> tuple[FaultPlan, BoardFaults]:
    """One spec, `key=value,...`, split into link faults and board faults."""
    link_keys = {f.name for f in fields(FaultPlan)}
    board_keys = {f.name for f in fields(BoardFaults)}
    link: dict[str, float | int] = {}
    board: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        raw_key, sep, raw = item.partition("=")
        key = raw_key.replace("-", "_")
        if not sep or key not in link_keys | board_keys:
            names = ", ".join(k.replace("_", "-") for k in [*link_keys, *board_keys])
            raise UtvmError(f"bad fault {item!r}: expected one of {names} as key=value")
        try:
            if key in board_keys or key == "seed":
                (board if key in board_keys else link)[key] = int(raw)
            else:
                link[key] = float(raw)
        except ValueError:
            raise UtvmError(f"bad fault {item!r}: {raw!r} is not a number") from None
    faults = BoardFaults(**board)
    if faults.flash_fail < -1 or faults.vanish < 0:
        raise UtvmError(f"bad board faults {faults}: flash-fail is -1 or more, vanish 0 or more")
    return FaultPlan(**link).check(), faults  # type: ignore[arg-type]


@dataclass
class FaultCounts:
    dropped: int = 0
    corrupted: int = 0
    delayed: int = 0
    split: int = 0
    bytes: int = 0


@dataclass
class FaultInjector:
    """Applies a plan to chunks of one direction of a stream."""

    plan: FaultPlan
    salt: int = 0  # one injector per direction, each with its own sequence
    counts: FaultCounts = field(default_factory=FaultCounts)

    def __post_init__(self) -> None:
        # Byte faults draw from their own sequence, one draw per byte: where they land in the
        # stream does not depend on how the stream was cut into chunks (timing).
        self._byte_rng = random.Random(self.plan.seed * 1000003 + self.salt)
        self._chunk_rng = random.Random(self.plan.seed * 1000003 + self.salt + 500009)

    def mangle(self, chunk: bytes) -> bytes:
        self.counts.bytes += len(chunk)
        if not (self.plan.drop or self.plan.corrupt):
            return chunk
        out = bytearray()
        for b in chunk:
            r = self._byte_rng.random()
            if r < self.plan.drop:
                self.counts.dropped += 1
                continue
            if r < self.plan.drop + self.plan.corrupt:
                self.counts.corrupted += 1
                b ^= self._byte_rng.randrange(1, 256)
            out.append(b)
        return bytes(out)

    def deliver(self, chunk: bytes, write: Callable[[bytes], None]) -> None:
        """Mangle the chunk and write it, maybe late and maybe in pieces."""
        data = self.mangle(chunk)
        if self.plan.delay and data:
            self.counts.delayed += 1
            time.sleep(self._chunk_rng.uniform(0, self.plan.delay))
        if len(data) > 1 and self._chunk_rng.random() < self.plan.split:
            self.counts.split += 1
            cuts = sorted(self._chunk_rng.sample(range(1, len(data)), min(3, len(data) - 1)))
            for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
                write(data[start:end])
                time.sleep(0.0005)
            return
        if data:
            write(data)
