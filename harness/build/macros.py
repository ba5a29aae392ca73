"""What a runtime header's macros come to in a target's build: the header preprocessed with the flags
the image's kernels are compiled with (harness.build.image.kernel_flags), so the host knows what a
compile-time choice of the C (e.g. UTVM_BLK_FCP_PACKED of utvm/dsp_fcp_layout.h) picks on that target
without a second copy of its conditions."""

from __future__ import annotations

import re
import subprocess
import threading

from harness.build.image import kernel_flags
from harness.errors import BuildError, ToolchainError
from harness.targets import Target

_DEFINE = re.compile(r"#define\s+(\w+)(?:\s+(.*))?")
_cache: dict[tuple[object, ...], dict[str, str]] = {}
_lock = threading.Lock()


def header_macros(target: Target, header: str) -> dict[str, str]:
    """Every macro defined after `#include "<header>"` (a runtime header) in the target's kernel build:
    name -> its replacement text."""
    flags = kernel_flags(target)
    key = (target.cc, header, *flags)
    with _lock:
        if key in _cache:
            return _cache[key]
    cmd = [target.cc, *flags, "-dM", "-E", "-x", "c", "-"]
    try:
        proc = subprocess.run(cmd, input=f'#include "{header}"\n', capture_output=True, text=True,
                              check=False)
    except OSError as exc:
        raise ToolchainError(f"cannot run {target.cc}: {exc}") from exc
    if proc.returncode != 0:
        raise BuildError(f"preprocessing {header} for {target.name} failed: {proc.stderr.strip()[-500:]}")
    lines = map(_DEFINE.fullmatch, proc.stdout.splitlines())
    found = {m.group(1): (m.group(2) or "").strip() for m in lines if m}
    with _lock:
        _cache[key] = found
    return found
