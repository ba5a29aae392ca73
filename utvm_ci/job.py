"""What every CI job shares: its exit codes, and how an error becomes one.

0 passed; 1 a test failed (a wrong result); 2 bad usage (nothing ran);
3 only infrastructure errors (build, boot, flash, link: retrying may help).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from harness.errors import InfrastructureError, UtvmError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 3


def run_job(who: str, job: Callable[[], int]) -> int:
    """Run a job; an error it raises is printed under `who` and becomes its exit code."""
    try:
        return job()
    except InfrastructureError as exc:
        print(f"{who}: infrastructure error: {exc}", file=sys.stderr)
        return EXIT_INFRA
    except UtvmError as exc:
        print(f"{who}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
