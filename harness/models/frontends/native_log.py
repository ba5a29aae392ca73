"""What native code (TVM's C++ logging, TFLite Micro's C) writes to stderr while a model is imported:
captured from file descriptor 2 around the call, so that our one-line error stays the last line.

TVM logs from C++ straight to fd 2, and some of it comes late: a frontend that fails mid-import
leaves a BlockBuilder in its traceback's frames, and its destructor's "BlockBuilder destroyed with
remaining blocks!" warning would follow our error at interpreter exit. `quietly` runs the call with
fd 2 on a temporary file, drops the failed call's frames (garbage-collected inside the capture),
replays what was written except TVM's own log lines when the call failed, and raises the error with
no traceback or chained exception left holding native objects. What the call prints on stdout
goes to stderr (dropped when it failed: our error says it), never into a --json document.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import re
import sys
import tempfile
from collections.abc import Callable
from typing import TypeVar

from harness.errors import UtvmError, last_line

T = TypeVar("T")
TVM_LOG = re.compile(r"^\[\d\d:\d\d:\d\d\] \S+:\d+: ")  # "[12:12:54] .../block_builder.cc:67: Warning: ..."


def quietly(call: Callable[[], T], error: Callable[[str], UtvmError], what: str = "") -> T:
    """call()'s result. A UtvmError it raises is re-raised as it is, but without its traceback and
    chained exceptions; any other exception as error(f"{what}: {its last line}")."""
    failure: UtvmError | None = None
    result: T | None = None
    printed = io.StringIO()  # the ONNX frontend prints "Error converting operator ..." to stdout
    with Captured() as captured, contextlib.redirect_stdout(printed):
        try:
            result = call()
        except UtvmError as exc:
            failure = exc.with_traceback(None)
            failure.__context__ = failure.__cause__ = None
        except Exception as exc:  # the frontend raises whatever it raises: keep its last line
            failure = error(f"{what}: {last_line(exc)}" if what else last_line(exc))
        if failure is not None:
            gc.collect()  # the failed call's frames (and their native objects) die here, captured
    captured.replay(drop_native=failure is not None)
    if failure is None and printed.getvalue():  # never on stdout, where --json prints its document
        sys.stderr.write(printed.getvalue())
    if failure is not None:
        raise failure
    return result  # type: ignore[return-value]


class Captured:
    """fd 2 on a temporary file for the duration of the block; `replay` writes it out, else it is
    dropped."""

    def __enter__(self) -> Captured:
        sys.stderr.flush()
        self.file = tempfile.TemporaryFile()
        self.saved = os.dup(2)
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)

    def replay(self, drop_native: bool) -> None:
        self.file.seek(0)
        text = self.file.read().decode(errors="replace")
        self.file.close()
        lines = [ln for ln in text.splitlines() if not (drop_native and TVM_LOG.match(ln))]
        if lines:
            sys.stderr.write("\n".join(lines) + "\n")
            sys.stderr.flush()
