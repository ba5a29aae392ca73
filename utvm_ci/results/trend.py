"""When a night's figure is a regression and not noise: the median of the nights before it plus a
few median absolute deviations (MAD), a rule that a single odd night in the window cannot move.

A figure that is exact (flash and RAM bytes, cycles under QEMU's -icount) has no noise: its MAD is
0 and any growth is flagged; a board's timer wobbles a little, and its MAD absorbs that.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

WINDOW = 7  # nights before tonight the rule looks at
MADS = 3.0
MIN_NIGHTS = 3  # fewer earlier nights than this: no verdict yet
RULE = (f"a night is flagged when its figure exceeds the median of the {WINDOW} nights before it "
        f"plus {MADS:g} times their MAD (median absolute deviation from that median); with fewer than "
        f"{MIN_NIGHTS} earlier nights nothing is flagged")


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    nights: int  # earlier nights the verdict rests on
    median: float | None = None
    mad: float | None = None

    @property
    def limit(self) -> float | None:
        return None if self.median is None or self.mad is None else self.median + MADS * self.mad

    def describe(self) -> str:
        if self.median is None:
            return f"{self.nights} earlier nights: too few to judge"
        return (f"median of {self.nights} nights {self.median:,.0f}, MAD {self.mad:,.1f}, "
                f"limit {self.limit:,.1f}")


def regression(earlier: list[float], tonight: float, window: int = WINDOW) -> Verdict:
    """Whether `tonight` is beyond the recent noise of the nights before it (oldest first)."""
    recent = earlier[-window:]
    if len(recent) < MIN_NIGHTS:
        return Verdict(False, len(recent))
    median = statistics.median(recent)
    mad = statistics.median(abs(v - median) for v in recent)
    return Verdict(tonight > median + MADS * mad, len(recent), median, mad)
