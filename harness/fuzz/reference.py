"""What the fuzzer needs of the reference runtimes: their refusal as one exception, their C-level
complaints kept off the terminal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


class Refused(Exception):
    """The reference runtime will not run the case."""


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """The reference interpreters print their refusals on fd 2; the fuzzer reports them itself."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
